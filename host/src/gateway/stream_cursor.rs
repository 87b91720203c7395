//! Where a streaming attempt stands, event by event: the framer that holds an unfinished
//! event back, and whether the stream has reached its closing (or an error) event.
//!
//! Made when a streaming attempt's 2xx head arrives; fed every body chunk, first by the
//! commit point (`stream_commit.rs`), then by the relay (`relay_body.rs`), which takes it
//! over at the commit so an event split across the commit is still handled whole.

use bytes::Bytes;

use crate::wit::types::StreamProtocol;

use super::defaults::HELD_EVENT_LIMIT;
use super::sse_events::{EventKind, classify};
use super::sse_framer::EventFramer;
use super::sse_parse::events;

/// How a stream ended, as far as its events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The protocol's closing event arrived: the answer is complete.
    Closed,
    /// The provider sent an error event: the client has been told.
    ProviderError,
}

/// The first event of a chunk that decides the commit point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decisive {
    /// A content or closing event: the stream is healthy.
    Content,
    /// An error event came first.
    Error(String),
}

/// What one chunk brought.
#[derive(Debug)]
pub(crate) struct Pushed {
    /// The whole events it completed, to pass on (possibly empty).
    pub complete: Bytes,
    /// At least one of them carries data (idle-timer activity).
    pub data: bool,
    /// The first content, closing or error event among them.
    pub decisive: Option<Decisive>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct StreamCursor {
    framer: EventFramer,
    protocol: StreamProtocol,
    end: Option<StreamEnd>,
    /// Part of an event too large to hold back has been passed on; its end has not.
    mid_event: bool,
}

impl StreamCursor {
    pub fn new(protocol: StreamProtocol) -> Self {
        Self {
            framer: EventFramer::default(),
            protocol,
            end: None,
            mid_event: false,
        }
    }

    /// Takes the next body chunk. An unfinished event larger than [`HELD_EVENT_LIMIT`] is
    /// passed on as it is (memory stays bounded), and [`Self::mid_event`] says so until
    /// its end arrives.
    pub fn push(&mut self, chunk: Bytes) -> Pushed {
        let mut complete = self.framer.push(chunk);
        if !complete.is_empty() {
            self.mid_event = false;
        }
        if self.framer.held().len() > HELD_EVENT_LIMIT {
            let mut joined = complete.to_vec();
            joined.extend_from_slice(&self.framer.take_held());
            complete = Bytes::from(joined);
            self.mid_event = true;
        }
        let mut pushed = Pushed {
            complete: Bytes::new(),
            data: false,
            decisive: None,
        };
        if !complete.is_empty() {
            for event in events(&complete) {
                self.observe(classify(&event, self.protocol), &mut pushed);
            }
        }
        pushed.complete = complete;
        pushed
    }

    fn observe(&mut self, kind: EventKind, pushed: &mut Pushed) {
        pushed.data |= kind.is_data();
        match kind {
            EventKind::Content | EventKind::Closing => {
                if kind == EventKind::Closing {
                    self.end.get_or_insert(StreamEnd::Closed);
                }
                pushed.decisive.get_or_insert(Decisive::Content);
            }
            EventKind::Error(message) => {
                self.end.get_or_insert(StreamEnd::ProviderError);
                pushed.decisive.get_or_insert(Decisive::Error(message));
            }
            EventKind::KeepAlive | EventKind::Ping | EventKind::Preamble => {}
        }
    }

    /// Bytes of the unfinished event held back.
    pub fn held(&self) -> &[u8] {
        self.framer.held()
    }

    /// Part of an unfinished event has been passed on (see [`Self::push`]): an error event
    /// sent now must start on a fresh line.
    pub fn mid_event(&self) -> bool {
        self.mid_event
    }

    /// How the stream has ended so far (`None`: no closing or error event yet).
    pub fn end(&self) -> Option<StreamEnd> {
        self.end
    }

    /// At a clean end of the body: `Ok(bytes)` to pass on last when the stream ended as it
    /// should, `Err(())` when it ended without its closing event. A provider that closes
    /// the connection right after its closing event's last line, without the blank line,
    /// has still finished: that event is passed on, ended properly. Any other unfinished
    /// event is dropped.
    pub fn finish(&mut self) -> Result<Bytes, ()> {
        let held = self.framer.take_held();
        if self.end.is_some() {
            return Ok(Bytes::new());
        }
        if self.protocol == StreamProtocol::Unmarked {
            return Ok(held);
        }
        let closing = events(&held)
            .iter()
            .any(|e| classify(e, self.protocol) == EventKind::Closing);
        if closing {
            self.end = Some(StreamEnd::Closed);
            let mut last = held.to_vec();
            if !held.ends_with(b"\n") && !held.ends_with(b"\r") {
                last.push(b'\n');
            }
            last.push(b'\n');
            return Ok(Bytes::from(last));
        }
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preamble_waits_and_content_decides() {
        let mut c = StreamCursor::new(StreamProtocol::Messages);
        let p = c.push(Bytes::from_static(
            b"event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\nevent: content_blo",
        ));
        assert_eq!(p.decisive, None);
        assert!(p.data);
        let p = c.push(Bytes::from_static(b"ck_start\ndata: {}\n\n"));
        assert_eq!(p.decisive, Some(Decisive::Content));
        assert_eq!(&p.complete[..], b"event: content_block_start\ndata: {}\n\n");
        assert_eq!(c.end(), None);
        assert!(c.finish().is_err());
    }

    #[test]
    fn pings_are_not_data() {
        let mut c = StreamCursor::new(StreamProtocol::Messages);
        assert!(
            !c.push(Bytes::from_static(b"event: ping\ndata: {}\n\n"))
                .data
        );
        assert!(!c.push(Bytes::from_static(b": keep-alive\n\n")).data);
    }

    #[test]
    fn closing_events_end_cleanly() {
        let mut c = StreamCursor::new(StreamProtocol::DoneMarker);
        c.push(Bytes::from_static(b"data: {}\n\ndata: [DONE]\n\n"));
        assert_eq!(c.end(), Some(StreamEnd::Closed));
        assert_eq!(c.finish(), Ok(Bytes::new()));
        // Closed without the final blank line.
        let mut c = StreamCursor::new(StreamProtocol::DoneMarker);
        c.push(Bytes::from_static(b"data: {}\n\ndata: [DONE]\n"));
        assert_eq!(c.finish(), Ok(Bytes::from_static(b"data: [DONE]\n\n")));
        // Broken inside an event: the half event is dropped.
        let mut c = StreamCursor::new(StreamProtocol::DoneMarker);
        c.push(Bytes::from_static(b"data: {}\n\ndata: {\"cho"));
        assert_eq!(c.held(), b"data: {\"cho");
        assert!(c.finish().is_err());
    }

    #[test]
    fn an_oversized_event_is_passed_on_unfinished() {
        let mut c = StreamCursor::new(StreamProtocol::DoneMarker);
        let big = Bytes::from(vec![b'x'; HELD_EVENT_LIMIT + 1]);
        let p = c.push(Bytes::from_static(b"data: {}\n\ndata: "));
        assert_eq!(&p.complete[..], b"data: {}\n\n");
        let p = c.push(big);
        assert_eq!(p.complete.len(), HELD_EVENT_LIMIT + 7);
        assert!(c.mid_event());
        assert!(c.held().is_empty());
        let p = c.push(Bytes::from_static(b"x\n\ndata: [DONE]\n\n"));
        assert_eq!(&p.complete[..], b"x\n\ndata: [DONE]\n\n");
        assert!(!c.mid_event());
    }

    #[test]
    fn an_error_event_ends_the_stream() {
        let mut c = StreamCursor::new(StreamProtocol::Messages);
        let p = c.push(Bytes::from_static(
            b"event: message_start\ndata: {}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"message\":\"Overloaded\"}}\n\n",
        ));
        assert_eq!(p.decisive, Some(Decisive::Error("Overloaded".into())));
        assert_eq!(c.end(), Some(StreamEnd::ProviderError));
    }
}
