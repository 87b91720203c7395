//! The commit point of a streaming attempt. After a 2xx head, the attempt is not yet the
//! client's: the loop reads whole events until the first content (or closing) event and
//! commits there. Preamble events (Anthropic's `message_start` and `ping`, the Responses
//! API's `response.created` and `response.in_progress`) and keep-alive comments are held
//! back meanwhile, so an error event after them still fails over. An error event first, a
//! stream that ends or breaks before a content event, a non-SSE answer, or silence past the
//! attempt's deadline all fail the attempt, and the loop can still fail over because no
//! byte has reached the client.
//!
//! Runs inside the attempt's deadline, once per streaming attempt with a 2xx head.

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout_at};

use crate::wit::types::StreamProtocol;

use super::attempt_error::{AttemptError, body_error};
use super::excerpt::{excerpt_of, read_excerpt};
use super::sse_events::FIRST_EVENT_SCAN_LIMIT;
use super::stream_cursor::{Decisive, StreamCursor};

/// Why a stream failed before its commit, with the start of what it sent.
pub(crate) struct EarlyFailure {
    pub error: AttemptError,
    pub excerpt: Vec<u8>,
}

/// A stream at its commit point: the whole events read so far (replayed to the client
/// first) and the cursor that holds what follows them.
pub(crate) struct CommitPoint {
    pub replay: Vec<Bytes>,
    pub cursor: StreamCursor,
}

/// Reads `body` up to and including its first content event. `out_of_time` names the
/// deadline that ran out (the attempt's or the total one).
pub(crate) async fn await_first_event(
    body: &mut reqwest::Body,
    headers: &HeaderMap,
    protocol: StreamProtocol,
    deadline: Instant,
    out_of_time: impl Fn() -> AttemptError,
) -> Result<CommitPoint, EarlyFailure> {
    if let Some(kind) = non_sse_content_type(headers) {
        return Err(EarlyFailure {
            error: AttemptError::StreamError(format!(
                "the provider answered a streaming request with content-type {kind}"
            )),
            excerpt: read_excerpt(body, deadline).await,
        });
    }
    let mut cursor = StreamCursor::new(protocol);
    let mut replay: Vec<Bytes> = Vec::new();
    let mut read = 0usize;
    loop {
        let error = match timeout_at(deadline, body.frame()).await {
            Err(_) => out_of_time(),
            Ok(None) => {
                AttemptError::StreamError("the stream ended before its first content event".into())
            }
            Ok(Some(Err(err))) => body_error(&err),
            Ok(Some(Ok(frame))) => {
                // Trailers before the first event carry nothing for the client.
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                read += data.len();
                let pushed = cursor.push(data);
                if !pushed.complete.is_empty() {
                    replay.push(pushed.complete);
                }
                match pushed.decisive {
                    Some(Decisive::Content) => return Ok(CommitPoint { replay, cursor }),
                    Some(Decisive::Error(message)) => AttemptError::StreamError(message),
                    // A provider that sends this much without one content event is odd
                    // but not proven broken: the client gets its bytes.
                    None if read >= FIRST_EVENT_SCAN_LIMIT => {
                        return Ok(CommitPoint { replay, cursor });
                    }
                    None => continue,
                }
            }
        };
        let mut seen = replay;
        seen.push(Bytes::copy_from_slice(cursor.held()));
        return Err(EarlyFailure {
            error,
            excerpt: excerpt_of(&seen),
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
