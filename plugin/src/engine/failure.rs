//! The response written when a policy fails while handling a request (a CEL expression
//! that errors, an interpolation that cannot be rendered): a JSON 500 naming the rule.
//! Secret values the policy resolved are masked out of the message.

use crate::cel_env::redact;
use crate::error_response::error_response;
use crate::model::Response;

/// Code of a policy that failed on a request.
pub const POLICY_RUNTIME_ERROR: &str = "policy_runtime_error";

pub fn policy_failure(rule: &str, message: &str, secrets: &[String]) -> Response {
    let message = redact(
        &format!("traffic policy rule `{rule}` failed: {message}"),
        secrets,
    );
    error_response(500, POLICY_RUNTIME_ERROR, "policy_error", &message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_response::ERROR_CODE_HEADER;

    #[test]
    fn the_error_code_header_carries_the_body_code() {
        let response = policy_failure("r", "boom with sk-secret", &["sk-secret".to_string()]);
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        let header = response
            .headers
            .iter()
            .find(|(name, _)| name == ERROR_CODE_HEADER)
            .map(|(_, value)| value.as_str());
        assert_eq!(response.status, 500);
        assert_eq!(header, Some("policy_runtime_error"));
        assert_eq!(body["error"]["code"], "policy_runtime_error");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("sk-secret")
        );
    }
}
