//! The edge host: accepts HTTP(S) traffic, asks the gateway plugin what to do with each
//! request, and moves the bytes. It knows nothing about AI beyond what a plan tells it.

pub mod body;
pub mod body_pace;
pub mod check;
pub mod cli;
pub mod demo;
pub mod gateway;
pub(crate) mod headers;
pub mod host_services;
pub(crate) mod metrics;
pub mod plugin_runtime;
pub(crate) mod policy_state;
pub mod provider_queue_metrics;
pub(crate) mod reload;
pub(crate) mod reqwest_error;
pub mod server;
pub(crate) mod tls;
pub mod wit;

/// The gateway plugin component built by `build.rs` for wasm32-wasip2.
pub static EMBEDDED_PLUGIN: &[u8] = include_bytes!(env!("GATEWAY_PLUGIN_WASM"));
