//! Used by build scripts (`host/build.rs`, `tests/build.rs`) to build a wasm32-wasip2
//! component from a crate of this workspace during the ordinary cargo build, so no manual
//! step is ever needed.

use std::path::{Path, PathBuf};
use std::process::Command;

mod wasm_target;

pub use wasm_target::{WASM_TARGET, ensure_wasm_target};

/// The workspace root, from the calling build script's `CARGO_MANIFEST_DIR` (one level up).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

/// Asks cargo to rerun the calling build script when any of these workspace paths change.
pub fn rerun_if_changed(root: &Path, paths: &[&str]) {
    for p in paths {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
}

/// Builds `package` (a cdylib of this workspace) in release mode for wasm32-wasip2 and
/// returns the component's path. A wasm32-wasip2 cdylib is already a component; no extra
/// tool runs. On failure the calling build script fails with the reason.
pub fn build_component(root: &Path, package: &str) -> PathBuf {
    if let Err(e) = ensure_wasm_target(root) {
        let cause = std::error::Error::source(&e).map(|c| format!(" (cause: {c})"));
        fail(&format!("{e}{}", cause.unwrap_or_default()));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // One directory per checkout (not OUT_DIR) so debug and release builds share one wasm
    // build; not under CARGO_TARGET_DIR, which several checkouts may share. The outer
    // build holds the lock on its own target directory, so this must be a different one.
    let target_dir = root.join("target").join("wasm-plugins");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--target", WASM_TARGET, "-p", package])
        .arg("--target-dir")
        .arg(&target_dir);
    // Inherited CARGO_* variables describe the *outer* build (its target, features,
    // profile); left in place they would leak into the inner one. CARGO_HOME stays so the
    // inner build shares the registry cache; flags meant for the host target go.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        let drop = (k.starts_with("CARGO_") && k != "CARGO_HOME")
            || k == "RUSTFLAGS"
            || k == "RUSTC_WRAPPER"
            || k == "RUSTC_WORKSPACE_WRAPPER";
        if drop {
            cmd.env_remove(&key);
        }
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "building {package} for {WASM_TARGET} failed ({s}); the compiler's messages are above"
        )),
        Err(e) => fail(&format!("could not run cargo to build {package}: {e}")),
    }
    let wasm = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        fail(&format!("expected the component at {}", wasm.display()));
    }
    wasm
}

#[allow(clippy::panic)] // a build script reports failure by panicking
fn fail(msg: &str) -> ! {
    panic!("{msg}")
}
