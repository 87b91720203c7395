//! What a loopback server received: one entry per request, in arrival order.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;

/// One request as a test server saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/chat/completions?x=1`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `Host`/`:authority` as received.
    pub authority: String,
    pub version: http::Version,
    pub at: Instant,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `model` field of a JSON body.
    pub fn model(&self) -> Option<String> {
        self.json()
            .get("model")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    }
}

/// Shared, append-only log of requests.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<RecordedRequest>>>);

impl Recorder {
    pub fn push(&self, r: RecordedRequest) {
        if let Ok(mut v) = self.0.lock() {
            v.push(r);
        }
    }

    pub fn all(&self) -> Vec<RecordedRequest> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }

    pub fn clear(&self) {
        if let Ok(mut v) = self.0.lock() {
            v.clear();
        }
    }
}

/// Reads a hyper request completely and records it; returns the record.
pub async fn record(
    req: hyper::Request<hyper::body::Incoming>,
    into: &Recorder,
) -> RecordedRequest {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let authority = parts
        .uri
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let rec = RecordedRequest {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".into()),
        headers: parts.headers,
        body,
        authority,
        version: parts.version,
        at: Instant::now(),
    };
    into.push(rec.clone());
    rec
}
