//! The response written when a policy fails while handling a request (a CEL expression
//! that errors, an interpolation that cannot be rendered): a JSON 500 naming the rule.
//! Secret values the policy resolved are masked out of the message.

use crate::actions::json_response;
use crate::cel_env::redact;
use crate::model::Response;

/// The engine's error codes ride in the same header as the ai-gateway's.
pub use crate::ai_gateway::ERROR_CODE_HEADER;

/// Code of a policy that failed on a request.
pub const POLICY_RUNTIME_ERROR: &str = "policy_runtime_error";

pub fn policy_failure(rule: &str, message: &str, secrets: &[String]) -> Response {
    let message = redact(
        &format!("traffic policy rule `{rule}` failed: {message}"),
        secrets,
    );
    let mut response = json_response(
        500,
        &serde_json::json!({"error": {"message": message, "type": "policy_error", "code": POLICY_RUNTIME_ERROR}}),
    );
    response.headers.push((
        ERROR_CODE_HEADER.to_string(),
        "POLICY_RUNTIME_ERROR".to_string(),
    ));
    response
}
