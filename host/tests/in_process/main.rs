//! The edge library's parts driven in-process against real loopback servers from
//! `edge-test-support`: the attempt loop and its streams, the demo provider, the plugin runtime
//! with the hostile fixture, and the server (`edge::server::start`) with the embedded plugin.
//! What a user sees of the same behaviours through the binary is in `tests/e2e`.
//!
//! One test binary for all of them: each test binary is a separate link of wasmtime-sized code.

mod attempt_loop;
mod gateway_demo;
mod gateway_streams;
mod plan_support;
mod plugin_runtime;
mod serve_support;
mod server_embedded_plugin;
mod server_flows;
