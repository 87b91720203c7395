//! The built-in demo provider: its answers have the shapes the OpenAI and Anthropic SDKs
//! parse, it checks the demo key, its `fail-<status>` models fail as documented, and the
//! attempt loop reaches it as `demo.internal`.

use crate::plan_support::*;
use edge::demo::DemoProvider;
use edge::gateway::PlanResult;
use edge::wit::types::{ApiFormat, Attempt};
use serde_json::{Value, json};

fn demo_attempt(path: &str, body: Value, anthropic: bool, model: &str, group: u32) -> Attempt {
    let mut a = attempt(
        format!("http://demo.internal{path}"),
        "demo",
        model,
        "demo",
        group,
    );
    a.headers = vec![("content-type".into(), "application/json".into())];
    if anthropic {
        a.headers.push(("x-api-key".into(), "demo-key".into()));
        a.headers
            .push(("anthropic-version".into(), "2023-06-01".into()));
    } else {
        a.headers
            .push(("authorization".into(), "Bearer demo-key".into()));
    }
    a.body = vec![edge::wit::types::BodyPiece::Bytes(
        body.to_string().into_bytes(),
    )];
    a
}

async fn start() -> (DemoProvider, edge::gateway::GatewayContext) {
    let demo = DemoProvider::start().await.unwrap();
    let (ctx, _) = context(&[], None);
    demo.register(ctx.internal_hosts());
    (demo, ctx)
}

async fn call(
    ctx: &edge::gateway::GatewayContext,
    attempts: Vec<Attempt>,
    stream: bool,
    format: ApiFormat,
) -> (u16, http::HeaderMap, String) {
    let mut plan = plan(attempts);
    plan.stream = stream;
    plan.format = format;
    if format == ApiFormat::Anthropic {
        plan.stream_protocol = edge::wit::types::StreamProtocol::Messages;
    }
    match run(ctx, &plan).await {
        PlanResult::Served { response, .. } => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, body_text(response).await)
        }
        PlanResult::Failed(outcome) => panic!("demo call failed: {outcome:?}"),
    }
}

fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn chat_completion_echoes_the_last_user_message() {
    let (_demo, ctx) = start().await;
    let body =
        json!({"model": "demo-chat", "messages": [{"role": "user", "content": "hello there"}]});
    let (status, headers, text) = call(
        &ctx,
        vec![demo_attempt(
            "/v1/chat/completions",
            body,
            false,
            "demo-chat",
            0,
        )],
        false,
        ApiFormat::Openai,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "demo-chat");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hello there");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 2);
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn streamed_chat_is_one_chunk_per_word_then_done() {
    let (_demo, ctx) = start().await;
    let body = json!({"model": "demo-chat", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "hi you"}]});
    let (_, headers, text) = call(
        &ctx,
        vec![demo_attempt(
            "/chat/completions",
            body,
            false,
            "demo-chat",
            0,
        )],
        true,
        ApiFormat::Openai,
    )
    .await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"]
                .get(0)
                .and_then(|ch| ch["delta"]["content"].as_str())
        })
        .collect();
    assert_eq!(content, "echo: hi you");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 5);
}

#[tokio::test]
async fn completions_embeddings_responses_and_models() {
    let (_demo, ctx) = start().await;
    let (_, _, text) = call(
        &ctx,
        vec![demo_attempt(
            "/v1/completions",
            json!({"model": "demo-chat", "prompt": "abc"}),
            false,
            "demo-chat",
            0,
        )],
        false,
        ApiFormat::Openai,
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "echo: abc");

    let embed = json!({"model": "demo-embed", "input": ["a", "b", "a"]});
    let (_, _, text) = call(
        &ctx,
        vec![demo_attempt(
            "/v1/embeddings",
            embed,
            false,
            "demo-embed",
            0,
        )],
        false,
        ApiFormat::Openai,
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(v["data"][0]["embedding"], v["data"][2]["embedding"]);
    assert_ne!(v["data"][0]["embedding"], v["data"][1]["embedding"]);
    assert_eq!(v["data"][1]["index"], 1);

    let embed = json!({"model": "demo-embed", "input": "a", "encoding_format": "base64"});
    let (_, _, text) = call(
        &ctx,
        vec![demo_attempt(
            "/v1/embeddings",
            embed,
            false,
            "demo-embed",
            0,
        )],
        false,
        ApiFormat::Openai,
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"][0]["embedding"].as_str().unwrap().len(), 44); // 8 f32 = 32 bytes

    let (_, _, text) = call(
        &ctx,
        vec![demo_attempt(
            "/v1/responses",
            json!({"model": "demo-chat", "input": "yo"}),
            false,
            "demo-chat",
            0,
        )],
        false,
        ApiFormat::Openai,
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["output"][0]["content"][0]["text"], "echo: yo");

    let mut models = demo_attempt("/v1/models", json!({}), false, "demo-chat", 0);
    models.method = "GET".into();
    models.body = Vec::new();
    let (_, _, text) = call(&ctx, vec![models], false, ApiFormat::Openai).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<_> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["demo-chat", "demo-embed"]);
}

#[tokio::test]
async fn anthropic_messages_plain_and_streamed() {
    let (_demo, ctx) = start().await;
    let body = json!({"model": "claude-demo", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": "ping"}]}]});
    let (_, _, text) = call(
        &ctx,
        vec![demo_attempt(
            "/v1/messages",
            body.clone(),
            true,
            "claude-demo",
            0,
        )],
        false,
        ApiFormat::Anthropic,
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "echo: ping");
    assert_eq!(v["stop_reason"], "end_turn");

    let mut body = body;
    body["stream"] = json!(true);
    let (_, _, text) = call(
        &ctx,
        vec![demo_attempt("/v1/messages", body, true, "claude-demo", 0)],
        true,
        ApiFormat::Anthropic,
    )
    .await;
    let names: Vec<&str> = text
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("event: ")))
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_delta"));
    let text_out: String = sse_data(&text)
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|v| v["type"] == "content_block_delta")
        .map(|v| v["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text_out, "echo: ping");
}

#[tokio::test]
async fn wrong_key_and_failure_models_answer_errors_and_fail_over() {
    let (_demo, ctx) = start().await;
    let chat = json!({"model": "fail-503", "messages": [{"role": "user", "content": "x"}]});
    let mut wrong_key = demo_attempt("/v1/chat/completions", chat.clone(), false, "demo-chat", 0);
    wrong_key.headers[1].1 = "Bearer nope".into();
    wrong_key.key_id = "wrong".into();
    let fail = demo_attempt("/v1/chat/completions", chat, false, "fail-503", 1);
    let rate = demo_attempt(
        "/v1/messages",
        json!({"model": "fail-429", "messages": []}),
        true,
        "fail-429",
        2,
    );
    let good = demo_attempt(
        "/v1/chat/completions",
        json!({"model": "demo-chat", "messages": [{"role": "user", "content": "ok"}]}),
        false,
        "demo-chat",
        3,
    );
    let mut plan = plan(vec![wrong_key, fail, rate, good]);
    plan.max_retry_after_ms = 0; // do not wait for the 429's retry-after: 1
    let PlanResult::Served { response, outcome } = run(&ctx, &plan).await else {
        panic!("not served")
    };
    assert_eq!(
        trail(&outcome.attempts),
        vec![
            // The provider rejected that key: dropped, the same model's next key goes on.
            t("demo", "demo-chat", "wrong", Some(401), "drop_key"),
            t("demo", "fail-503", "demo", Some(503), "next_model"),
            t("demo", "fail-429", "demo", Some(429), "next_key"),
            t("demo", "demo-chat", "demo", Some(200), "succeeded"),
        ]
    );
    let excerpt: Value = serde_json::from_slice(&outcome.attempts[1].body_excerpt).unwrap();
    assert_eq!(excerpt["error"]["type"], "server_error");
    let excerpt: Value = serde_json::from_slice(&outcome.attempts[2].body_excerpt).unwrap();
    assert_eq!(excerpt["type"], "error");
    assert_eq!(excerpt["error"]["type"], "rate_limit_error");
    assert!(
        outcome.attempts[2]
            .headers
            .iter()
            .any(|(n, v)| n == "retry-after" && v == "1")
    );
    let v: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "echo: ok");
}
