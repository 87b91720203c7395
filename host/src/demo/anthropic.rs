//! The demo's Anthropic-format answer to `POST /v1/messages`, plain or streamed, in the
//! shapes the official `anthropic` SDK parses.

use http::Response;
use serde_json::{Value, json};

use crate::body::ResponseBody;

use super::sse::{json_response, named_event, sse_response};
use super::text::{echo, last_user_text, short_hash, stream_pieces, word_count};

/// `POST /v1/messages`.
pub fn messages(body: &Value) -> Response<ResponseBody> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("demo-chat")
        .to_owned();
    let text = last_user_text(body);
    let reply = echo(&text);
    let id = format!("msg_demo{}", short_hash(&text));
    let (input_tokens, output_tokens) = (word_count(&text), word_count(&reply));
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !stream {
        return json_response(&json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{ "type": "text", "text": reply }],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": { "input_tokens": input_tokens, "output_tokens": output_tokens },
        }));
    }
    let mut events = vec![
        named_event(
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": { "input_tokens": input_tokens, "output_tokens": 1 },
                }
            }),
        ),
        named_event(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
        ),
        named_event("ping", &json!({ "type": "ping" })),
    ];
    for piece in stream_pieces(&reply) {
        events.push(named_event(
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": piece } }),
        ));
    }
    events.push(named_event(
        "content_block_stop",
        &json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(named_event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": { "stop_reason": "end_turn", "stop_sequence": null },
            "usage": { "output_tokens": output_tokens },
        }),
    ));
    events.push(named_event(
        "message_stop",
        &json!({ "type": "message_stop" }),
    ));
    sse_response(events)
}
