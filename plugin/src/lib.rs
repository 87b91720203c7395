//! The gateway plugin: everything that is *policy*.
//!
//! The logic here is plain Rust, unit-tested natively. Only `wit_bindings` (compiled for
//! `wasm32` alone) touches the WIT contract in `wit/gateway.wit`.

// The engine, the host seam and the data model are the crate's API (the wasm wrapper and
// the integration tests use them); everything else is internal, so the compiler reports
// what nothing uses.
mod actions;
mod ai_gateway;
mod cel_env;
pub mod engine;
mod error_response;
pub mod host_api;
pub mod model;
mod policy;

#[cfg(target_arch = "wasm32")]
mod wit_bindings;
