//! How running a plan ended, as the server sees it.

use crate::body::ResponseBody;
use crate::wit::types::GatewayOutcome;

/// The result of [`super::execute_plan`].
pub enum PlanResult {
    /// An attempt committed: send `response` (its body relays the provider's bytes as they
    /// arrive). `outcome` records every attempt, the served one last.
    Served {
        response: http::Response<ResponseBody>,
        outcome: GatewayOutcome,
    },
    /// No attempt served the client; hand the outcome to the plugin's `resume` for the
    /// error response (or the `on_error: continue` rules).
    Failed(GatewayOutcome),
}

impl PlanResult {
    /// The attempt record, whichever way the plan ended.
    pub fn outcome(&self) -> &GatewayOutcome {
        match self {
            Self::Served { outcome, .. } | Self::Failed(outcome) => outcome,
        }
    }
}

impl std::fmt::Debug for PlanResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Served { response, outcome } => f
                .debug_struct("Served")
                .field("status", &response.status())
                .field("outcome", outcome)
                .finish(),
            Self::Failed(outcome) => f.debug_tuple("Failed").field(outcome).finish(),
        }
    }
}
