//! The real edge under test, run as its own process (`edge serve`), exactly as a user runs it.
//!
//! Why a process and not `edge::server::start` in-process: signals (SIGHUP reload,
//! SIGTERM drain) must reach one edge without touching the test runner, RSS is measurable
//! per edge, a crash of the edge cannot take the test process down, and the CLI is covered.
//!
//! The policy is written to a file in a per-edge temp dir, so reload tests can rewrite it.
//! stdout/stderr are captured; when a test panics, the edge's log is printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::paths::plugin_cache_dir;
use crate::providers::MockProvider;
use crate::test_ca::TestCa;
use crate::{HarnessError, Result};

/// How long a starting edge may take to answer `/readyz` (first start compiles the plugin).
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Starts describing an `edge serve` of `binary`. Tests of the `edge` package pass
/// `env!("CARGO_BIN_EXE_edge")` (the binary cargo built for them), which only their crate can
/// expand; the benchmark passes the release build it found.
pub fn edge(binary: impl Into<PathBuf>) -> EdgeBuilder {
    EdgeBuilder {
        binary: binary.into(),
        policy: None,
        policy_copy_of: None,
        args: Vec::new(),
        env: Vec::new(),
        dir: None,
        no_admin: false,
        tls_client_ca: None,
        cache_dir: None,
    }
}

pub struct EdgeBuilder {
    binary: PathBuf,
    policy: Option<String>,
    policy_copy_of: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<tempfile::TempDir>,
    no_admin: bool,
    tls_client_ca: Option<Arc<TestCa>>,
    /// `--cache-dir` instead of the run's shared plugin cache.
    cache_dir: Option<PathBuf>,
}

impl EdgeBuilder {
    /// The policy text (written to `policy.yaml` in the edge's temp dir).
    pub fn policy(mut self, yaml: &str) -> Self {
        self.policy = Some(yaml.to_owned());
        self
    }
    /// A policy file from the repository (e.g. `policies/quickstart.yaml`), copied so the test
    /// may rewrite it.
    pub fn policy_file(mut self, path: impl AsRef<Path>) -> Self {
        self.policy_copy_of = Some(path.as_ref().to_path_buf());
        self
    }
    pub fn upstream(self, url: &str) -> Self {
        self.arg("--upstream").arg(url)
    }
    /// Maps the provider's `NAME.internal` to its loopback address.
    pub fn provider(self, p: &MockProvider) -> Self {
        let flag = p.internal_flag();
        self.arg("--internal").arg(&flag)
    }
    pub fn internal(self, mapping: &str) -> Self {
        self.arg("--internal").arg(mapping)
    }
    /// Trust `ca` for provider HTTPS (written to the temp dir, passed as `--provider-ca`).
    pub fn provider_ca(mut self, ca: &Arc<TestCa>) -> Self {
        match self
            .tempdir()
            .and_then(|d| ca.write_pem(d, "provider-ca.pem"))
        {
            Ok(p) => self.arg("--provider-ca").arg(&p.to_string_lossy()),
            Err(e) => {
                self.args.push(format!("--harness-error={e}"));
                self
            }
        }
    }
    /// Serve TLS on the public listener with a certificate from `ca`.
    pub fn tls(mut self, ca: &Arc<TestCa>) -> Self {
        let written = self.tempdir().and_then(|d| {
            ca.server_cert(&["edge.test"])
                .and_then(|c| c.write_pem(d, "edge"))
        });
        self.tls_client_ca = Some(ca.clone());
        match written {
            Ok((c, k)) => self
                .arg("--tls-cert")
                .arg(&c.to_string_lossy())
                .arg("--tls-key")
                .arg(&k.to_string_lossy()),
            Err(e) => {
                self.args.push(format!("--harness-error={e}"));
                self
            }
        }
    }
    pub fn demo(self) -> Self {
        self.arg("--demo")
    }
    pub fn plugin(self, wasm: &Path) -> Self {
        self.arg("--plugin").arg(&wasm.to_string_lossy())
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_owned());
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }
    /// Keep compiled plugins in `dir` instead of the run's shared cache (a fresh directory
    /// makes the edge compile the plugin at start).
    pub fn cache_dir(mut self, dir: &Path) -> Self {
        self.cache_dir = Some(dir.to_owned());
        self
    }
    /// Do not pass `--admin-listen` (tests of the default admin address).
    pub fn without_admin_flag(mut self) -> Self {
        self.no_admin = true;
        self
    }

    fn tempdir(&mut self) -> Result<&Path> {
        if self.dir.is_none() {
            self.dir = Some(tempfile::Builder::new().prefix("edge-test-").tempdir()?);
        }
        match &self.dir {
            Some(d) => Ok(d.path()),
            None => Err(HarnessError::Other("no temp dir".into())),
        }
    }

    /// Spawns `edge serve` and waits until its admin `/readyz` answers 200.
    pub async fn start(mut self) -> Result<Edge> {
        if let Some(bad) = self.args.iter().find(|a| a.starts_with("--harness-error=")) {
            return Err(HarnessError::Other(bad.clone()));
        }
        let dir_path = self.tempdir()?.to_path_buf();
        let policy_path = dir_path.join("policy.yaml");
        match (&self.policy, &self.policy_copy_of) {
            (Some(text), _) => std::fs::write(&policy_path, text)?,
            (None, Some(src)) => {
                std::fs::copy(src, &policy_path)?;
            }
            (None, None) => std::fs::write(&policy_path, "on_http_request: []\n")?,
        }
        let bin = self.binary.clone();
        let mut last_err = String::new();
        // Ports are picked by binding :0 and releasing; another process may grab one in
        // between, so a start that fails on "address in use" is retried with fresh ports.
        for _ in 0..3 {
            let addr = free_port()?;
            // Both ports come from binding :0 and releasing it, so the kernel may hand out
            // the same one twice; the edge (rightly) refuses an admin listener on its
            // public address.
            let mut admin_addr = free_port()?;
            while admin_addr == addr {
                admin_addr = free_port()?;
            }
            let mut cmd = Command::new(&bin);
            cmd.arg("serve")
                .arg("--policy")
                .arg(&policy_path)
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--cache-dir")
                .arg(self.cache_dir.clone().unwrap_or_else(plugin_cache_dir));
            if !self.no_admin {
                cmd.arg("--admin-listen").arg(admin_addr.to_string());
            }
            cmd.args(&self.args)
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .env(
                    "RUST_LOG",
                    std::env::var("EDGE_TEST_LOG").unwrap_or_else(|_| "info".into()),
                )
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let mut child = cmd.spawn()?;
            let logs = Arc::new(Mutex::new(String::new()));
            capture(&mut child, &logs);
            let mut edge = Edge {
                child,
                addr,
                admin_addr,
                policy_path: policy_path.clone(),
                dir: None,
                logs,
                tls_client_ca: self.tls_client_ca.clone(),
            };
            match edge.wait_ready().await {
                Ok(()) => {
                    edge.dir = self.dir.take();
                    return Ok(edge);
                }
                Err(e) => {
                    let logs = edge.logs();
                    let _ = edge.child.kill().await;
                    last_err = format!("{e}\n--- edge log ---\n{logs}");
                    if !logs.to_ascii_lowercase().contains("address already in use") {
                        break;
                    }
                }
            }
        }
        Err(HarnessError::EdgeStart(last_err))
    }
}

fn free_port() -> Result<SocketAddr> {
    crate::http_server::closed_port()
}

fn capture(child: &mut Child, logs: &Arc<Mutex<String>>) {
    if let Some(out) = child.stdout.take() {
        let logs = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if let Ok(mut s) = logs.lock() {
                    s.push_str(&l);
                    s.push('\n');
                }
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let logs = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if let Ok(mut s) = logs.lock() {
                    s.push_str(&l);
                    s.push('\n');
                }
            }
        });
    }
}

/// A running edge process.
pub struct Edge {
    child: Child,
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub policy_path: PathBuf,
    dir: Option<tempfile::TempDir>,
    logs: Arc<Mutex<String>>,
    tls_client_ca: Option<Arc<TestCa>>,
}

impl Edge {
    /// `http://ADDR/path` (or `https://` when the edge serves TLS).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls_client_ca.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.addr)
    }
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin_addr)
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
    /// Everything the edge printed so far.
    pub fn logs(&self) -> String {
        self.logs.lock().map(|s| s.clone()).unwrap_or_default()
    }
    /// The temp dir holding the policy (and certificates).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .use_preconfigured_tls(
                rustls::ClientConfig::builder_with_provider(crate::crypto_provider())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| HarnessError::Tls(e.to_string()))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
            .build()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self.admin_url("/readyz");
        // The ports were free when picked, but another test may have bound one since: probing
        // before this edge says it holds them could send `/readyz` to that test's server (a
        // mock provider then sees a request it never expected). With the default log level
        // the edge logs `edge listening` once both listeners are bound; a custom
        // `EDGE_TEST_LOG` may hide it, and then the probe alone decides.
        let announces = std::env::var_os("EDGE_TEST_LOG").is_none();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(HarnessError::EdgeStart(format!(
                    "edge exited early with {status}"
                )));
            }
            let listening = !announces || self.logs().contains("edge listening");
            if listening
                && let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(HarnessError::EdgeStart(format!(
                    "no 200 from {url} within {READY_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Replaces the policy file atomically (write a sibling, then rename over it), the way
    /// editors and config-management tools do.
    pub fn write_policy(&self, yaml: &str) -> Result<()> {
        let tmp = self.policy_path.with_extension("yaml.tmp");
        std::fs::write(&tmp, yaml)?;
        std::fs::rename(&tmp, &self.policy_path)?;
        Ok(())
    }

    /// Sends a signal by name (`HUP`, `TERM`, `INT`) with the system `kill` command.
    pub fn signal(&self, sig: &str) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| HarnessError::Other("edge already exited".into()))?;
        let st = std::process::Command::new("kill")
            .arg("-s")
            .arg(sig)
            .arg(pid.to_string())
            .status()?;
        if st.success() {
            Ok(())
        } else {
            Err(HarnessError::Other(format!("kill -s {sig} {pid} failed")))
        }
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.logs().contains(needle) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(HarnessError::Other(format!(
            "log never contained {needle:?}:\n{}",
            self.logs()
        )))
    }

    /// Waits for the process to exit on its own.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .map_err(|_| HarnessError::Other(format!("edge did not exit within {timeout:?}")))?
            .map_err(HarnessError::from)
    }

    /// SIGTERM, then wait for a clean exit (bounded).
    pub async fn stop(mut self) -> Result<std::process::ExitStatus> {
        self.signal("TERM")?;
        self.wait_exit(Duration::from_secs(15)).await
    }

    /// Resident set size of the edge process in KiB (`VmRSS` from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- edge log ({}) ---\n{}", self.addr, self.logs());
        }
        let _ = self.child.start_kill();
    }
}
