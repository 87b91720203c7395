//! What the plugin asks of the host (the `host` interface of the WIT world).
//!
//! In the component these calls go to the edge through WIT imports (see `wit_bindings`);
//! native unit tests pass an in-memory implementation. Every method is synchronous and cheap.

use crate::model::{LogLevel, RateLimitResult, TargetMetrics};

pub trait HostApi {
    /// One structured log line (the `log` action).
    fn log(&self, level: LogLevel, message: &str, fields: &[(String, String)]);
    /// Counts one request against a sliding-window bucket shared by every instance.
    fn rate_limit_check(&self, bucket: &str, capacity: u64, window_ms: u64) -> RateLimitResult;
    /// `secrets.get(vault, name)`; called at load time only.
    fn secret(&self, vault: &str, name: &str) -> Option<String>;
    /// Rolling per-target metrics, for model and key selection.
    fn metrics_snapshot(&self) -> Vec<TargetMetrics>;
    /// Changes whenever `metrics_snapshot` would return something different.
    fn metrics_generation(&self) -> u64;
}
