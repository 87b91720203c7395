//! Turning an incoming request head into the WIT `request` the plugin sees.

use std::time::SystemTime;

use http::request::Parts;

use super::connection::ConnInfo;
use crate::policy_state::unix_ms;
use crate::wit::types::Request;

/// A new request id: UUID v7, so ids sort by arrival time in logs.
pub fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Builds the plugin's view of the request. Header names arrive lower-cased from hyper;
/// order and repeats are kept. `body` is empty unless the policy reads bodies.
pub fn to_wit(
    parts: &Parts,
    conn: &ConnInfo,
    id: &str,
    received: SystemTime,
    body: Vec<u8>,
) -> Request {
    Request {
        id: id.to_owned(),
        method: parts.method.as_str().to_owned(),
        scheme: conn.scheme().to_owned(),
        authority: authority(parts),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        version: version_name(parts.version).to_owned(),
        headers: crate::headers::to_wit(&parts.headers),
        body,
        conn: conn.to_wit(),
        received_at_ms: unix_ms(received),
    }
}

/// `:authority` for HTTP/2 (and absolute-form HTTP/1.1), else the `host` header.
pub fn authority(parts: &Parts) -> String {
    if let Some(a) = parts.uri.authority() {
        return a.as_str().to_owned();
    }
    parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn version_name(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_wit_request_with_headers_in_order() {
        let req = http::Request::builder()
            .method("POST")
            .uri("/v1/chat?x=1&y=2")
            .header("Host", "edge.local:8080")
            .header("X-A", "1")
            .header("x-a", "2")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let conn = ConnInfo {
            client: "127.0.0.1:5000".parse().unwrap(),
            server: "127.0.0.1:8080".parse().unwrap(),
            tls: None,
        };
        let w = to_wit(&parts, &conn, "id1", SystemTime::now(), vec![]);
        assert_eq!(w.method, "POST");
        assert_eq!(w.path, "/v1/chat");
        assert_eq!(w.query, "x=1&y=2");
        assert_eq!(w.authority, "edge.local:8080");
        assert_eq!(w.scheme, "http");
        assert_eq!(w.version, "HTTP/1.1");
        let xa: Vec<_> = w
            .headers
            .iter()
            .filter(|(n, _)| n == "x-a")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(xa, ["1", "2"]);
        assert_eq!(w.conn.client_port, 5000);
    }

    #[test]
    fn request_ids_are_unique_uuids() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
    }
}
