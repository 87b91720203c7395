//! The echo upstream: what `edge serve --upstream URL` forwards to. It records each request and
//! answers with a JSON echo of it, so tests see exactly what the edge sent (method, path,
//! headers after the policy's edits, body).
//!
//! Special paths: `/status/<code>` answers that status; `/delay/<ms>` waits before answering
//! (in-flight requests for shutdown/reload tests); `/stream/<n>` sends n SSE chunks 1 ms apart.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;

use crate::Result;
use crate::http_server::{Body, BoxError, Handler, ServerHandle, json_response};
use crate::recorded::{RecordedRequest, Recorder, record};

pub struct EchoUpstream {
    pub server: ServerHandle,
    pub requests: Recorder,
}

/// Starts a plain-HTTP echo upstream on loopback.
pub async fn echo_upstream() -> Result<EchoUpstream> {
    let requests = Recorder::default();
    let rec = requests.clone();
    let handler: Handler = Arc::new(move |req| {
        let rec = rec.clone();
        Box::pin(async move {
            let r = record(req, &rec).await;
            answer(&r).await
        })
    });
    let server = ServerHandle::start(handler, None).await?;
    Ok(EchoUpstream { server, requests })
}

async fn answer(r: &RecordedRequest) -> Response<Body> {
    let path = r.path.split('?').next().unwrap_or("/");
    if let Some(code) = path
        .strip_prefix("/status/")
        .and_then(|c| c.parse::<u16>().ok())
    {
        return json_response(code, &echo_json(r));
    }
    if let Some(ms) = path
        .strip_prefix("/delay/")
        .and_then(|c| c.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(n) = path
        .strip_prefix("/stream/")
        .and_then(|c| c.parse::<usize>().ok())
    {
        return sse_chunks(n);
    }
    let mut res = json_response(200, &echo_json(r));
    res.headers_mut()
        .insert("x-upstream", http::HeaderValue::from_static("echo"));
    res
}

fn echo_json(r: &RecordedRequest) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = r
        .headers
        .keys()
        .map(|k| {
            let vals: Vec<serde_json::Value> = r
                .headers
                .get_all(k)
                .iter()
                .map(|v| serde_json::Value::String(v.to_str().unwrap_or("").to_owned()))
                .collect();
            (k.as_str().to_owned(), serde_json::Value::Array(vals))
        })
        .collect();
    serde_json::json!({
        "method": r.method,
        "path": r.path,
        "headers": headers,
        "body": String::from_utf8_lossy(&r.body),
    })
}

fn sse_chunks(n: usize) -> Response<Body> {
    let stream = futures_util::stream::unfold(0usize, move |i| async move {
        if i >= n {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let chunk = Bytes::from(format!("data: {{\"i\":{i}}}\n\n"));
        Some((Ok::<_, BoxError>(Frame::data(chunk)), i + 1))
    });
    let mut res = Response::new(StreamBody::new(stream).boxed());
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    res
}
