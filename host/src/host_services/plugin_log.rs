//! The `log` import: a structured line from the plugin (the policy's `log` action, and the
//! plugin's own diagnostics) becomes one `tracing` event with target `edge::plugin`.
//!
//! `tracing` needs field names at compile time, so the plugin's key/value pairs travel as one
//! JSON object in the `fields` field; JSON log output then carries them verbatim.

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginLogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Most key/value pairs and bytes per value kept from one plugin log line. A policy could
/// interpolate a whole request body into a log field; the cap keeps one line from flooding
/// the log.
const MAX_FIELDS: usize = 64;
const MAX_VALUE_BYTES: usize = 4096;

/// Writes one plugin log line.
pub fn log(level: PluginLogLevel, message: &str, fields: &[(String, String)]) {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .take(MAX_FIELDS)
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::Value::String(truncate(v, MAX_VALUE_BYTES).to_owned()),
            )
        })
        .collect();
    let fields = serde_json::Value::Object(map).to_string();
    match level {
        PluginLogLevel::Trace => {
            tracing::trace!(target: "edge::plugin", fields = %fields, "{message}")
        }
        PluginLogLevel::Debug => {
            tracing::debug!(target: "edge::plugin", fields = %fields, "{message}")
        }
        PluginLogLevel::Info => {
            tracing::info!(target: "edge::plugin", fields = %fields, "{message}")
        }
        PluginLogLevel::Warn => {
            tracing::warn!(target: "edge::plugin", fields = %fields, "{message}")
        }
        PluginLogLevel::Error => {
            tracing::error!(target: "edge::plugin", fields = %fields, "{message}")
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
