//! The response written when a policy fails while handling a request (a CEL expression
//! that errors, an interpolation that cannot be rendered): a JSON 500 naming the rule.
//! Secret values the policy resolved are masked out of the message.

use crate::actions::json_response;
use crate::cel_env::redact;
use crate::model::Response;

/// Response header carrying the engine's error code (clients and tests match on it).
pub const ERROR_CODE_HEADER: &str = "x-gateway-error-code";

pub fn policy_failure(rule: &str, message: &str, secrets: &[String]) -> Response {
    let message = redact(&format!("traffic policy rule `{rule}` failed: {message}"), secrets);
    let mut response = json_response(
        500,
        &serde_json::json!({"error": {"message": message, "type": "policy_error", "code": "POLICY_RUNTIME_ERROR"}}),
    );
    response
        .headers
        .push((ERROR_CODE_HEADER.to_string(), "POLICY_RUNTIME_ERROR".to_string()));
    response
}
