//! The official OpenAI and Anthropic Python SDKs, unchanged, through the edge (`--demo` with
//! `policies/quickstart.yaml`): chat, streaming chat, embeddings, `/v1/models`, streaming
//! `/v1/messages`, and error bodies the SDKs must parse; and streams that break after the
//! commit (inside an event, or a clean end without the closing event), which both SDKs must
//! raise as their API error, not as a JSON decode error; and the statuses the edge answers when
//! every attempt was refused the key (401) or rate limited (429), which the SDKs must raise as
//! their `AuthenticationError` and `RateLimitError`.
//!
//! The test creates a virtualenv next to the build output (`target/<profile>/sdk-venv`) and
//! installs the pinned SDKs from `tests/sdk/requirements.txt` with pip (PyPI access needed on
//! the first run; later runs reuse the venv). It fails, with the reason, when python3, venv
//! or pip is missing: an SDK check that silently skips would prove nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy};
use edge_test_support::paths::workspace_root;
use edge_test_support::provider;

fn venv_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .and_then(Path::parent)
                .map(|d| d.join("sdk-venv"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("edge-sdk-venv"))
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// The venv's python, made once per test process: the SDK tests run in parallel, and two of
/// them creating the same venv at once break each other.
fn ensure_venv() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

/// Creates the venv and installs the pinned SDKs unless the venv already has exactly them.
fn make_venv() -> PathBuf {
    let dir = venv_dir();
    let python = dir.join("bin").join("python");
    let reqs = workspace_root().join("tests/sdk/requirements.txt");
    let wanted = std::fs::read_to_string(&reqs).unwrap();
    let marker = dir.join("installed-requirements.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) && python.exists()
    {
        return python;
    }
    run(
        Command::new("python3").arg("--version"),
        "python3 is required for the SDK test",
    );
    if !python.exists() {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&dir),
            "creating the virtualenv (on Debian/Ubuntu: apt-get install python3-venv)",
        );
    }
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&reqs),
        "pip install of the pinned SDKs",
    );
    std::fs::write(&marker, wanted).unwrap();
    python
}

/// Runs `tests/sdk/<script>` with the venv's python against the edge at `addr`, and asserts
/// it succeeded and printed `done` (its last line when every check passed).
async fn run_sdk_script(addr: std::net::SocketAddr, script: &str, done: &'static str) {
    let python = tokio::task::spawn_blocking(ensure_venv).await.unwrap();
    let script = workspace_root().join("tests/sdk").join(script);
    let base = format!("http://{addr}");
    let out =
        tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(base).output())
            .await
            .unwrap()
            .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(done), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_work_unchanged_through_the_edge() {
    let e = edge()
        .policy_file(workspace_root().join("policies/quickstart.yaml"))
        .demo()
        .start()
        .await
        .unwrap();
    run_sdk_script(e.addr, "check_sdks.py", "all sdk checks passed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_raise_an_api_error_for_a_broken_stream() {
    let cut = provider("cut").cut_inside_event(2).start().await.unwrap();
    let acut = provider("acut").cut_inside_event(3).start().await.unwrap();
    let open = provider("open").no_closing_event().start().await.unwrap();
    let aopen = provider("aopen").no_closing_event().start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&cut))
        .provider(ProviderCfg::of(&acut).formats(&["anthropic"]))
        .provider(ProviderCfg::of(&open))
        .provider(ProviderCfg::of(&aopen).formats(&["anthropic"]))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&cut)
        .provider(&acut)
        .provider(&open)
        .provider(&aopen)
        .start()
        .await
        .unwrap();
    run_sdk_script(
        e.addr,
        "check_broken_streams.py",
        "all broken-stream checks passed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_raise_their_auth_and_rate_limit_errors() {
    let deny = provider("deny").status(401).start().await.unwrap();
    let adeny = provider("adeny").status(401).start().await.unwrap();
    let busy = provider("busy")
        .status(429)
        .retry_after(17)
        .start()
        .await
        .unwrap();
    let abusy = provider("abusy")
        .status(429)
        .retry_after(17)
        .start()
        .await
        .unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&deny).keys(&["sk-gateway-deny-1", "sk-gateway-deny-2"]))
        .provider(ProviderCfg::of(&adeny).formats(&["anthropic"]))
        .provider(ProviderCfg::of(&busy).keys(&["sk-gateway-busy-1"]))
        .provider(ProviderCfg::of(&abusy).formats(&["anthropic"]))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&deny)
        .provider(&adeny)
        .provider(&busy)
        .provider(&abusy)
        .start()
        .await
        .unwrap();
    run_sdk_script(
        e.addr,
        "check_failure_statuses.py",
        "all failure-status checks passed",
    )
    .await;
    // Two keys refused: both tried once, never a third call.
    assert_eq!(deny.hits(), 2);
}
