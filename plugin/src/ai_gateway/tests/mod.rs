//! Tests of the `ai-gateway` action against an in-memory engine and host.

mod addressing;
mod harness;
mod key_selection;
mod key_weights;
mod request_body;
mod request_types;

mod diagnostics;
mod failover_finish;
mod plans;
mod policies;
mod provider_concurrency;
mod provider_extras;
mod provider_timeouts;
mod provider_tls;
mod strategies;
mod timing;
mod whole_policies;
