//! The HTTP clients provider calls go through: one pooled reqwest client per TLS profile
//! (docs/ai-gateway.md, "Provider TLS"), sharing the `.internal` resolver.
//!
//! The default profile's client is built when the edge starts (and again when settings that
//! shape the client change); a provider's own CA or `insecure_skip_verify` gets its client
//! the first time one of its attempts runs, kept for every later attempt with the same
//! profile, so connections are pooled per profile and never built per request. The cache
//! grows only with the distinct profiles the policies loaded since start have named.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::attempt_error::AttemptError;
use super::client_builder::{ClientBuildError, build_client};
use super::config::GatewayConfig;
use super::internal_hosts::InternalHosts;
use super::tls_profile::TlsProfile;

/// The pooled clients together with the `.internal` table they resolve through, so that an
/// attempt can be refused before any I/O when its plain `http://` host is not registered.
/// Dereferences to the default profile's client. Cloning is cheap and shares the pools.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    default: reqwest::Client,
    internal_hosts: InternalHosts,
    config: Arc<GatewayConfig>,
    /// Clients of the profiles other than the default, built on first use.
    profiles: Arc<Mutex<HashMap<TlsProfile, reqwest::Client>>>,
}

impl UpstreamClient {
    /// Builds the default profile's client.
    pub(crate) fn new(
        config: &GatewayConfig,
        internal_hosts: InternalHosts,
    ) -> Result<Self, ClientBuildError> {
        Ok(Self {
            default: build_client(config, &internal_hosts, &TlsProfile::Default)?,
            internal_hosts,
            config: Arc::new(config.clone()),
            profiles: Arc::default(),
        })
    }

    /// The client of `profile`, built the first time it is asked for. A provider CA that
    /// rustls refuses fails the attempt (the plugin has checked it is PEM at load).
    pub(crate) fn for_profile(&self, profile: TlsProfile) -> Result<reqwest::Client, AttemptError> {
        if profile == TlsProfile::Default {
            return Ok(self.default.clone());
        }
        // A panic while the lock was held cannot leave the map half-written: insert is the
        // only mutation.
        let mut profiles = self.profiles.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = profiles.get(&profile) {
            return Ok(client.clone());
        }
        // Built under the lock, once per profile: it reads the system roots from disk, a
        // short block of this worker thread that later attempts of the profile never pay.
        let client = build_client(&self.config, &self.internal_hosts, &profile)
            .map_err(|e| AttemptError::Tls(e.to_string()))?;
        profiles.insert(profile, client.clone());
        Ok(client)
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
        &self.default
    }
}
