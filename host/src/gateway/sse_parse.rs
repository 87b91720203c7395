//! The fields of whole server-sent events, as the relay needs them to tell keep-alives,
//! preamble, content, closing and error events apart (see `sse_events.rs`). Runs on the
//! complete events [`super::sse_framer::EventFramer`] hands out, so every block here ends
//! with a blank line (or is the last, unfinished one at the end of a body).
//!
//! Only `event` and `data` matter; `id`, `retry`, unknown fields and comments are skipped
//! as the SSE specification says. Borrowed from the chunk: nothing is copied unless an
//! event has several `data` lines.

use std::borrow::Cow;

/// One event's `event` name and `data` (lines joined with `\n`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RawEvent<'a> {
    pub name: Option<&'a str>,
    pub data: Option<Cow<'a, str>>,
}

impl RawEvent<'_> {
    /// A block of comments only (`: keep-alive`), or of fields that carry nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.data.is_none()
    }
}

/// Every event in `bytes`, in order. Blocks with neither `event` nor `data` come out empty
/// (see [`RawEvent::is_empty`]); text that is not UTF-8 is skipped field by field.
pub(crate) fn events(bytes: &[u8]) -> Vec<RawEvent<'_>> {
    let mut out = Vec::new();
    let mut current = RawEvent::default();
    let mut any_line = false;
    for line in lines(bytes) {
        if line.is_empty() {
            if any_line {
                out.push(std::mem::take(&mut current));
            }
            any_line = false;
            continue;
        }
        any_line = true;
        if line.first() == Some(&b':') {
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        match field {
            b"event" => current.name = Some(value),
            b"data" => {
                current.data = Some(match current.data.take() {
                    None => Cow::Borrowed(value),
                    Some(before) => Cow::Owned(format!("{before}\n{value}")),
                });
            }
            _ => {}
        }
    }
    if any_line {
        out.push(current);
    }
    out
}

/// The lines of `bytes`, split at `\r\n`, `\n` or `\r`, without their ends. A final line
/// without an end is included; the empty remainder after a final line end is not.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
            let line = rest;
            rest = &[];
            return Some(line);
        };
        let line = &rest[..end];
        let skip = if rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_data_of_each_event() {
        let ev = events(
            b": keep-alive\n\nevent: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\ndata:a\ndata: b\nid: 7\n\n",
        );
        assert_eq!(ev.len(), 3);
        assert!(ev[0].is_empty());
        assert_eq!(ev[1].name, Some("ping"));
        assert_eq!(ev[1].data.as_deref(), Some("{\"type\":\"ping\"}"));
        assert_eq!(ev[2].name, None);
        assert_eq!(ev[2].data.as_deref(), Some("a\nb"));
    }

    #[test]
    fn an_unfinished_last_block_is_parsed_too() {
        let ev = events(b"data: [DONE]\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data.as_deref(), Some("[DONE]"));
        assert!(events(b"").is_empty());
    }
}
