//! Everything `edge serve` can be told, as one value the library entry takes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::body_pace::BodyPace;
use crate::plugin_runtime::Compiler;
pub use crate::server::connection_slots::DEFAULT_MAX_CONNECTIONS;

/// Default cap on request bodies: 10 MiB is far above chat requests with long contexts
/// but small enough that a flood of them cannot exhaust memory on a small host.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// A client must send a complete request head within this time (and, on a new
/// connection, its first request), or the connection is closed. Also bounds idle
/// HTTP/1.1 keep-alive connections, so slow or silent clients cannot hold sockets.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// A client connection with no request in flight for this long is closed. Mostly for
/// HTTP/2, whose connections stay open between requests (HTTP/1.1 keep-alive connections
/// are closed sooner by the header read timeout); long enough that an SDK reusing its
/// connection between calls keeps it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long SIGTERM/SIGINT waits for in-flight requests before closing them.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// PEM files for the public listener's TLS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Log line format, chosen by `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Configuration of one running edge. [`ServeConfig::new`] listens on ephemeral loopback
/// ports (tests start many edges at once); the CLI fills in its documented defaults.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub policy_path: PathBuf,
    pub listen: SocketAddr,
    /// The admin listener; never the public one.
    pub admin_listen: SocketAddr,
    /// Where requests go that no rule answers (`upstream` decisions).
    pub upstream: Option<String>,
    pub tls: Option<TlsFiles>,
    /// A plugin component to use instead of the embedded one.
    pub plugin: Option<PathBuf>,
    /// Where precompiled plugin artifacts are kept.
    pub cache_dir: Option<PathBuf>,
    pub max_body_bytes: u64,
    /// How slowly a client may send a request body (`--body-idle-timeout`,
    /// `--min-body-rate`).
    pub body_pace: BodyPace,
    pub header_read_timeout: Duration,
    /// A client connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open client connections held at once; more are refused with a 503.
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    /// `NAME.internal` → address, for providers reached over `http://….internal`.
    pub internal_hosts: Vec<(String, SocketAddr)>,
    /// Start the built-in demo provider as `demo.internal`.
    pub demo: bool,
    /// Extra root CA (PEM) trusted for provider TLS.
    pub provider_ca: Option<PathBuf>,
    pub secrets_dir: Option<PathBuf>,
    pub secrets_file: Option<PathBuf>,
    /// Watch the policy file and reload on change (SIGHUP reloads regardless).
    pub watch_policy: bool,
    /// Install SIGTERM/SIGINT/SIGHUP handlers. The binary does; tests usually don't.
    pub handle_signals: bool,
    /// Where the plugin is compiled when no cached artifact fits: the binary uses a child
    /// process of itself; in-process for library users (a test cannot re-run itself as
    /// `edge`).
    pub plugin_compiler: Compiler,
}

impl ServeConfig {
    pub fn new(policy_path: impl Into<PathBuf>) -> Self {
        let loopback_any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            policy_path: policy_path.into(),
            listen: loopback_any,
            admin_listen: loopback_any,
            upstream: None,
            tls: None,
            plugin: None,
            cache_dir: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_pace: BodyPace::default(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            internal_hosts: Vec::new(),
            demo: false,
            provider_ca: None,
            secrets_dir: None,
            secrets_file: None,
            watch_policy: true,
            handle_signals: false,
            plugin_compiler: Compiler::InProcess,
        }
    }
}
