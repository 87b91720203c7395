//! What one client connection is doing, for the timeouts that close it: whether a request
//! has started on it at all (the first-request deadline), how many of its requests are in
//! flight, and since when it has had none (the idle timeout). A request is in flight from
//! the moment its head reaches the service until its response body is done or dropped, so
//! a long stream never counts as idle.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::body::{BoxError, ResponseBody};

/// Shared by a connection's driver and its service.
pub struct ConnActivity {
    started: Instant,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` at which the last in-flight request ended.
    idle_since_ms: AtomicU64,
}

impl ConnActivity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    /// Marks a request as begun; it stays in flight until the returned guard drops.
    pub fn begin(self: &Arc<Self>) -> RequestActivity {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestActivity(self.clone())
    }

    /// Whether any request head has arrived on this connection.
    pub fn saw_request(&self) -> bool {
        self.requests.load(Ordering::Relaxed) > 0
    }

    /// Since when no request has been in flight; `None` while one is.
    pub fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = self.idle_since_ms.load(Ordering::Acquire);
        Some(self.started + std::time::Duration::from_millis(ms))
    }
}

/// One request in flight on a connection.
pub struct RequestActivity(Arc<ConnActivity>);

impl Drop for RequestActivity {
    fn drop(&mut self) {
        let conn = &self.0;
        let ms = u64::try_from(conn.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        conn.idle_since_ms.store(ms, Ordering::Release);
        conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it is done.
pub struct TrackedBody {
    inner: ResponseBody,
    _activity: RequestActivity,
}

impl TrackedBody {
    pub fn new(inner: ResponseBody, activity: RequestActivity) -> Self {
        Self {
            inner,
            _activity: activity,
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
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

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_between_requests() {
        let conn = ConnActivity::new();
        assert!(!conn.saw_request());
        let first = conn.begin();
        let second = conn.begin();
        assert!(conn.idle_since().is_none());
        drop(first);
        assert!(
            conn.idle_since().is_none(),
            "one request is still in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        drop(second);
        let since = conn.idle_since().unwrap();
        assert!(since.elapsed() < std::time::Duration::from_millis(5));
        assert!(conn.saw_request());
    }
}
