//! Builds the gateway plugin (`plugin/`) for `wasm32-wasip2` as part of the ordinary host
//! build, so `cargo build`/`run`/`test` never need a manual step. The component is
//! embedded with `include_bytes!` through the `GATEWAY_PLUGIN_WASM` env var.
//!
//! Runs whenever `plugin/` or `wit/` change. The inner cargo uses its own target
//! directory because the outer build holds the lock on this profile's directory.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| manifest_dir.clone());
    println!("cargo:rerun-if-changed={}", root.join("plugin").display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    let wasm = build_wasm_crate(&root, "gateway-plugin", &root.join("plugin/Cargo.toml"));
    println!("cargo:rustc-env=GATEWAY_PLUGIN_WASM={}", wasm.display());
}

/// Builds one wasm32-wasip2 cdylib crate of this workspace and returns the component's path.
/// Shared with `tests/build.rs`, which builds the hostile fixtures the same way.
fn build_wasm_crate(root: &Path, package: &str, manifest: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // One directory per checkout (not OUT_DIR) so debug and release builds of the host
    // share one plugin build; not under CARGO_TARGET_DIR, which checkouts may share.
    let target_dir = root.join("target").join("wasm-plugins");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", package])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    // Inherited CARGO_* variables describe the *outer* build (its target, features,
    // profile); left in place they would leak into the inner one. Keep CARGO_HOME so the
    // inner build shares the registry cache, and drop flags meant for the host target.
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        let drop = (key_str.starts_with("CARGO_") && key_str != "CARGO_HOME")
            || key_str == "RUSTFLAGS"
            || key_str == "RUSTC_WRAPPER"
            || key_str == "RUSTC_WORKSPACE_WRAPPER"
            || key_str == "CARGO_ENCODED_RUSTFLAGS";
        if drop {
            cmd.env_remove(&key);
        }
    }
    let status = cmd.status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("building {package} for wasm32-wasip2 failed ({s}); is the target installed? `rustup target add wasm32-wasip2`")),
        Err(e) => fail(&format!("could not run cargo to build {package}: {e}")),
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    let wasm = target_dir.join("wasm32-wasip2").join("release").join(file);
    if !wasm.exists() {
        fail(&format!("expected the component at {}", wasm.display()));
    }
    wasm
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

#[allow(clippy::panic)]
fn fail(msg: &str) -> ! {
    panic!("{msg}")
}
