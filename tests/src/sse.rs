//! A small SSE reader for assertions: splits the raw text into events and keeps when each
//! body chunk arrived (for stream-latency measurements).

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// The `data:` lines joined with '\n'.
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null)
    }

    /// An error event in either format: `event: error`, or data carrying an `error` object.
    pub fn is_error(&self) -> bool {
        self.event.as_deref() == Some("error") || self.json().get("error").is_some()
    }
}

/// Parses complete events out of SSE text; a trailing incomplete event is ignored.
pub fn parse_events(text: &str) -> Vec<SseEvent> {
    let normalized = text.replace("\r\n", "\n");
    let mut out = Vec::new();
    let mut blocks: Vec<&str> = normalized.split("\n\n").collect();
    // The part after the last blank line is incomplete (or empty).
    blocks.pop();
    for block in blocks {
        let mut event = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if event.is_some() || !data.is_empty() {
            out.push(SseEvent {
                event,
                data: data.join("\n"),
            });
        }
    }
    out
}

/// Concatenated assistant text of a stream in either format.
pub fn stream_text(events: &[SseEvent]) -> String {
    let mut s = String::new();
    for e in events {
        let v = e.json();
        if let Some(t) = v
            .pointer("/choices/0/delta/content")
            .and_then(|t| t.as_str())
        {
            s.push_str(t);
        }
        if let Some(t) = v.pointer("/delta/text").and_then(|t| t.as_str()) {
            s.push_str(t);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_formats_and_drops_incomplete_tail() {
        let t = "data: {\"a\":1}\n\nevent: error\ndata: {\"type\":\"error\"}\n\ndata: part";
        let ev = parse_events(t);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert!(!ev[0].is_error());
        assert!(ev[1].is_error());
    }
}
