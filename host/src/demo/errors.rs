//! Error answers of the demo provider, shaped like the real provider of the route so the
//! gateway (and SDKs behind it) see what they would see in production.

use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::body::{ResponseBody, full};

/// Which provider's error shape a route uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    OpenAi,
    Anthropic,
}

/// The status a `fail-<status>` model asks for (400–599 only; anything else is an ordinary
/// model name).
pub fn requested_failure(model: &str) -> Option<u16> {
    let status: u16 = model.strip_prefix("fail-")?.parse().ok()?;
    (400..=599).contains(&status).then_some(status)
}

/// An error answer with `status` and a body in `shape`. 429 carries `retry-after: 1`.
pub fn error_response(shape: Shape, status: u16, message: &str) -> Response<ResponseBody> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match shape {
        Shape::OpenAi => json!({
            "error": {
                "message": message,
                "type": openai_type(status),
                "param": null,
                "code": openai_code(status),
            }
        }),
        Shape::Anthropic => json!({
            "type": "error",
            "error": { "type": anthropic_type(status), "message": message }
        }),
    };
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = code;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == 429 {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn openai_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

fn openai_code(status: u16) -> &'static str {
    match status {
        401 => "invalid_api_key",
        404 => "model_not_found",
        429 => "rate_limit_exceeded",
        s if s >= 500 => "server_error",
        _ => "invalid_request",
    }
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_models() {
        assert_eq!(requested_failure("fail-503"), Some(503));
        assert_eq!(requested_failure("fail-429"), Some(429));
        assert_eq!(requested_failure("fail-200"), None);
        assert_eq!(requested_failure("fail-x"), None);
        assert_eq!(requested_failure("demo-chat"), None);
    }
}
