//! Where the tests' files are: the workspace, the hostile plugin fixture, the shared plugin cache.
//!
//! The edge binary itself is not found here: tests of the `edge` package get it from cargo as
//! `env!("CARGO_BIN_EXE_edge")` (see [`crate::edge`]); the benchmark finds or builds its own.

use std::path::{Path, PathBuf};

/// The workspace root (parent of this crate), for policies and scripts the tests read.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// The plugin component of the hostile fixture (`tests/fixtures/hostile-plugin`: infinite
/// loop, memory hog, panic on request). Built once, by this crate's build script, for every
/// test that loads it.
pub fn hostile_plugin() -> PathBuf {
    PathBuf::from(env!("HOSTILE_PLUGIN_WASM"))
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
