//! Wires the real parts together: the wasm plugin runtime (policy decisions), the host
//! services (secrets, rate limits, target metrics), the gateway's attempt loop and the
//! demo provider. `edge serve` and the end-to-end tests start an edge through [`start`];
//! `edge check` validates through [`check_loader`].

use std::path::Path;
use std::sync::Arc;

use super::decider::PolicyDecider;
use super::internal_warnings::unregistered_plain_http;
use super::policy_loader::{LoadRejection, Loaded, PolicyLoader};
use super::{RunningEdge, ServeConfig, StartError, start_with};
use crate::gateway::{GatewayConfig, GatewayContext, InternalHosts};
use crate::host_services::{HostServices, SecretStore, TargetMetricsSink};
use crate::plugin_runtime::{
    ArtifactCache, Compiler, LoadError, LoadedPolicy, PluginError, PluginRuntime, RuntimeConfig,
};
use crate::policy_state::DiagnosticView;
use crate::wit::types::{self, EndpointInfo, LoadOptions};

/// Starts an edge with the embedded plugin (or `--plugin`), real upstream calls, and the
/// demo provider when asked.
pub async fn start(cfg: ServeConfig) -> Result<RunningEdge, StartError> {
    crate::tls::install_crypto_provider();
    let services = Arc::new(HostServices::new(secret_store(&cfg)?));
    let runtime = plugin_runtime(
        cfg.plugin.as_deref(),
        cfg.cache_dir.as_deref(),
        &cfg.plugin_compiler,
        services.clone(),
    )?;

    let demo = if cfg.demo {
        let demo = crate::demo::DemoProvider::start()
            .await
            .map_err(StartError::Demo)?;
        tracing::info!(addr = %demo.addr(), "demo provider listening as demo.internal");
        Some(demo)
    } else {
        None
    };
    let mut internal_hosts = cfg.internal_hosts.clone();
    if let Some(d) = &demo {
        internal_hosts.push(d.internal_host());
    }
    let provider_ca_pem = match &cfg.provider_ca {
        Some(p) => Some(read_file(p)?),
        None => None,
    };
    let gw_cfg = GatewayConfig {
        internal_hosts,
        provider_ca_pem,
        ..GatewayConfig::default()
    };
    // HostServices is the sink: the attempt loop feeds the rolling target metrics the
    // plugin reads through `metrics-snapshot`.
    let sink: Arc<dyn TargetMetricsSink> = services;
    let gateway = GatewayContext::new(&gw_cfg, sink)?;

    let loader = Arc::new(RuntimeLoader {
        runtime,
        check_only: false,
        internal_hosts: None,
    });
    let mut edge = start_with(cfg, loader, Arc::new(gateway)).await?;
    if let Some(d) = demo {
        edge.keep_alive(Box::new(d));
    }
    Ok(edge)
}

/// A loader for `edge check`: same plugin, check-only mode (missing secrets are warnings),
/// no secrets, no listeners. `internal` is the `.internal` table `serve` would have with the
/// same `--internal`/`--demo` flags: plain-http providers outside it get a warning.
pub fn check_loader(
    plugin: Option<&Path>,
    cache_dir: Option<&Path>,
    internal: InternalHosts,
) -> Result<RuntimeLoader, StartError> {
    let services = Arc::new(HostServices::new(SecretStore::new().with_process_env()));
    // `edge check` is short-lived: compiling in-process costs it nothing that lasts.
    let runtime = plugin_runtime(plugin, cache_dir, &Compiler::InProcess, services)?;
    Ok(RuntimeLoader {
        runtime,
        check_only: true,
        internal_hosts: Some(internal),
    })
}

fn plugin_runtime(
    plugin: Option<&Path>,
    cache_dir: Option<&Path>,
    compiler: &Compiler,
    services: Arc<HostServices>,
) -> Result<PluginRuntime, StartError> {
    let owned;
    let wasm: &[u8] = match plugin {
        Some(p) => {
            owned = read_file(p)?;
            &owned
        }
        None => crate::EMBEDDED_PLUGIN,
    };
    let mut rcfg = RuntimeConfig {
        compiler: compiler.clone(),
        ..RuntimeConfig::default()
    };
    if let Some(dir) = cache_dir {
        rcfg.cache = ArtifactCache::Dir(dir.to_owned());
    }
    Ok(PluginRuntime::new(wasm, rcfg, services)?)
}

fn read_file(path: &Path) -> Result<Vec<u8>, StartError> {
    std::fs::read(path).map_err(|source| StartError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

fn secret_store(cfg: &ServeConfig) -> Result<SecretStore, StartError> {
    let mut store = SecretStore::new().with_process_env();
    if let Some(dir) = &cfg.secrets_dir {
        store = store.with_dir(dir)?;
    }
    if let Some(file) = &cfg.secrets_file {
        store = store.with_file(file)?;
    }
    Ok(store)
}

/// Loads policies into the plugin runtime.
pub struct RuntimeLoader {
    runtime: PluginRuntime,
    check_only: bool,
    /// `edge check`: the `.internal` table to warn against.
    internal_hosts: Option<InternalHosts>,
}

impl PolicyLoader for RuntimeLoader {
    type Policy = LoadedPolicy;

    fn load(
        &self,
        text: &str,
        file_name: &str,
        endpoint: &EndpointInfo,
    ) -> Result<Loaded<LoadedPolicy>, LoadRejection> {
        let opts = LoadOptions {
            file_name: file_name.to_owned(),
            check_only: self.check_only,
            endpoint: endpoint.clone(),
        };
        match self.runtime.load_policy(text, opts) {
            Ok(policy) => {
                let mut warnings: Vec<DiagnosticView> = policy
                    .summary()
                    .warnings
                    .iter()
                    .map(diagnostic_view)
                    .collect();
                if let Some(hosts) = &self.internal_hosts {
                    warnings.extend(unregistered_plain_http(
                        &policy.summary().provider_urls,
                        hosts,
                    ));
                }
                Ok(Loaded { policy, warnings })
            }
            Err(LoadError::Diagnostics(diags)) => Err(LoadRejection::Invalid(
                diags.iter().map(diagnostic_view).collect(),
            )),
            Err(LoadError::Plugin(e)) => Err(LoadRejection::Failed(e)),
        }
    }
}

pub fn diagnostic_view(d: &types::Diagnostic) -> DiagnosticView {
    DiagnosticView {
        severity: match d.severity {
            types::Severity::Error => "error",
            types::Severity::Warning => "warning",
        },
        message: d.message.clone(),
        line: d.line,
        column: d.column,
        path: d.path.clone(),
    }
}

impl PolicyDecider for LoadedPolicy {
    fn needs_body(&self) -> bool {
        self.summary().needs_body
    }
    fn has_response_rules(&self) -> bool {
        self.summary().has_response_rules
    }
    fn on_http_request(&self, req: &types::Request) -> Result<types::RequestOutcome, PluginError> {
        LoadedPolicy::on_http_request(self, req)
    }
    fn on_http_response(
        &self,
        state: &[u8],
        req: &types::Request,
        head: &types::ResponseHead,
        served: Option<&types::ServedPlan>,
    ) -> Result<types::ResponseDecision, PluginError> {
        LoadedPolicy::on_http_response(self, state, req, head, served)
    }
    fn classify_failure(
        &self,
        failed: &types::AttemptResult,
        can_retry_same: bool,
    ) -> Result<types::FailoverAction, PluginError> {
        LoadedPolicy::classify_failure(self, failed, can_retry_same)
    }
    fn resume(
        &self,
        continuation: &[u8],
        req: &types::Request,
        outcome: &types::GatewayOutcome,
    ) -> Result<types::RequestOutcome, PluginError> {
        LoadedPolicy::resume(self, continuation, req, outcome)
    }
}
