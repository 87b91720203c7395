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
    /// (empty without a head), for `x-ratelimit-*` quota tracking.
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
}

/// A sink that drops everything (tools and tests that do not track metrics).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl TargetMetricsSink for NoMetrics {
    fn record(&self, _: &str, _: &str, _: &str, _: Option<u16>, _: bool, _: Duration, _: &HeaderMap) {}
}
