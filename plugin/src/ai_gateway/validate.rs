//! Load-time checks of single values: durations, numbers, base URLs, names. Each returns
//! the message of a diagnostic; the caller attaches the path.

use std::time::Duration;

/// Bounds for every duration knob: below 10 ms nothing useful can complete; above an hour
/// a client has long given up.
const MIN_DURATION: Duration = Duration::from_millis(10);
const MAX_DURATION: Duration = Duration::from_secs(3600);

/// `max_input_tokens` / `max_output_tokens` are at most 500,000 (docs/ai-gateway.md,
/// "Configuration").
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

/// Why a config value was rejected; its text is the diagnostic's message.
#[derive(Debug, thiserror::Error)]
pub enum InvalidValue {
    #[error("'{text}' is not a duration (e.g. \"30s\", \"3m\"): {source}")]
    NotADuration {
        text: String,
        #[source]
        source: humantime::DurationError,
    },
    #[error("'{0}' is out of range: must be between 10ms and 1h")]
    DurationOutOfRange(String),
    #[error("{0} is out of range: must be between 1 and {MAX_TOKENS_LIMIT}")]
    TokensOutOfRange(i64),
    #[error("base_url is longer than {MAX_BASE_URL} characters")]
    UrlTooLong,
    #[error("'{text}' is not a URL: {source}")]
    NotAUrl {
        text: String,
        #[source]
        source: url::ParseError,
    },
    #[error("'{0}' has no host")]
    NoHost(String),
    #[error("base_url must not carry credentials; use api_keys or headers")]
    UrlCredentials,
    #[error("base_url must not have a query or fragment; use query_params")]
    UrlQueryOrFragment,
    #[error(
        "'{text}' uses plain http:// with host '{host}': external URLs must use https://; \
         http:// is only allowed for hosts ending in .internal"
    )]
    PlainHttp { text: String, host: String },
    #[error(
        "'{text}' has scheme '{scheme}': base_url must be https:// (or http(s):// for a .internal host)"
    )]
    BadScheme { text: String, scheme: String },
    #[error("'{0}' is not a valid header name")]
    BadHeaderName(String),
    #[error("header '{0}' is managed by the gateway and cannot be set")]
    ManagedHeader(String),
    #[error(
        "provider id '{0}' contains ':', which separates provider and model in \
         \"provider:model\": a model could never be addressed through it; {PROVIDER_ID_RULE}"
    )]
    ProviderIdColon(String),
    #[error(
        "provider id '{0}' contains '/', which separates provider and model in \
         \"provider/model\"; {PROVIDER_ID_RULE}"
    )]
    ProviderIdSlash(String),
    #[error("provider id '{0}' is not valid: {PROVIDER_ID_RULE}")]
    ProviderIdChars(String),
}

/// What a provider id (or alias) may be, as diagnostics say it.
const PROVIDER_ID_RULE: &str = "use 1 to 64 ASCII letters, digits, '-', '_' or '.', \
     starting with a letter or digit";

/// Longest provider id: ids are metrics labels and log fields.
const MAX_PROVIDER_ID: usize = 64;

/// Parses a duration string such as `"90s"` or `"3m"` within the accepted range.
pub fn duration(text: &str) -> Result<Duration, InvalidValue> {
    let d =
        humantime::parse_duration(text.trim()).map_err(|source| InvalidValue::NotADuration {
            text: text.to_owned(),
            source,
        })?;
    if d < MIN_DURATION || d > MAX_DURATION {
        return Err(InvalidValue::DurationOutOfRange(text.to_owned()));
    }
    Ok(d)
}

/// [`duration`] in whole milliseconds, as plans carry it.
pub fn duration_ms(text: &str) -> Result<u64, InvalidValue> {
    let d = duration(text)?;
    u64::try_from(d.as_millis()).map_err(|_| InvalidValue::DurationOutOfRange(text.to_owned()))
}

/// A token limit: 1..=500,000.
pub fn token_limit(n: i64) -> Result<u64, InvalidValue> {
    if !(1..=MAX_TOKENS_LIMIT).contains(&n) {
        return Err(InvalidValue::TokensOutOfRange(n));
    }
    u64::try_from(n).map_err(|_| InvalidValue::TokensOutOfRange(n))
}

/// A provider base URL: `https://…`, or `http(s)://…` whose host ends in `.internal`.
pub fn base_url(text: &str) -> Result<url::Url, InvalidValue> {
    if text.len() > MAX_BASE_URL {
        return Err(InvalidValue::UrlTooLong);
    }
    let url = url::Url::parse(text).map_err(|source| InvalidValue::NotAUrl {
        text: text.to_owned(),
        source,
    })?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host.is_empty() {
        return Err(InvalidValue::NoHost(text.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InvalidValue::UrlCredentials);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(InvalidValue::UrlQueryOrFragment);
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if host.ends_with(".internal") => Ok(url),
        "http" => Err(InvalidValue::PlainHttp {
            text: text.to_owned(),
            host,
        }),
        other => Err(InvalidValue::BadScheme {
            text: text.to_owned(),
            scheme: other.to_owned(),
        }),
    }
}

/// A provider id or alias (docs/ai-gateway.md, "Providers and models"): it is written in
/// `provider:model` and `provider/model` names, metrics labels and logs, so it is short
/// and holds neither separator.
pub fn provider_id(id: &str) -> Result<(), InvalidValue> {
    if id.contains(':') {
        return Err(InvalidValue::ProviderIdColon(id.to_owned()));
    }
    if id.contains('/') {
        return Err(InvalidValue::ProviderIdSlash(id.to_owned()));
    }
    let valid = id.len() <= MAX_PROVIDER_ID
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !valid {
        return Err(InvalidValue::ProviderIdChars(id.to_owned()));
    }
    Ok(())
}

/// An HTTP header name we may set upstream.
pub fn header_name(name: &str) -> Result<(), InvalidValue> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(InvalidValue::BadHeaderName(name.to_owned()));
    }
    let lower = name.to_ascii_lowercase();
    if ["host", "content-length", "transfer-encoding", "connection"].contains(&lower.as_str()) {
        return Err(InvalidValue::ManagedHeader(name.to_owned()));
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
        let e = base_url("http://example.com/v1").unwrap_err().to_string();
        assert!(
            e.contains("only allowed for hosts ending in .internal"),
            "{e}"
        );
        let e = base_url("ftp://x.internal").unwrap_err().to_string();
        assert!(e.contains("scheme 'ftp'"), "{e}");
        assert!(
            base_url("not a url")
                .unwrap_err()
                .to_string()
                .contains("is not a URL")
        );
        assert!(
            base_url("https://u:p@x.com")
                .unwrap_err()
                .to_string()
                .contains("credentials")
        );
    }

    #[test]
    fn provider_ids_say_what_is_allowed_and_why_not_a_colon() {
        for ok in ["openai", "inference-net", "z-ai", "My_Provider.2", "a"] {
            assert!(provider_id(ok).is_ok(), "{ok}");
        }
        let e = provider_id("azure:eu").unwrap_err().to_string();
        assert!(
            e.contains("separates provider and model in \"provider:model\""),
            "{e}"
        );
        let e = provider_id("team/a").unwrap_err().to_string();
        assert!(e.contains("\"provider/model\""), "{e}");
        for bad in ["-lead", "has space", "ünï", &"x".repeat(65)] {
            let e = provider_id(bad).unwrap_err().to_string();
            assert!(e.contains("1 to 64 ASCII letters"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_and_limits() {
        assert_eq!(duration("90s").unwrap(), Duration::from_secs(90));
        assert!(
            duration("5")
                .unwrap_err()
                .to_string()
                .contains("not a duration")
        );
        assert!(
            duration("2h")
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert!(token_limit(0).is_err());
        assert!(token_limit(500_001).is_err());
        assert_eq!(token_limit(4096).unwrap(), 4096);
    }
}
