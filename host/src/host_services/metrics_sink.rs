//! Where the attempt loop reports each upstream call, so the rolling per-target metrics
//! (read by model selection through `metrics-snapshot`) see every attempt.
//!
//! The trait is declared here, next to the metrics it feeds, and the attempt loop depends
//! on it; the host services implement it. Tests of the loop plug in their own recorder.

use std::time::Duration;

use http::HeaderMap;

use super::HostServices;
use super::target_metrics::{AttemptSample, Quota, TargetRef};

/// One upstream attempt, reported right after its outcome is known.
#[derive(Debug, Clone, Copy)]
pub struct AttemptRecord<'a> {
    /// The provider, model and key the attempt went to.
    pub target: TargetRef<'a>,
    /// `None` when no response head arrived.
    pub status: Option<u16>,
    /// The attempt committed (a 2xx head; for a stream, also a healthy first event).
    pub ok: bool,
    /// From the start of the attempt to its commit point (the head; for a stream, its
    /// first event, so it is the time to first token) or to its failure.
    pub latency: Duration,
    /// The upstream's response headers (empty without a head), for `x-ratelimit-*` quota
    /// tracking.
    pub headers: &'a HeaderMap,
}

/// Receives one [`AttemptRecord`] per upstream attempt, right after its outcome is known
/// (head and, for streams, first event; or the failure). Must be cheap and must not block:
/// it runs on the request path.
pub trait TargetMetricsSink: Send + Sync {
    fn record(&self, attempt: &AttemptRecord<'_>);

    /// Called when a response already committed to the client ends early: the upstream
    /// broke the connection or went silent past the idle timeout. `record` has already
    /// counted the attempt as a success (it was one when it committed); this lets the
    /// host count broken streams per target. Runs from the body relay; must not block.
    fn record_broken_stream(&self, target: TargetRef<'_>) {
        let _ = target;
    }
}

impl TargetMetricsSink for HostServices {
    fn record(&self, attempt: &AttemptRecord<'_>) {
        let quota = Quota::from_headers(
            attempt
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
        );
        self.metrics.record(
            &attempt.target.to_key(),
            AttemptSample {
                error: !attempt.ok,
                latency: attempt.latency,
                quota,
            },
        );
    }

    fn record_broken_stream(&self, target: TargetRef<'_>) {
        self.metrics.record_broken_stream(&target.to_key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_reach_the_rolling_metrics() {
        let services = std::sync::Arc::new(HostServices::default());
        let sink: std::sync::Arc<dyn TargetMetricsSink> = services.clone();
        let target = TargetRef {
            provider: "openai",
            model: "gpt",
            key_id: "k1",
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining-requests", "7".parse().unwrap());
        sink.record(&AttemptRecord {
            target,
            status: Some(200),
            ok: true,
            latency: Duration::from_millis(30),
            headers: &headers,
        });
        sink.record(&AttemptRecord {
            target,
            status: Some(500),
            ok: false,
            latency: Duration::from_millis(10),
            headers: &HeaderMap::new(),
        });
        sink.record_broken_stream(target);
        let snap = services.metrics.snapshot();
        assert_eq!(snap.len(), 1);
        let s = &snap[0];
        assert_eq!((s.requests, s.errors), (2, 2));
        assert_eq!(s.quota.remaining_requests, Some(7));
        assert_eq!(s.key.key_id, "k1");
    }
}
