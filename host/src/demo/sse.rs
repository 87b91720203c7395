//! Building the demo's event-stream answers.

use bytes::Bytes;
use http::{HeaderValue, Response};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::Value;

use crate::body::{BoxError, ResponseBody};

/// One `data:` event (OpenAI style).
pub fn data_event(data: &Value) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// One named event (Anthropic style).
pub fn named_event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// OpenAI's end-of-stream marker.
pub fn done_event() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// A 200 `text/event-stream` answer sending each event as its own body frame.
pub fn sse_response(events: Vec<Bytes>) -> Response<ResponseBody> {
    let frames = futures_util::stream::iter(
        events
            .into_iter()
            .map(|event| Ok::<_, BoxError>(Frame::data(event))),
    );
    let mut response = Response::new(StreamBody::new(frames).boxed());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    response
}

/// A 200 JSON answer.
pub fn json_response(body: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(crate::body::full(body.to_string()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
