//! Keeps an attempt's secrets out of its record. Providers sometimes echo what they
//! rejected in the error body ("Invalid API key: sk-…", "bad header X-Custom-Auth: …"); the
//! body excerpt and the error message go to the plugin, logs and error pages, so every
//! secret the attempt sent is blotted out of them.
//!
//! The plugin names those secrets: the attempt's `redact` list holds its key and every
//! config `headers`/`query_params` value (docs/ai-gateway.md, "Secrets"). The values of
//! credential headers and credential-looking query parameters are added here, so a plan
//! built without the list still keeps its keys out.
//!
//! Runs only on the failure path, over at most 1 KiB.

use crate::wit::types::Attempt;

/// What replaces a credential.
pub const REDACTED: &[u8] = b"[REDACTED]";

/// Shorter values are left alone: they are not real keys, and blotting every "a" out of a
/// body would make the excerpt useless.
const MIN_SECRET_LEN: usize = 8;

/// Headers whose values are credentials (an `authorization` value loses its scheme word).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
];

/// Query parameters whose names contain one of these carry credentials (`?key=`, `?api_key=`,
/// `?access_token=`).
const CREDENTIAL_QUERY_HINTS: &[&str] = &["key", "token", "secret", "sig", "password"];

/// The secret values an attempt sends: its `redact` list, credential header values and
/// query-string secrets. The one list every redaction of an attempt uses.
pub fn secrets_of(attempt: &Attempt) -> Vec<Vec<u8>> {
    let mut secrets: Vec<Vec<u8>> = attempt
        .redact
        .iter()
        .map(|v| v.trim())
        .filter(|v| v.len() >= MIN_SECRET_LEN)
        .map(|v| v.as_bytes().to_vec())
        .collect();
    for (name, value) in &attempt.headers {
        if !CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let value = value.trim();
        // "Bearer sk-…": the key alone is what a provider would echo.
        let bare = value.split_once(' ').map_or(value, |(_, rest)| rest.trim());
        for candidate in [value, bare] {
            if candidate.len() >= MIN_SECRET_LEN {
                secrets.push(candidate.as_bytes().to_vec());
            }
        }
    }
    if let Ok(url) = reqwest::Url::parse(&attempt.url) {
        for (name, value) in url.query_pairs() {
            let name = name.to_ascii_lowercase();
            if CREDENTIAL_QUERY_HINTS
                .iter()
                .any(|hint| name.contains(hint))
                && value.len() >= MIN_SECRET_LEN
            {
                secrets.push(value.as_bytes().to_vec());
            }
        }
    }
    // Longest first, so a full "Bearer sk-…" goes before its "sk-…" part.
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    secrets
}

/// `text` with every occurrence of every secret replaced by [`REDACTED`].
pub fn redact(text: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = text.to_vec();
    for secret in secrets {
        out = replace_all(&out, secret);
    }
    out
}

fn replace_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(REDACTED);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(url: &str, headers: &[(&str, &str)]) -> Attempt {
        Attempt {
            url: url.into(),
            method: "POST".into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
            body: Vec::new(),
            provider: "p".into(),
            model: "m".into(),
            key_id: "k".into(),
            model_group: 0,
            timeout_ms: 0,
            redact: Vec::new(),
            tls: crate::wit::types::TlsTrust::DefaultRoots,
            concurrency: None,
        }
    }

    #[test]
    fn header_and_query_secrets_are_blotted_out() {
        let a = attempt(
            "https://api.example.com/v1/x?key=AIzaSecretQuery123&alt=sse",
            &[
                ("Authorization", "Bearer sk-live-abcdef123456"),
                ("x-api-key", "ant-key-987654321"),
                ("content-type", "application/json"),
            ],
        );
        let secrets = secrets_of(&a);
        let body = br#"{"error":"Invalid key sk-live-abcdef123456 / ant-key-987654321 / AIzaSecretQuery123 for application/json"}"#;
        let out = String::from_utf8(redact(body, &secrets)).unwrap();
        assert_eq!(
            out,
            r#"{"error":"Invalid key [REDACTED] / [REDACTED] / [REDACTED] for application/json"}"#
        );
    }

    #[test]
    fn the_plugins_list_is_blotted_out_too() {
        let mut a = attempt(
            "https://api.example.com/v1/x",
            &[("x-custom-auth", "tok-1")],
        );
        a.redact = vec!["custom-secret-value".into(), "short".into()];
        let out = redact(b"echo: custom-secret-value short", &secrets_of(&a));
        assert_eq!(out, b"echo: [REDACTED] short".to_vec());
    }

    #[test]
    fn short_values_are_left_alone() {
        let a = attempt("https://x.example/?key=abc", &[("x-api-key", "short")]);
        assert!(secrets_of(&a).is_empty());
        assert_eq!(redact(b"abc short", &secrets_of(&a)), b"abc short".to_vec());
    }
}
