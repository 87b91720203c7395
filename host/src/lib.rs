//! The edge host: accepts HTTP(S) traffic, asks the gateway plugin what to do with each
//! request, and moves the bytes.

pub mod plugin_runtime;

/// The gateway plugin component built by `build.rs` for wasm32-wasip2.
pub static EMBEDDED_PLUGIN: &[u8] = include_bytes!(env!("GATEWAY_PLUGIN_WASM"));
