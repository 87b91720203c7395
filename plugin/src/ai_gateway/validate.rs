//! Load-time checks of single values: durations, numbers, base URLs, names. Each returns
//! the message of a diagnostic; the caller attaches the path.

use std::time::Duration;

/// Bounds for every duration knob: below 10 ms nothing useful can complete; above an hour
/// a client has long given up.
const MIN_DURATION: Duration = Duration::from_millis(10);
const MAX_DURATION: Duration = Duration::from_secs(3600);

/// spec 2.2: `max_input_tokens` / `max_output_tokens` are at most 500,000.
pub const MAX_TOKENS_LIMIT: i64 = 500_000;

/// Longest `base_url` accepted (the hosted product's limit).
const MAX_BASE_URL: usize = 2048;

/// The surfaces `supported_api_surfaces[].surface` and `request_path_overrides` may name.
pub const SURFACES: &[&str] = &[
    "chat-completions",
    "completions",
    "embeddings",
    "responses",
    "messages",
];

/// Parses a duration string such as `"90s"` or `"3m"` within the accepted range.
pub fn duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration (e.g. \"30s\", \"3m\"): {e}"))?;
    if d < MIN_DURATION || d > MAX_DURATION {
        return Err(format!(
            "'{text}' is out of range: must be between 10ms and 1h"
        ));
    }
    Ok(d)
}

/// A token limit: 1..=500,000.
pub fn token_limit(n: i64) -> Result<u64, String> {
    if !(1..=MAX_TOKENS_LIMIT).contains(&n) {
        return Err(format!(
            "{n} is out of range: must be between 1 and {MAX_TOKENS_LIMIT}"
        ));
    }
    u64::try_from(n).map_err(|e| e.to_string())
}

/// A provider base URL: `https://…`, or `http(s)://…` whose host ends in `.internal`.
pub fn base_url(text: &str) -> Result<url::Url, String> {
    if text.len() > MAX_BASE_URL {
        return Err(format!("base_url is longer than {MAX_BASE_URL} characters"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host.is_empty() {
        return Err(format!("'{text}' has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("base_url must not carry credentials; use api_keys or headers".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("base_url must not have a query or fragment; use query_params".to_owned());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if host.ends_with(".internal") => Ok(url),
        "http" => Err(format!(
            "'{text}' uses plain http:// with host '{host}': external URLs must use https://; \
             http:// is only allowed for hosts ending in .internal"
        )),
        other => Err(format!(
            "'{text}' has scheme '{other}': base_url must be https:// (or http(s):// for a .internal host)"
        )),
    }
}

/// An HTTP header name we may set upstream.
pub fn header_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(format!("'{name}' is not a valid header name"));
    }
    let lower = name.to_ascii_lowercase();
    if ["host", "content-length", "transfer-encoding", "connection"].contains(&lower.as_str()) {
        return Err(format!(
            "header '{name}' is managed by the gateway and cannot be set"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules_name_the_rule_broken() {
        assert!(base_url("https://api.openai.com/v1").is_ok());
        assert!(base_url("http://ollama.internal:11434").is_ok());
        assert!(base_url("https://vllm.internal").is_ok());
        let e = base_url("http://example.com/v1").unwrap_err();
        assert!(
            e.contains("only allowed for hosts ending in .internal"),
            "{e}"
        );
        let e = base_url("ftp://x.internal").unwrap_err();
        assert!(e.contains("scheme 'ftp'"), "{e}");
        assert!(base_url("not a url").unwrap_err().contains("is not a URL"));
        assert!(
            base_url("https://u:p@x.com")
                .unwrap_err()
                .contains("credentials")
        );
    }

    #[test]
    fn durations_and_limits() {
        assert_eq!(duration("90s").unwrap(), Duration::from_secs(90));
        assert!(duration("5").unwrap_err().contains("not a duration"));
        assert!(duration("2h").unwrap_err().contains("out of range"));
        assert!(token_limit(0).is_err());
        assert!(token_limit(500_001).is_err());
        assert_eq!(token_limit(4096).unwrap(), 4096);
    }
}
