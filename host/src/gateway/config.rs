//! Settings of the upstream side of the gateway, fixed when the edge starts (or reloads).

use std::net::SocketAddr;
use std::time::Duration;

/// How the edge talks to providers. Built once from the command line and config file, then
/// turned into a [`super::GatewayContext`].
#[derive(Clone)]
pub struct GatewayConfig {
    /// `NAME.internal` → address pairs (the repeatable `--internal NAME.internal=HOST:PORT`
    /// flag, plus `demo.internal` when `--demo` runs the built-in provider).
    pub internal_hosts: Vec<(String, SocketAddr)>,
    /// Extra root CA certificates (PEM bundle) trusted for provider TLS, on top of the
    /// system and Mozilla roots. Tests and private deployments use this for their own CA.
    pub provider_ca_pem: Option<Vec<u8>>,
    /// Time allowed for TCP connect + TLS handshake of one new upstream connection. Kept
    /// short because a provider that cannot even accept a connection should fail over fast;
    /// the plan's per-attempt deadline still bounds the whole attempt.
    pub connect_timeout: Duration,
    /// How long an idle pooled upstream connection is kept. Providers close idle
    /// connections after about a minute; closing ours a little earlier avoids sending a
    /// request on a connection the far side is just closing.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per provider host. LLM calls are long and few compared to
    /// ordinary API traffic; 32 keeps bursts warm without holding hundreds of sockets.
    pub pool_max_idle_per_host: usize,
    /// Also load the operating system's root certificates (in addition to Mozilla's
    /// bundled roots). Off in tests to keep them independent of the machine.
    pub use_system_roots: bool,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            internal_hosts: Vec::new(),
            provider_ca_pem: None,
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(50),
            pool_max_idle_per_host: 32,
            use_system_roots: true,
        }
    }
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("internal_hosts", &self.internal_hosts)
            .field(
                "provider_ca_pem",
                &self.provider_ca_pem.as_ref().map(|p| p.len()),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("use_system_roots", &self.use_system_roots)
            .finish()
    }
}
