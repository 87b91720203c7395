//! Which JSON shape an error body the edge itself writes takes, chosen from the request path
//! alone, so the client's SDK can parse it: Anthropic's on `/v1/messages` (and below it),
//! OpenAI's everywhere else (docs/ai-gateway.md, "Edge errors").
//!
//! Used by [`super::errors::EdgeError::to_response`], which every edge error answer goes
//! through; the `ai-gateway` action's own errors follow the same path rule in the plugin.

use serde_json::{Value, json};

/// The path prefix of Anthropic's messages API.
const ANTHROPIC_PATH: &str = "/v1/messages";

/// An error body shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error":{"message","type","code"}}`
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`
    Anthropic,
}

impl ErrorShape {
    /// The shape a client at `path` expects.
    pub fn for_path(path: &str) -> Self {
        if path.starts_with(ANTHROPIC_PATH) {
            Self::Anthropic
        } else {
            Self::OpenAi
        }
    }

    /// The body for an error with this status, code and message. The code is in the OpenAI
    /// body; Anthropic's shape has no code field (the `x-edge-error-code` header has it).
    pub fn body(self, status: u16, code: &str, message: &str) -> Value {
        match self {
            Self::OpenAi => json!({
                "error": {"message": message, "type": openai_type(status), "code": code}
            }),
            Self::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(status), "message": message}
            }),
        }
    }
}

/// OpenAI's `error.type` for a status.
fn openai_type(status: u16) -> &'static str {
    match status {
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

/// Anthropic's documented `error.type` for a status.
fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_picks_the_shape() {
        assert_eq!(ErrorShape::for_path("/v1/messages"), ErrorShape::Anthropic);
        assert_eq!(
            ErrorShape::for_path("/v1/messages/count_tokens"),
            ErrorShape::Anthropic
        );
        assert_eq!(
            ErrorShape::for_path("/v1/chat/completions"),
            ErrorShape::OpenAi
        );
        assert_eq!(ErrorShape::for_path("/"), ErrorShape::OpenAi);
        let b = ErrorShape::Anthropic.body(413, "request_body_too_large", "too big");
        assert_eq!(
            b,
            json!({"type": "error", "error": {"type": "request_too_large", "message": "too big"}})
        );
        let b = ErrorShape::OpenAi.body(502, "upstream_unreachable", "down");
        assert_eq!(b["error"]["type"], "server_error");
        assert_eq!(b["error"]["code"], "upstream_unreachable");
    }
}
