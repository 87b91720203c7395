//! The values an attempt sends that must never show again (docs/ai-gateway.md, "Secrets"):
//! its key, and every rendered config `headers` and `query_params` value (which may come
//! from `${secrets.get(…)}`). They travel with the attempt as its `redact` list; the host
//! blots them out of the body excerpt, the error messages and the logs, because a provider
//! may echo what it was sent ("Invalid header X-Custom-Auth: …").
//!
//! Built once per request while the plan is written; the host's redaction
//! (`host/src/gateway/redaction.rs`) decides what is too short to be worth blotting out.

use super::credentials::AttemptKey;

/// The config-derived part of every attempt's `redact` list of one request.
#[derive(Debug, Clone, Default)]
pub struct AttemptSecrets {
    config: Vec<String>,
}

impl AttemptSecrets {
    /// `headers` and `query` are the rendered config values of this request.
    pub fn new(headers: &[(String, String)], query: &[(String, String)]) -> AttemptSecrets {
        let mut config = Vec::new();
        for (_, value) in headers.iter().chain(query) {
            push_forms(&mut config, value);
        }
        AttemptSecrets { config }
    }

    /// The `redact` list of one attempt that sends `key`.
    pub fn for_attempt(&self, key: AttemptKey<'_>) -> Vec<String> {
        let mut out = self.config.clone();
        if let Some(secret) = key.secret() {
            push_forms(&mut out, secret);
        }
        out
    }
}

/// A value as sent, and as it reads once URL-encoded (a query value inside an error's URL)
/// or JSON-escaped (a value echoed inside a JSON error body).
fn push_forms(out: &mut Vec<String>, value: &str) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let escaped = serde_json::to_string(value).unwrap_or_default();
    let escaped = escaped
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(value)
        .to_owned();
    for form in [value.to_owned(), encoded, escaped] {
        if !out.contains(&form) {
            out.push(form);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_config_values_and_the_key_in_every_form() {
        let s = AttemptSecrets::new(
            &[("x-custom-auth".into(), "tok/with \"quote\"".into())],
            &[
                ("key".into(), "q v".into()),
                ("empty".into(), String::new()),
            ],
        );
        let got = s.for_attempt(AttemptKey::Configured("sk-1"));
        for want in [
            "tok/with \"quote\"",
            "tok%2Fwith+%22quote%22",
            "tok/with \\\"quote\\\"",
            "q v",
            "q+v",
            "sk-1",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} in {got:?}");
        }
        assert!(!got.iter().any(String::is_empty));
        assert_eq!(
            AttemptSecrets::default().for_attempt(AttemptKey::None),
            Vec::<String>::new()
        );
    }
}
