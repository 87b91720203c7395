//! Command-line interface: `edge serve`, `edge check`, `edge --version`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::body_pace::{BodyPace, DEFAULT_MIN_BODY_RATE};
use crate::server::config::{DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS};
use crate::server::{LogFormat, ServeConfig, TlsFiles};

#[derive(Debug, Parser)]
#[command(
    name = "edge",
    version,
    about = "A self-hosted AI gateway: traffic policies with CEL, run by a Wasm plugin"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve traffic with a policy.
    Serve(ServeArgs),
    /// Validate policy files; prints every diagnostic as file:line:col: severity: message.
    /// Exits 0 only when every file is valid.
    Check(CheckArgs),
    /// Internal: compile the plugin into an artifact and exit. `edge serve` runs itself with
    /// this on a cache miss, so the compiler's memory leaves with the child process.
    #[command(name = "__precompile-plugin", hide = true)]
    Precompile(PrecompileArgs),
}

/// Arguments of the hidden `__precompile-plugin` command (`plugin_runtime/child_compile.rs`).
#[derive(Debug, Args)]
pub struct PrecompileArgs {
    #[arg(long)]
    pub wasm: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// The engine settings that change the artifact; the parent passes its own.
    #[arg(long)]
    pub memory_limit_bytes: usize,
    #[arg(long)]
    pub max_instances: u32,
}

impl PrecompileArgs {
    /// The runtime configuration whose engine the artifact must fit.
    pub fn runtime_config(&self) -> crate::plugin_runtime::RuntimeConfig {
        crate::plugin_runtime::RuntimeConfig {
            memory_limit_bytes: self.memory_limit_bytes,
            max_instances: self.max_instances,
            ..crate::plugin_runtime::RuntimeConfig::default()
        }
    }
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum LogFormatArg {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The traffic policy (YAML). Reloaded when it changes and on SIGHUP.
    #[arg(long, env = "EDGE_POLICY")]
    pub policy: PathBuf,
    /// Public listener (HTTP/1.1 and HTTP/2; HTTPS with --tls-cert/--tls-key).
    #[arg(long, default_value = "127.0.0.1:8080", env = "EDGE_LISTEN")]
    pub listen: SocketAddr,
    /// Admin listener: /healthz /readyz /metrics /policy. Never the public port.
    #[arg(long, default_value = "127.0.0.1:9090", env = "EDGE_ADMIN_LISTEN")]
    pub admin_listen: SocketAddr,
    /// Where requests go that no rule answers, e.g. http://127.0.0.1:3000.
    #[arg(long, env = "EDGE_UPSTREAM")]
    pub upstream: Option<String>,
    /// PEM certificate chain for HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (with --tls-cert).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A plugin component (.wasm) to use instead of the embedded one.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Directory for precompiled plugin artifacts (default: $XDG_CACHE_HOME/edge).
    #[arg(long, env = "EDGE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: u64,
    /// Time a client has to send a request head, e.g. "15s".
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body before 408, e.g. "10s".
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub body_idle_timeout: Duration,
    /// Slowest average request-body rate in bytes/s, checked after the first 5 s (0 = off).
    #[arg(long, default_value_t = DEFAULT_MIN_BODY_RATE)]
    pub min_body_rate: u64,
    /// Close a client connection with no request in flight for this long, e.g. "60s".
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub idle_timeout: Duration,
    /// Open client connections held at once; more are refused with a 503.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests, e.g. "10s".
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub shutdown_grace: Duration,
    /// Map NAME.internal to an address for http://NAME.internal providers (repeatable).
    #[arg(long = "internal", value_name = "NAME.internal=HOST:PORT", value_parser = parse_internal)]
    pub internal: Vec<(String, SocketAddr)>,
    /// Start the built-in demo provider as demo.internal.
    #[arg(long)]
    pub demo: bool,
    /// Extra root CA (PEM) trusted for provider TLS.
    #[arg(long)]
    pub provider_ca: Option<PathBuf>,
    /// Secrets as files DIR/<vault>/<name>.
    #[arg(long, env = "EDGE_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Secrets as a YAML or JSON map vault -> name -> value.
    #[arg(long, env = "EDGE_SECRETS_FILE")]
    pub secrets_file: Option<PathBuf>,
    /// Do not watch the policy file (SIGHUP still reloads).
    #[arg(long)]
    pub no_watch: bool,
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text, env = "EDGE_LOG_FORMAT")]
    pub log_format: LogFormatArg,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy files to validate.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// A plugin component (.wasm) to validate with instead of the embedded one.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    #[arg(long, env = "EDGE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The `--internal` mappings `serve` will run with: plain-http providers whose host is
    /// not among them (or `demo.internal` with --demo) get a warning.
    #[arg(long = "internal", value_name = "NAME.internal=HOST:PORT", value_parser = parse_internal)]
    pub internal: Vec<(String, SocketAddr)>,
    /// `serve` will run with --demo (registers demo.internal).
    #[arg(long)]
    pub demo: bool,
}

impl CheckArgs {
    /// The `.internal` table `serve` would build from the same flags.
    pub fn internal_hosts(&self) -> crate::gateway::InternalHosts {
        let hosts = crate::gateway::InternalHosts::new(&self.internal);
        if self.demo {
            // The demo's port is chosen at start; only the name matters here.
            hosts.add(
                crate::demo::DEMO_HOST,
                SocketAddr::from(([127, 0, 0, 1], 0)),
            );
        }
        hosts
    }
}

impl ServeArgs {
    pub fn log_format(&self) -> LogFormat {
        match self.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }

    /// The library configuration this command line describes; signals are handled.
    pub fn to_config(&self) -> ServeConfig {
        let mut cfg = ServeConfig::new(self.policy.clone());
        cfg.listen = self.listen;
        cfg.admin_listen = self.admin_listen;
        cfg.upstream.clone_from(&self.upstream);
        cfg.tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        cfg.plugin.clone_from(&self.plugin);
        cfg.cache_dir.clone_from(&self.cache_dir);
        cfg.max_body_bytes = self.max_body_bytes;
        cfg.header_read_timeout = self.header_read_timeout;
        cfg.body_pace = BodyPace {
            idle_timeout: self.body_idle_timeout,
            min_rate: self.min_body_rate,
            ..BodyPace::default()
        };
        cfg.shutdown_grace = self.shutdown_grace;
        cfg.idle_timeout = self.idle_timeout;
        cfg.max_connections = self.max_connections;
        cfg.internal_hosts.clone_from(&self.internal);
        cfg.demo = self.demo;
        cfg.provider_ca.clone_from(&self.provider_ca);
        cfg.secrets_dir.clone_from(&self.secrets_dir);
        cfg.secrets_file.clone_from(&self.secrets_file);
        cfg.watch_policy = !self.no_watch;
        cfg.handle_signals = true;
        // Compile the plugin on a cache miss in a child `edge`, so its memory goes with it.
        if let Ok(exe) = std::env::current_exe() {
            cfg.plugin_compiler = crate::plugin_runtime::Compiler::Child(exe);
        }
        cfg
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 500ms, 15s, 2m)"))
}

/// `NAME.internal=HOST:PORT`; the host part is resolved once, at start-up.
fn parse_internal(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, target) = s
        .split_once('=')
        .ok_or("expected NAME.internal=HOST:PORT")?;
    let name = name.trim().to_ascii_lowercase();
    if !name.ends_with(".internal") || name.len() <= ".internal".len() {
        return Err(format!("{name:?} must end in .internal"));
    }
    let addr = target
        .trim()
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{target:?} resolves to no address"))?;
    Ok((name, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_defaults_and_flags() {
        let cli = Cli::try_parse_from([
            "edge",
            "serve",
            "--policy",
            "p.yaml",
            "--internal",
            "demo.internal=127.0.0.1:7000",
            "--header-read-timeout",
            "2s",
            "--log-format",
            "json",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        let cfg = args.to_config();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.admin_listen.to_string(), "127.0.0.1:9090");
        assert_eq!(cfg.header_read_timeout, Duration::from_secs(2));
        // The flag defaults are spelled out for clap; they must match the library's.
        assert_eq!(
            cfg.shutdown_grace,
            crate::server::config::DEFAULT_SHUTDOWN_GRACE
        );
        let cli = Cli::try_parse_from(["edge", "serve", "--policy", "p.yaml"]).unwrap();
        let Command::Serve(defaults) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(
            defaults.header_read_timeout,
            crate::server::config::DEFAULT_HEADER_READ_TIMEOUT
        );
        let from_flags = defaults.to_config();
        let library = ServeConfig::new("p.yaml");
        assert_eq!(from_flags.body_pace, library.body_pace);
        assert_eq!(from_flags.idle_timeout, library.idle_timeout);
        assert_eq!(from_flags.max_connections, library.max_connections);
        assert_eq!(cfg.internal_hosts[0].0, "demo.internal");
        assert_eq!(args.log_format(), LogFormat::Json);
        assert!(cfg.handle_signals);
    }

    #[test]
    fn rejects_bad_internal_and_half_tls() {
        assert!(
            Cli::try_parse_from([
                "edge",
                "serve",
                "--policy",
                "p",
                "--internal",
                "demo=127.0.0.1:1"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from(["edge", "serve", "--policy", "p", "--tls-cert", "c.pem"]).is_err()
        );
        assert!(Cli::try_parse_from(["edge", "check"]).is_err());
    }
}
