//! Loading the policy file into the served state: at start-up (a failure stops the edge)
//! and on every reload trigger (a failure keeps the previous policy and is reported).

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::decider::PolicyDecider;
use crate::metrics::EdgeMetrics;
use crate::policy_state::{DiagnosticView, LoadFailure, PolicyState, policy_hash, unix_ms};
use crate::reload::ReloadReason;
use crate::wit::types::EndpointInfo;

/// A policy the loader accepted, with its warnings.
pub struct Loaded<P> {
    pub policy: P,
    pub warnings: Vec<DiagnosticView>,
}

/// Why a policy text was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum LoadRejection {
    #[error("{} problem(s) in the policy", .0.len())]
    Invalid(Vec<DiagnosticView>),
    /// The plugin itself failed while loading (not the policy's fault).
    #[error(transparent)]
    Failed(crate::plugin_runtime::PluginError),
}

impl LoadRejection {
    pub fn diagnostics(&self) -> &[DiagnosticView] {
        match self {
            Self::Invalid(d) => d,
            Self::Failed(_) => &[],
        }
    }
}

/// Turns policy text into a servable policy. Called off the async workers (it compiles
/// every CEL expression and may instantiate a plugin), once per load.
pub trait PolicyLoader: Send + Sync + 'static {
    type Policy: PolicyDecider;
    /// `file_name` is used in diagnostics only; `endpoint` feeds the `endpoint.*` variables.
    fn load(
        &self,
        text: &str,
        file_name: &str,
        endpoint: &EndpointInfo,
    ) -> Result<Loaded<Self::Policy>, LoadRejection>;
}

/// Why loading the policy file failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {rejection}")]
    Rejected {
        path: String,
        rejection: LoadRejection,
    },
    #[error("policy load task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Reads and loads the file; on success installs it, on failure records why. Returns what
/// happened so start-up can refuse to run without a policy. With `force == false` a file
/// whose hash equals the served one is not reloaded.
pub async fn load_into<L: PolicyLoader>(
    loader: &Arc<L>,
    state: &Arc<PolicyState<L::Policy>>,
    path: &Path,
    endpoint: &EndpointInfo,
    force: bool,
) -> Result<LoadResult, PolicyFileError> {
    let file_name = path.display().to_string();
    let text = match tokio::fs::read_to_string(path).await {
        Ok(t) => t,
        Err(source) => {
            state.record_failure(LoadFailure {
                at_ms: unix_ms(SystemTime::now()),
                hash: None,
                message: format!("cannot read {file_name}: {source}"),
                diagnostics: vec![],
            });
            return Err(PolicyFileError::Read {
                path: file_name,
                source,
            });
        }
    };
    let hash = policy_hash(&text);
    let status = state.status();
    if !force && status.hash.as_deref() == Some(hash.as_str()) && status.last_error.is_none() {
        return Ok(LoadResult::Unchanged);
    }
    let loader2 = loader.clone();
    let name = file_name.clone();
    let endpoint = endpoint.clone();
    let loaded = tokio::task::spawn_blocking(move || loader2.load(&text, &name, &endpoint))
        .await
        .map_err(PolicyFileError::Task)?;
    match loaded {
        Ok(Loaded { policy, warnings }) => {
            for w in &warnings {
                tracing::warn!(diagnostic = %w.render(&file_name), "policy warning");
            }
            state.install(policy, hash.clone(), warnings);
            tracing::info!(file = %file_name, hash = %hash, "policy loaded");
            Ok(LoadResult::Installed)
        }
        Err(rejection) => {
            for d in rejection.diagnostics() {
                tracing::error!(diagnostic = %d.render(&file_name), "policy rejected");
            }
            state.record_failure(LoadFailure {
                at_ms: unix_ms(SystemTime::now()),
                hash: Some(hash),
                message: rejection.to_string(),
                diagnostics: rejection.diagnostics().to_vec(),
            });
            Err(PolicyFileError::Rejected {
                path: file_name,
                rejection,
            })
        }
    }
}

/// What a load attempt did.
#[derive(Debug, PartialEq, Eq)]
pub enum LoadResult {
    Installed,
    /// Same content as the served policy; nothing done.
    Unchanged,
}

/// Applies reload triggers one at a time until the channel closes. Bursts are coalesced:
/// triggers queued while a load runs lead to a single follow-up load.
pub async fn run_reloads<L: PolicyLoader>(
    loader: Arc<L>,
    state: Arc<PolicyState<L::Policy>>,
    metrics: Arc<EdgeMetrics>,
    path: std::path::PathBuf,
    endpoint: EndpointInfo,
    mut rx: mpsc::UnboundedReceiver<ReloadReason>,
) {
    while let Some(mut reason) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            if more.is_forced() {
                reason = more;
            }
        }
        match load_into(&loader, &state, &path, &endpoint, reason.is_forced()).await {
            Ok(LoadResult::Installed) => {
                metrics.record_reload(true);
                metrics.set_policy_loaded(true);
                tracing::info!(reason = reason.as_str(), "policy reloaded");
            }
            Ok(LoadResult::Unchanged) => {}
            Err(err) => {
                metrics.record_reload(false);
                tracing::error!(reason = reason.as_str(), error = %err, "policy reload rejected; still serving the previous policy");
            }
        }
    }
}

/// The `endpoint.*` facts of a listener bound at `addr`.
pub fn endpoint_info(addr: std::net::SocketAddr, tls: bool) -> EndpointInfo {
    let protocol = if tls { "https" } else { "http" };
    let host = addr.ip().to_canonical().to_string();
    let url_host = if addr.is_ipv6() {
        format!("[{host}]")
    } else {
        host.clone()
    };
    EndpointInfo {
        id: format!("ep_{protocol}_{}", addr.port()),
        url: format!("{protocol}://{url_host}:{}", addr.port()),
        host,
        port: addr.port(),
        protocol: protocol.to_owned(),
    }
}
