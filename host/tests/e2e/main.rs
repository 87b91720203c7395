//! End-to-end tests: the `edge` binary run as a user runs it (`edge serve`, `edge check`),
//! against real loopback servers from `edge-test-support`.
//!
//! They are tests of the `edge` package so that cargo builds the binary first and names it in
//! `CARGO_BIN_EXE_edge`. One test binary holds them all (each test binary is a separate link,
//! and a separate process run one after another); every edge started here shares one plugin
//! cache per run (`paths::plugin_cache_dir`), so the plugin component compiles once.

// Integration tests are always compiled with `cfg(test)`. Marking the modules so lets clippy
// treat their helper functions as test code too (clippy.toml allows unwrap/expect/panic in
// tests), not only the `#[test]` functions.
#[cfg(test)]
mod ai_gateway_routing;
#[cfg(test)]
mod connection_limits;
#[cfg(test)]
mod edge_admin;
#[cfg(test)]
mod edge_check;
#[cfg(test)]
mod edge_hostile_plugin;
#[cfg(test)]
mod edge_limits;
#[cfg(test)]
mod edge_policy;
#[cfg(test)]
mod edge_reload;
#[cfg(test)]
mod edge_shutdown;
#[cfg(test)]
mod edge_tls;
#[cfg(test)]
mod failover;
#[cfg(test)]
mod first_start;
#[cfg(test)]
mod gateway_results;
#[cfg(test)]
mod header_forwarding;
#[cfg(test)]
mod large_bodies;
#[cfg(test)]
mod provider_addressing;
#[cfg(test)]
mod provider_auth;
#[cfg(test)]
mod provider_concurrency;
#[cfg(test)]
mod provider_keys;
#[cfg(test)]
mod provider_timeouts;
#[cfg(test)]
mod provider_tls;
#[cfg(test)]
mod quickstart;
#[cfg(test)]
mod request_checks;
#[cfg(test)]
mod request_types;
#[cfg(test)]
mod sdk_clients;
#[cfg(test)]
mod shipped_policies;
#[cfg(test)]
mod slow_bodies;
#[cfg(test)]
mod stream_faults;

/// The edge binary cargo built for this test crate.
pub const EDGE_BIN: &str = env!("CARGO_BIN_EXE_edge");

/// Starts describing an `edge serve` of [`EDGE_BIN`].
pub fn edge() -> edge_test_support::EdgeBuilder {
    edge_test_support::edge(EDGE_BIN)
}

/// Starts `edge`, which must refuse to load `policy`, and asserts that its diagnostic points
/// at the first line of `policy` holding `at` and says `message`.
#[cfg(test)]
pub async fn assert_load_refused(
    edge: edge_test_support::EdgeBuilder,
    policy: &str,
    at: &str,
    message: &str,
) {
    let Err(err) = edge.policy(policy).start().await else {
        panic!("the edge loaded a policy it must refuse ({message})");
    };
    let text = format!("{err:?}");
    let line = policy.lines().position(|l| l.contains(at)).unwrap() + 1;
    assert!(
        text.contains(&format!("policy.yaml:{line}:")) && text.contains(message),
        "expected line {line} and '{message}' in {text}"
    );
}
