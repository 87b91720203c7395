//! The WIT `host` interface as the plugin sees it: each import delegates to the shared
//! [`HostServices`](crate::host_services::HostServices). All are synchronous and cheap; none
//! waits on I/O.

use super::instance_state::InstanceState;
use crate::host_services::{PluginLogLevel, plugin_log};
use crate::wit::{host, types};

impl types::Host for InstanceState {}

impl host::Host for InstanceState {
    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            host::LogLevel::Trace => PluginLogLevel::Trace,
            host::LogLevel::Debug => PluginLogLevel::Debug,
            host::LogLevel::Info => PluginLogLevel::Info,
            host::LogLevel::Warn => PluginLogLevel::Warn,
            host::LogLevel::Error => PluginLogLevel::Error,
        };
        plugin_log::log(level, &message, &fields);
    }

    fn rate_limit_check(
        &mut self,
        bucket: String,
        capacity: u64,
        window_ms: u64,
    ) -> host::RateLimitResult {
        let d = self
            .services
            .rate_limiter
            .check(&bucket, capacity, window_ms);
        host::RateLimitResult {
            allowed: d.allowed,
            remaining: d.remaining,
            retry_after_ms: d.retry_after_ms,
        }
    }

    fn secret(&mut self, vault: String, name: String) -> Option<String> {
        self.services.secret_value(&vault, &name)
    }

    fn metrics_snapshot(&mut self) -> Vec<host::TargetMetrics> {
        self.services
            .metrics
            .snapshot()
            .iter()
            .map(|s| host::TargetMetrics {
                provider: s.key.provider.clone(),
                model: s.key.model.clone(),
                key_id: s.key.key_id.clone(),
                requests: s.requests,
                errors: s.errors,
                error_rate: s.error_rate,
                latency_p50_ms: s.latency_p50_ms,
                latency_p95_ms: s.latency_p95_ms,
                quota_remaining_requests: s.quota.remaining_requests,
                quota_remaining_tokens: s.quota.remaining_tokens,
            })
            .collect()
    }

    fn metrics_generation(&mut self) -> u64 {
        self.services.metrics.generation()
    }
}
