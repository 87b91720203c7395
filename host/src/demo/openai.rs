//! The demo's OpenAI-format answers: chat completions (plain and streamed), legacy
//! completions, embeddings, Responses and the model list. Shapes follow what the official
//! `openai` SDK parses.

use base64::Engine as _;
use http::Response;
use serde_json::{Value, json};

use crate::body::ResponseBody;

use super::sse::{data_event, done_event, json_response, sse_response};
use super::text::{
    content_text, echo, last_user_text, responses_input, short_hash, stream_pieces, unix_now,
    word_count,
};

/// Models `GET /v1/models` lists.
pub const DEMO_MODELS: &[&str] = &["demo-chat", "demo-embed"];
/// Length of an embedding vector unless the request asks for `dimensions`.
const EMBEDDING_DIMENSIONS: usize = 8;
/// Largest `dimensions` honoured, so a request cannot make the demo allocate a lot.
const MAX_EMBEDDING_DIMENSIONS: usize = 4096;

fn model_of(body: &Value) -> String {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or("demo-chat")
        .to_owned()
}

fn wants_stream(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

/// `POST /v1/chat/completions`.
pub fn chat(body: &Value) -> Response<ResponseBody> {
    let model = model_of(body);
    let text = last_user_text(body);
    let reply = echo(&text);
    let id = format!("chatcmpl-demo{}", short_hash(&text));
    let created = unix_now();
    let (prompt, completion) = (word_count(&text), word_count(&reply));
    if !wants_stream(body) {
        return json_response(&json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "demo",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": reply, "refusal": null },
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage(prompt, completion),
        }));
    }
    let chunk = |delta: Value, finish: Value| {
        data_event(&json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "demo",
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        }))
    };
    let mut events = vec![chunk(
        json!({ "role": "assistant", "content": "" }),
        Value::Null,
    )];
    for piece in stream_pieces(&reply) {
        events.push(chunk(json!({ "content": piece }), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if include_usage {
        events.push(data_event(&json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage(prompt, completion),
        })));
    }
    events.push(done_event());
    sse_response(events)
}

/// `POST /v1/completions` (legacy).
pub fn completions(body: &Value) -> Response<ResponseBody> {
    let model = model_of(body);
    let prompt = match body.get("prompt") {
        Some(Value::Array(items)) => items.first().map(content_text).unwrap_or_default(),
        Some(other) => content_text(other),
        None => String::new(),
    };
    let reply = echo(&prompt);
    let id = format!("cmpl-demo{}", short_hash(&prompt));
    let created = unix_now();
    if !wants_stream(body) {
        return json_response(&json!({
            "id": id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{ "text": reply, "index": 0, "logprobs": null, "finish_reason": "stop" }],
            "usage": usage(word_count(&prompt), word_count(&reply)),
        }));
    }
    let chunk = |text: &str, finish: Value| {
        data_event(&json!({
            "id": id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{ "text": text, "index": 0, "logprobs": null, "finish_reason": finish }],
        }))
    };
    let mut events: Vec<_> = stream_pieces(&reply)
        .iter()
        .map(|piece| chunk(piece, Value::Null))
        .collect();
    events.push(chunk("", json!("stop")));
    events.push(done_event());
    sse_response(events)
}

/// `POST /v1/embeddings`: one deterministic unit vector per input.
pub fn embeddings(body: &Value) -> Response<ResponseBody> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("demo-embed")
        .to_owned();
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        // A list of token ids is one input; a list of strings or token lists is many.
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            vec![Value::Array(items.clone()).to_string()]
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| item.to_string())
            })
            .collect(),
        _ => Vec::new(),
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .and_then(|d| usize::try_from(d).ok())
        .filter(|d| (1..=MAX_EMBEDDING_DIMENSIONS).contains(d))
        .unwrap_or(EMBEDDING_DIMENSIONS);
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embedding_of(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|t| word_count(t)).sum();
    json_response(&json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
}

/// A unit vector derived from SHA-256 of the text (rehashed with a counter for long
/// vectors): the same text always gives the same vector.
pub fn embedding_of(text: &str, dims: usize) -> Vec<f32> {
    use sha2::{Digest, Sha256};
    let mut raw = Vec::with_capacity(dims);
    let mut counter: u32 = 0;
    while raw.len() < dims {
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        hasher.update(counter.to_le_bytes());
        let digest = hasher.finalize();
        for word in digest.chunks_exact(4) {
            if raw.len() == dims {
                break;
            }
            let n = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            raw.push(f64::from(n) / f64::from(u32::MAX) * 2.0 - 1.0);
        }
        counter += 1;
    }
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// `POST /v1/responses`: a completed Responses object (or its event stream).
pub fn responses(body: &Value) -> Response<ResponseBody> {
    let model = model_of(body);
    let input = responses_input(body);
    let reply = echo(&input);
    let hash = short_hash(&input);
    let created = unix_now();
    let message = json!({
        "type": "message",
        "id": format!("msg_demo{hash}"),
        "status": "completed",
        "role": "assistant",
        "content": [{ "type": "output_text", "text": reply, "annotations": [] }],
    });
    let (prompt, completion) = (word_count(&input), word_count(&reply));
    let response = |status: &str, output: Value| {
        json!({
            "id": format!("resp_demo{hash}"),
            "object": "response",
            "created_at": created,
            "status": status,
            "model": model,
            "output": output,
            "parallel_tool_calls": true,
            "tool_choice": "auto",
            "tools": [],
            "error": null,
            "incomplete_details": null,
            "instructions": null,
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "text": { "format": { "type": "text" } },
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": { "cached_tokens": 0 },
                "output_tokens": completion,
                "output_tokens_details": { "reasoning_tokens": 0 },
                "total_tokens": prompt + completion,
            },
        })
    };
    if !wants_stream(body) {
        return json_response(&response("completed", json!([message])));
    }
    let mut sequence = 0u64;
    let mut event = |data: Value| {
        let mut data = data;
        if let Some(obj) = data.as_object_mut() {
            obj.insert("sequence_number".into(), json!(sequence));
        }
        sequence += 1;
        let name = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
            .to_owned();
        super::sse::named_event(&name, &data)
    };
    let item_id = format!("msg_demo{hash}");
    let empty_part = json!({ "type": "output_text", "text": "", "annotations": [] });
    let full_part = json!({ "type": "output_text", "text": reply, "annotations": [] });
    let mut events = vec![
        event(
            json!({ "type": "response.created", "response": response("in_progress", json!([])) }),
        ),
        event(json!({
            "type": "response.output_item.added",
            "output_index": 0,
            "item": { "type": "message", "id": item_id, "status": "in_progress", "role": "assistant", "content": [] },
        })),
        event(json!({
            "type": "response.content_part.added",
            "item_id": item_id, "output_index": 0, "content_index": 0, "part": empty_part,
        })),
    ];
    for piece in stream_pieces(&reply) {
        events.push(event(json!({
            "type": "response.output_text.delta",
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "delta": piece,
            "logprobs": [],
        })));
    }
    events.push(event(json!({
        "type": "response.output_text.done",
        "item_id": item_id, "output_index": 0, "content_index": 0, "text": reply, "logprobs": [],
    })));
    events.push(event(json!({
        "type": "response.content_part.done",
        "item_id": item_id, "output_index": 0, "content_index": 0, "part": full_part,
    })));
    events.push(event(
        json!({ "type": "response.output_item.done", "output_index": 0, "item": message }),
    ));
    events.push(event(json!({ "type": "response.completed", "response": response("completed", json!([message])) })));
    sse_response(events)
}

/// `GET /v1/models`.
pub fn models() -> Response<ResponseBody> {
    let data: Vec<Value> = DEMO_MODELS
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 0, "owned_by": "demo" }))
        .collect();
    json_response(&json!({ "object": "list", "data": data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding_of("hello", 8);
        assert_eq!(a, embedding_of("hello", 8));
        assert_ne!(a, embedding_of("world", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert_eq!(embedding_of("x", 20).len(), 20);
    }
}
