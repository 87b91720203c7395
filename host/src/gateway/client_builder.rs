//! The HTTP client every provider call goes through: one pooled reqwest client with rustls
//! (ring crypto, chosen explicitly so no process-wide default provider is needed), HTTP/1.1
//! and HTTP/2 via ALPN, and the `.internal` resolver.
//!
//! Built once per [`super::GatewayConfig`]. There is deliberately no whole-request timeout
//! on the client: a stream may run for many minutes. The attempt loop bounds the head (and a
//! stream's first event) per attempt, and the relay bounds the gaps between chunks.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use super::attempt_error::AttemptError;
use super::config::GatewayConfig;
use super::internal_hosts::InternalHosts;

/// Why the upstream client could not be built (bad CA file, TLS setup).
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("provider CA bundle is not valid PEM: {0}")]
    CaPem(#[source] std::io::Error),
    #[error("provider CA bundle holds no certificate")]
    CaEmpty,
    #[error("provider CA certificate rejected: {0}")]
    CaCert(#[source] rustls::Error),
    #[error("TLS setup failed: {0}")]
    Tls(#[source] rustls::Error),
    #[error("HTTP client setup failed: {0}")]
    Client(#[source] reqwest::Error),
}

/// The pooled client together with the `.internal` table it resolves through, so that an
/// attempt can be refused before any I/O when its plain `http://` host is not registered.
/// Dereferences to the reqwest client for sending.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    http: reqwest::Client,
    internal_hosts: InternalHosts,
}

impl UpstreamClient {
    pub(crate) fn new(http: reqwest::Client, internal_hosts: InternalHosts) -> Self {
        Self {
            http,
            internal_hosts,
        }
    }

    /// Runs first in every attempt, before its request is built: plain `http://` goes only
    /// to names registered in the `.internal` table (`--internal`, the demo provider), so an
    /// API key never crosses the network in clear text to whatever a resolver returns for
    /// an unregistered name (docs/ai-gateway.md, "Providers and models").
    pub(crate) fn check_plain_http(&self, url: &str) -> Result<(), AttemptError> {
        match self.internal_hosts.plain_http_refused(url) {
            Some(host) => Err(AttemptError::PlainHttpRefused { host }),
            None => Ok(()),
        }
    }
}

impl std::ops::Deref for UpstreamClient {
    type Target = reqwest::Client;

    fn deref(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Builds the shared upstream client.
pub fn build_upstream_client(
    config: &GatewayConfig,
    resolver: &InternalHosts,
) -> Result<reqwest::Client, ClientBuildError> {
    let tls = tls_config(config)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(resolver.clone())
        .connect_timeout(config.connect_timeout)
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        // Providers are reached directly; an HTTP(S)_PROXY in the environment would
        // silently reroute API keys through a third party.
        .no_proxy()
        // A redirect from an AI provider is a misconfiguration; following it could send
        // credentials to another host. The 3xx is reported as the attempt's status.
        .redirect(reqwest::redirect::Policy::none())
        // SSE chunks are small and latency-sensitive.
        .tcp_nodelay(true)
        // Keep idle HTTP/2 connections alive through NATs while streams sit idle.
        .http2_keep_alive_interval(std::time::Duration::from_secs(30))
        .http2_keep_alive_while_idle(true)
        .http2_adaptive_window(true)
        .build()
        .map_err(ClientBuildError::Client)
}

/// rustls client settings: ring provider, Mozilla roots, optionally the system roots, plus
/// the operator's extra CA bundle.
fn tls_config(config: &GatewayConfig) -> Result<rustls::ClientConfig, ClientBuildError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    if config.use_system_roots {
        // Best effort: a container without a CA directory still has the bundled roots.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
    }
    if let Some(pem) = &config.provider_ca_pem {
        for cert in parse_pem_certs(pem)? {
            roots.add(cert).map_err(ClientBuildError::CaCert)?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientBuildError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Offer HTTP/2 first; providers that only speak HTTP/1.1 pick that.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

fn parse_pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ClientBuildError> {
    let mut reader = std::io::BufReader::new(pem);
    let certs = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ClientBuildError::CaPem)?;
    if certs.is_empty() {
        return Err(ClientBuildError::CaEmpty);
    }
    Ok(certs)
}
