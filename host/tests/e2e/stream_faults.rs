//! Streams and answer bodies that fail after the response head, against real loopback
//! providers (docs/ai-gateway.md, "Streams: commit point and broken streams"): a break
//! inside an SSE event, a clean end without the closing event, a provider that only pings,
//! the maximum stream duration, an error event after the preamble, and non-stream bodies
//! that stall or break after a 2xx head.

use std::time::{Duration, Instant};

use edge_test_support::ai::{ProviderCfg, ai_policy, chat, messages};
use edge_test_support::client::StreamReply;
use edge_test_support::sse::{SseEvent, stream_text};
use edge_test_support::{Client, Edge, MockProvider, provider};
use serde_json::{Value, json};

use crate::edge;

async fn start_edge(providers: &[(&MockProvider, &[&str])], config: &[(&str, Value)]) -> Edge {
    let mut policy = ai_policy();
    for (p, formats) in providers {
        policy = policy.provider(ProviderCfg::of(p).formats(formats));
    }
    for (key, value) in config {
        policy = policy.set(key, value.clone());
    }
    let mut b = edge()
        .policy(&policy.build())
        .arg("--log-format")
        .arg("json");
    for (p, _) in providers {
        b = b.provider(p);
    }
    b.start().await.unwrap()
}

/// Streams `body` to `path`; the whole call is bounded so a stream the edge fails to end
/// fails the test instead of hanging it.
async fn stream(e: &Edge, path: &str, body: &Value, bound: Duration) -> StreamReply {
    let client = Client::new().unwrap();
    tokio::time::timeout(
        bound,
        client.post_stream(&e.url(path), body, Duration::from_secs(10)),
    )
    .await
    .unwrap_or_else(|_| panic!("the edge did not end the stream within {bound:?}"))
    .unwrap()
}

/// Every event the client got carries parseable JSON (or `[DONE]`), and the last one is an
/// error event: what an SDK needs to raise an API error instead of a decode error.
fn assert_whole_events_then_error(s: &StreamReply) -> SseEvent {
    assert_eq!(s.status, 200, "{}", s.raw);
    assert!(s.transport_error.is_none(), "{:?}", s.transport_error);
    assert!(
        s.raw.ends_with("\n\n"),
        "the body ends with a whole event: {:?}",
        s.raw
    );
    for ev in &s.events {
        assert!(
            ev.data == "[DONE]" || serde_json::from_str::<Value>(&ev.data).is_ok(),
            "an event the client cannot parse: {ev:?} in\n{}",
            s.raw
        );
    }
    let last = s.events.last().cloned().expect("events");
    assert!(last.is_error(), "no closing error event in\n{}", s.raw);
    last
}

/// The `stream broken` line the edge logs for this request, when one is there.
async fn broken_stream_log(e: &Edge) -> Value {
    e.wait_for_log("stream broken", Duration::from_secs(5))
        .await
        .unwrap();
    e.logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["target"] == "edge::access" && v["message"] == "stream broken")
        .unwrap_or_else(|| panic!("no stream broken line in\n{}", e.logs()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_stream_broken_inside_an_event_ends_with_whole_events_then_an_error_event() {
    let a = provider("a")
        .stream_chunks(6)
        .cut_inside_event(3)
        .start()
        .await
        .unwrap();
    let e = start_edge(&[(&a, &[])], &[]).await;
    let s = stream(
        &e,
        "/v1/chat/completions",
        &chat("a:a-model", &[], true),
        Duration::from_secs(10),
    )
    .await;
    let last = assert_whole_events_then_error(&s);
    assert_eq!(
        last.json()["error"]["code"],
        "stream_interrupted",
        "{last:?}"
    );
    assert_eq!(stream_text(&s.events), "a:a-model c1 c2 ");
    let log = broken_stream_log(&e).await;
    assert_eq!(log["provider"], "a");
    assert!(log["reason"].as_str().unwrap().contains("broke"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_stream_broken_inside_an_event_ends_with_an_error_event() {
    // message_start, content_block_start, then the first delta is cut in half.
    let a = provider("a")
        .stream_chunks(6)
        .cut_inside_event(3)
        .start()
        .await
        .unwrap();
    let e = start_edge(&[(&a, &["anthropic"])], &[]).await;
    let s = stream(
        &e,
        "/v1/messages",
        &messages("a:a-model", true),
        Duration::from_secs(10),
    )
    .await;
    let last = assert_whole_events_then_error(&s);
    assert_eq!(last.event.as_deref(), Some("error"));
    assert_eq!(last.json()["type"], "error");
    assert_eq!(stream_text(&s.events), "a:a-model ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_end_without_the_closing_event_is_a_broken_stream() {
    let a = provider("a")
        .stream_chunks(3)
        .no_closing_event()
        .start()
        .await
        .unwrap();
    let m = provider("m")
        .stream_chunks(3)
        .no_closing_event()
        .start()
        .await
        .unwrap();
    let e = start_edge(&[(&a, &[]), (&m, &["anthropic"])], &[]).await;

    let s = stream(
        &e,
        "/v1/chat/completions",
        &chat("a:a-model", &[], true),
        Duration::from_secs(10),
    )
    .await;
    let last = assert_whole_events_then_error(&s);
    assert!(!s.raw.contains("[DONE]"));
    assert!(
        last.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("without its closing event"),
        "{last:?}"
    );
    let log = broken_stream_log(&e).await;
    assert_eq!(log["provider"], "a");
    assert_eq!(log["stream"], "broken");
    assert!(
        log["request_id"]
            .as_str()
            .is_some_and(|id| Some(id) == s.header("x-aigw-request-id")),
        "{log} {:?}",
        s.headers
    );

    let s = stream(
        &e,
        "/v1/messages",
        &messages("m:m-model", true),
        Duration::from_secs(10),
    )
    .await;
    let last = assert_whole_events_then_error(&s);
    assert_eq!(last.event.as_deref(), Some("error"));
    assert!(!s.raw.contains("message_stop"));
    assert_eq!(stream_text(&s.events), "m:m-model c1 c2 ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responses_stream_needs_its_closing_event() {
    let delta = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n";
    let created =
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{}}\n\n";
    let completed =
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{}}\n\n";
    let cut = provider("cut")
        .events(&[created, delta])
        .start()
        .await
        .unwrap();
    let whole = provider("whole")
        .events(&[created, delta, completed])
        .start()
        .await
        .unwrap();
    let e = start_edge(&[(&cut, &[]), (&whole, &[])], &[]).await;
    let body = |model: &str| json!({"model": model, "input": "hello", "stream": true});

    let s = stream(
        &e,
        "/v1/responses",
        &body("whole:whole-model"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(s.raw, format!("{created}{delta}{completed}"));

    let s = stream(
        &e,
        "/v1/responses",
        &body("cut:cut-model"),
        Duration::from_secs(10),
    )
    .await;
    let last = assert_whole_events_then_error(&s);
    assert!(s.raw.starts_with(&format!("{created}{delta}")), "{}", s.raw);
    assert!(last.json()["error"]["message"].is_string(), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alives_do_not_hold_a_stream_open_past_the_idle_timeout() {
    let a = provider("a")
        .stream_chunks(6)
        .ping_forever_after(2, 100)
        .start()
        .await
        .unwrap();
    let m = provider("m")
        .stream_chunks(6)
        .ping_forever_after(3, 100)
        .start()
        .await
        .unwrap();
    let e = start_edge(
        &[(&a, &[]), (&m, &["anthropic"])],
        &[("stream_idle_timeout", json!("600ms"))],
    )
    .await;

    let started = Instant::now();
    let s = stream(
        &e,
        "/v1/chat/completions",
        &chat("a:a-model", &[], true),
        Duration::from_secs(8),
    )
    .await;
    let took = started.elapsed();
    let last = assert_whole_events_then_error(&s);
    assert!(
        last.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no data for 600 ms"),
        "{last:?}"
    );
    assert!(s.raw.contains(": keep-alive"), "the pings were relayed");
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // Anthropic `ping` events are keep-alives too.
    let s = stream(
        &e,
        "/v1/messages",
        &messages("m:m-model", true),
        Duration::from_secs(8),
    )
    .await;
    let last = assert_whole_events_then_error(&s);
    assert_eq!(last.event.as_deref(), Some("error"));
    assert!(s.raw.contains("event: ping"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_max_duration_ends_a_stream_that_keeps_sending() {
    let a = provider("a")
        .stream_chunks(100)
        .chunk_delay(100)
        .start()
        .await
        .unwrap();
    let e = start_edge(&[(&a, &[])], &[("stream_max_duration", json!("1s"))]).await;
    let started = Instant::now();
    let s = stream(
        &e,
        "/v1/chat/completions",
        &chat("a:a-model", &[], true),
        Duration::from_secs(8),
    )
    .await;
    let took = started.elapsed();
    let last = assert_whole_events_then_error(&s);
    assert!(
        last.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum duration of 1000 ms"),
        "{last:?}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(stream_text(&s.events).starts_with("a:a-model c1 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_event_after_message_start_fails_over() {
    let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_a\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"a-model\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n";
    let ping = "event: ping\ndata: {\"type\": \"ping\"}\n\n";
    let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let a = provider("a")
        .events(&[start, ping, overloaded])
        .start()
        .await
        .unwrap();
    let b = provider("b").start().await.unwrap();
    let e = start_edge(&[(&a, &["anthropic"]), (&b, &["anthropic"])], &[]).await;
    let mut body = messages("a:a-model", true);
    body["models"] = json!(["b:b-model"]);
    let s = stream(&e, "/v1/messages", &body, Duration::from_secs(10)).await;
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(s.header("x-aigw-provider"), Some("b"));
    assert_eq!(s.header("x-aigw-attempts"), Some("2"));
    assert!(
        !s.raw.contains("msg_a"),
        "a's preamble never reached the client"
    );
    assert!(!s.raw.contains("Overloaded"));
    assert!(!s.events.iter().any(SseEvent::is_error), "{}", s.raw);
    assert_eq!(
        s.events.last().and_then(|e| e.event.as_deref()),
        Some("message_stop")
    );
    assert_eq!(stream_text(&s.events), "b:b-model c1 c2 ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_stream_body_that_stalls_fails_over_within_the_attempt_timeout() {
    let a = provider("a")
        .events(&["{\"choices\":[", "]}"])
        .header("content-type", "application/json")
        .stall_after(1)
        .start()
        .await
        .unwrap();
    let b = provider("b").start().await.unwrap();
    let e = start_edge(
        &[(&a, &[]), (&b, &[])],
        &[
            ("per_request_timeout", json!("1s")),
            ("total_timeout", json!("2s")),
        ],
    )
    .await;
    let client = Client::new().unwrap();
    let started = Instant::now();
    let r = client
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &["b:b-model"], false),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-provider"), Some("b"));
    assert_eq!(r.header("x-aigw-attempts"), Some("2"));
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "b:b-model",
        "{}",
        r.text()
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_stream_body_that_stalls_cannot_outlast_the_total_timeout() {
    let a = provider("a")
        .events(&["{\"choices\":[", "]}"])
        .header("content-type", "application/json")
        .stall_after(1)
        .start()
        .await
        .unwrap();
    let e = start_edge(
        &[(&a, &[])],
        &[
            ("per_request_timeout", json!("5s")),
            ("total_timeout", json!("1s")),
        ],
    )
    .await;
    let client = Client::new().unwrap();
    let started = Instant::now();
    let r = client
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &[], false),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.error_code().as_deref(), Some("total_timeout"));
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_stream_body_that_breaks_fails_over() {
    let a = provider("a")
        .events(&["{\"choices\":["])
        .header("content-type", "application/json")
        .drop_after(1)
        .start()
        .await
        .unwrap();
    let b = provider("b").start().await.unwrap();
    let e = start_edge(&[(&a, &[]), (&b, &[])], &[]).await;
    let client = Client::new().unwrap();
    let r = client
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &["b:b-model"], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-provider"), Some("b"));
    assert_eq!(r.json()["choices"][0]["message"]["content"], "b:b-model");
}
