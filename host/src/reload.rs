//! Hot reload triggers: a debounced watch of the policy file's directory, and SIGHUP.
//!
//! The directory is watched rather than the file because editors and Kubernetes ConfigMaps
//! replace files by rename or symlink swap, which a watch on the file itself would lose.
//! Triggers only say "look again"; the reload task reads the file, skips it when its hash
//! is unchanged (directory noise, editors touching files) and otherwise loads it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// Events closer together than this become one reload: editors write a file in several
/// steps (truncate, write, rename) within a few milliseconds.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Why a reload was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadReason {
    /// Something changed in the policy file's directory.
    FileChanged,
    /// SIGHUP.
    Signal,
    /// A caller of [`crate::server::RunningEdge::reload`].
    Requested,
}

impl ReloadReason {
    /// A forced reload loads the file even when its content is unchanged.
    pub fn is_forced(self) -> bool {
        !matches!(self, Self::FileChanged)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FileChanged => "file_changed",
            Self::Signal => "sighup",
            Self::Requested => "requested",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {dir}: {source}")]
    Watch { dir: PathBuf, source: notify::Error },
}

/// Keeps the directory watch alive; dropping it stops watching.
pub struct PolicyWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

/// Watches the directory that holds `policy_file` and sends [`ReloadReason::FileChanged`]
/// after each debounced burst of changes that mentions the file (or a `..data`-style
/// symlink swap in the directory).
pub fn watch_policy_file(
    policy_file: &Path,
    tx: mpsc::UnboundedSender<ReloadReason>,
) -> Result<PolicyWatcher, WatchError> {
    let dir = match policy_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = policy_file.file_name().map(|n| n.to_owned());
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let relevant = events.iter().any(|ev| {
                !ev.kind.is_access()
                    && ev.paths.iter().any(|p| {
                        let name = p.file_name();
                        name == file_name.as_deref()
                            || name.is_some_and(|n| n.to_string_lossy().starts_with(".."))
                    })
            });
            if relevant {
                let _ = tx.send(ReloadReason::FileChanged);
            }
        }
        Err(errors) => {
            for err in errors {
                tracing::warn!(error = %err, "policy file watch error");
            }
        }
    };
    let mut debouncer =
        new_debouncer(DEBOUNCE, None, handler).map_err(|source| WatchError::Watch {
            dir: dir.clone(),
            source,
        })?;
    debouncer
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError::Watch { dir, source })?;
    Ok(PolicyWatcher {
        _debouncer: debouncer,
    })
}

/// Sends [`ReloadReason::Signal`] on every SIGHUP until the receiver is gone.
pub fn spawn_sighup_listener(
    tx: mpsc::UnboundedSender<ReloadReason>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            if tx.send(ReloadReason::Signal).is_err() {
                break;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rename_into_place_triggers_one_debounced_reload() {
        let dir = std::env::temp_dir().join(format!("edge-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("policy.yaml");
        std::fs::write(&file, "a: 1\n").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch_policy_file(&file, tx).unwrap();
        // Editor style: write a temp file, rename it over the policy.
        let tmp = dir.join("policy.yaml.tmp");
        std::fs::write(&tmp, "a: 2\n").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap();
        assert_eq!(got, Some(ReloadReason::FileChanged));
        // An unrelated file in the same directory does not trigger.
        tokio::time::sleep(Duration::from_millis(400)).await;
        while rx.try_recv().is_ok() {}
        std::fs::write(dir.join("other.txt"), "x").unwrap();
        let none = tokio::time::timeout(Duration::from_millis(800), rx.recv()).await;
        assert!(none.is_err(), "unexpected trigger: {none:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
