//! The headers of the response the client gets from a served plan.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::headers::{from_wit, strip_hop_by_hop};

/// Header naming how many upstream calls the loop made (retries included).
pub const ATTEMPTS_HEADER: &str = "x-aigw-attempts";
/// Header naming the provider that served the response.
pub const PROVIDER_HEADER: &str = "x-aigw-provider";
/// Header naming the upstream model that served the response.
pub const MODEL_HEADER: &str = "x-aigw-model";

/// What the client gets: the provider's headers minus hop-by-hop ones (and minus
/// `alt-svc`, which would advertise the provider's endpoints as ours), plus the plan's
/// headers, plus the gateway's own attempt headers. `content-length` is dropped for
/// streams, whose end may carry an extra error event.
pub fn client_headers(
    mut upstream: HeaderMap,
    plan_headers: &[(String, String)],
    attempts: usize,
    provider: &str,
    model: &str,
    streaming: bool,
) -> HeaderMap {
    strip_hop_by_hop(&mut upstream);
    upstream.remove(http::header::ALT_SVC);
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
        let got = client_headers(up, &[], 1, "p", "m", false);
        assert_eq!(got["content-length"], "10");
    }
}
