//! The edge library's parts driven in-process against real loopback servers from
//! `edge-test-support`: the attempt loop and its streams, the demo provider, the plugin runtime
//! with the hostile fixture, the server (`edge::server::start`) with the embedded plugin, and
//! the error-code header of every error the edge answers.
//! What a user sees of the same behaviours through the binary is in `tests/e2e`.
//!
//! One test binary for all of them: each test binary is a separate link of wasmtime-sized code.

// Integration tests are always compiled with `cfg(test)`. Marking the modules so lets clippy
// treat their helper functions as test code too (clippy.toml allows unwrap/expect/panic in
// tests), not only the `#[test]` functions.
#[cfg(test)]
mod attempt_loop;
#[cfg(test)]
mod error_codes;
#[cfg(test)]
mod gateway_demo;
#[cfg(test)]
mod gateway_streams;
#[cfg(test)]
mod plan_support;
#[cfg(test)]
mod plugin_runtime;
#[cfg(test)]
mod provider_slots;
#[cfg(test)]
mod serve_support;
#[cfg(test)]
mod server_embedded_plugin;
#[cfg(test)]
mod server_flows;
