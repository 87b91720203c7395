//! Server-sent events as the attempt loop needs them: finding a stream's first event to
//! decide whether to commit to it, and writing the error event that ends a broken stream.

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};

use crate::wit::types::ApiFormat;

/// Bytes read while looking for the first event before the stream counts as healthy anyway.
/// Real first events (OpenAI's first chunk, Anthropic's `message_start`) are well under
/// 4 KiB; a provider that sends 64 KiB without one event is odd but not proven broken, and
/// the client should get its bytes rather than wait forever.
pub const FIRST_EVENT_SCAN_LIMIT: usize = 64 * 1024;

/// What the bytes of a stream so far say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstEvent {
    /// No complete event yet; read more.
    Pending,
    /// The first event is an ordinary one (or the scan limit was reached): commit.
    Healthy,
    /// The first event is an error event; the message is the provider's, if it gave one.
    Error(String),
}

/// Looks at the start of an SSE stream. Comment lines (`: keep-alive`) and blocks with
/// neither `event` nor `data` are skipped, so a keep-alive does not commit the attempt.
#[derive(Debug, Default)]
pub struct FirstEventProbe {
    seen: BytesMut,
}

impl FirstEventProbe {
    /// Adds the next chunk and reports what is known now.
    pub fn push(&mut self, chunk: &[u8]) -> FirstEvent {
        self.seen.extend_from_slice(chunk);
        let verdict = scan(self.seen.clone().freeze());
        if verdict == FirstEvent::Pending && self.seen.len() >= FIRST_EVENT_SCAN_LIMIT {
            return FirstEvent::Healthy;
        }
        verdict
    }
}

fn scan(bytes: Bytes) -> FirstEvent {
    let input = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(bytes)]);
    let mut events = sse_stream::SseByteStream::new(input);
    loop {
        // The input is already in memory, so every poll completes at once.
        match events.next().now_or_never() {
            Some(Some(Ok(event))) => {
                if event.event.is_none() && event.data.is_none() {
                    continue;
                }
                return match error_message(event.event.as_deref(), event.data.as_deref()) {
                    Some(message) => FirstEvent::Error(message),
                    None => FirstEvent::Healthy,
                };
            }
            Some(Some(Err(err))) => {
                return FirstEvent::Error(format!("malformed event stream: {err}"));
            }
            Some(None) | None => return FirstEvent::Pending,
        }
    }
}

/// `Some(message)` when an event is an error event: Anthropic's `event: error`, or a data
/// payload that is a JSON object with an `error` member (OpenAI) or `"type": "error"`.
pub fn error_message(event: Option<&str>, data: Option<&str>) -> Option<String> {
    let json = data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
    let is_error = event == Some("error")
        || json.as_ref().is_some_and(|v| {
            v.get("error").is_some_and(|e| !e.is_null())
                || v.get("type").and_then(|t| t.as_str()) == Some("error")
        });
    if !is_error {
        return None;
    }
    let message = json
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| {
            e.get("message")
                .and_then(|m| m.as_str())
                .or_else(|| e.as_str())
        })
        // The Responses API puts `message` at the top of its `error` event.
        .or_else(|| {
            json.as_ref()
                .and_then(|v| v.get("message"))
                .and_then(|m| m.as_str())
        })
        .unwrap_or("the provider sent an error event");
    Some(truncate(message, 300))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The event that ends a stream which broke or stalled after it reached the client, in the
/// format the client speaks, so SDKs raise an error instead of seeing a truncated answer as
/// complete.
pub fn stream_error_event(format: ApiFormat, message: &str) -> Bytes {
    let text = match format {
        ApiFormat::Openai => {
            let body = serde_json::json!({
                "error": {
                    "message": message,
                    "type": "upstream_error",
                    "code": "stream_interrupted",
                }
            });
            format!("data: {body}\n\n")
        }
        ApiFormat::Anthropic => {
            let body = serde_json::json!({
                "type": "error",
                "error": { "type": "api_error", "message": message }
            });
            format!("event: error\ndata: {body}\n\n")
        }
    };
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_complete_event() {
        let mut probe = FirstEventProbe::default();
        assert_eq!(probe.push(b"data: {\"id\":"), FirstEvent::Pending);
        assert_eq!(probe.push(b"\"x\"}\n"), FirstEvent::Pending);
        assert_eq!(probe.push(b"\n"), FirstEvent::Healthy);
    }

    #[test]
    fn keepalives_do_not_commit() {
        let mut probe = FirstEventProbe::default();
        assert_eq!(probe.push(b": ping\n\n"), FirstEvent::Pending);
        assert_eq!(
            probe.push(b"event: message_start\ndata: {}\n\n"),
            FirstEvent::Healthy
        );
    }

    #[test]
    fn openai_and_anthropic_error_events() {
        let mut probe = FirstEventProbe::default();
        assert_eq!(
            probe.push(b"data: {\"error\":{\"message\":\"overloaded\"}}\n\n"),
            FirstEvent::Error("overloaded".into())
        );
        let mut probe = FirstEventProbe::default();
        assert_eq!(
            probe.push(
                b"event: error\r\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\r\n\r\n"
            ),
            FirstEvent::Error("busy".into())
        );
        let mut probe = FirstEventProbe::default();
        assert_eq!(
            probe.push(b"event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}\n\n"),
            FirstEvent::Error("boom".into())
        );
        let mut probe = FirstEventProbe::default();
        assert_eq!(
            probe.push(b"event: error\ndata: oops\n\n"),
            FirstEvent::Error("the provider sent an error event".into())
        );
    }

    #[test]
    fn ordinary_chunks_with_null_error_are_healthy() {
        let mut probe = FirstEventProbe::default();
        assert_eq!(
            probe.push(b"data: {\"error\":null,\"choices\":[]}\n\n"),
            FirstEvent::Healthy
        );
    }

    #[test]
    fn scan_limit_commits() {
        let mut probe = FirstEventProbe::default();
        let junk = vec![b'x'; FIRST_EVENT_SCAN_LIMIT];
        assert_eq!(probe.push(b"data: "), FirstEvent::Pending);
        assert_eq!(probe.push(&junk), FirstEvent::Healthy);
    }

    #[test]
    fn error_events_parse_as_their_format() {
        let openai = stream_error_event(ApiFormat::Openai, "stalled");
        let text = std::str::from_utf8(&openai).unwrap();
        assert!(text.starts_with("data: ") && text.ends_with("\n\n"));
        let v: serde_json::Value =
            serde_json::from_str(text.trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(v["error"]["message"], "stalled");
        let anthropic = stream_error_event(ApiFormat::Anthropic, "broke");
        let text = std::str::from_utf8(&anthropic).unwrap();
        assert!(text.starts_with("event: error\ndata: "));
        let v: serde_json::Value =
            serde_json::from_str(text.trim_start_matches("event: error\ndata: ").trim()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["message"], "broke");
    }
}
