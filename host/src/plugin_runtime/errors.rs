//! What can go wrong inside the plugin runtime, in terms the server can answer with.
//!
//! Every variant maps to HTTP 500 and a stable machine-readable code that goes into the
//! JSON error body and the metrics, so operators can tell a plugin bug (trap) from a
//! runaway policy (deadline) or a memory blow-up without reading logs. None of them is worth
//! retrying: the same request would hit the same plugin code again.

use super::bindings::types;

/// A plugin call (or the plugin itself) failed. The request that hit it gets a 500; the
/// instance involved is discarded and every other request keeps being served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The guest trapped: a panic, `unreachable`, an out-of-bounds access, stack overflow.
    /// `message` names the trap and, for a panic, the guest's panic message.
    #[error("the policy plugin failed: {message}")]
    Trap { message: String },
    /// The call ran past its epoch deadline and was interrupted.
    #[error("the policy plugin ran past its time limit")]
    DeadlineExceeded,
    /// The guest asked for more memory than an instance may have and then failed.
    #[error("the policy plugin ran out of memory")]
    MemoryExhausted,
    /// The plugin could not be compiled, linked or instantiated, or a fresh instance could
    /// not load the policy that loaded before.
    #[error("the policy plugin could not be loaded: {0}")]
    Load(String),
}

impl PluginError {
    /// The status the client gets.
    pub fn status(&self) -> u16 {
        500
    }

    /// Stable error code for error bodies, logs and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            PluginError::Trap { .. } => "plugin_trap",
            PluginError::DeadlineExceeded => "plugin_deadline_exceeded",
            PluginError::MemoryExhausted => "plugin_memory_exhausted",
            PluginError::Load(_) => "plugin_load_failed",
        }
    }

    /// A fixed sentence for the client's error body. `Display` (for logs) can carry the
    /// guest's panic message, which may quote request data; this never does.
    pub fn client_message(&self) -> &'static str {
        match self {
            PluginError::Trap { .. } => "the policy plugin failed while handling this request",
            PluginError::DeadlineExceeded => {
                "the policy plugin ran past its time limit on this request"
            }
            PluginError::MemoryExhausted => "the policy plugin ran out of memory on this request",
            PluginError::Load(_) => "the policy plugin is not available",
        }
    }

    /// Whether repeating the call could help. Never: the plugin is deterministic enough
    /// that the same request would fail the same way.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Why [`super::PluginRuntime::load_policy`] did not produce a loaded policy.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The policy is invalid; every problem the plugin found, in document order.
    #[error("the policy has {} problem(s)", .0.len())]
    Diagnostics(Vec<types::Diagnostic>),
    /// The plugin itself failed while loading.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_all_500() {
        let all = [
            (
                PluginError::Trap {
                    message: "x".into(),
                },
                "plugin_trap",
            ),
            (PluginError::DeadlineExceeded, "plugin_deadline_exceeded"),
            (PluginError::MemoryExhausted, "plugin_memory_exhausted"),
            (PluginError::Load("x".into()), "plugin_load_failed"),
        ];
        for (e, code) in all {
            assert_eq!(e.code(), code);
            assert_eq!(e.status(), 500);
            assert!(!e.is_retryable());
            assert!(!e.client_message().contains('x'));
        }
    }
}
