//! One upstream call of a plan: build the request, send it, and decide whether to commit
//! to its response: a 2xx head, and for a stream also a first SSE event that is not an
//! error event, all before the attempt's deadline.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout_at};

use crate::plugin_runtime::bindings::types::Attempt;

use super::attempt_error::{AttemptError, body_error, from_reqwest};
use super::defaults::{EXCERPT_LIMIT, EXCERPT_READ_LIMIT};
use super::internal_hosts::is_internal_host;
use super::response_headers::strip_hop_by_hop;
use super::sse_events::{FirstEvent, FirstEventProbe};

/// A response the loop commits to: its head, the body bytes already read (replayed to the
/// client first) and the rest of the body.
pub(crate) struct Committed {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub replay: Vec<Bytes>,
    pub body: reqwest::Body,
}

/// A failed call: why, what head arrived (if any) and the start of its body.
pub(crate) struct Failed {
    pub error: AttemptError,
    pub status: Option<u16>,
    pub headers: HeaderMap,
    pub excerpt: Vec<u8>,
}

impl Failed {
    fn bare(error: AttemptError) -> Self {
        Self {
            status: error.status(),
            error,
            headers: HeaderMap::new(),
            excerpt: Vec::new(),
        }
    }
}

/// Headers whose values are credentials: marked sensitive so they never show in Debug
/// output and are never added to the HTTP/2 header compression table.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
];

/// Runs one attempt. `attempt_deadline` bounds this call; `total_deadline` is the plan's,
/// and decides whether running out of time is reported as this attempt's timeout or as the
/// total timeout.
pub(crate) async fn run_attempt(
    client: &reqwest::Client,
    attempt: &Attempt,
    stream: bool,
    attempt_deadline: Instant,
    total_deadline: Instant,
) -> Result<Committed, Failed> {
    let request = build_request(attempt).map_err(Failed::bare)?;
    let deadline = attempt_deadline.min(total_deadline);
    let out_of_time = || {
        if total_deadline <= attempt_deadline {
            AttemptError::TotalTimeout
        } else {
            AttemptError::Timeout(attempt.timeout_ms)
        }
    };
    let response = match timeout_at(deadline, client.execute(request)).await {
        Err(_) => return Err(Failed::bare(out_of_time())),
        Ok(Err(err)) => return Err(Failed::bare(from_reqwest(&err, attempt.timeout_ms))),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    let (parts, mut body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let headers = parts.headers;
    if !status.is_success() {
        let excerpt = read_excerpt(&mut body, deadline).await;
        return Err(Failed {
            error: AttemptError::Status {
                status: status.as_u16(),
            },
            status: Some(status.as_u16()),
            headers,
            excerpt,
        });
    }
    if !stream {
        return Ok(Committed {
            status,
            headers,
            replay: Vec::new(),
            body,
        });
    }
    let failed = |error: AttemptError, headers: HeaderMap, excerpt: Vec<u8>| Failed {
        error,
        status: Some(status.as_u16()),
        headers,
        excerpt,
    };
    if let Some(kind) = non_sse_content_type(&headers) {
        let excerpt = read_excerpt(&mut body, deadline).await;
        let error = AttemptError::StreamError(format!(
            "the provider answered a streaming request with content-type {kind}"
        ));
        return Err(failed(error, headers, excerpt));
    }
    let mut probe = FirstEventProbe::default();
    let mut replay: Vec<Bytes> = Vec::new();
    loop {
        let error = match timeout_at(deadline, body.frame()).await {
            Err(_) => out_of_time(),
            Ok(None) => AttemptError::StreamError("the stream ended before its first event".into()),
            Ok(Some(Err(err))) => body_error(&err),
            Ok(Some(Ok(frame))) => {
                // Trailers before the first event carry nothing for the client.
                let Ok(data) = frame.into_data() else { continue };
                if data.is_empty() {
                    continue;
                }
                let verdict = probe.push(&data);
                replay.push(data);
                match verdict {
                    FirstEvent::Pending => continue,
                    FirstEvent::Healthy => {
                        return Ok(Committed {
                            status,
                            headers,
                            replay,
                            body,
                        });
                    }
                    FirstEvent::Error(message) => AttemptError::StreamError(message),
                }
            }
        };
        return Err(failed(error, headers, excerpt_of(&replay)));
    }
}

/// The HTTP request of an attempt. Refuses plain `http://` to anything but a `.internal`
/// host (the plugin's rule, checked again here), and other schemes.
fn build_request(attempt: &Attempt) -> Result<reqwest::Request, AttemptError> {
    let url = reqwest::Url::parse(&attempt.url)
        .map_err(|err| AttemptError::Protocol(format!("the plan's URL is invalid: {err}")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or_default();
            if !is_internal_host(host) {
                return Err(AttemptError::PlainHttpRefused {
                    host: host.to_owned(),
                });
            }
        }
        other => {
            return Err(AttemptError::Protocol(format!(
                "unsupported URL scheme {other:?}"
            )));
        }
    }
    let method = Method::from_bytes(attempt.method.as_bytes())
        .map_err(|_| AttemptError::Protocol("the plan's method is invalid".into()))?;
    let mut headers = HeaderMap::with_capacity(attempt.headers.len());
    for (name, value) in &attempt.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| AttemptError::Protocol(format!("invalid header name {name:?} in the plan")))?;
        // The value is not quoted: it may be a credential.
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            AttemptError::Protocol(format!("invalid value of header {name} in the plan"))
        })?;
        if CREDENTIAL_HEADERS.contains(&name.as_str()) {
            value.set_sensitive(true);
        }
        headers.append(name, value);
    }
    strip_hop_by_hop(&mut headers);
    // The client derives these from the URL and the body.
    headers.remove(http::header::HOST);
    headers.remove(http::header::CONTENT_LENGTH);
    let mut request = reqwest::Request::new(method, url);
    *request.headers_mut() = headers;
    if !attempt.body.is_empty() {
        *request.body_mut() = Some(reqwest::Body::from(Bytes::copy_from_slice(&attempt.body)));
    }
    Ok(request)
}

/// `Some(content-type)` when a successful answer to a streaming request is declared as
/// something other than an event stream. A missing content-type is given the benefit of
/// the doubt and parsed as SSE.
fn non_sse_content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_TYPE)?;
    let text = value.to_str().unwrap_or("<binary>");
    let is_sse = text
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/event-stream"));
    (!is_sse).then(|| text.chars().take(100).collect())
}

/// Reads up to [`EXCERPT_LIMIT`] bytes of a failed response, bounded in time.
async fn read_excerpt(body: &mut reqwest::Body, deadline: Instant) -> Vec<u8> {
    let deadline = deadline.min(Instant::now() + EXCERPT_READ_LIMIT);
    let mut excerpt = Vec::new();
    while excerpt.len() < EXCERPT_LIMIT {
        match timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    let room = EXCERPT_LIMIT - excerpt.len();
                    excerpt.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    excerpt
}

fn excerpt_of(chunks: &[Bytes]) -> Vec<u8> {
    let mut excerpt = Vec::new();
    for chunk in chunks {
        let room = EXCERPT_LIMIT - excerpt.len();
        excerpt.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if excerpt.len() >= EXCERPT_LIMIT {
            break;
        }
    }
    excerpt
}
