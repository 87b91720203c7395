//! Cache of precompiled plugin components, so a restart loads machine code in about a
//! millisecond instead of compiling the plugin again (over a second for a 2 MB component).
//!
//! An artifact is named `<engine hash>-<sha256 of the wasm>.cwasm`: the engine hash
//! (`Engine::precompile_compatibility_hash`) changes with the wasmtime version and every
//! compilation setting, so an artifact is only ever loaded by an engine that could have
//! produced it. Artifacts are written to a temporary file and renamed into place, so a
//! crash or a concurrent start never leaves a torn artifact under the final name.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::child_compile::{Compiler, compile_in_child};
use super::config::{ArtifactCache, RuntimeConfig};
use super::errors::{PluginError, SetupError};

/// How the component was obtained; lets tests and `/policy` see whether a start compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a precompiled artifact from this file; nothing was compiled.
    Hit(PathBuf),
    /// Compiled, and stored the artifact at this path for the next start.
    Stored(PathBuf),
    /// Compiled; the cache is off, or the artifact could not be written (logged).
    Compiled,
}

impl CacheOutcome {
    /// True when this start compiled the plugin.
    pub fn compiled(&self) -> bool {
        !matches!(self, CacheOutcome::Hit(_))
    }
}

/// The directory artifacts go to, if any.
pub(crate) fn cache_dir(setting: &ArtifactCache) -> Option<PathBuf> {
    match setting {
        ArtifactCache::Off => None,
        ArtifactCache::Dir(d) => Some(d.clone()),
        ArtifactCache::Default => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })
            .map(|base| base.join("edge")),
    }
}

/// Feeds `Hash` output into SHA-256, giving a hash that is stable across processes (std's
/// `DefaultHasher` makes no such promise).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0 // unused: the digest is read with `finalize`
    }
}

/// The file an artifact of `wasm` for `engine` is stored under.
pub(crate) fn artifact_name(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    let engine_hash = hex::encode(h.0.finalize());
    let wasm_hash = hex::encode(Sha256::digest(wasm));
    format!("{}-{}.cwasm", &engine_hash[..16], wasm_hash)
}

/// Loads the component for `wasm`: from the cache when a matching artifact exists,
/// otherwise by compiling it (and storing the artifact when the cache is on).
pub(crate) fn load_component(
    engine: &Engine,
    wasm: &[u8],
    cfg: &RuntimeConfig,
) -> Result<(Component, CacheOutcome), PluginError> {
    let Some(dir) = cache_dir(&cfg.cache) else {
        return Ok((compile_uncached(engine, wasm, cfg)?, CacheOutcome::Compiled));
    };
    let path = dir.join(artifact_name(engine, wasm));
    if path.is_file() {
        match deserialize(engine, &path) {
            Ok(c) => {
                mark_used(&path);
                return Ok((c, CacheOutcome::Hit(path)));
            }
            // Unreadable or from another build: compile and overwrite it below.
            Err(e) => {
                tracing::warn!(path = %path.display(), error = format!("{e:#}"), "ignoring unusable plugin artifact")
            }
        }
    }
    prune(&dir, std::time::SystemTime::now());
    let stored = match &cfg.compiler {
        Compiler::Child(exe) => match compile_in_child(exe, wasm, cfg, &dir, &path) {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "compiling the plugin in-process instead");
                compile_to(engine, wasm, &dir, &path)
            }
        },
        Compiler::InProcess => compile_to(engine, wasm, &dir, &path),
    };
    match stored.and_then(|()| {
        deserialize(engine, &path).map_err(|e| std::io::Error::other(format!("{e:#}")))
    }) {
        Ok(c) => Ok((c, CacheOutcome::Stored(path))),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot use the plugin artifact cache; compiling without it");
            Ok((compile(engine, wasm)?, CacheOutcome::Compiled))
        }
    }
}

/// Artifacts unused for this long are deleted when a new one is stored. Every plugin build
/// and wasmtime upgrade leaves a multi-megabyte artifact behind; a month keeps those of any
/// binary still in use (each start refreshes its own) without growing forever.
const PRUNE_AFTER: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Records that an artifact was just used, so pruning keeps it. Best effort.
fn mark_used(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Deletes `*.cwasm` artifacts (and stray temporary files) in `dir` older than
/// [`PRUNE_AFTER`]. Deleting a file another process has mapped is safe: the mapping keeps
/// the data until it is unmapped. Best effort; errors are ignored.
fn prune(dir: &Path, now: std::time::SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("cwasm") {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > PRUNE_AFTER);
        if old {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component, PluginError> {
    Ok(Component::new(engine, wasm).map_err(SetupError::Compile)?)
}

/// Compiles in this process and stores the artifact at `path`.
fn compile_to(engine: &Engine, wasm: &[u8], dir: &Path, path: &Path) -> std::io::Result<()> {
    let artifact = engine
        .precompile_component(wasm)
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    write_atomically(dir, path, &artifact)
}

/// With the cache off: compiled by the child into a temporary artifact that is mapped and
/// then deleted (the mapping keeps it), or in-process.
fn compile_uncached(
    engine: &Engine,
    wasm: &[u8],
    cfg: &RuntimeConfig,
) -> Result<Component, PluginError> {
    if let Compiler::Child(exe) = &cfg.compiler {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("edge-plugin-{}.cwasm", std::process::id()));
        let mapped = compile_in_child(exe, wasm, cfg, &dir, &path)
            .map_err(|e| e.to_string())
            .and_then(|()| deserialize(engine, &path).map_err(|e| format!("{e:#}")));
        let _ = std::fs::remove_file(&path);
        match mapped {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!(error = %e, "compiling the plugin in-process instead"),
        }
    }
    compile(engine, wasm)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` maps the file and runs its machine code without
    // re-validating it, so the file must be an artifact wasmtime produced and nobody may
    // change it while mapped. Both hold: the only writer is `load_component`, which writes
    // `Engine::precompile_component` output to a private temporary file and renames it into
    // place (a rename never modifies a mapped file), and wasmtime itself rejects artifacts
    // of another version or configuration by checking the header against this engine. The
    // cache directory must be writable only by the edge's user (it is under the user's own
    // cache home by default), because an attacker who can write it can run code as the edge.
    unsafe { Component::deserialize_file(engine, path) }
}

pub(crate) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".tmp-{}-{nanos}.cwasm", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn prune_deletes_only_old_artifacts() {
        let dir = std::env::temp_dir().join(format!("edge-cache-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["old.cwasm", "new.cwasm", "old.txt"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let long_ago = SystemTime::now() - PRUNE_AFTER - Duration::from_secs(60);
        for name in ["old.cwasm", "old.txt"] {
            let f = std::fs::File::options()
                .append(true)
                .open(dir.join(name))
                .unwrap();
            f.set_modified(long_ago).unwrap();
        }
        prune(&dir, SystemTime::now());
        assert!(!dir.join("old.cwasm").exists());
        assert!(dir.join("new.cwasm").exists());
        assert!(dir.join("old.txt").exists(), "only artifacts are touched");
        // Using an artifact keeps it.
        let f = std::fs::File::options()
            .append(true)
            .open(dir.join("new.cwasm"))
            .unwrap();
        f.set_modified(long_ago).unwrap();
        mark_used(&dir.join("new.cwasm"));
        prune(&dir, SystemTime::now());
        assert!(dir.join("new.cwasm").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn explicit_settings_name_the_directory() {
        assert_eq!(cache_dir(&ArtifactCache::Off), None);
        assert_eq!(
            cache_dir(&ArtifactCache::Dir("/x".into())),
            Some(PathBuf::from("/x"))
        );
    }
}
