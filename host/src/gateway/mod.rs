//! The ai-gateway attempt loop: runs a plan from the plugin against providers.
//!
//! The plugin decides which providers, models and keys to try and in what order (a
//! [`Plan`](crate::plugin_runtime::bindings::types::Plan)); this module moves the bytes:
//!
//! - [`upstream_client`]: the pooled HTTPS client (rustls + ring, HTTP/2, extra CA).
//! - [`internal_hosts`]: `NAME.internal` → address resolution, falling back to DNS.
//! - [`attempt_loop`]: [`execute_plan`], the loop with its timeouts, cap and Retry-After.
//! - [`attempt`]: one call and its commit point (2xx head, and a healthy first SSE event).
//! - [`failover_rules`]: the default rules and the [`FailoverClassifier`] hook.
//! - [`relay_body`]: the pass-through body with its idle timeout and SSE error ending.
//! - [`sse_events`]: first-event detection and the error events a broken stream ends with.

pub mod attempt;
pub mod attempt_error;
pub mod attempt_loop;
pub mod config;
pub mod context;
pub mod defaults;
pub mod failover_rules;
pub mod internal_hosts;
pub mod metrics_sink;
pub mod plan_result;
pub mod relay_body;
pub mod response_headers;
pub mod retry_after;
pub mod sse_events;
pub mod upstream_client;

pub use attempt_error::AttemptError;
pub use attempt_loop::execute_plan;
pub use config::GatewayConfig;
pub use context::GatewayContext;
pub use failover_rules::{DefaultFailover, FailoverClassifier};
pub use internal_hosts::InternalHosts;
pub use metrics_sink::{NoMetrics, TargetMetricsSink};
pub use plan_result::PlanResult;
pub use upstream_client::ClientBuildError;
