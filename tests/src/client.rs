//! The test client: reqwest over rustls (trusting the test CA when given), plus helpers that
//! read a whole reply or an SSE stream with per-chunk arrival times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;

use crate::sse::{SseEvent, parse_events};
use crate::test_ca::TestCa;
use crate::{HarnessError, Result};

/// A complete reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// `error.code` of an OpenAI-shaped error body.
    pub fn error_code(&self) -> Option<String> {
        self.json()
            .pointer("/error/code")
            .and_then(|c| c.as_str())
            .map(str::to_owned)
    }
}

/// A streamed reply: status/headers, the events, and how the stream ended.
#[derive(Debug, Clone)]
pub struct StreamReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub raw: String,
    pub events: Vec<SseEvent>,
    /// Set when the body ended with a transport error instead of a clean end.
    pub transport_error: Option<String>,
    /// When each body chunk arrived, with its bytes.
    pub chunks: Vec<(Instant, Bytes)>,
}

impl StreamReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
pub struct Client {
    inner: reqwest::Client,
}

impl Client {
    /// Plain HTTP only (HTTPS URLs fail: no roots).
    pub fn new() -> Result<Self> {
        Self::build(None, false)
    }
    /// Trusts `ca` for HTTPS.
    pub fn with_ca(ca: &Arc<TestCa>) -> Result<Self> {
        Self::build(Some(ca), false)
    }
    /// HTTP/2 with prior knowledge over plain HTTP.
    pub fn http2_prior_knowledge() -> Result<Self> {
        Self::build(None, true)
    }

    fn build(ca: Option<&Arc<TestCa>>, h2: bool) -> Result<Self> {
        let tls = match ca {
            Some(ca) => ca.client_config()?,
            None => rustls::ClientConfig::builder_with_provider(crate::crypto_provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| HarnessError::Tls(e.to_string()))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        };
        let mut b = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .no_proxy()
            // Generous bound so a hung edge fails the test instead of hanging the suite.
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(32);
        if h2 {
            b = b.http2_prior_knowledge();
        }
        Ok(Self { inner: b.build()? })
    }

    pub fn inner(&self) -> &reqwest::Client {
        &self.inner
    }

    pub async fn get(&self, url: &str) -> Result<Reply> {
        self.send(self.inner.get(url)).await
    }

    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Reply> {
        self.send(
            self.inner
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Sends any prepared request and reads the whole body (bounded by a 30 s timeout).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<Reply> {
        let res = req.timeout(Duration::from_secs(30)).send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let version = res.version();
        let body = res.bytes().await?;
        Ok(Reply {
            status,
            headers,
            body,
            version,
        })
    }

    /// Sends and reads an SSE body chunk by chunk; `idle` bounds the wait for each chunk so a
    /// stalled stream that the edge fails to end is reported instead of hanging the test.
    pub async fn stream(
        &self,
        req: reqwest::RequestBuilder,
        idle: Duration,
    ) -> Result<StreamReply> {
        let res = req.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let mut body = res.bytes_stream();
        let mut raw = Vec::new();
        let mut chunks = Vec::new();
        let mut transport_error = None;
        loop {
            match tokio::time::timeout(idle, body.next()).await {
                Err(_) => {
                    transport_error = Some(format!("client gave up: no chunk for {idle:?}"));
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    transport_error = Some(format!("{e:?}"));
                    break;
                }
                Ok(Some(Ok(b))) => {
                    raw.extend_from_slice(&b);
                    chunks.push((Instant::now(), b));
                }
            }
        }
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let events = parse_events(&raw);
        Ok(StreamReply {
            status,
            headers,
            raw,
            events,
            transport_error,
            chunks,
        })
    }

    /// POST JSON and read the reply as a stream.
    pub async fn post_stream(
        &self,
        url: &str,
        body: &serde_json::Value,
        idle: Duration,
    ) -> Result<StreamReply> {
        self.stream(
            self.inner
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string()),
            idle,
        )
        .await
    }
}
