//! State the host keeps for every plugin instance and hands to the plugin through the
//! imports of the WIT `host` interface: rate-limit buckets, secrets, rolling target metrics,
//! and the log sink. One [`HostServices`] is shared (behind an `Arc`) by every instance of
//! every loaded policy, so all instances see the same counters and numbers, and a policy
//! reload keeps them.

mod metrics_sink;
pub(crate) mod plugin_log;
mod rate_limiter;
mod secrets;
mod target_metrics;

pub use metrics_sink::{AttemptRecord, TargetMetricsSink};
pub use plugin_log::PluginLogLevel;
pub use rate_limiter::{RateLimitDecision, RateLimiter, RateLimiterConfig};
pub use secrets::{SecretStore, SecretsError};
pub use target_metrics::{
    AttemptSample, Quota, TargetKey, TargetMetrics, TargetMetricsConfig, TargetRef, TargetStats,
};

/// Everything the plugin may ask of the host.
#[derive(Debug, Default)]
pub struct HostServices {
    pub rate_limiter: RateLimiter,
    pub secrets: SecretStore,
    /// Fed by the attempt loop (`record`), read by the plugin (`metrics-snapshot`).
    pub metrics: TargetMetrics,
}

impl HostServices {
    /// Services with the given secrets and default limiter and metrics settings.
    pub fn new(secrets: SecretStore) -> Self {
        Self {
            rate_limiter: RateLimiter::default(),
            secrets,
            metrics: TargetMetrics::default(),
        }
    }

    /// `secrets.get(vault, name)` for the plugin: the value itself, exposed only here.
    pub fn secret_value(&self, vault: &str, name: &str) -> Option<String> {
        self.secrets.get(vault, name).map(|s| secrets::expose(&s))
    }
}
