//! Creates plugin instances off the request path.
//!
//! A fresh instance must `load` the policy (parse the YAML, compile every CEL expression):
//! milliseconds, against microseconds for a call on a warm instance. Without help, the first
//! requests after a start or reload, and the request after each recycle or trap, would pay
//! that. One background thread per runtime keeps each loaded policy topped up to
//! [`super::RuntimeConfig::warm_instances`] idle instances instead; requests only create an
//! instance themselves when more arrive at once than are warm.

use std::sync::Weak;
use std::sync::mpsc::{Sender, channel};

use super::errors::SetupError;

/// Something whose idle instances the warmer tops up.
pub(crate) trait WarmUp: Send + Sync {
    fn warm_up(&self);
}

/// Handle to the warmer thread. The thread ends once this handle is dropped (with the
/// runtime) and its queue is drained; it holds policies only weakly, so a replaced policy is
/// freed even while a warm-up request for it is queued.
pub(crate) struct Warmer {
    tx: Sender<Weak<dyn WarmUp>>,
}

impl Warmer {
    pub(crate) fn start() -> Result<Self, SetupError> {
        let (tx, rx) = channel::<Weak<dyn WarmUp>>();
        std::thread::Builder::new()
            .name("edge-plugin-warmer".into())
            .spawn(move || {
                while let Ok(target) = rx.recv() {
                    if let Some(target) = target.upgrade() {
                        target.warm_up();
                    }
                }
            })
            .map_err(|source| SetupError::Thread {
                name: "instance warmer",
                source,
            })?;
        Ok(Self { tx })
    }

    /// Queues a top-up of `target`; cheap, never blocks.
    pub(crate) fn request(&self, target: Weak<dyn WarmUp>) {
        // The thread only stops after this handle is gone, so a send cannot fail while we
        // hold it; if it somehow did, the next request creates its own instance.
        let _ = self.tx.send(target);
    }
}
