//! The currently loaded policy, swapped atomically on reload, and what `/policy` reports
//! about it.
//!
//! Requests take an `Arc` of the policy when they start and keep it until they finish, so a
//! reload never changes the rules under a request in flight; the old policy is freed when
//! its last request ends.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::{ArcSwap, ArcSwapOption};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One problem found in a policy, in a form that can be logged and served as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiagnosticView {
    /// "error" or "warning".
    pub severity: &'static str,
    pub message: String,
    /// 1-based; 0 when the problem has no position.
    pub line: u32,
    pub column: u32,
    /// Path in the document, e.g. `on_http_request[0].actions[1].type`.
    pub path: String,
}

impl DiagnosticView {
    /// `file:line:col: severity: message`, the format of `edge check` and the reload log.
    pub fn render(&self, file: &str) -> String {
        if self.line == 0 {
            format!("{file}: {}: {}", self.severity, self.message)
        } else {
            format!(
                "{file}:{}:{}: {}: {}",
                self.line, self.column, self.severity, self.message
            )
        }
    }
}

/// Why the latest load attempt failed.
#[derive(Clone, Debug, Serialize)]
pub struct LoadFailure {
    /// Unix milliseconds of the failed attempt.
    pub at_ms: u64,
    /// sha256 of the rejected text, when the file could be read.
    pub hash: Option<String>,
    pub message: String,
    pub diagnostics: Vec<DiagnosticView>,
}

/// What `/policy` reports. Never holds secret values: only hashes, times and diagnostics.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PolicyStatus {
    pub file: PathBuf,
    /// sha256 (hex) of the policy text being served; None before the first good load.
    pub hash: Option<String>,
    /// When the served policy was loaded, RFC 3339 (UTC).
    pub loaded_at: Option<String>,
    /// The same instant in Unix milliseconds.
    pub loaded_at_ms: Option<u64>,
    pub warnings: Vec<DiagnosticView>,
    /// Successful loads since start, the first included.
    pub generation: u64,
    pub last_error: Option<LoadFailure>,
}

/// Holds the served policy (any loaded value `P`) and its status.
pub struct PolicyState<P> {
    current: ArcSwapOption<P>,
    status: ArcSwap<PolicyStatus>,
}

impl<P> PolicyState<P> {
    /// Empty state for `file`; `/readyz` fails until the first [`PolicyState::install`].
    pub fn new(file: PathBuf) -> Self {
        Self {
            current: ArcSwapOption::const_empty(),
            status: ArcSwap::from_pointee(PolicyStatus {
                file,
                ..PolicyStatus::default()
            }),
        }
    }

    /// The policy a new request should use. Cheap: one atomic load and an `Arc` clone.
    pub fn current(&self) -> Option<Arc<P>> {
        self.current.load_full()
    }

    pub fn is_loaded(&self) -> bool {
        self.current.load().is_some()
    }

    pub fn status(&self) -> Arc<PolicyStatus> {
        self.status.load_full()
    }

    /// Called after a successful load: serve `policy` from now on and clear the last error.
    pub fn install(&self, policy: P, hash: String, warnings: Vec<DiagnosticView>) {
        self.current.store(Some(Arc::new(policy)));
        let now = SystemTime::now();
        let old = self.status.load();
        self.status.store(Arc::new(PolicyStatus {
            file: old.file.clone(),
            hash: Some(hash),
            loaded_at: Some(humantime::format_rfc3339_millis(now).to_string()),
            loaded_at_ms: Some(unix_ms(now)),
            warnings,
            generation: old.generation + 1,
            last_error: None,
        }));
    }

    /// Called after a failed load: keep serving the previous policy, remember why.
    pub fn record_failure(&self, failure: LoadFailure) {
        let old = self.status.load();
        let mut next = PolicyStatus::clone(&old);
        next.last_error = Some(failure);
        self.status.store(Arc::new(next));
    }
}

/// sha256 of a policy text, hex-encoded; identifies a version in `/policy` and the log.
pub fn policy_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_keeps_previous_policy_and_in_flight_arc_survives_swap() {
        let state = PolicyState::<String>::new("p.yaml".into());
        assert!(!state.is_loaded());
        state.install("v1".into(), policy_hash("v1"), vec![]);
        let held = state.current().unwrap();
        state.record_failure(LoadFailure {
            at_ms: 1,
            hash: Some(policy_hash("bad")),
            message: "invalid".into(),
            diagnostics: vec![],
        });
        assert_eq!(*state.current().unwrap(), "v1");
        let status = state.status();
        assert_eq!(status.hash.as_deref(), Some(policy_hash("v1").as_str()));
        assert!(status.last_error.is_some());
        state.install("v2".into(), policy_hash("v2"), vec![]);
        assert_eq!(*held, "v1");
        assert_eq!(*state.current().unwrap(), "v2");
        assert!(state.status().last_error.is_none());
        assert_eq!(state.status().generation, 2);
    }

    #[test]
    fn renders_diagnostics_with_and_without_position() {
        let d = DiagnosticView {
            severity: "error",
            message: "unknown action type `denyy`".into(),
            line: 4,
            column: 13,
            path: "on_http_request[0].actions[0].type".into(),
        };
        assert_eq!(
            d.render("p.yaml"),
            "p.yaml:4:13: error: unknown action type `denyy`"
        );
        let d = DiagnosticView {
            line: 0,
            column: 0,
            ..d
        };
        assert_eq!(
            d.render("p.yaml"),
            "p.yaml: error: unknown action type `denyy`"
        );
    }
}
