//! Reading what the demo provider echoes: the last user message, a prompt, an input.

use serde_json::Value;

/// The text of the last `user` message of an OpenAI or Anthropic `messages` array. Content
/// may be a string or a list of parts; text parts are joined with spaces.
pub fn last_user_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

/// Text of a content value: a string, a list of strings or `{type: text, text}` parts.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part {
                Value::String(s) => Some(s.clone()),
                other => other.get("text").and_then(Value::as_str).map(str::to_owned),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::Object(_) => content
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// The `input` of a Responses request: a string, or a list of messages/parts.
pub fn responses_input(body: &Value) -> String {
    match body.get("input") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .rev()
            .find(|item| {
                item.get("role")
                    .and_then(Value::as_str)
                    .is_none_or(|r| r == "user")
            })
            .map(|item| {
                item.get("content")
                    .map(content_text)
                    .unwrap_or_else(|| content_text(item))
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The reply the demo gives for `text`.
pub fn echo(text: &str) -> String {
    format!("echo: {text}")
}

/// The demo's token count: words. Documented as such; real tokenizers differ.
pub fn word_count(text: &str) -> u64 {
    u64::try_from(text.split_whitespace().count()).unwrap_or(u64::MAX)
}

/// The reply split into stream pieces: each word with the space before it.
pub fn stream_pieces(reply: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    for (i, word) in reply.split(' ').enumerate() {
        if i == 0 {
            pieces.push(word.to_owned());
        } else {
            pieces.push(format!(" {word}"));
        }
    }
    pieces
}

/// A short deterministic id fragment for `text` (same request, same id).
pub fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..8])
}

/// Seconds since the Unix epoch (the `created` fields).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_last_user_text() {
        let body = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "there"}]},
            {"role": "system", "content": "sys"}
        ]});
        assert_eq!(last_user_text(&body), "hello there");
        assert_eq!(responses_input(&json!({"input": "hi"})), "hi");
        assert_eq!(
            responses_input(
                &json!({"input": [{"role": "user", "content": [{"type": "input_text", "text": "yo"}]}]})
            ),
            "yo"
        );
    }

    #[test]
    fn pieces_rebuild_the_reply() {
        let reply = echo("a b  c");
        assert_eq!(stream_pieces(&reply).concat(), reply);
        assert_eq!(word_count("echo: a b"), 3);
    }
}
