//! Locating the real `edge` binary for tests.
//!
//! Cargo builds binaries only for the package under test, and `edge-tests` depends on the
//! `edge` *library*, so `CARGO_BIN_EXE_edge` does not exist here. We ask cargo itself, once
//! per test process, with the very build the README's test command runs:
//! `cargo test --workspace --no-run --message-format=json`, same profile and target directory,
//! and take the `edge` binary's path from its JSON output. Asking for exactly that build (not
//! `cargo build -p edge`) matters: features are unified differently with dev-dependencies,
//! so a plain `cargo build` would recompile part of the graph (minutes on 2 cores) where this
//! is a no-op fingerprint check once `cargo test --workspace` has built everything. When the
//! suite itself is running, cargo has released its build lock, so the nested build does not
//! deadlock.
//!
//! `EDGE_BIN=/path/to/edge` skips the build (CI with a prebuilt binary, the benchmark).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::{HarnessError, Result};

static EDGE_BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();

/// Path of the `edge` binary, built on first use.
pub fn edge_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("EDGE_BIN") {
        return Ok(PathBuf::from(p));
    }
    EDGE_BIN
        .get_or_init(build)
        .clone()
        .map_err(HarnessError::Build)
}

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

fn build() -> std::result::Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root()).args([
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    // Cargo sets CARGO_PKG_*, CARGO_MANIFEST_DIR, CARGO_CRATE_NAME... for this test process;
    // inherited by the nested cargo, they reach build scripts that watch environment
    // variables and make it rebuild part of the graph (and the next outer run rebuild it
    // back). Only the variables that select the build stay.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR" {
            cmd.env_remove(&key);
        }
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo test --workspace --no-run failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "edge")
        // The binary itself, not the unit-test harness built from main.rs.
        .filter(|v| v["profile"]["test"] == false && v["target"]["kind"][0] == "bin")
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| "cargo printed no executable for the edge binary".to_owned())
}

/// The plugin component of the hostile fixture (infinite loop, memory hog, panic), built by
/// `tests/build.rs`. None when the build script did not provide it.
pub fn hostile_plugin() -> Option<PathBuf> {
    option_env!("HOSTILE_PLUGIN_WASM").map(PathBuf::from)
}

/// Where test edges keep their precompiled-plugin cache: shared by every test of a run so the
/// component is compiled once, next to the build output so `cargo clean` removes it.
pub fn plugin_cache_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .and_then(Path::parent)
                .map(|d| d.join("edge-test-plugin-cache"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("edge-test-plugin-cache"))
}
