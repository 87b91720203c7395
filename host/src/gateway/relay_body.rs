//! The body of a committed upstream response on its way to the client: the bytes already
//! read while deciding to commit are replayed first, then every upstream frame is passed on
//! as it arrives (nothing is buffered). A gap longer than the idle timeout, or a broken
//! upstream, ends a stream with an explicit SSE error event (or, for a plain body, with a
//! body error so the client sees a truncated response, never a clean end).

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BoxError;
use crate::host_services::{TargetKey, TargetMetricsSink};
use crate::wit::types::ApiFormat;

use super::sse_events::stream_error_event;

/// How a broken relay ends.
#[derive(Debug, Clone, Copy)]
pub enum BrokenEnd {
    /// Append an SSE error event in this format, then end the body.
    SseErrorEvent(ApiFormat),
    /// End the body with an error (the server aborts the response).
    Abort,
}

/// Why a relay ended early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the provider sent nothing for {0} ms")]
    Idle(u64),
    #[error("the provider's stream broke: {0}")]
    Upstream(String),
}

pin_project_lite::pin_project! {
    /// See the module docs. Built by the attempt loop when it commits to an attempt.
    pub struct RelayBody {
        replay: VecDeque<Bytes>,
        #[pin]
        upstream: reqwest::Body,
        idle_timeout: Option<Duration>,
        #[pin]
        idle: Sleep,
        broken_end: BrokenEnd,
        on_break: Option<BreakReport>,
        done: bool,
    }
}

/// Who to tell when a committed response breaks, and which target it came from.
pub struct BreakReport {
    pub sink: Arc<dyn TargetMetricsSink>,
    pub target: TargetKey,
}

impl RelayBody {
    /// `replay`: bytes read before the commit; `idle_timeout`: longest silence allowed
    /// between upstream frames (`None`: no limit).
    pub fn new(
        replay: Vec<Bytes>,
        upstream: reqwest::Body,
        idle_timeout: Option<Duration>,
        broken_end: BrokenEnd,
    ) -> Self {
        // Without an idle limit the timer is never polled; any far value will do.
        let first = idle_timeout.unwrap_or(Duration::from_secs(86_400));
        Self {
            replay: replay.into(),
            upstream,
            idle_timeout,
            idle: tokio::time::sleep(first),
            broken_end,
            on_break: None,
            done: false,
        }
    }

    /// Reports an early end to `report.sink` (once).
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
        if *this.done {
            return Poll::Ready(None);
        }
        if let Some(chunk) = this.replay.pop_front() {
            if this.replay.is_empty()
                && let Some(idle) = *this.idle_timeout
            {
                this.idle.as_mut().reset(Instant::now() + idle);
            }
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        let failure = match this.upstream.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(idle) = *this.idle_timeout {
                    this.idle.as_mut().reset(Instant::now() + idle);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(None) => {
                *this.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(err))) => {
                RelayError::Upstream(crate::reqwest_error::describe(&err))
            }
            Poll::Pending => {
                let Some(idle) = *this.idle_timeout else {
                    return Poll::Pending;
                };
                match this.idle.as_mut().poll(cx) {
                    Poll::Ready(()) => RelayError::Idle(super::attempt_error::millis(idle)),
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        *this.done = true;
        tracing::warn!(error = %failure, "upstream response ended early after commit");
        if let Some(report) = this.on_break.take() {
            report.sink.record_broken_stream(report.target.as_ref());
        }
        match *this.broken_end {
            BrokenEnd::SseErrorEvent(format) => Poll::Ready(Some(Ok(Frame::data(
                stream_error_event(format, &failure.to_string()),
            )))),
            BrokenEnd::Abort => Poll::Ready(Some(Err(Box::new(failure)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.replay.is_empty() && self.upstream.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if !self.replay.is_empty() || matches!(self.broken_end, BrokenEnd::SseErrorEvent(_)) {
            return SizeHint::default();
        }
        self.upstream.size_hint()
    }
}
