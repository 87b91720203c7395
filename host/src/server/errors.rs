//! The edge's own error answers. Every one is JSON `{"error":{"message","type","code"}}`
//! with the code repeated in the `x-edge-error-code` header, so clients and tests can tell
//! an edge error from an upstream's answer.
//!
//! | code | status | when |
//! |---|---|---|
//! | `request_body_too_large` | 413 | body over `--max-body-bytes` (declared or while reading) |
//! | `request_body_unreadable` | 400 | the client broke off while sending its body |
//! | `no_upstream` | 404 | no rule answered and no `--upstream` is configured |
//! | `no_policy_loaded` | 503 | no policy is being served (cannot happen after a normal start) |
//! | `upstream_unreachable` | 502 | `--upstream` refused or broke the connection |
//! | `upstream_timeout` | 504 | `--upstream` did not answer in time |
//! | `upstream_request_invalid` | 502 | the policy's edits make an invalid upstream request |
//! | `plugin_trap`, `plugin_deadline_exceeded`, `plugin_memory_exhausted`, `plugin_load_failed` | 500 | the plugin call failed (codes from the runtime) |
//! | `plugin_invalid_response` | 500 | the plugin answered with an invalid status code |
//! | `policy_resume_loop` | 500 | `resume` kept returning new plans |
//!
//! Errors of the `ai-gateway` action itself come from the plugin with its own codes.

use http::{HeaderValue, Response, StatusCode};

use crate::body::{BodyError, ResponseBody, full};

/// Header that carries the edge's error code; an upstream's response never has it set by
/// the edge.
pub const ERROR_CODE_HEADER: &str = "x-edge-error-code";

/// Something that stopped the edge from serving a request normally.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("the request body could not be read: {0}")]
    BodyRead(String),
    #[error("no upstream is configured for this endpoint; the policy did not answer this request")]
    NoUpstream,
    #[error("no policy is loaded")]
    NoPolicy,
    #[error("the upstream could not be reached: {0}")]
    UpstreamUnreachable(String),
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
    #[error("the upstream request is invalid: {0}")]
    BadUpstreamRequest(String),
    /// A plugin call failed (trap, deadline, memory); `code` is the runtime's stable code.
    #[error("the policy plugin failed: {message}")]
    Plugin { code: &'static str, message: String },
    #[error("the policy kept resuming without a final decision")]
    ResumeLoop,
}

impl EdgeError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyRead(_) => StatusCode::BAD_REQUEST,
            Self::NoUpstream => StatusCode::NOT_FOUND,
            Self::NoPolicy => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnreachable(_) | Self::BadUpstreamRequest(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Plugin { .. } | Self::ResumeLoop => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable, documented code (also the `x-edge-error-code` header).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BodyTooLarge { .. } => "request_body_too_large",
            Self::BodyRead(_) => "request_body_unreadable",
            Self::NoUpstream => "no_upstream",
            Self::NoPolicy => "no_policy_loaded",
            Self::UpstreamUnreachable(_) => "upstream_unreachable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::BadUpstreamRequest(_) => "upstream_request_invalid",
            &Self::Plugin { code, .. } => code,
            Self::ResumeLoop => "policy_resume_loop",
        }
    }

    /// The OpenAI-style error `type`.
    pub fn error_type(&self) -> &'static str {
        match self.status().as_u16() {
            400..=499 => "invalid_request_error",
            _ => "server_error",
        }
    }

    /// Whether a client retrying the same request could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::NoPolicy
                | Self::UpstreamUnreachable(_)
                | Self::UpstreamTimeout
                | Self::Plugin { .. }
        )
    }

    /// The response the client gets; `request_id` is echoed like on every answer.
    pub fn to_response(&self) -> Response<ResponseBody> {
        let body = serde_json::json!({
            "error": {
                "message": self.to_string(),
                "type": self.error_type(),
                "code": self.code(),
            }
        });
        let mut res = Response::new(full(body.to_string()));
        *res.status_mut() = self.status();
        let headers = res.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(ERROR_CODE_HEADER, HeaderValue::from_static(self.code()));
        if matches!(self, Self::NoPolicy) {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

impl From<BodyError> for EdgeError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => Self::BodyTooLarge { limit },
            BodyError::Read(m) => Self::BodyRead(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn error_body_and_header_agree() {
        let res = EdgeError::BodyTooLarge { limit: 10 }.to_response();
        assert_eq!(res.status(), 413);
        assert_eq!(res.headers()[ERROR_CODE_HEADER], "request_body_too_large");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], "request_body_too_large");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"].as_str().unwrap().contains("10 bytes"));
    }
}
