//! How one pooled provider client is built for a TLS profile: reqwest with rustls (ring
//! crypto, chosen explicitly so no process-wide default provider is needed), HTTP/1.1 and
//! HTTP/2 via ALPN, and the `.internal` resolver.
//!
//! There is deliberately no whole-request timeout on the client: a stream may run for many
//! minutes. The attempt loop bounds the head (and a stream's first event) per attempt, and
//! the relay bounds the gaps between chunks.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use super::config::GatewayConfig;
use super::insecure_verifier::InsecureVerifier;
use super::internal_hosts::InternalHosts;
use super::tls_profile::TlsProfile;

/// Why an upstream client could not be built (bad CA file or provider CA, TLS setup).
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

/// Builds the pooled client of one TLS profile.
pub(crate) fn build_client(
    config: &GatewayConfig,
    resolver: &InternalHosts,
    profile: &TlsProfile,
) -> Result<reqwest::Client, ClientBuildError> {
    let tls = tls_config(config, profile)?;
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
/// the operator's extra CA bundle, plus the profile's own CA; or, for the insecure profile,
/// a verifier that accepts any certificate.
fn tls_config(
    config: &GatewayConfig,
    profile: &TlsProfile,
) -> Result<rustls::ClientConfig, ClientBuildError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(ClientBuildError::Tls)?;
    let mut tls = match profile {
        TlsProfile::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(InsecureVerifier::new(provider)))
            .with_no_client_auth(),
        TlsProfile::Default | TlsProfile::ExtraCa(_) => builder
            .with_root_certificates(roots(config, profile)?)
            .with_no_client_auth(),
    };
    // Offer HTTP/2 first; providers that only speak HTTP/1.1 pick that.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// The roots a verifying profile trusts.
fn roots(config: &GatewayConfig, profile: &TlsProfile) -> Result<RootCertStore, ClientBuildError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    if config.use_system_roots {
        // Best effort: a container without a CA directory still has the bundled roots.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
    }
    let own = match profile {
        TlsProfile::ExtraCa(pem) => Some(pem.as_bytes()),
        TlsProfile::Default | TlsProfile::Insecure => None,
    };
    for pem in [config.provider_ca_pem.as_deref(), own]
        .into_iter()
        .flatten()
    {
        for cert in parse_pem_certs(pem)? {
            roots.add(cert).map_err(ClientBuildError::CaCert)?;
        }
    }
    Ok(roots)
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
