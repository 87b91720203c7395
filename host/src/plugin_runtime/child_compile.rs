//! Compiling the plugin in a short-lived child process. Compiling the 6.8 MB gateway plugin
//! takes cranelift well over 100 MiB, and the allocator keeps that memory in the process
//! afterwards: an edge whose first start compiled the plugin idled at ~175 MiB, against
//! ~40 MiB when it loaded a cached artifact. With [`Compiler::Child`] the edge runs itself
//! as `edge __precompile-plugin`, which builds the same engine, writes the artifact and
//! exits, taking that memory with it; the edge then maps the artifact like a cache hit.
//!
//! Runs from `cache::load_component` on a cache miss. Any failure of the child is logged
//! and the plugin is compiled in-process instead, so a start never fails because of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cache::write_atomically;
use super::config::RuntimeConfig;
use super::engine::build_engine;
use super::errors::SetupError;

/// Where the plugin is compiled when no cached artifact fits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Compiler {
    /// In this process (library users and tests, which cannot re-run themselves as `edge`).
    #[default]
    InProcess,
    /// In a child process running this `edge` executable's hidden `__precompile-plugin`
    /// command (`edge serve` and `edge check` set it to their own executable).
    Child(PathBuf),
}

/// The hidden subcommand's name.
pub const PRECOMPILE_COMMAND: &str = "__precompile-plugin";

/// Why the child did not produce an artifact.
#[derive(Debug, thiserror::Error)]
pub enum ChildCompileError {
    #[error("cannot write the plugin for the compiler process to {path}: {source}")]
    WriteInput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run the compiler process {exe}: {source}")]
    Spawn {
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the compiler process failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
}

/// Compiles `wasm` in a child process running `exe`, with the engine settings of `cfg`, into
/// `out`. `scratch` holds the wasm handed to the child for as long as it runs.
pub(crate) fn compile_in_child(
    exe: &Path,
    wasm: &[u8],
    cfg: &RuntimeConfig,
    scratch: &Path,
    out: &Path,
) -> Result<(), ChildCompileError> {
    let input = scratch.join(format!(".plugin-{}.wasm", std::process::id()));
    std::fs::create_dir_all(scratch)
        .and_then(|()| std::fs::write(&input, wasm))
        .map_err(|source| ChildCompileError::WriteInput {
            path: input.clone(),
            source,
        })?;
    let result = Command::new(exe)
        .arg(PRECOMPILE_COMMAND)
        .arg("--wasm")
        .arg(&input)
        .arg("--out")
        .arg(out)
        .arg("--memory-limit-bytes")
        .arg(cfg.memory_limit_bytes.to_string())
        .arg("--max-instances")
        .arg(cfg.max_instances.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let _ = std::fs::remove_file(&input);
    let output = result.map_err(|source| ChildCompileError::Spawn {
        exe: exe.to_owned(),
        source,
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ChildCompileError::Failed {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Why `edge __precompile-plugin` could not write an artifact.
#[derive(Debug, thiserror::Error)]
pub enum PrecompileError {
    #[error("cannot read the plugin {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("cannot write the artifact {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The child's side: builds the engine `cfg` describes (the settings that change the
/// artifact: the memory limit and the instance slots), compiles the component at `wasm`
/// and writes the artifact to `out` atomically. Called by the `edge` binary's hidden
/// command, then the process exits.
pub fn precompile_to_file(
    wasm: &Path,
    out: &Path,
    cfg: &RuntimeConfig,
) -> Result<(), PrecompileError> {
    let bytes = std::fs::read(wasm).map_err(|source| PrecompileError::Read {
        path: wasm.to_owned(),
        source,
    })?;
    let engine = build_engine(cfg)?;
    let artifact = engine
        .precompile_component(&bytes)
        .map_err(SetupError::Compile)?;
    let dir = out.parent().unwrap_or_else(|| Path::new("."));
    write_atomically(dir, out, &artifact).map_err(|source| PrecompileError::Write {
        path: out.to_owned(),
        source,
    })
}
