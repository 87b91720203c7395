//! Where server-sent events end, found incrementally as a stream's bytes arrive, so the
//! relay can pass on whole events only and hold an unfinished one back.
//!
//! Runs on every chunk of a streaming attempt, before and after its commit point. Why hold
//! back: when a provider breaks a stream in the middle of an event, the client must be able
//! to parse what it got and the error event that follows. Passing the half event on and
//! ending it with a blank line would hand the SDKs one event of broken JSON (a decode error
//! instead of an API error); holding it back and dropping it on a break leaves the client
//! with whole events and then the error event (docs/ai-gateway.md, "Streams: commit point
//! and broken streams").
//!
//! Cost: a chunk that ends on an event boundary, the usual case, is passed on as the same
//! `Bytes` (no copy); only an event split across chunks is copied once, when it completes.
//!
//! Line ends are those of the SSE specification: `\r\n`, `\n` or `\r`; an event ends at a
//! blank line, so `\n\n`, `\r\n\r\n`, `\r\r` and mixtures all end one.

use bytes::{Bytes, BytesMut};

/// Splits a byte stream at event boundaries. Feed it chunks in order with [`Self::push`].
#[derive(Debug)]
pub(crate) struct EventFramer {
    /// The unfinished event after the last boundary seen.
    held: BytesMut,
    /// The last byte seen ended a line (or nothing has been seen yet).
    at_line_start: bool,
    /// The last byte seen was `\r` (a following `\n` belongs to the same line end).
    after_cr: bool,
    /// That `\r` ended an event (a following `\n` belongs to the boundary).
    cr_was_boundary: bool,
}

impl Default for EventFramer {
    fn default() -> Self {
        Self {
            held: BytesMut::new(),
            at_line_start: true,
            after_cr: false,
            cr_was_boundary: false,
        }
    }
}

impl EventFramer {
    /// Takes the next chunk and returns the bytes of every event it completed, in order
    /// (empty when it completed none); the bytes after the last boundary are held back.
    pub fn push(&mut self, chunk: Bytes) -> Bytes {
        let Some(end) = self.scan(&chunk) else {
            self.held.extend_from_slice(&chunk);
            return Bytes::new();
        };
        let mut chunk = chunk;
        let complete = chunk.split_to(end);
        let out = if self.held.is_empty() {
            complete
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(&complete);
            joined.freeze()
        };
        if !chunk.is_empty() {
            self.held.extend_from_slice(&chunk);
        }
        out
    }

    /// Bytes of the unfinished event held back.
    pub fn held(&self) -> &[u8] {
        &self.held
    }

    /// Gives up the unfinished event (at the end of the body).
    pub fn take_held(&mut self) -> Bytes {
        std::mem::take(&mut self.held).freeze()
    }

    /// The offset just past the last event boundary in `chunk`, carrying the line state
    /// across chunks.
    fn scan(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut last = None;
        for (i, &byte) in chunk.iter().enumerate() {
            match byte {
                b'\r' => {
                    self.cr_was_boundary = self.at_line_start;
                    if self.at_line_start {
                        last = Some(i + 1);
                    }
                    self.at_line_start = true;
                    self.after_cr = true;
                }
                b'\n' => {
                    if self.after_cr {
                        // The `\n` of a `\r\n`: the line already ended at the `\r`.
                        if self.cr_was_boundary {
                            last = Some(i + 1);
                        }
                    } else if self.at_line_start {
                        last = Some(i + 1);
                    }
                    self.at_line_start = true;
                    self.after_cr = false;
                    self.cr_was_boundary = false;
                }
                _ => {
                    self.at_line_start = false;
                    self.after_cr = false;
                    self.cr_was_boundary = false;
                }
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_all(chunks: &[&str]) -> (Vec<String>, String) {
        let mut f = EventFramer::default();
        let out = chunks
            .iter()
            .map(|c| {
                String::from_utf8(f.push(Bytes::copy_from_slice(c.as_bytes())).to_vec()).unwrap()
            })
            .collect();
        (out, String::from_utf8(f.held().to_vec()).unwrap())
    }

    #[test]
    fn whole_events_pass_as_the_same_bytes() {
        let mut f = EventFramer::default();
        let chunk = Bytes::from_static(b"data: 1\n\ndata: 2\n\n");
        let out = f.push(chunk.clone());
        assert_eq!(out.as_ptr(), chunk.as_ptr(), "no copy");
        assert_eq!(out.len(), chunk.len());
        assert!(f.held().is_empty());
    }

    #[test]
    fn an_unfinished_event_is_held_until_its_end() {
        let (out, held) = push_all(&["data: 1\n\ndata: {\"a\"", ":1}\n", "\ndata: 3"]);
        assert_eq!(out, ["data: 1\n\n", "", "data: {\"a\":1}\n\n"]);
        assert_eq!(held, "data: 3");
    }

    #[test]
    fn every_line_end_style_ends_an_event() {
        let (out, held) = push_all(&["data: a\r\n\r\ndata: b\r\rdata: c\n\r\ndata: d"]);
        assert_eq!(out, ["data: a\r\n\r\ndata: b\r\rdata: c\n\r\n"]);
        assert_eq!(held, "data: d");
        // A `\r\n` split across chunks is one line end, not a blank line.
        let (out, held) = push_all(&["data: a\r", "\ndata: b\r\n", "\r\n"]);
        assert_eq!(out, ["", "", "data: a\r\ndata: b\r\n\r\n"]);
        assert_eq!(held, "");
        // The `\n` of a boundary's `\r\n` arriving alone is passed on with the next event.
        let (out, held) = push_all(&["data: a\r\n\r", "\ndata: b\n\n"]);
        assert_eq!(out, ["data: a\r\n\r", "\ndata: b\n\n"]);
        assert_eq!(held, "");
    }

    #[test]
    fn a_boundary_split_across_chunks_is_found() {
        let (out, held) = push_all(&["data: a\n", "\n"]);
        assert_eq!(out, ["", "data: a\n\n"]);
        assert_eq!(held, "");
    }
}
