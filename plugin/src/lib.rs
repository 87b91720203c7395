//! The gateway plugin: everything that is *policy*.
//!
//! The logic here is plain Rust, unit-tested natively. Only `wit_bindings` (compiled for
//! `wasm32` alone) touches the WIT contract in `wit/gateway.wit`.

pub mod actions;
pub mod ai_gateway;
pub mod cel_env;
pub mod engine;
pub mod error_response;
pub mod host_api;
pub mod model;
pub mod policy;

#[cfg(target_arch = "wasm32")]
mod wit_bindings;
