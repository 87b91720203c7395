//! The names of the steps the attempt loop takes (WIT `attempt-step`), as the access log's
//! attempt trail and the `edge_upstream_attempts_total{result=…}` metric show them. The
//! plugin shows the same names in `models_tried[].requests_made[].retry_action`; the list
//! is documented in docs/ai-gateway.md, "Failover".

use crate::wit::types::AttemptStep;

/// The snake_case name of a step.
pub fn step_label(step: AttemptStep) -> &'static str {
    match step {
        AttemptStep::Succeeded => "succeeded",
        AttemptStep::NextKey => "next_key",
        AttemptStep::NextModel => "next_model",
        AttemptStep::DropKey => "drop_key",
        AttemptStep::RetrySame => "retry_same",
        AttemptStep::FailFast => "fail_fast",
        AttemptStep::Exhausted => "exhausted",
        AttemptStep::AttemptCap => "attempt_cap",
        AttemptStep::TotalTimeout => "total_timeout",
    }
}
