//! Forwarding to the endpoint's own upstream (`--upstream URL`), the way an ngrok agent
//! forwards to its local port: the plugin's edited method, path and headers, the client's
//! body (or the plugin's replacement), and the upstream's answer streamed back.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response};
use http_body_util::BodyExt;

use super::errors::EdgeError;
use crate::body::{ResponseBody, is_length_limit};
use crate::body_pace::too_slow_in;
use crate::headers;
use crate::wit::types::UpstreamRequest;

/// Upper bound for connecting to the upstream. It is local or near (an agent-style
/// upstream), so ten seconds means it is down rather than slow.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle keep-alive connections are dropped after this long; most servers close theirs
/// around 60–120 s, so reusing ours longer risks a race with their close.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum UpstreamConfigError {
    #[error("--upstream must be an http:// or https:// URL without query: {0}")]
    BadUrl(String),
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The body that goes to the upstream.
pub enum OutgoingBody {
    Buffered(Bytes),
    Streaming(http_body_util::Limited<crate::body::PacedRequestBody>),
}

/// Facts about the client the upstream learns through `x-forwarded-*`.
pub struct ForwardedFor<'a> {
    pub client_ip: IpAddr,
    pub scheme: &'a str,
    pub authority: &'a str,
}

/// The configured upstream and the pooled client used to reach it.
pub struct Upstream {
    client: reqwest::Client,
    /// Scheme and authority, e.g. `http://127.0.0.1:3000`.
    origin: String,
    /// Path prefix from the URL without its trailing '/', often empty.
    base_path: String,
    /// The client-body limit, reported when a streamed body passes it.
    body_limit: u64,
}

impl Upstream {
    pub fn new(url: &str, body_limit: u64) -> Result<Self, UpstreamConfigError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| UpstreamConfigError::BadUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.query().is_some()
            || !parsed.has_host()
        {
            return Err(UpstreamConfigError::BadUrl(url.to_owned()));
        }
        let origin = parsed.origin().ascii_serialization();
        let base_path = parsed.path().trim_end_matches('/').to_owned();
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // The edge forwards redirects to the client like any proxy.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(UpstreamConfigError::Client)?;
        Ok(Self {
            client,
            origin,
            base_path,
            body_limit,
        })
    }

    /// Sends the request and returns the upstream's response head with its body still
    /// streaming. Hop-by-hop headers are dropped both ways.
    pub async fn forward(
        &self,
        req: &UpstreamRequest,
        body: OutgoingBody,
        fwd: &ForwardedFor<'_>,
    ) -> Result<Response<ResponseBody>, EdgeError> {
        let url = format!(
            "{}{}{}",
            self.origin,
            self.base_path,
            normalise_path(&req.path_and_query)
        );
        let method = Method::from_bytes(req.method.as_bytes()).map_err(|_| {
            EdgeError::BadUpstreamRequest(format!("invalid method {:?}", req.method))
        })?;
        let headers = outgoing_headers(&req.headers, fwd);
        let body = match body {
            OutgoingBody::Buffered(b) => reqwest::Body::from(b),
            OutgoingBody::Streaming(s) => reqwest::Body::wrap(s),
        };
        let sent = self
            .client
            .request(method, url)
            .headers(headers)
            .body(body)
            .send()
            .await;
        let res = sent.map_err(|e| map_send_error(e, self.body_limit))?;
        let mut res: Response<reqwest::Body> = res.into();
        headers::strip_hop_by_hop(res.headers_mut());
        Ok(res.map(|b| {
            b.map_err(|e| Box::new(e.without_url()) as crate::body::BoxError)
                .boxed()
        }))
    }
}

fn normalise_path(pq: &str) -> String {
    if pq.starts_with('/') {
        pq.to_owned()
    } else {
        format!("/{pq}")
    }
}

/// The policy's edited request headers ([`headers::from_wit`]) plus the `x-forwarded-*`
/// facts.
fn outgoing_headers(list: &[(String, String)], fwd: &ForwardedFor<'_>) -> HeaderMap {
    let mut map = headers::from_wit(list);
    // content-length is recomputed from the body actually sent (the plugin may have
    // replaced it).
    map.remove(http::header::CONTENT_LENGTH);
    if !map.contains_key(http::header::HOST)
        && let Ok(v) = HeaderValue::from_str(fwd.authority)
    {
        map.insert(http::header::HOST, v);
    }
    let xff = match map.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {}", fwd.client_ip),
        None => fwd.client_ip.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        map.insert("x-forwarded-for", v);
    }
    if let Ok(v) = HeaderValue::from_str(fwd.scheme) {
        map.insert("x-forwarded-proto", v);
    }
    if let Ok(v) = HeaderValue::from_str(fwd.authority) {
        map.insert("x-forwarded-host", v);
    }
    map
}

fn map_send_error(err: reqwest::Error, body_limit: u64) -> EdgeError {
    if is_length_limit(&err) {
        // The client's body passed the limit while being streamed to the upstream.
        return EdgeError::BodyTooLarge { limit: body_limit };
    }
    if let Some(slow) = too_slow_in(&err) {
        // The client sent the body it streams to the upstream too slowly.
        return EdgeError::BodyTooSlow(slow);
    }
    if err.is_timeout() {
        return EdgeError::UpstreamTimeout;
    }
    EdgeError::UpstreamUnreachable(err.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_http_upstreams() {
        assert!(Upstream::new("ftp://x", 1).is_err());
        assert!(Upstream::new("http://x/?q=1", 1).is_err());
        let u = Upstream::new("http://127.0.0.1:3000/base/", 1).unwrap();
        assert_eq!(u.origin, "http://127.0.0.1:3000");
        assert_eq!(u.base_path, "/base");
    }

    #[test]
    fn outgoing_headers_drop_hop_by_hop_and_add_forwarded() {
        let list = vec![
            ("host".to_owned(), "public.example".to_owned()),
            ("connection".to_owned(), "x-secret-hop".to_owned()),
            ("x-secret-hop".to_owned(), "1".to_owned()),
            ("te".to_owned(), "trailers".to_owned()),
            ("content-length".to_owned(), "5".to_owned()),
            ("x-keep".to_owned(), "a".to_owned()),
            ("x-keep".to_owned(), "b".to_owned()),
        ];
        let fwd = ForwardedFor {
            client_ip: "10.0.0.1".parse().unwrap(),
            scheme: "https",
            authority: "public.example",
        };
        let map = outgoing_headers(&list, &fwd);
        assert!(!map.contains_key("x-secret-hop"));
        assert!(!map.contains_key("te"));
        assert!(!map.contains_key("content-length"));
        assert_eq!(map.get_all("x-keep").iter().count(), 2);
        assert_eq!(map["host"], "public.example");
        assert_eq!(map["x-forwarded-for"], "10.0.0.1");
        assert_eq!(map["x-forwarded-proto"], "https");
    }
}
