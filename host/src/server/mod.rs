//! Public listener: HTTP/1.1 and HTTP/2, TLS, request intake and response writing, plus
//! the start-up and shutdown of a whole edge (listeners, admin, reload).
//!
//! `start_with` is the core, generic over the policy loader and the attempt loop;
//! [`start`] (in `assemble.rs`) wires it to the real plugin runtime and attempt loop, and is
//! the only public way in: `edge serve` and every test start the real parts through it.

pub(crate) mod access_log;
pub(crate) mod admin;
pub(crate) mod assemble;
pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod connection_activity;
pub(crate) mod connection_slots;
pub(crate) mod decider;
pub(crate) mod error_shape;
pub(crate) mod errors;
pub(crate) mod handler;
pub(crate) mod internal_warnings;
pub(crate) mod listener;
pub(crate) mod policy_loader;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use crate::policy_state::{DiagnosticView, LoadFailure, PolicyStatus};
pub use crate::reload::WatchError;
pub use crate::tls::TlsError;
pub use assemble::{RuntimeLoader, check_loader, start};
pub use config::{LogFormat, ServeConfig, TlsFiles};
pub use errors::EdgeError;
pub use policy_loader::PolicyFileError;
pub use policy_loader::{LoadRejection, Loaded, PolicyLoader};
pub use upstream::UpstreamConfigError;

use crate::metrics::EdgeMetrics;
use crate::policy_state::PolicyState;
use crate::reload::{PolicyWatcher, ReloadReason, spawn_sighup_listener, watch_policy_file};
use admin::AdminHandler;
use decider::PlanRunner;
use handler::EdgeHandler;
use listener::ListenerOptions;
use policy_loader::{endpoint_info, load_into, run_reloads};
use upstream::Upstream;

/// Why the edge could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the admin listener must not share the public address {0}")]
    AdminOnPublicPort(SocketAddr),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Policy(#[from] PolicyFileError),
    #[error(transparent)]
    Upstream(#[from] UpstreamConfigError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Secrets(#[from] crate::host_services::SecretsError),
    #[error(transparent)]
    Plugin(#[from] crate::plugin_runtime::PluginError),
    #[error("cannot start the demo provider: {0}")]
    Demo(#[source] std::io::Error),
    #[error("cannot set up the provider client: {0}")]
    ProviderClient(#[from] crate::gateway::ClientBuildError),
}

/// A running edge. Dropping it does not stop it; call [`RunningEdge::shutdown`].
pub struct RunningEdge {
    /// The public listener's bound address (useful with port 0).
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    reload_tx: mpsc::UnboundedSender<ReloadReason>,
    status: Arc<dyn Fn() -> Arc<PolicyStatus> + Send + Sync>,
    servers: Vec<JoinHandle<()>>,
    _watcher: Option<PolicyWatcher>,
    /// Things that must live as long as the edge (e.g. the demo provider).
    resources: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl RunningEdge {
    /// Asks for a reload of the policy file (same as SIGHUP); returns at once.
    pub fn reload(&self) {
        let _ = self.reload_tx.send(ReloadReason::Requested);
    }

    /// Keeps `resource` alive until the edge is dropped.
    pub fn keep_alive(&mut self, resource: Box<dyn std::any::Any + Send + Sync>) {
        self.resources.push(resource);
    }

    /// What `/policy` would report right now.
    pub fn policy_status(&self) -> Arc<PolicyStatus> {
        (self.status)()
    }

    /// Stops accepting and waits for in-flight requests (up to the shutdown grace).
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        self.wait().await;
    }

    /// Waits until the edge has stopped (after a signal or [`RunningEdge::shutdown`]).
    pub async fn wait(self) {
        let _resources = self.resources;
        for s in self.servers {
            if let Err(err) = s.await {
                tracing::error!(error = %err, "listener task failed");
            }
        }
    }
}

/// Starts an edge with the given policy loader and attempt loop: loads the policy (a
/// start-up failure is an error), binds both listeners, and starts reload watching.
pub(crate) async fn start_with<L: PolicyLoader>(
    cfg: ServeConfig,
    loader: Arc<L>,
    plans: Arc<dyn PlanRunner>,
) -> Result<RunningEdge, StartError> {
    let mut metrics = EdgeMetrics::new();
    if let Some(queues) = plans.provider_queue_metrics() {
        metrics.register_provider_queues(&queues);
    }
    let metrics = Arc::new(metrics);
    let policy = Arc::new(PolicyState::<L::Policy>::new(cfg.policy_path.clone()));
    let upstream = cfg
        .upstream
        .as_deref()
        .map(|u| Upstream::new(u, cfg.max_body_bytes))
        .transpose()?;
    let tls = match &cfg.tls {
        Some(files) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(
            &files.cert,
            &files.key,
        )?)),
        None => None,
    };
    let public = bind(cfg.listen).await?;
    let addr = public.local_addr().map_err(|source| StartError::Bind {
        addr: cfg.listen,
        source,
    })?;
    if cfg.admin_listen.port() != 0 && cfg.admin_listen == addr {
        return Err(StartError::AdminOnPublicPort(addr));
    }
    let admin = bind(cfg.admin_listen).await?;
    let admin_addr = admin.local_addr().map_err(|source| StartError::Bind {
        addr: cfg.admin_listen,
        source,
    })?;
    let endpoint = endpoint_info(addr, cfg.tls.is_some());
    load_into(&loader, &policy, &cfg.policy_path, &endpoint, true).await?;
    metrics.set_policy_loaded(true);

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (reload_tx, reload_rx) = mpsc::unbounded_channel();
    let watcher = if cfg.watch_policy {
        Some(watch_policy_file(&cfg.policy_path, reload_tx.clone())?)
    } else {
        None
    };
    if cfg.handle_signals {
        spawn_sighup_listener(reload_tx.clone()).map_err(StartError::Signals)?;
        spawn_shutdown_signals(shutdown_tx.clone()).map_err(StartError::Signals)?;
    }
    tokio::spawn(run_reloads(
        loader,
        policy.clone(),
        metrics.clone(),
        cfg.policy_path.clone(),
        endpoint,
        reload_rx,
    ));

    let edge = Arc::new(EdgeHandler {
        policy: policy.clone(),
        metrics: metrics.clone(),
        upstream,
        plans,
        max_body_bytes: cfg.max_body_bytes,
        body_pace: cfg.body_pace,
    });
    let slots = |listener: &'static str, max: usize| {
        let (open, refused) = metrics.connection_series(listener);
        connection_slots::ConnectionSlots::new(max, open, refused)
    };
    let public_opts = ListenerOptions {
        tls,
        header_read_timeout: cfg.header_read_timeout,
        shutdown_grace: cfg.shutdown_grace,
        idle_timeout: cfg.idle_timeout,
        slots: slots("public", cfg.max_connections),
    };
    let admin_opts = ListenerOptions {
        tls: None,
        slots: slots("admin", connection_slots::ADMIN_MAX_CONNECTIONS),
        ..public_opts.clone()
    };
    let admin_handler = Arc::new(AdminHandler {
        policy: policy.clone(),
        metrics,
    });
    let servers = vec![
        tokio::spawn(listener::serve(
            public,
            edge,
            public_opts,
            shutdown_rx.clone(),
        )),
        tokio::spawn(listener::serve(
            admin,
            admin_handler,
            admin_opts,
            shutdown_rx,
        )),
    ];
    tracing::info!(%addr, %admin_addr, tls = cfg.tls.is_some(), "edge listening");
    let status_state = policy;
    Ok(RunningEdge {
        addr,
        admin_addr,
        shutdown_tx,
        reload_tx,
        status: Arc::new(move || status_state.status()),
        servers,
        _watcher: watcher,
        resources: Vec::new(),
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// SIGTERM or SIGINT starts a graceful shutdown.
fn spawn_shutdown_signals(tx: watch::Sender<bool>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = int.recv() => tracing::info!("SIGINT: draining"),
        }
        let _ = tx.send(true);
    });
    Ok(())
}
