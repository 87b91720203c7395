//! The attempt loop's [`TargetMetricsSink`] implemented by the host services: every upstream
//! attempt lands in the rolling per-target metrics that model selection reads.

use std::time::Duration;

use http::HeaderMap;

use super::HostServices;
use super::target_metrics::{AttemptSample, Quota, TargetKey};
use crate::gateway::TargetMetricsSink;

fn target(provider: &str, model: &str, key_id: &str) -> TargetKey {
    TargetKey {
        provider: provider.to_owned(),
        model: model.to_owned(),
        key_id: key_id.to_owned(),
    }
}

impl TargetMetricsSink for HostServices {
    fn record(
        &self,
        provider: &str,
        model: &str,
        key_id: &str,
        _status: Option<u16>,
        ok: bool,
        latency: Duration,
        headers: &HeaderMap,
    ) {
        let quota = Quota::from_headers(
            headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
        );
        self.metrics.record(
            &target(provider, model, key_id),
            AttemptSample {
                error: !ok,
                latency,
                quota,
            },
        );
    }

    fn record_broken_stream(&self, provider: &str, model: &str, key_id: &str) {
        self.metrics
            .record_broken_stream(&target(provider, model, key_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_reach_the_rolling_metrics() {
        let services = std::sync::Arc::new(HostServices::default());
        let sink: std::sync::Arc<dyn TargetMetricsSink> = services.clone();
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining-requests", "7".parse().unwrap());
        sink.record(
            "openai",
            "gpt",
            "k1",
            Some(200),
            true,
            Duration::from_millis(30),
            &headers,
        );
        sink.record(
            "openai",
            "gpt",
            "k1",
            Some(500),
            false,
            Duration::from_millis(10),
            &HeaderMap::new(),
        );
        sink.record_broken_stream("openai", "gpt", "k1");
        let snap = services.metrics.snapshot();
        assert_eq!(snap.len(), 1);
        let s = &snap[0];
        assert_eq!((s.requests, s.errors), (2, 2));
        assert_eq!(s.quota.remaining_requests, Some(7));
        assert_eq!(s.key.key_id, "k1");
    }
}
