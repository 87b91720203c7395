//! The commit point of a streaming attempt. After a 2xx head, the attempt is not yet the
//! client's: the loop reads until the first SSE event and commits only if that event is an
//! ordinary one. An error event first, a stream that ends or breaks before any event, a
//! non-SSE answer, or silence past the attempt's deadline all fail the attempt, and the
//! loop can still fail over because no byte has reached the client.
//!
//! Runs inside the attempt's deadline, once per streaming attempt with a 2xx head.

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout_at};

use super::attempt_error::{AttemptError, body_error};
use super::excerpt::{excerpt_of, read_excerpt};
use super::sse_events::{FirstEvent, FirstEventProbe};

/// Why a stream failed before its commit, with the start of what it sent.
pub(crate) struct EarlyFailure {
    pub error: AttemptError,
    pub excerpt: Vec<u8>,
}

/// Reads `body` up to and including its first SSE event. `Ok` holds every chunk read, to be
/// replayed to the client before the rest of the stream; `out_of_time` names the deadline
/// that ran out (the attempt's or the total one).
pub(crate) async fn await_first_event(
    body: &mut reqwest::Body,
    headers: &HeaderMap,
    deadline: Instant,
    out_of_time: impl Fn() -> AttemptError,
) -> Result<Vec<Bytes>, EarlyFailure> {
    if let Some(kind) = non_sse_content_type(headers) {
        return Err(EarlyFailure {
            error: AttemptError::StreamError(format!(
                "the provider answered a streaming request with content-type {kind}"
            )),
            excerpt: read_excerpt(body, deadline).await,
        });
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
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                let verdict = probe.push(&data);
                replay.push(data);
                match verdict {
                    FirstEvent::Pending => continue,
                    FirstEvent::Healthy => return Ok(replay),
                    FirstEvent::Error(message) => AttemptError::StreamError(message),
                }
            }
        };
        return Err(EarlyFailure {
            error,
            excerpt: excerpt_of(&replay),
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert_eq!(non_sse_content_type(&h), None);
        h.insert(
            "content-type",
            "Text/Event-Stream; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(non_sse_content_type(&h), None);
        h.insert("content-type", "application/json".parse().unwrap());
        assert_eq!(
            non_sse_content_type(&h).as_deref(),
            Some("application/json")
        );
    }
}
