//! The official OpenAI and Anthropic Python SDKs, unchanged, through the edge (`--demo` with
//! `policies/quickstart.yaml`): chat, streaming chat, embeddings, `/v1/models`, streaming
//! `/v1/messages`, and error bodies the SDKs must parse.
//!
//! The test creates a virtualenv next to the build output (`target/<profile>/sdk-venv`) and
//! installs the pinned SDKs from `tests/sdk/requirements.txt` with pip (PyPI access needed on
//! the first run; later runs reuse the venv). It fails, with the reason, when python3, venv
//! or pip is missing: an SDK check that silently skips would prove nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::edge;
use edge_test_support::paths::workspace_root;

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

/// Creates the venv and installs the pinned SDKs unless the venv already has exactly them.
fn ensure_venv() -> PathBuf {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_work_unchanged_through_the_edge() {
    let python = tokio::task::spawn_blocking(ensure_venv).await.unwrap();
    let e = edge()
        .policy_file(workspace_root().join("policies/quickstart.yaml"))
        .demo()
        .start()
        .await
        .unwrap();
    let script = workspace_root().join("tests/sdk/check_sdks.py");
    let base = format!("http://{}", e.addr);
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
    assert!(stdout.contains("all sdk checks passed"), "{stdout}");
}
