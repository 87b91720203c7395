//! Where the attempt loop reports each upstream call, so the host's rolling per-target
//! metrics (read by model selection through `metrics-snapshot`) see every attempt.

use std::time::Duration;

use http::HeaderMap;

/// Receives one record per upstream attempt, right after its outcome is known (head and,
/// for streams, first event; or the failure). Must be cheap and must not block: it runs on
/// the request path. The host's services implement it.
pub trait TargetMetricsSink: Send + Sync {
    /// `key_id` is the plan's short key hash ("" for the client's own key); `status` is
    /// `None` when no response head arrived; `headers` are the upstream's response headers
    /// (empty without a head), for `x-ratelimit-*` quota tracking. `latency` runs from the
    /// start of the attempt to its commit point (the head; for a stream, its first event,
    /// so it is the time to first token) or to its failure.
    #[allow(clippy::too_many_arguments)] // one flat record keeps the hot path allocation-free
    fn record(
        &self,
        provider: &str,
        model: &str,
        key_id: &str,
        status: Option<u16>,
        ok: bool,
        latency: Duration,
        headers: &HeaderMap,
    );

    /// Called when a response already committed to the client ends early: the upstream
    /// broke the connection or went silent past the idle timeout. `record` has already
    /// counted the attempt as a success (it was one when it committed); this lets the
    /// host count broken streams per target. Runs from the body relay; must not block.
    fn record_broken_stream(&self, provider: &str, model: &str, key_id: &str) {
        let _ = (provider, model, key_id);
    }
}

/// A sink that drops everything (tools and tests that do not track metrics).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl TargetMetricsSink for NoMetrics {
    fn record(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Option<u16>,
        _: bool,
        _: Duration,
        _: &HeaderMap,
    ) {
    }
}
