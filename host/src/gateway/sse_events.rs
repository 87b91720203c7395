//! What one server-sent event means to the gateway, by the stream protocol of the plan
//! (docs/ai-gateway.md, "Streams: commit point and broken streams"), and the error event
//! that ends a broken stream.
//!
//! [`classify`] runs on every whole event of a streaming attempt: before the commit point
//! it decides when to commit (the first content or closing event) or fail over (an error
//! event first); after it, which events restart the idle timer (data events; not comments
//! or `ping`) and whether the stream reached its closing event.

use bytes::Bytes;

use crate::wit::types::{ApiFormat, StreamProtocol};

use super::sse_parse::RawEvent;

/// Bytes read while looking for the first content event before the stream counts as
/// healthy anyway. Real preambles (Anthropic's `message_start`, the Responses API's
/// `response.created`) are well under 4 KiB; a provider that sends 64 KiB without a content
/// event is odd but not proven broken, and the client should get its bytes rather than wait.
pub const FIRST_EVENT_SCAN_LIMIT: usize = 64 * 1024;

/// The role of one event in its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// Comments only, or a block without `event` and `data`.
    KeepAlive,
    /// Anthropic's `ping`: a keep-alive with a name (and part of the preamble).
    Ping,
    /// Opening events held back until the first content event: `message_start`,
    /// `response.created`, `response.in_progress`.
    Preamble,
    /// Any other event that carries data.
    Content,
    /// The protocol's clean end: `[DONE]`, `message_stop`, `response.completed` or
    /// `response.incomplete`.
    Closing,
    /// An error event (which also ends the stream); the provider's message.
    Error(String),
}

impl EventKind {
    /// Counts as activity for the idle timer: every event that carries data, not
    /// comments or pings.
    pub fn is_data(&self) -> bool {
        !matches!(self, Self::KeepAlive | Self::Ping)
    }
}

/// What `event` is in a stream of `protocol`.
pub(crate) fn classify(event: &RawEvent<'_>, protocol: StreamProtocol) -> EventKind {
    if event.is_empty() {
        return EventKind::KeepAlive;
    }
    let name = event.name;
    let data = event.data.as_deref();
    if name == Some("ping") {
        return EventKind::Ping;
    }
    // Parse the JSON only when it may be an error: an `error` event, or an `"error"` key
    // (inside a JSON string the quotes would be escaped).
    if (name == Some("error") || data.is_some_and(|d| d.contains("\"error\"")))
        && let Some(message) = error_message(name, data)
    {
        return EventKind::Error(message);
    }
    match protocol {
        StreamProtocol::DoneMarker if data.is_some_and(|d| d.trim() == "[DONE]") => {
            EventKind::Closing
        }
        StreamProtocol::Messages => match name {
            Some("message_start") => EventKind::Preamble,
            Some("message_stop") => EventKind::Closing,
            _ => EventKind::Content,
        },
        StreamProtocol::Responses => responses_kind(name, data),
        _ => EventKind::Content,
    }
}

/// Responses API events are named by `event:` and again by the data's `type`; a stream
/// without `event:` lines is read by `type`.
fn responses_kind(name: Option<&str>, data: Option<&str>) -> EventKind {
    let json = || data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
    let owned;
    let kind = match name {
        Some(n) => n,
        None => {
            owned = json().and_then(|v| v.get("type")?.as_str().map(str::to_owned));
            owned.as_deref().unwrap_or("")
        }
    };
    match kind {
        "response.created" | "response.in_progress" => EventKind::Preamble,
        "response.completed" | "response.incomplete" => EventKind::Closing,
        "response.failed" => EventKind::Error(
            json()
                .as_ref()
                .and_then(|v| v.pointer("/response/error/message")?.as_str())
                .map_or_else(|| "the response failed".to_owned(), |m| truncate(m, 300)),
        ),
        _ => EventKind::Content,
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

    use crate::gateway::sse_parse::events;

    fn kinds(text: &str, protocol: StreamProtocol) -> Vec<EventKind> {
        events(text.as_bytes())
            .iter()
            .map(|e| classify(e, protocol))
            .collect()
    }

    #[test]
    fn chat_streams() {
        assert_eq!(
            kinds(
                ": ping\n\ndata: {\"error\":null,\"choices\":[]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"say \\\"error\\\"\"}}]}\n\ndata: [DONE]\n\n",
                StreamProtocol::DoneMarker
            ),
            [
                EventKind::KeepAlive,
                EventKind::Content,
                EventKind::Content,
                EventKind::Closing
            ]
        );
        assert_eq!(
            kinds(
                "data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
                StreamProtocol::DoneMarker
            ),
            [EventKind::Error("overloaded".into())]
        );
    }

    #[test]
    fn anthropic_streams() {
        assert_eq!(
            kinds(
                "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_start\ndata: {}\n\nevent: message_stop\ndata: {}\n\n",
                StreamProtocol::Messages
            ),
            [
                EventKind::Preamble,
                EventKind::Ping,
                EventKind::Content,
                EventKind::Closing
            ]
        );
        assert_eq!(
            kinds(
                "event: error\r\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\r\n\r\n",
                StreamProtocol::Messages
            ),
            [EventKind::Error("busy".into())]
        );
        assert_eq!(
            kinds("event: error\ndata: oops\n\n", StreamProtocol::Messages),
            [EventKind::Error("the provider sent an error event".into())]
        );
    }

    #[test]
    fn responses_streams() {
        assert_eq!(
            kinds(
                "event: response.created\ndata: {}\n\ndata: {\"type\":\"response.in_progress\"}\n\nevent: response.output_text.delta\ndata: {}\n\nevent: response.completed\ndata: {}\n\n",
                StreamProtocol::Responses
            ),
            [
                EventKind::Preamble,
                EventKind::Preamble,
                EventKind::Content,
                EventKind::Closing
            ]
        );
        assert_eq!(
            kinds(
                "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"message\":\"boom\"}}}\n\n",
                StreamProtocol::Responses
            ),
            [EventKind::Error("boom".into())]
        );
        assert_eq!(
            kinds(
                "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}\n\n",
                StreamProtocol::Responses
            ),
            [EventKind::Error("boom".into())]
        );
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
