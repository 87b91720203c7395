//! Every error the gateway itself answers with: our stable code, the ngrok code it
//! replaces, the HTTP status, and the body in the request's API format.
//! The table in `docs/ai-gateway.md` lists the same codes.

use serde_json::json;

use crate::error_response::ERROR_CODE_HEADER;
use crate::model::{ApiFormat, Headers, Response};

/// A failure decided by the gateway (never a provider's own answer).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    #[error("Invalid request body: {0}")]
    InvalidBody(String),
    #[error("No API key found: send one, or configure api_keys for provider '{0}'")]
    NoApiKey(String),
    #[error("Model selection failed: {0}")]
    SelectionFailed(String),
    #[error("No matching models found: {0}")]
    NoMatchingModels(String),
    #[error("Model selection returned no results: {0}")]
    SelectionEmpty(String),
    #[error("Strategy '{expression}' must return a model or a list of models, got {got}")]
    BadStrategyResult { expression: String, got: String },
    #[error("API key selection failed: {0}")]
    KeySelectionFailed(String),
    #[error("No configured model serves the {0} API format at this path")]
    FormatUnsupported(&'static str),
    #[error("Input too large: {tokens} tokens (max {max}). Shorten your prompt.")]
    InputTooLarge { tokens: u64, max: u64 },
    #[error("Unsupported path: {0}")]
    UnsupportedPath(String),
    #[error("Method {0} is not allowed on this path")]
    MethodNotAllowed(String),
    #[error("Could not reach the AI provider: {0}")]
    Unreachable(String),
    #[error("All providers failed: {0}")]
    AllFailed(String),
    #[error("Request timed out after {0}")]
    TotalTimeout(String),
    #[error("Too many failed attempts to upstream providers: {0}")]
    TooManyAttempts(String),
    /// Every attempt was refused the credentials it sent (401/403): the client sees that
    /// status, which SDKs do not retry, rather than a 503 they would.
    #[error("Every provider rejected the credentials: {message}")]
    CredentialsRejected { status: u16, message: String },
    /// Every attempt answered 429: the client backs off for the shortest wait asked for.
    #[error("Every provider is rate limiting this request: {message}")]
    RateLimited {
        retry_after_ms: Option<u64>,
        message: String,
    },
    /// A 4xx the default rules do not fail over on: the client sees the provider's status.
    #[error("The provider rejected the request with status {status}: {message}")]
    UpstreamRejected { status: u16, message: String },
    /// Every candidate's provider refuses this type of request (`allowed_requests`).
    #[error(
        "Request type '{request_type}' is not allowed by provider(s) {providers} \
         (allowed_requests); no other provider can serve this request"
    )]
    RequestTypeNotAllowed {
        request_type: &'static str,
        /// The refusing provider ids, quoted and comma-separated.
        providers: String,
    },
    #[error("Failed to render a configured header, query parameter or body field: {0}")]
    Interpolation(String),
}

impl GatewayError {
    /// Our stable code (documented; safe to match on).
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::InvalidBody(_) => "invalid_request_body",
            GatewayError::NoApiKey(_) => "missing_api_key",
            GatewayError::SelectionFailed(_) => "model_selection_failed",
            GatewayError::NoMatchingModels(_) => "no_matching_models",
            GatewayError::SelectionEmpty(_) => "model_selection_empty",
            GatewayError::BadStrategyResult { .. } => "invalid_strategy_result",
            GatewayError::KeySelectionFailed(_) => "key_selection_failed",
            GatewayError::FormatUnsupported(_) => "format_not_supported",
            GatewayError::InputTooLarge { .. } => "input_too_large",
            GatewayError::UnsupportedPath(_) => "unsupported_path",
            GatewayError::MethodNotAllowed(_) => "method_not_allowed",
            GatewayError::Unreachable(_) => "provider_unreachable",
            GatewayError::AllFailed(_) => "all_providers_failed",
            GatewayError::TotalTimeout(_) => "total_timeout",
            GatewayError::TooManyAttempts(_) => "too_many_attempts",
            GatewayError::UpstreamRejected { .. } => "upstream_rejected",
            GatewayError::CredentialsRejected { .. } => "authentication_failed",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::Interpolation(_) => "interpolation_failed",
            GatewayError::RequestTypeNotAllowed { .. } => "request_type_not_allowed",
        }
    }

    /// The ngrok code this replaces (for `actions.ngrok.ai_gateway.error.ngrok_code` and
    /// the docs table).
    pub fn ngrok_code(&self) -> &'static str {
        match self {
            GatewayError::InvalidBody(_) => "ERR_NGROK_3801",
            GatewayError::NoApiKey(_) => "ERR_NGROK_3802",
            GatewayError::SelectionFailed(_) => "ERR_NGROK_3803",
            GatewayError::NoMatchingModels(_) | GatewayError::RequestTypeNotAllowed { .. } => {
                "ERR_NGROK_3804"
            }
            GatewayError::SelectionEmpty(_) => "ERR_NGROK_3805",
            GatewayError::BadStrategyResult { .. } => "ERR_NGROK_3806",
            GatewayError::KeySelectionFailed(_) => "ERR_NGROK_3808",
            GatewayError::FormatUnsupported(_) => "ERR_NGROK_3813",
            GatewayError::InputTooLarge { .. } => "ERR_NGROK_3811",
            GatewayError::UnsupportedPath(_) => "ERR_NGROK_27204",
            GatewayError::MethodNotAllowed(_) => "ERR_NGROK_27204",
            GatewayError::Unreachable(_) => "ERR_NGROK_3800",
            GatewayError::AllFailed(_) => "ERR_NGROK_3807",
            GatewayError::TotalTimeout(_) => "ERR_NGROK_3810",
            GatewayError::TooManyAttempts(_) => "ERR_NGROK_3812",
            GatewayError::UpstreamRejected { .. }
            | GatewayError::CredentialsRejected { .. }
            | GatewayError::RateLimited { .. } => "ERR_NGROK_3807",
            GatewayError::Interpolation(_) => "ERR_NGROK_2254",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            GatewayError::InvalidBody(_)
            | GatewayError::NoApiKey(_)
            | GatewayError::RequestTypeNotAllowed { .. } => 400,
            GatewayError::SelectionFailed(_)
            | GatewayError::NoMatchingModels(_)
            | GatewayError::SelectionEmpty(_)
            | GatewayError::BadStrategyResult { .. }
            | GatewayError::KeySelectionFailed(_)
            | GatewayError::FormatUnsupported(_) => 422,
            GatewayError::InputTooLarge { .. } => 413,
            GatewayError::UnsupportedPath(_) => 404,
            GatewayError::MethodNotAllowed(_) => 405,
            GatewayError::Unreachable(_) => 502,
            GatewayError::AllFailed(_) | GatewayError::TooManyAttempts(_) => 503,
            GatewayError::TotalTimeout(_) => 504,
            GatewayError::UpstreamRejected { status, .. }
            | GatewayError::CredentialsRejected { status, .. } => *status,
            GatewayError::RateLimited { .. } => 429,
            GatewayError::Interpolation(_) => 500,
        }
    }

    /// The OpenAI `error.type` (also used as the Anthropic `error.type` where they agree).
    fn kind(&self, format: ApiFormat) -> &'static str {
        let status = self.status();
        match format {
            ApiFormat::OpenAi => match status {
                400 | 404 | 405 | 413 | 422 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                429 => "rate_limit_error",
                504 => "timeout_error",
                _ => "api_error",
            },
            // Anthropic's documented error types.
            ApiFormat::Anthropic => match status {
                400 | 422 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                429 => "rate_limit_error",
                404 => "not_found_error",
                413 => "request_too_large",
                503 | 504 => "overloaded_error",
                _ => "api_error",
            },
        }
    }

    /// The JSON body: OpenAI `{"error":{message,type,code}}`, or Anthropic
    /// `{"type":"error","error":{type,message}}` on `/v1/messages`.
    pub fn body(&self, format: ApiFormat) -> Vec<u8> {
        let message = self.to_string();
        let v = match format {
            ApiFormat::OpenAi => {
                json!({"error": {"message": message, "type": self.kind(format), "code": self.code(), "param": null}})
            }
            ApiFormat::Anthropic => {
                json!({"type": "error", "error": {"type": self.kind(format), "message": message}})
            }
        };
        v.to_string().into_bytes()
    }

    /// The complete client response; `extra` are the gateway's own headers (request id,
    /// attempts).
    pub fn response(&self, format: ApiFormat, extra: &Headers) -> Response {
        let mut headers: Headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (ERROR_CODE_HEADER.to_owned(), self.code().to_owned()),
        ];
        if let GatewayError::RateLimited {
            retry_after_ms: Some(ms),
            ..
        } = self
        {
            // Both forms the SDKs read: whole seconds (rounded up, so a client never comes
            // back early) and OpenAI's millisecond variant.
            headers.push(("retry-after".to_owned(), ms.div_ceil(1000).to_string()));
            headers.push(("retry-after-ms".to_owned(), ms.to_string()));
        }
        headers.extend(extra.iter().cloned());
        Response {
            status: self.status(),
            headers,
            body: self.body(format),
        }
    }
}
