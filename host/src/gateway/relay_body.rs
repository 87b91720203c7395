//! The body of a committed upstream response on its way to the client: the bytes already
//! read while deciding to commit are replayed first, then the upstream's bytes are passed
//! on as they arrive.
//!
//! A plain (non-stream) body is passed on frame by frame. A stream is passed on whole event
//! by whole event: an event split across chunks is held back until its end arrives (see
//! `sse_framer.rs` for why, and for the cost). A stream ends early, with an SSE error event
//! in the client's format after its last whole event, when the provider breaks it, when
//! it ends without its protocol's closing event, when no data event arrives for the idle
//! timeout (comments and pings do not count), or when it runs past its maximum duration.
//! A plain body that breaks or stalls ends with a body error, so the client sees a
//! truncated response, never a clean end. Every early end is reported (`break_report.rs`).
//! See docs/ai-gateway.md, "Streams: commit point and broken streams".

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BoxError;
use crate::wit::types::{ApiFormat, Plan};

use super::attempt_error::millis;
use super::break_report::BreakReport;
use super::defaults::{DEFAULT_IDLE_TIMEOUT, or_default};
use super::provider_gate::ProviderSlot;
use super::sse_events::stream_error_event;
use super::stream_cursor::{StreamCursor, StreamEnd};

/// Why a relay ended early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the provider sent no data for {0} ms")]
    Idle(u64),
    #[error("the provider's stream broke: {0}")]
    Upstream(String),
    #[error("the provider's stream ended without its closing event")]
    NoClosingEvent,
    #[error("the stream ran past its maximum duration of {0} ms")]
    MaxDuration(u64),
}

/// What the relay knows about the body's shape.
enum Shape {
    /// Bytes only: every frame is activity; an early end aborts the body.
    Plain,
    /// A server-sent event stream answered in `format`.
    Sse {
        cursor: StreamCursor,
        format: ApiFormat,
    },
}

/// The idle and maximum-duration deadlines. Activity only moves `idle_at`; the one timer
/// is re-armed when it fires early, so a busy stream costs no timer work per chunk.
struct Deadlines {
    idle: Option<Duration>,
    idle_at: Instant,
    max: Option<Duration>,
    end_at: Option<Instant>,
}

impl Deadlines {
    fn next(&self) -> Instant {
        let idle_at = if self.idle.is_some() {
            self.idle_at
        } else {
            far_future()
        };
        self.end_at.map_or(idle_at, |end| end.min(idle_at))
    }

    fn touch(&mut self) {
        if let Some(idle) = self.idle {
            self.idle_at = Instant::now() + idle;
        }
    }

    /// The deadline that has passed, if one has.
    fn passed(&self, now: Instant) -> Option<RelayError> {
        if let Some(end) = self.end_at
            && now >= end
        {
            return Some(RelayError::MaxDuration(self.max.map_or(0, millis)));
        }
        match self.idle {
            Some(idle) if now >= self.idle_at => Some(RelayError::Idle(millis(idle))),
            _ => None,
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

pin_project_lite::pin_project! {
    /// See the module docs. Built by the attempt loop when it commits to an attempt.
    pub struct RelayBody {
        replay: VecDeque<Bytes>,
        #[pin]
        upstream: reqwest::Body,
        shape: Shape,
        deadlines: Deadlines,
        #[pin]
        timer: Sleep,
        on_break: Option<BreakReport>,
        done: bool,
        // The capped provider's slot this answer holds, given back when the body is
        // dropped (relayed to its end, or abandoned by the client).
        slot: Option<ProviderSlot>,
    }
}

impl RelayBody {
    /// `replay`: bytes read before the commit; `idle_timeout`: longest time allowed without
    /// activity (`None`: no limit). A plain body; see [`Self::stream`] for SSE.
    pub fn new(
        replay: Vec<Bytes>,
        upstream: reqwest::Body,
        idle_timeout: Option<Duration>,
    ) -> Self {
        let now = Instant::now();
        let deadlines = Deadlines {
            idle: idle_timeout,
            idle_at: now + idle_timeout.unwrap_or_default(),
            max: None,
            end_at: None,
        };
        Self {
            replay: replay.into(),
            upstream,
            shape: Shape::Plain,
            timer: tokio::time::sleep_until(deadlines.next()),
            deadlines,
            on_break: None,
            done: false,
            slot: None,
        }
    }

    /// Makes this relay a stream of events in `format`, picking up where `cursor` (the
    /// commit point's) stands; `max_duration` caps its life from now.
    pub fn stream(
        mut self,
        cursor: StreamCursor,
        format: ApiFormat,
        max_duration: Option<Duration>,
    ) -> Self {
        self.shape = Shape::Sse { cursor, format };
        self.deadlines.max = max_duration;
        self.deadlines.end_at = max_duration.map(|d| Instant::now() + d);
        let next = self.deadlines.next();
        self.timer = tokio::time::sleep_until(next);
        self
    }

    /// The client's body for an attempt of `plan` that committed with `replay` read and,
    /// for a stream, `cursor` where its events stand.
    pub(crate) fn for_plan(
        plan: &Plan,
        replay: Vec<Bytes>,
        upstream: reqwest::Body,
        cursor: Option<StreamCursor>,
    ) -> Self {
        let idle = or_default(plan.stream_idle_timeout_ms, DEFAULT_IDLE_TIMEOUT);
        let relay = Self::new(replay, upstream, Some(idle));
        match cursor {
            Some(cursor) if plan.stream => {
                let max = (plan.stream_max_duration_ms > 0)
                    .then(|| Duration::from_millis(plan.stream_max_duration_ms));
                relay.stream(cursor, plan.format, max)
            }
            _ => relay,
        }
    }

    /// Keeps a capped provider's `slot` taken for as long as this body lives
    /// (docs/ai-gateway.md, "Provider concurrency").
    pub(crate) fn holding(mut self, slot: Option<ProviderSlot>) -> Self {
        self.slot = slot;
        self
    }

    /// Reports an early end to `report` (once).
    pub fn with_break_report(mut self, report: BreakReport) -> Self {
        self.on_break = Some(report);
        self
    }
}

impl Body for RelayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        if let Some(chunk) = this.replay.pop_front() {
            if this.replay.is_empty() {
                this.deadlines.touch();
            }
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if *this.done {
            return Poll::Ready(None);
        }
        let failure = loop {
            match this.upstream.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let data = match frame.into_data() {
                        Ok(data) => data,
                        Err(frame) => match this.shape {
                            Shape::Plain => return Poll::Ready(Some(Ok(frame))),
                            // Trailers mean nothing inside an event stream.
                            Shape::Sse { .. } => continue,
                        },
                    };
                    match this.shape {
                        Shape::Plain => {
                            this.deadlines.touch();
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        Shape::Sse { cursor, .. } => {
                            let pushed = cursor.push(data);
                            if pushed.data {
                                this.deadlines.touch();
                            }
                            if !pushed.complete.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::data(pushed.complete))));
                            }
                        }
                    }
                }
                Poll::Ready(None) => {
                    let Shape::Sse { cursor, .. } = this.shape else {
                        *this.done = true;
                        return Poll::Ready(None);
                    };
                    match cursor.finish() {
                        Ok(last) => {
                            *this.done = true;
                            if cursor.end() == Some(StreamEnd::ProviderError)
                                && let Some(report) = this.on_break.take()
                            {
                                report.report("the provider ended the stream with an error event");
                            }
                            if last.is_empty() {
                                return Poll::Ready(None);
                            }
                            return Poll::Ready(Some(Ok(Frame::data(last))));
                        }
                        Err(()) => break RelayError::NoClosingEvent,
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    break RelayError::Upstream(crate::reqwest_error::describe(&err));
                }
                Poll::Pending => match poll_deadlines(this.timer.as_mut(), this.deadlines, cx) {
                    Poll::Ready(failure) => break failure,
                    Poll::Pending => return Poll::Pending,
                },
            }
        };
        *this.done = true;
        end_early(this.shape, this.on_break, failure)
    }

    fn is_end_stream(&self) -> bool {
        self.replay.is_empty()
            && (self.done || matches!(self.shape, Shape::Plain) && self.upstream.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if matches!(self.shape, Shape::Sse { .. }) {
            return SizeHint::default();
        }
        // A plain body read to its end before the commit: its exact length.
        if self.upstream.is_end_stream() {
            let len: usize = self.replay.iter().map(Bytes::len).sum();
            return SizeHint::with_exact(u64::try_from(len).unwrap_or(u64::MAX));
        }
        if !self.replay.is_empty() {
            return SizeHint::default();
        }
        self.upstream.size_hint()
    }
}

/// Waits for the next deadline; `Ready` with the one that passed.
fn poll_deadlines(
    mut timer: Pin<&mut Sleep>,
    deadlines: &Deadlines,
    cx: &mut Context<'_>,
) -> Poll<RelayError> {
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(failure) = deadlines.passed(Instant::now()) {
            return Poll::Ready(failure);
        }
        // Activity moved the idle deadline since the timer was armed.
        timer.as_mut().reset(deadlines.next());
    }
}

/// The last frame of a relay that ended early. A stream that already reached its closing
/// event ends cleanly (the answer is complete); one that ended with the provider's own
/// error event ends without another; any other gets the error event. Reported once.
fn end_early(
    shape: &mut Shape,
    on_break: &mut Option<BreakReport>,
    failure: RelayError,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    let (end, mid_event) = match shape {
        Shape::Sse { cursor, .. } => (cursor.end(), cursor.mid_event()),
        Shape::Plain => (None, false),
    };
    if end == Some(StreamEnd::Closed) {
        return Poll::Ready(None);
    }
    let reason = failure.to_string();
    match on_break.take() {
        Some(report) => report.report(&reason),
        None => tracing::warn!(error = %reason, "upstream response ended early after commit"),
    }
    match (shape, end) {
        (Shape::Sse { .. }, Some(StreamEnd::ProviderError)) => Poll::Ready(None),
        (Shape::Sse { format, .. }, _) => {
            let event = stream_error_event(*format, &reason);
            // After part of an oversized event, end that event first so the error event's
            // lines are not read as more of it.
            let event = if mid_event {
                Bytes::from([&b"\n\n"[..], &event].concat())
            } else {
                event
            };
            Poll::Ready(Some(Ok(Frame::data(event))))
        }
        (Shape::Plain, _) => Poll::Ready(Some(Err(Box::new(failure)))),
    }
}
