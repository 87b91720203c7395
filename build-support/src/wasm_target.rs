//! Making sure the `wasm32-wasip2` standard library is installed before the plugin build.
//!
//! Runs from `build_component`, i.e. inside a build script, before the nested cargo starts.
//! `rust-toolchain.toml` names the target, but rustup adds a toolchain file's targets only when
//! it installs that toolchain: on a machine where Rust 1.95 was already there (the usual case)
//! the target is missing and the nested build would fail with "can't find crate for `core`"
//! after the rest of the workspace has compiled for many minutes. So we ask rustc where the
//! target's libraries live, and when `libcore` is not there we run `rustup target add` once
//! (under a lock, since two build scripts — the host's and the tests' — may get here at the same
//! time). Without rustup the build stops at once with the one command that fixes it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every component of this workspace is built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Why the target could not be made available; each message names the command that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// rustup ran and did not install the target.
    #[error(
        "`rustup target add {WASM_TARGET}` failed ({0}); the gateway plugin is built for \
         {WASM_TARGET}: run `rustup target add {WASM_TARGET}` for this toolchain and build again"
    )]
    RustupFailed(std::process::ExitStatus),
    /// The target is missing and rustup is not on PATH (a distro or offline toolchain).
    #[error(
        "the {WASM_TARGET} standard library is not installed and rustup could not be run; \
         install the target for this toolchain (with rustup: `rustup target add {WASM_TARGET}`) \
         and build again"
    )]
    NoRustup(#[source] std::io::Error),
}

/// Ensures the wasm32-wasip2 standard library exists for the toolchain that builds `root`,
/// installing it with rustup when it is missing and rustup is available.
pub fn ensure_wasm_target(root: &Path) -> Result<(), TargetError> {
    if target_installed(root) {
        return Ok(());
    }
    // Serialise concurrent build scripts: the second one waits, then finds the target there.
    let lock_dir = root.join("target");
    let _ = std::fs::create_dir_all(&lock_dir);
    let lock = File::create(lock_dir.join(".wasm-target.lock")).ok();
    if let Some(f) = &lock {
        let _ = f.lock();
    }
    if target_installed(root) {
        return Ok(());
    }
    let fix = format!("rustup target add {WASM_TARGET}");
    println!("cargo:warning=the {WASM_TARGET} target is not installed; running `{fix}`");
    let status = Command::new("rustup")
        .current_dir(root)
        .args(["target", "add", WASM_TARGET])
        .status();
    match status {
        Ok(s) if s.success() && target_installed(root) => Ok(()),
        Ok(s) => Err(TargetError::RustupFailed(s)),
        Err(e) => Err(TargetError::NoRustup(e)),
    }
}

/// True when rustc's library directory for the target holds a `libcore` rlib.
fn target_installed(root: &Path) -> bool {
    target_libdir(root).is_some_and(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libcore-") && name.ends_with(".rlib")
            })
        })
    })
}

/// `rustc --print target-libdir --target wasm32-wasip2`, asked of the compiler the nested cargo
/// will use: cargo hands build scripts its `RUSTC`, and the nested build inherits it. Run in `root`
/// so a bare `rustc` (the rustup proxy) picks the toolchain of `rust-toolchain.toml`, or the
/// `RUSTUP_TOOLCHAIN` rustup set for this build, as `rustup target add` below does too.
fn target_libdir(root: &Path) -> Option<PathBuf> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .current_dir(root)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}
