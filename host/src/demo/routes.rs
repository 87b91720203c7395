//! Request routing of the demo provider: credential check, `fail-<status>` models, and the
//! per-route answer. Paths work with and without the leading `/v1`.

use std::convert::Infallible;

use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use crate::body::ResponseBody;

use super::DEMO_KEY;
use super::errors::{Shape, error_response, requested_failure};
use super::{anthropic, openai};

/// Largest request body the demo reads; it only echoes text, so this is generous.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Answers one request (hyper service function).
pub async fn handle(req: Request<Incoming>) -> Result<Response<ResponseBody>, Infallible> {
    let path = req.uri().path().to_owned();
    let route = path
        .strip_prefix("/v1")
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(&path)
        .to_owned();
    let shape = if route == "/messages" {
        Shape::Anthropic
    } else {
        Shape::OpenAi
    };
    if !authorized(&req) {
        let message = match shape {
            Shape::OpenAi => {
                "Incorrect API key provided. The demo provider accepts `Authorization: Bearer demo-key`."
            }
            Shape::Anthropic => {
                "invalid x-api-key. The demo provider accepts `x-api-key: demo-key` (or a bearer token demo-key)."
            }
        };
        return Ok(error_response(shape, 401, message));
    }
    let method = req.method().clone();
    if method == Method::GET && route == "/models" {
        return Ok(openai::models());
    }
    if method != Method::POST {
        return Ok(error_response(
            shape,
            404,
            &format!("no route for {method} {route}"),
        ));
    }
    let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(error_response(
                shape,
                413,
                "request body too large or unreadable",
            ));
        }
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(body @ Value::Object(_)) => body,
        _ => {
            return Ok(error_response(
                shape,
                400,
                "the request body is not a JSON object",
            ));
        }
    };
    if let Some(status) = body
        .get("model")
        .and_then(Value::as_str)
        .and_then(requested_failure)
    {
        let message = format!("the demo model fail-{status} always answers {status}");
        return Ok(error_response(shape, status, &message));
    }
    let response = match route.as_str() {
        "/chat/completions" => openai::chat(&body),
        "/completions" => openai::completions(&body),
        "/embeddings" => openai::embeddings(&body),
        "/responses" => openai::responses(&body),
        "/messages" => anthropic::messages(&body),
        _ => error_response(shape, 404, &format!("no route for POST {route}")),
    };
    Ok(response)
}

/// The demo-key check: `Authorization: Bearer demo-key` or `x-api-key: demo-key`. Both
/// are accepted on every route because current Anthropic SDKs send a bearer token too; any
/// other key (or none) is refused.
fn authorized<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| key.trim() == DEMO_KEY);
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|key| key.trim() == DEMO_KEY);
    bearer || api_key
}
