//! The upstream URL of an attempt (docs/ai-gateway.md, "Path joining"). Its headers are
//! built by `request_headers` and `credentials`.
//!
//! Path joining: when `base_url`'s path already ends in a version segment (`/v1`, `/v4`,
//! `/v1beta/openai`, `/openai/v1`, …) the client path's leading `/v1` is dropped;
//! otherwise the whole client path is appended. `request_path_overrides[surface]`
//! replaces the joined path (it is appended to `base_url`'s path as written).

use std::collections::BTreeMap;

use super::surface::Surface;

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
}
