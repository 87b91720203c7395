//! How slowly a client may send a request body. Without a bound, a client that declares a
//! body and then sends one byte and stops holds its connection, its task and its buffer
//! forever, and a few thousand such clients exhaust the edge. Every client body the edge
//! reads (for the policy, for the ai-gateway action, or streamed to `--upstream`) passes
//! through [`PacedBody`], which fails the read when either limit of [`BodyPace`] is broken;
//! the request then gets `408 request_body_timeout` and the connection is closed.
//!
//! Wrapped once per request, when its head has arrived (`server/handler.rs`); the clock
//! starts then. A request without a body is never polled and costs one timer allocation.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BoxError;

/// Default longest wait for the next piece of a body. Generous for any client on a working
/// network (they send bodies as fast as they can write them), short enough that a stalled
/// one lets go of its connection soon.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default slowest average rate, in bytes per second, once the grace period has passed.
/// 1 KiB/s is far below any real uplink (a 10 MiB body would take three hours) and far
/// above what a connection-holding attack sends.
pub const DEFAULT_MIN_BODY_RATE: u64 = 1024;
/// Time a body may take before the rate is checked at all: TCP slow start, a client that
/// builds its body while sending it, and small bodies are never judged by their rate.
pub const DEFAULT_BODY_RATE_GRACE: Duration = Duration::from_secs(5);

/// The limits on one request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPace {
    /// Longest wait for the next piece of the body.
    pub idle_timeout: Duration,
    /// Slowest average rate (bytes per second since the head arrived) accepted once
    /// `grace` has passed; 0 turns the rate check off.
    pub min_rate: u64,
    pub grace: Duration,
}

impl Default for BodyPace {
    fn default() -> Self {
        Self {
            idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
            min_rate: DEFAULT_MIN_BODY_RATE,
            grace: DEFAULT_BODY_RATE_GRACE,
        }
    }
}

/// The client broke one of the [`BodyPace`] limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyTooSlow {
    #[error("no request body data arrived for {0:?}")]
    Idle(Duration),
    #[error(
        "the request body arrived slower than {min_rate} bytes/s ({received} bytes in {elapsed:?})"
    )]
    BelowRate {
        min_rate: u64,
        received: u64,
        elapsed: Duration,
    },
}

/// The [`BodyTooSlow`] in `err`'s chain, if any (a streamed body's error reaches the edge
/// wrapped in the upstream client's).
pub fn too_slow_in(err: &(dyn std::error::Error + 'static)) -> Option<BodyTooSlow> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(slow) = e.downcast_ref::<BodyTooSlow>() {
            return Some(slow.clone());
        }
        cur = e.source();
    }
    None
}

/// A request body that fails with [`BodyTooSlow`] when the client sends it too slowly.
pub struct PacedBody<B> {
    inner: B,
    pace: BodyPace,
    started: Instant,
    received: u64,
    /// When the next check fires: the earlier of the idle deadline and the moment the bytes
    /// received so far fall below the rate.
    timer: Pin<Box<Sleep>>,
}

impl<B> PacedBody<B> {
    /// Wraps `inner`; the clock starts now.
    pub fn new(inner: B, pace: BodyPace) -> Self {
        let started = Instant::now();
        let mut body = Self {
            inner,
            pace,
            started,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until(started)),
        };
        body.rearm(started);
        body
    }

    /// The instant at which the body, with no more bytes, breaks a limit.
    fn deadline(&self, last_data: Instant) -> Instant {
        let idle = last_data + self.pace.idle_timeout;
        if self.pace.min_rate == 0 {
            return idle;
        }
        // At time t (after the grace) the body must have sent min_rate * (t - started)
        // bytes; with `received` bytes that holds until received / min_rate seconds in.
        let earned = Duration::from_secs_f64(self.received as f64 / self.pace.min_rate as f64);
        idle.min(self.started + self.pace.grace.max(earned))
    }

    fn rearm(&mut self, last_data: Instant) {
        let at = self.deadline(last_data);
        self.timer.as_mut().reset(at);
    }

    /// Which limit the body broke when the timer fired at `now`.
    fn why(&self, now: Instant) -> BodyTooSlow {
        let elapsed = now.saturating_duration_since(self.started);
        let rate_broken = self.pace.min_rate > 0
            && elapsed >= self.pace.grace
            && (self.received as f64) < self.pace.min_rate as f64 * elapsed.as_secs_f64();
        if rate_broken {
            BodyTooSlow::BelowRate {
                min_rate: self.pace.min_rate,
                received: self.received,
                elapsed,
            }
        } else {
            BodyTooSlow::Idle(self.pace.idle_timeout)
        }
    }
}

impl<B> Body for PacedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    this.rearm(Instant::now());
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(this.why(Instant::now())))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use http_body_util::channel::{Channel, Sender};

    fn channel() -> (Sender<Bytes, BoxError>, Channel<Bytes, BoxError>) {
        Channel::new(16)
    }

    fn pace(idle_ms: u64, min_rate: u64, grace_ms: u64) -> BodyPace {
        BodyPace {
            idle_timeout: Duration::from_millis(idle_ms),
            min_rate,
            grace: Duration::from_millis(grace_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_fails_after_the_idle_timeout() {
        let (mut tx, inner) = channel();
        let mut body = PacedBody::new(inner, pace(1_000, 0, 0));
        tx.send_data(Bytes::from_static(b"x")).await.unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        let started = Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(
            too_slow_in(err.as_ref()),
            Some(BodyTooSlow::Idle(Duration::from_millis(1_000)))
        );
        assert_eq!(started.elapsed(), Duration::from_millis(1_000));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_fails_the_rate_after_the_grace() {
        let (mut tx, inner) = channel();
        let mut body = PacedBody::new(inner, pace(10_000, 100, 2_000));
        // 10 bytes every 500 ms is 20 bytes/s: inside the idle limit, below the rate.
        let feeder = tokio::spawn(async move {
            while tx
                .send_data(Bytes::from_static(b"0123456789"))
                .await
                .is_ok()
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let started = Instant::now();
        let err = loop {
            match body.frame().await.unwrap() {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        let slow = err.downcast_ref::<BodyTooSlow>().unwrap();
        assert!(matches!(slow, BodyTooSlow::BelowRate { .. }), "{slow}");
        assert!(started.elapsed() >= Duration::from_millis(2_000));
        feeder.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_is_read_whole() {
        let (mut tx, inner) = channel();
        let mut body = PacedBody::new(inner, pace(1_000, 100, 500));
        let feeder = tokio::spawn(async move {
            for _ in 0..20 {
                tx.send_data(Bytes::from(vec![b'a'; 200])).await.unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        let bytes = (&mut body).collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 4_000);
        feeder.await.unwrap();
    }
}
