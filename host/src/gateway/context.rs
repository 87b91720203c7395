//! Everything the attempt loop needs that outlives one request: the pooled upstream client,
//! the `.internal` table it resolves through, the metrics sink, and the per-provider
//! concurrency caps.

use std::sync::Arc;

use super::client_builder::ClientBuildError;
use super::config::GatewayConfig;
use super::internal_hosts::InternalHosts;
use super::provider_gate::ProviderGates;
use super::upstream_client::UpstreamClient;
use crate::host_services::TargetMetricsSink;
use crate::provider_queue_metrics::ProviderQueueMetrics;

/// Built once at startup (and again when settings that shape the client change); shared by
/// every request. Cloning is cheap.
#[derive(Clone)]
pub struct GatewayContext {
    pub(crate) client: UpstreamClient,
    internal_hosts: InternalHosts,
    pub(crate) sink: Arc<dyn TargetMetricsSink>,
    /// The per-provider concurrency caps, shared by every request.
    pub(crate) gates: ProviderGates,
}

impl GatewayContext {
    /// Builds the upstream client from `config`; `sink` receives one record per attempt.
    pub fn new(
        config: &GatewayConfig,
        sink: Arc<dyn TargetMetricsSink>,
    ) -> Result<Self, ClientBuildError> {
        let internal_hosts = InternalHosts::new(&config.internal_hosts);
        let client = UpstreamClient::new(config, internal_hosts.clone())?;
        Ok(Self {
            client,
            internal_hosts,
            sink,
            gates: ProviderGates::default(),
        })
    }

    /// The live `.internal` table: hosts added here are used by the next new connection.
    pub fn internal_hosts(&self) -> &InternalHosts {
        &self.internal_hosts
    }

    /// The series of the per-provider concurrency caps, for the admin `/metrics`.
    pub fn provider_queue_metrics(&self) -> &ProviderQueueMetrics {
        self.gates.metrics()
    }

    /// The pooled upstream client (also usable for the endpoint's own upstream).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl std::fmt::Debug for GatewayContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayContext")
            .field("internal_hosts", &self.internal_hosts)
            .finish_non_exhaustive()
    }
}
