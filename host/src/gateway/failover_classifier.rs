//! The seam through which the attempt loop asks what to do after a failed attempt. The
//! answer is never the host's: the server implements this with the plugin's
//! `classify-failure` export, where the default rules and a policy's `failover.rule` live
//! (`plugin/src/ai_gateway/failover.rs`, documented in docs/ai-gateway.md, "Failover").
//! The loop keeps only the mechanical limits: deadlines, the attempt cap and the longest
//! Retry-After it waits.

use crate::wit::types::{AttemptResult, FailoverAction};

/// Decides the next step after a failed attempt. Called by the attempt loop once per failed
/// attempt, before it waits or moves on.
pub trait FailoverClassifier: Send + Sync {
    /// `failed.step` is not decided yet when this is called; `can_retry_same` says whether
    /// the loop would honour [`FailoverAction::RetrySame`] now.
    fn classify(&self, failed: &AttemptResult, can_retry_same: bool) -> FailoverAction;
}
