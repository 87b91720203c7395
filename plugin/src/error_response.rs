//! The answers the plugin writes when it refuses or fails a request itself (a denied IP, a
//! rate limit, a failing policy, an ai-gateway error): the stable code rides in the
//! error-code header, and — in the OpenAI-style body these share — in `error.code`, so a
//! client can match on either.

use crate::model::Response;

/// The header that carries the code of every error the plugin answers with.
pub const ERROR_CODE_HEADER: &str = "x-edge-error-code";

/// A JSON `{"error": {"message", "type", "code"}}` answer with `code` in the
/// [`ERROR_CODE_HEADER`] too.
pub fn error_response(status: u16, code: &str, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"message": message, "type": kind, "code": code}});
    Response {
        status,
        headers: vec![
            ("content-type".to_string(), "application/json".to_string()),
            (ERROR_CODE_HEADER.to_string(), code.to_string()),
        ],
        body: body.to_string().into_bytes(),
    }
}
