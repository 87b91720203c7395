//! The OpenAI and Anthropic wire shapes a mock provider answers with: completions, messages,
//! embeddings, error bodies and the SSE events of a stream.

use serde_json::{Value, json};

use super::behaviour::Behaviour;

/// Every SSE event of a stream, one string each (the unit of `stall_after`/`drop_after`).
pub(super) fn stream_events(
    anthropic: bool,
    name: &str,
    model: &str,
    b: &Behaviour,
) -> Vec<String> {
    let mut out = Vec::new();
    if b.first_event_error {
        out.push(if anthropic {
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".to_owned()
        } else {
            "data: {\"error\":{\"message\":\"mock overloaded\",\"type\":\"server_error\",\"code\":\"overloaded\"}}\n\n".to_owned()
        });
        return out;
    }
    let texts: Vec<String> = (0..b.chunks)
        .map(|i| {
            if i == 0 {
                format!("{name}:{model} ")
            } else {
                format!("c{i} ")
            }
        })
        .collect();
    if anthropic {
        let start = json!({"type":"message_start","message":{"id":"msg_mock","type":"message","role":"assistant","model":model,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":0}}});
        out.push(format!("event: message_start\ndata: {start}\n\n"));
        let cbs = json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}});
        out.push(format!("event: content_block_start\ndata: {cbs}\n\n"));
        for t in &texts {
            let d = json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":t}});
            out.push(format!("event: content_block_delta\ndata: {d}\n\n"));
        }
        out.push(
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                .to_owned(),
        );
        let md = json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":texts.len()}});
        out.push(format!("event: message_delta\ndata: {md}\n\n"));
        out.push("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_owned());
    } else {
        for (i, t) in texts.iter().enumerate() {
            let role = if i == 0 {
                json!({"role":"assistant","content":t})
            } else {
                json!({"content":t})
            };
            let c = json!({"id":"chatcmpl-mock","object":"chat.completion.chunk","created":0,"model":model,"choices":[{"index":0,"delta":role,"finish_reason":null}]});
            out.push(format!("data: {c}\n\n"));
        }
        let c = json!({"id":"chatcmpl-mock","object":"chat.completion.chunk","created":0,"model":model,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]});
        out.push(format!("data: {c}\n\n"));
        out.push("data: [DONE]\n\n".to_owned());
    }
    out
}

/// A provider-shaped error body; `echo` (what the request sent, when the script asks for
/// it) is appended to the message.
pub(super) fn error_body(anthropic: bool, status: u16, name: &str, echo: &str) -> Value {
    let mut msg = format!("mock {name} failing with {status}");
    if !echo.is_empty() {
        msg = format!("{msg}: rejected {echo}");
    }
    if anthropic {
        json!({"type":"error","error":{"type":"api_error","message":msg}})
    } else {
        json!({"error":{"message":msg,"type":"server_error","code":status.to_string()}})
    }
}

pub(super) fn openai_completion(name: &str, model: &str) -> Value {
    json!({
        "id":"chatcmpl-mock","object":"chat.completion","created":0,"model":model,
        "choices":[{"index":0,"message":{"role":"assistant","content":format!("{name}:{model}")},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}
    })
}

pub(super) fn anthropic_message(name: &str, model: &str) -> Value {
    json!({
        "id":"msg_mock","type":"message","role":"assistant","model":model,
        "content":[{"type":"text","text":format!("{name}:{model}")}],
        "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2}
    })
}

pub(super) fn embeddings(model: &str, body: &Value) -> Value {
    let n = match body.get("input") {
        Some(Value::Array(a)) => a.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object":"embedding","index":i,"embedding":[0.1, 0.2, i as f64]}))
        .collect();
    json!({"object":"list","data":data,"model":model,"usage":{"prompt_tokens":n,"total_tokens":n}})
}
