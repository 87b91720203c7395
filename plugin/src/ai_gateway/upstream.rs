//! The upstream request of an attempt: URL (docs/ai-gateway.md, "Path joining") and headers
//! (credentials, config headers, what the client's headers may pass through).
//!
//! Path joining: when `base_url`'s path already ends in a version segment (`/v1`, `/v4`,
//! `/v1beta/openai`, `/openai/v1`, …) the client path's leading `/v1` is dropped;
//! otherwise the whole client path is appended. `request_path_overrides[surface]`
//! replaces the joined path (it is appended to `base_url`'s path as written).

use std::collections::BTreeMap;

use crate::model::{ApiFormat, Headers};

use super::surface::Surface;

/// Client headers never forwarded: framing the host recomputes, cookies and forwarding
/// facts meant for us, and `accept-encoding` (the host inspects the first SSE event, so
/// upstream bodies must arrive uncompressed). Hop-by-hop headers are not listed: the host
/// strips them from every attempt's headers (`host/src/headers.rs`), the one place that
/// rule lives.
const DROPPED: &[&str] = &[
    "host",
    "content-length",
    "expect",
    "accept-encoding",
    "cookie",
    "forwarded",
    "x-real-ip",
    "content-type",
];

/// Credential headers: replaced by configured keys, or re-sent as the client's own key.
const CREDENTIALS: &[&str] = &["authorization", "x-api-key", "api-key"];

/// Default `anthropic-version` when an Anthropic-format client sent none.
const ANTHROPIC_VERSION: &str = "2023-06-01";

fn is_version_segment(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next() == Some('v') && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// True when the base path ends in a version segment (optionally followed by `openai`).
pub fn ends_in_version(base_path: &str) -> bool {
    let segs: Vec<&str> = base_path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [.., last] if is_version_segment(last) => true,
        [.., v, last] if last.eq_ignore_ascii_case("openai") && is_version_segment(v) => true,
        _ => false,
    }
}

/// The absolute upstream URL of one attempt.
pub fn upstream_url(
    base: &url::Url,
    surface: Surface,
    client_path: &str,
    client_query: &str,
    overrides: &BTreeMap<String, String>,
    extra_query: &[(String, String)],
) -> String {
    let base_path = base.path().trim_end_matches('/');
    let path = match overrides.get(surface.name()) {
        Some(p) => format!("{base_path}{p}"),
        None if ends_in_version(base_path) => {
            let rest = client_path.strip_prefix("/v1").unwrap_or(client_path);
            format!("{base_path}{rest}")
        }
        None => format!("{base_path}{client_path}"),
    };
    let mut url = base.clone();
    url.set_path(&path);
    let mut query = client_query.to_owned();
    if !extra_query.is_empty() {
        let extra = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(extra_query.iter())
            .finish();
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&extra);
    }
    url.set_query(if query.is_empty() { None } else { Some(&query) });
    url.to_string()
}

/// The client's own API key (what passthrough forwards): `Authorization: Bearer …`, else
/// `x-api-key`.
pub fn client_key(headers: &Headers) -> Option<String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    if let Some(auth) = get("authorization") {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .unwrap_or(&auth)
            .trim();
        if !token.is_empty() {
            return Some(token.to_owned());
        }
    }
    get("x-api-key").filter(|k| !k.is_empty())
}

/// Short, non-reversible hint of a client key for result variables: first 7 characters,
/// `...`, last 4, or `...` alone for short keys.
pub fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 16 {
        return "...".to_owned();
    }
    let head: String = chars.iter().take(7).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}...{tail}")
}

/// Headers shared by every attempt of a request: the client's (minus dropped and
/// credential headers, minus names the config sets) plus the rendered config headers.
pub fn base_headers(client: &Headers, config: &[(String, String)], format: ApiFormat) -> Headers {
    let mut out: Headers = Vec::with_capacity(client.len() + config.len() + 2);
    out.push(("content-type".to_owned(), "application/json".to_owned()));
    for (k, v) in client {
        if DROPPED.contains(&k.as_str())
            || CREDENTIALS.contains(&k.as_str())
            || k.starts_with("x-forwarded-")
            || k.starts_with("x-aigw-")
            || config.iter().any(|(c, _)| c == k)
        {
            continue;
        }
        out.push((k.clone(), v.clone()));
    }
    if format == ApiFormat::Anthropic && !out.iter().any(|(k, _)| k == "anthropic-version") {
        out.push(("anthropic-version".to_owned(), ANTHROPIC_VERSION.to_owned()));
    }
    out.extend(config.iter().cloned());
    out
}

/// Adds the credential for one attempt, in the header the format expects. A config header
/// of the same name (e.g. a custom `authorization`) wins and nothing is added.
pub fn with_credential(mut headers: Headers, key: Option<&str>, format: ApiFormat) -> Headers {
    let Some(key) = key else { return headers };
    let (name, value) = match format {
        ApiFormat::OpenAi => ("authorization", format!("Bearer {key}")),
        ApiFormat::Anthropic => ("x-api-key", key.to_owned()),
    };
    if !headers.iter().any(|(k, _)| k == name) {
        headers.push((name.to_owned(), value));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, path: &str) -> String {
        upstream_url(
            &url::Url::parse(base).unwrap(),
            Surface::ChatCompletions,
            path,
            "",
            &BTreeMap::new(),
            &[],
        )
    }

    /// The table in docs/ai-gateway.md.
    #[test]
    fn path_joining_table() {
        let p = "/v1/chat/completions";
        assert_eq!(
            join("https://api.openai.com/v1/", p),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            join("https://api.deepseek.com", p),
            "https://api.deepseek.com/v1/chat/completions"
        );
        assert_eq!(
            join(
                "https://generativelanguage.googleapis.com/v1beta/openai/",
                p
            ),
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
        );
        assert_eq!(
            join("https://api.groq.com/openai/v1", p),
            "https://api.groq.com/openai/v1/chat/completions"
        );
        assert_eq!(
            join("https://api.z.ai/api/paas/v4", p),
            "https://api.z.ai/api/paas/v4/chat/completions"
        );
        assert_eq!(
            join("http://ollama.internal:11434", p),
            "http://ollama.internal:11434/v1/chat/completions"
        );
        assert_eq!(
            join("https://dmr.internal/engines/llama.cpp", p),
            "https://dmr.internal/engines/llama.cpp/v1/chat/completions"
        );
    }

    #[test]
    fn overrides_and_query() {
        let mut o = BTreeMap::new();
        o.insert(
            "chat-completions".to_owned(),
            "/chat/completions".to_owned(),
        );
        let base = url::Url::parse("https://x.openai.azure.com/openai/deployments/d1").unwrap();
        let u = upstream_url(
            &base,
            Surface::ChatCompletions,
            "/v1/chat/completions",
            "a=1",
            &o,
            &[("api-version".to_owned(), "2024 02".to_owned())],
        );
        assert_eq!(
            u,
            "https://x.openai.azure.com/openai/deployments/d1/chat/completions?a=1&api-version=2024+02"
        );
    }

    #[test]
    fn credentials_are_replaced_not_forwarded() {
        let client: Headers = vec![
            ("authorization".into(), "Bearer gateway-secret".into()),
            ("x-api-key".into(), "gateway-secret".into()),
            ("anthropic-version".into(), "2023-06-01".into()),
            ("user-agent".into(), "sdk".into()),
        ];
        let h = with_credential(
            base_headers(&client, &[], ApiFormat::Anthropic),
            Some("prov-key"),
            ApiFormat::Anthropic,
        );
        assert!(!h.iter().any(|(_, v)| v.contains("gateway-secret")));
        assert!(h.contains(&("x-api-key".into(), "prov-key".into())));
        assert!(h.contains(&("anthropic-version".into(), "2023-06-01".into())));
        assert_eq!(client_key(&client).as_deref(), Some("gateway-secret"));
        assert_eq!(
            key_hint("sk-proj-abcdefghijklmnopqrstuvwxyz1234567890"),
            "sk-proj...7890"
        );
    }
}
