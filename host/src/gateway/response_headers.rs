//! The headers of the response the client gets from a served plan, and the request id
//! every answer carries (docs/ai-gateway.md, "Header forwarding").

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::headers::{from_wit, strip_hop_by_hop};

/// Header naming how many upstream calls the loop made (retries included).
pub const ATTEMPTS_HEADER: &str = "x-aigw-attempts";
/// Header naming the provider that served the response.
pub const PROVIDER_HEADER: &str = "x-aigw-provider";
/// Header naming the upstream model that served the response.
pub const MODEL_HEADER: &str = "x-aigw-model";
/// The edge's request id on every gateway answer (set by the plugin with the plan).
pub const GATEWAY_REQUEST_ID_HEADER: &str = "x-aigw-request-id";
/// The request id header of HTTP APIs (the OpenAI SDK exposes it as `_request_id`).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Provider headers that describe the key's rate limits (OpenAI's and Anthropic's names):
/// the client sees them only when the attempt used the client's own key, since the
/// gateway's key's limits are not the client's.
const KEY_LIMIT_PREFIXES: &[&str] = &["x-ratelimit-", "anthropic-ratelimit-"];
/// Provider headers that name the account or set cookies for it: never shown to the
/// client when the attempt used a key of the gateway's.
const ACCOUNT_HEADERS: &[&str] = &[
    "openai-organization",
    "openai-project",
    "anthropic-organization-id",
    "set-cookie",
];

/// Drops what a provider said about the key it was called with, when that key was the
/// gateway's (`client_key` false): its rate limits, its account and its cookies. Runs on
/// every provider response head before the client sees it.
pub fn drop_key_bound(headers: &mut HeaderMap, client_key: bool) {
    if client_key {
        return;
    }
    let bound: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            ACCOUNT_HEADERS.contains(&name)
                || KEY_LIMIT_PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .cloned()
        .collect();
    for name in bound {
        headers.remove(name);
    }
}

/// Puts the edge's request id in `x-request-id`, the last step of every answer, unless it
/// is a gateway answer (it carries [`GATEWAY_REQUEST_ID_HEADER`]) that already has the
/// provider's `x-request-id`: SDKs read that one to name the request to the provider, and
/// the edge's id is in [`GATEWAY_REQUEST_ID_HEADER`] next to it.
pub fn stamp_request_id(headers: &mut HeaderMap, id: &str) {
    if headers.contains_key(GATEWAY_REQUEST_ID_HEADER) && headers.contains_key(REQUEST_ID_HEADER) {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
}

/// What the client gets: the provider's headers minus hop-by-hop ones (and minus
/// `alt-svc`, which would advertise the provider's endpoints as ours, and minus what
/// [`drop_key_bound`] drops when `client_key` is false), plus the plan's headers, plus the
/// gateway's own attempt headers. `content-length` is dropped for streams, whose end may
/// carry an extra error event. `client_key`: the attempt used the client's own key (its
/// key id is empty).
pub fn client_headers(
    mut upstream: HeaderMap,
    plan_headers: &[(String, String)],
    attempts: usize,
    provider: &str,
    model: &str,
    streaming: bool,
    client_key: bool,
) -> HeaderMap {
    strip_hop_by_hop(&mut upstream);
    upstream.remove(http::header::ALT_SVC);
    drop_key_bound(&mut upstream, client_key);
    if streaming {
        upstream.remove(http::header::CONTENT_LENGTH);
    }
    for (name, value) in &from_wit(plan_headers) {
        upstream.append(name, value.clone());
    }
    upstream.insert(
        HeaderName::from_static(ATTEMPTS_HEADER),
        HeaderValue::from(attempts),
    );
    set_text(&mut upstream, PROVIDER_HEADER, provider);
    set_text(&mut upstream, MODEL_HEADER, model);
    upstream
}

fn set_text(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_client_headers() {
        let mut up = HeaderMap::new();
        up.insert("connection", "keep-alive, x-private".parse().unwrap());
        up.insert("x-private", "1".parse().unwrap());
        up.insert("transfer-encoding", "chunked".parse().unwrap());
        up.insert("content-length", "10".parse().unwrap());
        up.insert("content-type", "text/event-stream".parse().unwrap());
        up.insert("alt-svc", "h3=\":443\"".parse().unwrap());
        up.insert("x-ratelimit-remaining-requests", "9".parse().unwrap());
        let got = client_headers(
            up,
            &[
                ("x-team".into(), "a".into()),
                ("bad name".into(), "x".into()),
            ],
            3,
            "openai",
            "gpt-4o",
            true,
            true,
        );
        assert!(got.get("connection").is_none());
        assert!(got.get("x-private").is_none());
        assert!(got.get("transfer-encoding").is_none());
        assert!(got.get("content-length").is_none());
        assert!(got.get("alt-svc").is_none());
        assert_eq!(got["content-type"], "text/event-stream");
        assert_eq!(got["x-ratelimit-remaining-requests"], "9");
        assert_eq!(got["x-team"], "a");
        assert_eq!(got[ATTEMPTS_HEADER], "3");
        assert_eq!(got[PROVIDER_HEADER], "openai");
        assert_eq!(got[MODEL_HEADER], "gpt-4o");
    }

    #[test]
    fn keeps_content_length_of_plain_bodies() {
        let mut up = HeaderMap::new();
        up.insert("content-length", "10".parse().unwrap());
        let got = client_headers(up, &[], 1, "p", "m", false, true);
        assert_eq!(got["content-length"], "10");
    }

    fn provider_head() -> HeaderMap {
        let mut up = HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-remaining-requests", "9"),
            ("anthropic-ratelimit-tokens-limit", "100"),
            ("openai-organization", "org-gw"),
            ("openai-project", "proj-gw"),
            ("anthropic-organization-id", "aorg"),
            ("set-cookie", "__cf_bm=x"),
            ("x-request-id", "req_provider"),
            ("openai-processing-ms", "12"),
        ] {
            up.append(k, v.parse().unwrap());
        }
        up
    }

    #[test]
    fn the_gateways_key_keeps_its_account_and_limits_to_itself() {
        let got = client_headers(provider_head(), &[], 1, "p", "m", false, false);
        let names: Vec<&str> = got.keys().map(HeaderName::as_str).collect();
        for gone in [
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-tokens-limit",
            "openai-organization",
            "openai-project",
            "anthropic-organization-id",
            "set-cookie",
        ] {
            assert!(!names.contains(&gone), "{gone} in {names:?}");
        }
        assert_eq!(got[REQUEST_ID_HEADER], "req_provider");
        assert_eq!(got["openai-processing-ms"], "12");
        let own = client_headers(provider_head(), &[], 1, "p", "m", false, true);
        assert_eq!(own.len(), provider_head().len() + 3);
    }

    #[test]
    fn request_ids() {
        let mut served = provider_head();
        served.insert(GATEWAY_REQUEST_ID_HEADER, "edge-1".parse().unwrap());
        stamp_request_id(&mut served, "edge-1");
        assert_eq!(served[REQUEST_ID_HEADER], "req_provider");
        let mut plain = provider_head();
        stamp_request_id(&mut plain, "edge-2");
        assert_eq!(
            plain[REQUEST_ID_HEADER], "edge-2",
            "other answers carry the edge's id"
        );
        let mut error = HeaderMap::new();
        error.insert(GATEWAY_REQUEST_ID_HEADER, "edge-3".parse().unwrap());
        stamp_request_id(&mut error, "edge-3");
        assert_eq!(error[REQUEST_ID_HEADER], "edge-3");
    }
}
