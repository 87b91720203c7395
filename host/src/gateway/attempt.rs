//! One upstream call of a plan: build the request, send it, and decide whether to commit
//! to its response: a 2xx head, then for a stream its first content event (after any
//! preamble, and not an error event), for any other answer its whole body (up to a bound),
//! all before the attempt's deadline.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use tokio::time::{Instant, timeout_at};

use crate::wit::types::{Attempt, StreamProtocol};

use super::answer_body::read_answer;
use super::attempt_body::assemble;
use super::attempt_error::{AttemptError, from_reqwest, millis};
use super::excerpt::{FailedBody, excerpt_of_bytes, read_failed_body};
use super::internal_hosts::is_internal_host;
use super::redaction::CREDENTIAL_HEADERS;
use super::stream_commit::await_first_event;
use super::stream_cursor::StreamCursor;
use super::tls_profile::TlsProfile;
use super::upstream_client::UpstreamClient;

/// A response the loop commits to: its head, the body bytes already read (replayed to the
/// client first), the rest of the body, and for a stream where its events stand.
pub(crate) struct Committed {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub replay: Vec<Bytes>,
    pub body: reqwest::Body,
    pub cursor: Option<StreamCursor>,
}

/// A failed call: why, what head arrived (if any) and the start of its body.
pub(crate) struct Failed {
    pub error: AttemptError,
    pub status: Option<u16>,
    pub headers: HeaderMap,
    pub excerpt: Vec<u8>,
    /// For an answer with a failure status: its body, bounded, for a pass-through.
    pub body: Option<FailedBody>,
}

impl Failed {
    /// A failure before any response head arrived.
    pub(crate) fn bare(error: AttemptError) -> Self {
        Self {
            status: error.status(),
            error,
            headers: HeaderMap::new(),
            excerpt: Vec::new(),
            body: None,
        }
    }
}

/// Runs one attempt; `stream` is the plan's stream protocol when the client asked for a
/// stream. `attempt_deadline` bounds this call; `total_deadline` is the plan's, and decides
/// whether running out of time is reported as this attempt's timeout or as the total
/// timeout.
pub(crate) async fn run_attempt(
    client: &UpstreamClient,
    attempt: &Attempt,
    request_body: &Bytes,
    stream: Option<StreamProtocol>,
    attempt_deadline: Instant,
    total_deadline: Instant,
) -> Result<Committed, Failed> {
    client
        .check_plain_http(&attempt.url)
        .map_err(Failed::bare)?;
    let request = build_request(attempt, request_body, stream.is_some()).map_err(Failed::bare)?;
    let deadline = attempt_deadline.min(total_deadline);
    // The attempt's own budget, for messages (the plan's value may be 0 = the default).
    let budget_ms = millis(attempt_deadline.saturating_duration_since(Instant::now()));
    let out_of_time = || {
        if total_deadline <= attempt_deadline {
            AttemptError::TotalTimeout
        } else {
            AttemptError::Timeout(budget_ms)
        }
    };
    let http = client
        .for_profile(TlsProfile::from(&attempt.tls))
        .map_err(Failed::bare)?;
    let response = match timeout_at(deadline, http.execute(request)).await {
        Err(_) => return Err(Failed::bare(out_of_time())),
        Ok(Err(err)) => return Err(Failed::bare(from_reqwest(&err, budget_ms))),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    let (parts, mut body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let headers = parts.headers;
    if !status.is_success() {
        let failed_body = read_failed_body(&mut body, deadline).await;
        return Err(Failed {
            error: AttemptError::Status {
                status: status.as_u16(),
            },
            status: Some(status.as_u16()),
            headers,
            excerpt: excerpt_of_bytes(&failed_body.bytes),
            body: Some(failed_body),
        });
    }
    let Some(protocol) = stream else {
        return match read_answer(&mut body, deadline, out_of_time).await {
            Ok(replay) => Ok(Committed {
                status,
                headers,
                replay,
                body,
                cursor: None,
            }),
            Err(failure) => Err(Failed {
                error: failure.error,
                status: Some(status.as_u16()),
                headers,
                excerpt: failure.excerpt,
                body: None,
            }),
        };
    };
    match await_first_event(&mut body, &headers, protocol, deadline, out_of_time).await {
        Ok(point) => Ok(Committed {
            status,
            headers,
            replay: point.replay,
            body,
            cursor: Some(point.cursor),
        }),
        Err(early) => Err(Failed {
            error: early.error,
            status: Some(status.as_u16()),
            headers,
            excerpt: early.excerpt,
            body: None,
        }),
    }
}

/// The HTTP request of an attempt. Refuses plain `http://` to anything but a `.internal`
/// host (the plugin's rule, checked again here), and other schemes. Streams are requested
/// uncompressed.
fn build_request(
    attempt: &Attempt,
    request_body: &Bytes,
    stream: bool,
) -> Result<reqwest::Request, AttemptError> {
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
    let mut headers = crate::headers::from_wit(&attempt.headers);
    for (name, value) in headers.iter_mut() {
        // Sensitive values never show in Debug output and stay out of the HTTP/2 header
        // compression table.
        if CREDENTIAL_HEADERS.contains(&name.as_str()) {
            value.set_sensitive(true);
        }
    }
    // The client derives these from the URL and the body.
    headers.remove(http::header::HOST);
    headers.remove(http::header::CONTENT_LENGTH);
    if stream {
        // The first event must be readable to decide the commit, and the error event a
        // broken stream ends with is plain text: ask for an uncompressed stream.
        headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    let mut request = reqwest::Request::new(method, url);
    *request.headers_mut() = headers;
    if !attempt.body.is_empty() {
        *request.body_mut() = Some(reqwest::Body::from(assemble(&attempt.body, request_body)?));
    }
    Ok(request)
}
