//! The series of the per-provider concurrency caps (docs/ai-gateway.md, "Provider
//! concurrency"): how many attempts wait for a slot, how many hold one, how long they
//! waited, and how many were turned away. The only label is the provider id from the
//! policy (never a key, a path or a client), so the series count stays bounded by the
//! policy's providers.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// Provider id from the plan (policy-defined, not a secret).
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub provider: String,
    /// "queue_full" or "wait_timeout".
    pub reason: &'static str,
}

/// Queue waits: 100 µs to ~100 s, doubling, like request latencies.
fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

/// Built with the gateway (which feeds it) and registered with the edge's metrics (which
/// serve it). Cloning shares the series.
#[derive(Clone)]
pub struct ProviderQueueMetrics {
    queued: Family<ProviderLabels, Gauge>,
    in_flight: Family<ProviderLabels, Gauge>,
    wait: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    rejected: Family<RejectLabels, Counter>,
}

impl Default for ProviderQueueMetrics {
    fn default() -> Self {
        Self {
            queued: Family::default(),
            in_flight: Family::default(),
            wait: Family::new_with_constructor(wait_histogram),
            rejected: Family::default(),
        }
    }
}

impl ProviderQueueMetrics {
    /// Adds the series to `registry` (prefixed `edge_` there).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "provider_queue_depth",
            "Attempts waiting for a slot of a capped provider, by provider",
            self.queued.clone(),
        );
        registry.register(
            "provider_in_flight",
            "Attempts holding a slot of a capped provider (streams until their end), by provider",
            self.in_flight.clone(),
        );
        registry.register(
            "provider_queue_wait_seconds",
            "Time an attempt to a capped provider waited for its slot, by provider",
            self.wait.clone(),
        );
        registry.register(
            "provider_saturated",
            "Attempts to a capped provider that failed as saturated, by provider and reason",
            self.rejected.clone(),
        );
    }

    /// The waiting-attempts gauge of `provider`.
    pub fn queued(&self, provider: &str) -> Gauge {
        self.queued.get_or_create(&labels(provider)).clone()
    }

    /// The slot-holders gauge of `provider`.
    pub fn in_flight(&self, provider: &str) -> Gauge {
        self.in_flight.get_or_create(&labels(provider)).clone()
    }

    /// Called when an attempt got its slot, after waiting `waited` (zero when one was free).
    pub fn observe_wait(&self, provider: &str, waited: Duration) {
        self.wait
            .get_or_create(&labels(provider))
            .observe(waited.as_secs_f64());
    }

    /// Called when an attempt failed as saturated; `reason` is "queue_full" or
    /// "wait_timeout".
    pub fn rejected(&self, provider: &str, reason: &'static str) {
        self.rejected
            .get_or_create(&RejectLabels {
                provider: provider.to_owned(),
                reason,
            })
            .inc();
    }
}

fn labels(provider: &str) -> ProviderLabels {
    ProviderLabels {
        provider: provider.to_owned(),
    }
}
