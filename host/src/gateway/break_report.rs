//! What happens, besides the client's error event, when a committed response ends early:
//! the target's rolling metrics count a broken stream, and a line on the access-log target
//! (`edge::access`, message `stream broken`) names the request, the target and the reason.
//! The request's own access-log line went out with the response head, before the break.
//!
//! Built by the attempt loop when it commits; used once, by the relay, when the body ends
//! early (a break, a stall past the idle timeout, the maximum duration, a clean end without
//! the closing event, or an error event from the provider after the commit).

use std::sync::Arc;

use crate::host_services::{TargetKey, TargetMetricsSink};

/// The response header the plan sets to the edge's request id (docs/ai-gateway.md).
const REQUEST_ID_HEADER: &str = "x-aigw-request-id";

/// Who to tell when a committed response breaks, and which request and target it was.
pub struct BreakReport {
    pub sink: Arc<dyn TargetMetricsSink>,
    pub target: TargetKey,
    pub request_id: String,
}

impl BreakReport {
    /// `plan_headers` are the plan's response headers, which carry the request id.
    pub fn new(
        sink: Arc<dyn TargetMetricsSink>,
        target: TargetKey,
        plan_headers: &[(String, String)],
    ) -> Self {
        let request_id = plan_headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(REQUEST_ID_HEADER))
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        Self {
            sink,
            target,
            request_id,
        }
    }

    /// Counts the break and logs it; `reason` is the relay's error (no secrets: it names
    /// timeouts and transport failures only).
    pub fn report(self, reason: &str) {
        self.sink.record_broken_stream(self.target.as_ref());
        tracing::warn!(
            target: "edge::access",
            request_id = %self.request_id,
            provider = %self.target.provider,
            model = %self.target.model,
            key_id = %self.target.key_id,
            stream = "broken",
            reason,
            "stream broken"
        );
    }
}
