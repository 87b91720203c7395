//! The edge's own error answers. Every one is JSON in the shape the request's path calls for
//! ([`ErrorShape`]: Anthropic's on `/v1/messages`, else OpenAI's
//! `{"error":{"message","type","code"}}`), with the code in the `x-edge-error-code` header,
//! so clients and tests can tell an edge error from an upstream's answer.
//!
//! | code | status | when |
//! |---|---|---|
//! | `request_body_too_large` | 413 | body over `--max-body-bytes` (declared or while reading) |
//! | `request_body_unreadable` | 400 | the client broke off while sending its body |
//! | `request_body_timeout` | 408 | the client sent its body too slowly (`--body-idle-timeout`, `--min-body-rate`; docs/limits.md); the connection is closed |
//! | `no_upstream` | 404 | no rule answered and no `--upstream` is configured |
//! | `no_policy_loaded` | 503 | no policy is being served (cannot happen after a normal start) |
//! | `upstream_unreachable` | 502 | `--upstream` refused or broke the connection |
//! | `upstream_timeout` | 504 | `--upstream` did not answer in time |
//! | `upstream_request_invalid` | 502 | the policy's edits make an invalid upstream request |
//! | `plugin_trap`, `plugin_deadline_exceeded`, `plugin_memory_exhausted`, `plugin_load_failed` | 500 | the plugin call failed (codes from the runtime) |
//! | `plugin_invalid_response` | 500 | the plugin answered with an invalid status code |
//! | `policy_resume_loop` | 500 | `resume` kept returning new plans |
//!
//! Errors the policy answers (`rate_limited`, `ip_restricted`, `policy_runtime_error`, and
//! those of the `ai-gateway` action) come from the plugin with their own codes, in the same
//! header with the same rule: the header always equals the body's `code`.

use http::{HeaderValue, Response, StatusCode};

use super::error_shape::ErrorShape;
use crate::body::{BodyError, BoxError, ResponseBody, full};
use crate::body_pace::BodyTooSlow;
use crate::plugin_runtime::PluginError;
use crate::reqwest_error::describe;

/// Header that carries the edge's error code; an upstream's response never has it set by
/// the edge.
pub const ERROR_CODE_HEADER: &str = "x-edge-error-code";

/// Something that stopped the edge from serving a request normally.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("the request body could not be read: {0}")]
    BodyRead(#[source] BoxError),
    #[error(transparent)]
    BodyTooSlow(BodyTooSlow),
    #[error("no upstream is configured for this endpoint; the policy did not answer this request")]
    NoUpstream,
    #[error("no policy is loaded")]
    NoPolicy,
    /// Holds the error without its URL (query strings can carry keys).
    #[error("the upstream could not be reached: {}", describe(.0))]
    UpstreamUnreachable(#[source] reqwest::Error),
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
    #[error("the upstream request is invalid: {0}")]
    BadUpstreamRequest(String),
    /// A plugin call failed (trap, deadline, memory); the code is the runtime's stable code.
    /// The client's message is [`PluginError::client_message`]: the error itself can quote
    /// a guest panic message, which may hold request data.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The plugin answered with a status code HTTP does not have.
    #[error("the policy produced an invalid status code {0}")]
    InvalidPluginStatus(u16),
    #[error("the policy kept resuming without a final decision")]
    ResumeLoop,
}

impl EdgeError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyRead(_) => StatusCode::BAD_REQUEST,
            Self::BodyTooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Self::NoUpstream => StatusCode::NOT_FOUND,
            Self::NoPolicy => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnreachable(_) | Self::BadUpstreamRequest(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Plugin(_) | Self::InvalidPluginStatus(_) | Self::ResumeLoop => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Stable, documented code (also the `x-edge-error-code` header).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BodyTooLarge { .. } => "request_body_too_large",
            Self::BodyRead(_) => "request_body_unreadable",
            Self::BodyTooSlow(_) => "request_body_timeout",
            Self::NoUpstream => "no_upstream",
            Self::NoPolicy => "no_policy_loaded",
            Self::UpstreamUnreachable(_) => "upstream_unreachable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::BadUpstreamRequest(_) => "upstream_request_invalid",
            Self::Plugin(e) => e.code(),
            Self::InvalidPluginStatus(_) => "plugin_invalid_response",
            Self::ResumeLoop => "policy_resume_loop",
        }
    }

    /// The sentence the client's error body carries: the error's message, except for a
    /// plugin failure, whose message can quote request data.
    fn client_message(&self) -> String {
        match self {
            Self::Plugin(e) => e.client_message().to_owned(),
            other => other.to_string(),
        }
    }

    /// The response a client at `path` gets, in the shape [`ErrorShape::for_path`] picks.
    /// Every edge error answer is built here.
    pub fn to_response(&self, path: &str) -> Response<ResponseBody> {
        let body = ErrorShape::for_path(path).body(
            self.status().as_u16(),
            self.code(),
            &self.client_message(),
        );
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
        if matches!(self, Self::BodyTooSlow(_)) {
            // The rest of the body may still be on its way; the connection cannot carry
            // another request, and holding it is what the limit is there to stop.
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

impl From<BodyError> for EdgeError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => Self::BodyTooLarge { limit },
            BodyError::Read(e) => Self::BodyRead(e),
            BodyError::TooSlow(slow) => Self::BodyTooSlow(slow),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// Every variant the edge can answer with: the header and the body's `code` agree, and
    /// a plugin failure's message quotes nothing from the guest.
    #[tokio::test]
    async fn every_variant_has_its_code_in_header_and_body() {
        use crate::plugin_runtime::{PluginError, SetupError};
        let io = || Box::new(std::io::Error::other("reset")) as BoxError;
        let all = [
            EdgeError::BodyTooLarge { limit: 1 },
            EdgeError::BodyRead(io()),
            EdgeError::BodyTooSlow(BodyTooSlow::Idle(std::time::Duration::from_secs(10))),
            EdgeError::NoUpstream,
            EdgeError::NoPolicy,
            EdgeError::UpstreamTimeout,
            EdgeError::BadUpstreamRequest("invalid method".into()),
            EdgeError::Plugin(PluginError::Trap {
                message: "secret request data".into(),
            }),
            EdgeError::Plugin(PluginError::DeadlineExceeded),
            EdgeError::Plugin(PluginError::MemoryExhausted),
            EdgeError::Plugin(
                SetupError::PolicyRejected {
                    count: 1,
                    first: "secret request data".into(),
                }
                .into(),
            ),
            EdgeError::InvalidPluginStatus(1000),
            EdgeError::ResumeLoop,
        ];
        for err in all {
            let code = err.code();
            let res = err.to_response("/v1/chat/completions");
            assert_eq!(res.status(), err.status());
            assert_eq!(res.headers()[ERROR_CODE_HEADER], code);
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["error"]["code"], code);
            assert!(!v.to_string().contains("secret"), "{v}");
        }
    }

    #[tokio::test]
    async fn anthropic_paths_get_the_anthropic_shape() {
        let res = EdgeError::BodyTooLarge { limit: 10 }.to_response("/v1/messages");
        assert_eq!(res.status(), 413);
        assert_eq!(res.headers()[ERROR_CODE_HEADER], "request_body_too_large");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], "request_too_large", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("10 bytes"));
    }

    #[tokio::test]
    async fn error_body_and_header_agree() {
        let res = EdgeError::BodyTooLarge { limit: 10 }.to_response("/upload");
        assert_eq!(res.status(), 413);
        assert_eq!(res.headers()[ERROR_CODE_HEADER], "request_body_too_large");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], "request_body_too_large");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"].as_str().unwrap().contains("10 bytes"));
    }
}
