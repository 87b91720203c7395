//! Test harness for the end-to-end suite: real loopback servers (an echo upstream, mock AI
//! providers over plain HTTP and HTTPS with a test CA) and the real `edge` binary under test.
//!
//! Everything here talks over real sockets. Servers record what they received so tests can
//! assert attempt order and credentials; their tasks are joined on `stop()` so a panic inside a
//! handler fails the test instead of vanishing.

pub mod ai;
pub mod baseline_proxy;
pub mod bench_report;
pub mod client;
pub mod edge_under_test;
pub mod http_server;
pub mod load;
pub mod paths;
pub mod process_stats;
pub mod providers;
pub mod recorded;
pub mod sse;
pub mod test_ca;
pub mod upstream;

pub use client::{Client, Reply};
pub use edge_under_test::{Edge, EdgeBuilder, edge};
pub use providers::{MockProvider, ProviderBuilder, RecordedRequest, provider};
pub use test_ca::TestCa;
pub use upstream::{EchoUpstream, echo_upstream};

/// Errors of the harness itself (not of the edge under test). Tests unwrap these.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("tls setup: {0}")]
    Tls(String),
    #[error("certificate generation: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("the edge did not become ready: {0}")]
    EdgeStart(String),
    #[error("a test server task failed: {0}")]
    ServerTask(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// Installs nothing global: every rustls config in the harness names the ring provider
/// explicitly, so tests never depend on a process-wide default crypto provider.
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
