//! End-to-end tests: the `edge` binary run as a user runs it (`edge serve`, `edge check`),
//! against real loopback servers from `edge-test-support`.
//!
//! They are tests of the `edge` package so that cargo builds the binary first and names it in
//! `CARGO_BIN_EXE_edge`. One test binary holds them all (each test binary is a separate link,
//! and a separate process run one after another); every edge started here shares one plugin
//! cache per run (`paths::plugin_cache_dir`), so the plugin component compiles once.

mod ai_gateway_routing;
mod edge_admin;
mod edge_check;
mod edge_hostile_plugin;
mod edge_limits;
mod edge_policy;
mod edge_reload;
mod edge_shutdown;
mod edge_tls;
mod failover;
mod quickstart;
mod sdk_clients;
mod shipped_policies;

/// The edge binary cargo built for this test crate.
pub const EDGE_BIN: &str = env!("CARGO_BIN_EXE_edge");

/// Starts describing an `edge serve` of [`EDGE_BIN`].
pub fn edge() -> edge_test_support::EdgeBuilder {
    edge_test_support::edge(EDGE_BIN)
}
