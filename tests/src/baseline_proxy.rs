//! The benchmark's baseline: a bare hyper reverse proxy with no policy, no plugin and no
//! logging. It forwards every request to one upstream, streaming bodies both ways, so the
//! edge's overhead can be stated as a ratio to "the least any Rust proxy must do".

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Result;
use crate::http_server::{Body, Handler, ServerHandle, full};

/// Hop-by-hop headers a proxy must not forward (RFC 9110 section 7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Starts the baseline proxy on an ephemeral loopback port in front of `upstream`
/// (`http://host:port`).
pub async fn start_baseline_proxy(upstream: &str) -> Result<ServerHandle> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HyperClient<HttpConnector, Incoming> = HyperClient::builder(TokioExecutor::new())
        // Enough idle connections that a saturation run never reconnects.
        .pool_max_idle_per_host(256)
        .build(connector);
    let upstream: Arc<str> = Arc::from(upstream.trim_end_matches('/'));
    let handler: Handler = Arc::new(move |req: Request<Incoming>| {
        let client = client.clone();
        let upstream = upstream.clone();
        Box::pin(async move { forward(&client, &upstream, req).await })
    });
    ServerHandle::start(handler, None).await
}

async fn forward(
    client: &HyperClient<HttpConnector, Incoming>,
    upstream: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    parts.uri = match format!("{upstream}{pq}").parse() {
        Ok(u) => u,
        Err(_) => return bad_gateway(),
    };
    parts.version = http::Version::HTTP_11;
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    parts.headers.remove(http::header::HOST);
    match client.request(Request::from_parts(parts, body)).await {
        Ok(res) => {
            let (mut parts, body) = res.into_parts();
            for h in HOP_BY_HOP {
                parts.headers.remove(*h);
            }
            Response::from_parts(parts, body.map_err(|e| Box::new(e) as _).boxed())
        }
        Err(_) => bad_gateway(),
    }
}

fn bad_gateway() -> Response<Body> {
    let mut r = Response::new(full("bad gateway"));
    *r.status_mut() = http::StatusCode::BAD_GATEWAY;
    r
}
