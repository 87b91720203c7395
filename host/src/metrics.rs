//! Prometheus metrics of the edge, served as text on the admin listener's `/metrics`.
//!
//! Labels are small closed sets (decision, status class, export name, trap kind, provider,
//! result). Nothing request-specific and nothing secret (no paths, no key ids, no client
//! addresses) ever becomes a label, so the series count stays bounded.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::provider_queue_metrics::ProviderQueueMetrics;

/// How the edge answered a request: which decision served it and the status class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// "respond", "upstream", "forward" or "error" (the edge's own error answer).
    pub decision: &'static str,
    /// "1xx" … "5xx".
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExportLabels {
    /// The plugin export called: "on_http_request", "on_http_response", "resume", ….
    pub export: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrapLabels {
    /// The runtime's error code, e.g. "plugin_trap", "plugin_deadline_exceeded".
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// Provider name from the plan (policy-defined, not a secret).
    pub provider: String,
    /// The step taken after the attempt ("succeeded", "next_key", …: `gateway::step_label`).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// "public" or "admin".
    pub listener: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Request latencies: 100 µs to ~100 s, doubling. Covers both the edge's own answers and
/// long LLM calls.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

/// Plugin call latencies: 1 µs to ~65 ms, doubling; the epoch deadline sits above the top.
fn plugin_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_001, 2.0, 17))
}

/// Every metric the edge exports. One instance per running edge, shared behind an `Arc`.
pub struct EdgeMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<DecisionLabels>,
    plugin_call_duration: HistogramFamily<ExportLabels>,
    plugin_errors: Family<TrapLabels, Counter>,
    policy_reloads: Family<ResultLabels, Counter>,
    policy_loaded: Gauge,
    upstream_attempts: Family<AttemptLabels, Counter>,
    in_flight: Gauge,
    open_connections: Family<ListenerLabels, Gauge>,
    refused_connections: Family<ListenerLabels, Counter>,
}

impl EdgeMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("edge");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by the decision that served them and status class",
            requests.clone(),
        );
        let request_duration: HistogramFamily<DecisionLabels> =
            Family::new_with_constructor(request_histogram);
        registry.register(
            "request_duration_seconds",
            "Time from request head received to response head sent",
            request_duration.clone(),
        );
        let plugin_call_duration: HistogramFamily<ExportLabels> =
            Family::new_with_constructor(plugin_histogram);
        registry.register(
            "plugin_call_duration_seconds",
            "Wall time of one plugin export call, instance checkout included",
            plugin_call_duration.clone(),
        );
        let plugin_errors = Family::<TrapLabels, Counter>::default();
        registry.register(
            "plugin_errors",
            "Plugin calls that failed (trap, deadline, memory), by kind",
            plugin_errors.clone(),
        );
        let policy_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "policy_reloads",
            "Policy loads after start-up, by result (ok or failed)",
            policy_reloads.clone(),
        );
        let policy_loaded = Gauge::default();
        registry.register(
            "policy_loaded",
            "1 when a policy is loaded and traffic is served",
            policy_loaded.clone(),
        );
        let upstream_attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "upstream_attempts",
            "Upstream calls of ai-gateway plans, by provider and what followed",
            upstream_attempts.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Requests being handled right now",
            in_flight.clone(),
        );
        let open_connections = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "open_connections",
            "Client connections open right now, by listener",
            open_connections.clone(),
        );
        let refused_connections = Family::<ListenerLabels, Counter>::default();
        registry.register(
            "connections_refused",
            "Connections refused because the listener was at --max-connections",
            refused_connections.clone(),
        );
        Self {
            open_connections,
            refused_connections,
            registry,
            requests,
            request_duration,
            plugin_call_duration,
            plugin_errors,
            policy_reloads,
            policy_loaded,
            upstream_attempts,
            in_flight,
        }
    }

    /// Called once per request when its response head has been produced.
    pub fn record_request(&self, decision: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                decision,
                status: status_class(status),
            })
            .inc();
        self.request_duration
            .get_or_create(&DecisionLabels { decision })
            .observe(elapsed.as_secs_f64());
    }

    /// Called after every plugin export call, successful or not.
    pub fn record_plugin_call(&self, export: &'static str, elapsed: Duration) {
        self.plugin_call_duration
            .get_or_create(&ExportLabels { export })
            .observe(elapsed.as_secs_f64());
    }

    /// Called when a plugin call failed; `kind` is the runtime's stable error code.
    pub fn record_plugin_error(&self, kind: &str) {
        self.plugin_errors
            .get_or_create(&TrapLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Called after every reload attempt (file change or SIGHUP).
    pub fn record_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.policy_reloads
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub fn set_policy_loaded(&self, loaded: bool) {
        self.policy_loaded.set(i64::from(loaded));
    }

    /// Called once per upstream attempt of a plan.
    pub fn record_attempt(&self, provider: &str, result: &str) {
        self.upstream_attempts
            .get_or_create(&AttemptLabels {
                provider: provider.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// The open-connections gauge and the refusals counter of one listener ("public" or
    /// "admin"), for its connection slots.
    pub fn connection_series(&self, listener: &'static str) -> (Gauge, Counter) {
        let labels = ListenerLabels { listener };
        (
            self.open_connections.get_or_create(&labels).clone(),
            self.refused_connections.get_or_create(&labels).clone(),
        )
    }

    /// Counts a request as in flight until the guard drops.
    pub fn in_flight(&self) -> InFlightGuard {
        self.in_flight.inc();
        InFlightGuard {
            gauge: self.in_flight.clone(),
        }
    }

    /// Serves the per-provider concurrency series (fed by the attempt loop) with the rest.
    pub fn register_provider_queues(&mut self, queues: &ProviderQueueMetrics) {
        queues.register(&mut self.registry);
    }

    /// The whole registry in the Prometheus/OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for EdgeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Decrements the in-flight gauge when the request is done (or its task is dropped).
pub struct InFlightGuard {
    gauge: Gauge,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_recorded_series_without_unbounded_labels() {
        let m = EdgeMetrics::new();
        m.record_request("respond", 403, Duration::from_millis(2));
        m.record_plugin_call("on_http_request", Duration::from_micros(12));
        m.record_plugin_error("plugin_trap");
        m.record_reload(false);
        m.record_attempt("openai", "next_model");
        let text = m.encode().unwrap();
        assert!(
            text.contains(r#"edge_requests_total{decision="respond",status="4xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"edge_plugin_errors_total{kind="plugin_trap"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"edge_policy_reloads_total{result="failed"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"edge_upstream_attempts_total{provider="openai",result="next_model"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("edge_plugin_call_duration_seconds_count{export=\"on_http_request\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn in_flight_guard_balances() {
        let m = EdgeMetrics::new();
        {
            let _a = m.in_flight();
            let _b = m.in_flight();
            assert!(m.encode().unwrap().contains("edge_requests_in_flight 2"));
        }
        assert!(m.encode().unwrap().contains("edge_requests_in_flight 0"));
    }
}
