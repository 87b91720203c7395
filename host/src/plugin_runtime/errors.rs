//! What can go wrong inside the plugin runtime, in terms the server can answer with.
//!
//! Every variant answers the request with HTTP 500 and a stable machine-readable code that
//! goes into the JSON error body and the metrics, so operators can tell a plugin bug (trap)
//! from a runaway policy (deadline) or a memory blow-up without reading logs. None of them is
//! worth retrying: the same request would hit the same plugin code again.

use std::sync::Arc;

use crate::wit::types;

/// A plugin call (or the plugin itself) failed. The request that hit it gets a 500; the
/// instance involved is discarded and every other request keeps being served.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// not load the policy that loaded before. Shared so the error stays cheap to clone.
    #[error("the policy plugin could not be loaded: {0}")]
    Load(#[source] Arc<SetupError>),
}

impl From<SetupError> for PluginError {
    fn from(e: SetupError) -> Self {
        Self::Load(Arc::new(e))
    }
}

/// Two errors are equal when they name the same failure; a `Load` error only equals itself
/// (its cause is not comparable).
impl PartialEq for PluginError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Trap { message: a }, Self::Trap { message: b }) => a == b,
            (Self::DeadlineExceeded, Self::DeadlineExceeded)
            | (Self::MemoryExhausted, Self::MemoryExhausted) => true,
            (Self::Load(a), Self::Load(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for PluginError {}

/// Why the plugin, or a fresh instance of it, could not be made ready. Happens at start-up
/// (engine, compile, link) or when the pool needs a new instance.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot create the wasm engine: {0:#}")]
    Engine(#[source] wasmtime::Error),
    #[error("cannot compile the plugin: {0:#}")]
    Compile(#[source] wasmtime::Error),
    #[error("cannot link the plugin: {0:#}")]
    Link(#[source] wasmtime::Error),
    #[error("the plugin does not implement the gateway world: {0:#}")]
    NotAGateway(#[source] wasmtime::Error),
    #[error("cannot create a plugin instance: {0:#}")]
    Instantiate(#[source] wasmtime::Error),
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The text loaded before, so this is the plugin's fault (nondeterminism, a trap, a
    /// secret that disappeared), not the user's.
    #[error(
        "a new plugin instance rejected the policy that loaded before ({count} problem(s); first: {first})"
    )]
    PolicyRejected { count: usize, first: String },
}

impl PluginError {
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
    fn codes_are_stable_and_client_messages_quote_nothing() {
        let all = [
            (
                PluginError::Trap {
                    message: "x".into(),
                },
                "plugin_trap",
            ),
            (PluginError::DeadlineExceeded, "plugin_deadline_exceeded"),
            (PluginError::MemoryExhausted, "plugin_memory_exhausted"),
            (
                PluginError::from(SetupError::PolicyRejected {
                    count: 1,
                    first: "x".into(),
                }),
                "plugin_load_failed",
            ),
        ];
        for (e, code) in all {
            assert_eq!(e.code(), code);
            assert!(!e.client_message().contains('x'));
        }
    }
}
