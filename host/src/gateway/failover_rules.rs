//! What happens after a failed attempt: the default rules (the table in
//! `docs/ai-gateway.md`, "Failover") or the policy's own rule through the plugin.
//!
//! Consulted by the attempt loop once per failed attempt, after the Retry-After check.

use crate::wit::types::{AttemptResult, FailoverAction, FailureKind};

/// Decides the next step after a failed attempt. The server implements it with the plugin's
/// `classify-failure` export for plans whose `custom_failover` is set.
pub trait FailoverClassifier: Send + Sync {
    /// `failed.retry_action` is still empty when this is called.
    fn classify(&self, failed: &AttemptResult) -> FailoverAction;
}

/// The built-in rules, used when the plan does not ask for custom failover.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultFailover;

impl FailoverClassifier for DefaultFailover {
    fn classify(&self, failed: &AttemptResult) -> FailoverAction {
        default_action(failed.failure, failed.status)
    }
}

/// The default rules:
/// - 401/403 (key rejected) and 429 (key out of quota): the next key; when the model has no
///   more keys the next attempt in the plan is already another model's.
/// - 408, any 5xx, connect/DNS/TLS/protocol failures, per-attempt timeouts and streams that
///   failed before their first event: the next model, since the same provider and model is
///   likely to fail again whatever the key.
/// - any other status (400, 404, 413, 422, 3xx…): stop; the request itself is at fault and
///   will fail the same way everywhere.
/// - the total timeout: stop; there is no time left.
///
/// The Retry-After "wait and retry the same target" case is handled by the loop before
/// these rules, because it needs the clock and the plan's limits.
pub fn default_action(failure: Option<FailureKind>, status: Option<u16>) -> FailoverAction {
    match failure {
        None => FailoverAction::Stop,
        Some(FailureKind::Status) => match status {
            Some(401 | 403 | 429) => FailoverAction::NextKey,
            Some(408) => FailoverAction::NextModel,
            Some(s) if s >= 500 => FailoverAction::NextModel,
            _ => FailoverAction::Stop,
        },
        Some(FailureKind::TotalTimeout) => FailoverAction::Stop,
        Some(
            FailureKind::Connect
            | FailureKind::Dns
            | FailureKind::Tls
            | FailureKind::Timeout
            | FailureKind::StreamError
            | FailureKind::Protocol,
        ) => FailoverAction::NextModel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> FailoverAction {
        default_action(Some(FailureKind::Status), Some(s))
    }

    #[test]
    fn statuses() {
        assert_eq!(status(401), FailoverAction::NextKey);
        assert_eq!(status(403), FailoverAction::NextKey);
        assert_eq!(status(429), FailoverAction::NextKey);
        assert_eq!(status(408), FailoverAction::NextModel);
        assert_eq!(status(500), FailoverAction::NextModel);
        assert_eq!(status(503), FailoverAction::NextModel);
        assert_eq!(status(400), FailoverAction::Stop);
        assert_eq!(status(404), FailoverAction::Stop);
        assert_eq!(status(422), FailoverAction::Stop);
        assert_eq!(status(302), FailoverAction::Stop);
    }

    #[test]
    fn transport_failures() {
        for kind in [
            FailureKind::Connect,
            FailureKind::Dns,
            FailureKind::Tls,
            FailureKind::Timeout,
            FailureKind::StreamError,
            FailureKind::Protocol,
        ] {
            assert_eq!(default_action(Some(kind), None), FailoverAction::NextModel);
        }
        assert_eq!(
            default_action(Some(FailureKind::TotalTimeout), None),
            FailoverAction::Stop
        );
    }
}
