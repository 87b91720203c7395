//! How many client connections a listener holds at once: the cap that stops a flood of
//! connections (idle or slow ones included) from exhausting file descriptors and memory,
//! the gauge and refusal counter behind it, and the wait for the last connection to close
//! when the edge shuts down.
//!
//! The accept loop takes a [`ConnectionSlot`] for every accepted connection before it
//! spawns the connection's task; the slot is released when the task ends. A connection past
//! the cap is refused at once ([`REFUSAL`] on plain HTTP, a bare close on TLS) and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Default cap on the public listener's open connections. Each open connection costs a
/// file descriptor and a few KiB; raise the process's `ulimit -n` above the cap.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The admin listener's cap: a handful of scrapers and health checks.
pub const ADMIN_MAX_CONNECTIONS: usize = 256;

/// The answer a plain-HTTP connection past the cap gets before it is closed: a 503 in the
/// OpenAI error shape with the edge's error code, and a hint to retry.
pub const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
x-edge-error-code: too_many_connections\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 124\r\n\
\r\n\
{\"error\":{\"message\":\"the edge is at its connection limit\",\"type\":\"server_error\",\"code\":\"too_many_connections\",\"param\":null}}";

/// How long writing [`REFUSAL`] may take; a peer that does not read it is simply dropped.
const REFUSAL_WRITE_LIMIT: Duration = Duration::from_secs(1);

/// The open connections of one listener.
pub struct ConnectionSlots {
    open: AtomicUsize,
    max: usize,
    all_closed: Notify,
    gauge: Gauge,
    refused: Counter,
}

impl ConnectionSlots {
    /// `gauge` and `refused` are the listener's series in the edge's metrics.
    pub fn new(max: usize, gauge: Gauge, refused: Counter) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            max: max.max(1),
            all_closed: Notify::new(),
            gauge,
            refused,
        })
    }

    /// A slot for a just-accepted connection, or `None` (counted as refused) at the cap.
    pub fn try_take(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        if taken {
            self.gauge.inc();
            Some(ConnectionSlot(self.clone()))
        } else {
            self.refused.inc();
            None
        }
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Resolves once no connection is open. Called after the accept loop stopped.
    pub async fn all_closed(&self) {
        loop {
            let notified = self.all_closed.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One open connection's place under the cap; dropped when the connection's task ends.
pub struct ConnectionSlot(Arc<ConnectionSlots>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.gauge.dec();
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_closed.notify_waiters();
        }
    }
}

/// Turns away a connection accepted past the cap: plain HTTP gets [`REFUSAL`] (bounded in
/// time), TLS is closed without a handshake, which would cost the CPU the cap is saving.
pub async fn refuse(mut stream: TcpStream, tls: bool) {
    if !tls {
        let _ = tokio::time::timeout(REFUSAL_WRITE_LIMIT, async {
            let _ = stream.write_all(REFUSAL).await;
            let _ = stream.shutdown().await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_well_formed() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "too_many_connections");
    }

    #[tokio::test]
    async fn slots_stop_at_the_cap_and_free_on_drop() {
        let slots = ConnectionSlots::new(2, Gauge::default(), Counter::default());
        let a = slots.try_take().unwrap();
        let b = slots.try_take().unwrap();
        assert!(slots.try_take().is_none());
        assert_eq!(slots.refused.get(), 1);
        drop(a);
        let c = slots.try_take().unwrap();
        assert_eq!(slots.open(), 2);
        drop((b, c));
        tokio::time::timeout(Duration::from_secs(1), slots.all_closed())
            .await
            .unwrap();
    }
}
