//! Streaming through the attempt loop: the commit point (2xx head and a healthy first SSE
//! event), failover before it, and explicit error events after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plan_support::*;
use edge::gateway::PlanResult;
use edge::wit::types::{ApiFormat, AttemptResult, FailureKind, Plan};
use edge_test_support::{TestCa, provider};

const CHUNK_1: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";
const CHUNK_2: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n";
const DONE: &str = "data: [DONE]\n\n";
const OPENAI_ERROR_EVENT: &str =
    "data: {\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\"}}\n\n";
const ANTHROPIC_ERROR_EVENT: &str = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

fn streaming(mut plan: Plan) -> Plan {
    plan.stream = true;
    plan
}

async fn served(result: PlanResult) -> (http::HeaderMap, String, Vec<AttemptResult>) {
    match result {
        PlanResult::Served { response, outcome } => {
            assert_eq!(response.status(), 200);
            let headers = response.headers().clone();
            (headers, body_text(response).await, outcome.attempts)
        }
        PlanResult::Failed(outcome) => panic!("expected a stream, got {outcome:?}"),
    }
}

#[tokio::test]
async fn a_healthy_stream_is_relayed_byte_for_byte() {
    let a = provider("a")
        .events(&[CHUNK_1, CHUNK_2, DONE])
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(&[("a.internal", a.server.addr)], None);
    let plan = streaming(plan(vec![attempt(
        url(a.server.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]));
    let (headers, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(body, format!("{CHUNK_1}{CHUNK_2}{DONE}"));
    assert_eq!(headers["content-type"], "text/event-stream");
    assert!(headers.get("content-length").is_none());
    assert_eq!(headers["x-aigw-attempts"], "1");
    assert_eq!(
        trail(&attempts),
        vec![t("a", "m1", "k1", Some(200), "succeeded")]
    );
}

#[tokio::test]
async fn chunks_reach_the_client_as_they_arrive() {
    let a = provider("a")
        .events(&[CHUNK_1, CHUNK_2, DONE])
        .chunk_delay(1_000)
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(&[("a.internal", a.server.addr)], None);
    let plan = streaming(plan(vec![attempt(
        url(a.server.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]));
    let PlanResult::Served { response, .. } = run(&ctx, &plan).await else {
        panic!("not served")
    };
    use http_body_util::BodyExt;
    let mut body = response.into_body();
    let started = Instant::now();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], CHUNK_1.as_bytes());
    let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&second[..], CHUNK_2.as_bytes());
    // The second chunk came after the provider's gap, not with the end of the stream
    // (another gap later): nothing is held back.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(1_800),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_stream_failing_before_its_first_byte_fails_over() {
    let a = provider("a")
        .events(&[])
        .fail_before_first_byte()
        .start()
        .await
        .unwrap();
    let b = provider("b")
        .events(&[CHUNK_1, DONE])
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let plan = streaming(plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]));
    let (headers, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(body, format!("{CHUNK_1}{DONE}"));
    assert_eq!(headers["x-aigw-model"], "m2");
    assert_eq!(attempts[0].failure, Some(FailureKind::StreamError));
    assert_eq!(
        trail(&attempts),
        vec![
            t("a", "m1", "k1", Some(200), "next_model"),
            t("b", "m2", "k1", Some(200), "succeeded")
        ]
    );
}

#[tokio::test]
async fn an_error_status_on_a_stream_fails_over() {
    let a = provider("a").status(503).start().await.unwrap();
    let b = provider("b")
        .events(&[CHUNK_1, DONE])
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let plan = streaming(plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]));
    let (_, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(body, format!("{CHUNK_1}{DONE}"));
    assert_eq!(
        trail(&attempts),
        vec![
            t("a", "m1", "k1", Some(503), "next_model"),
            t("b", "m2", "k1", Some(200), "succeeded")
        ]
    );
}

#[tokio::test]
async fn an_error_event_first_fails_over_and_the_client_never_sees_it() {
    let a = provider("a")
        .events(&[": keep-alive\n\n", OPENAI_ERROR_EVENT])
        .start()
        .await
        .unwrap();
    let b = provider("b")
        .events(&[CHUNK_1, DONE])
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let plan = streaming(plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]));
    let (_, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(body, format!("{CHUNK_1}{DONE}"));
    assert_eq!(attempts[0].failure, Some(FailureKind::StreamError));
    assert_eq!(
        attempts[0].message,
        "stream failed before its first event: model overloaded"
    );
    assert!(String::from_utf8_lossy(&attempts[0].body_excerpt).contains("model overloaded"));
}

#[tokio::test]
async fn an_anthropic_error_event_first_fails_over() {
    let a = provider("a")
        .events(&[ANTHROPIC_ERROR_EVENT])
        .start()
        .await
        .unwrap();
    let b = provider("b")
        .events(&["event: message_start\ndata: {\"type\":\"message_start\"}\n\n"])
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let mut plan = streaming(plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]));
    plan.format = ApiFormat::Anthropic;
    let (_, body, attempts) = served(run(&ctx, &plan).await).await;
    assert!(body.starts_with("event: message_start"));
    assert_eq!(
        attempts[0].message,
        "stream failed before its first event: Overloaded"
    );
}

#[tokio::test]
async fn a_stream_dropped_midway_ends_with_an_error_event() {
    let a = provider("a")
        .events(&[CHUNK_1, CHUNK_2])
        .drop_after(2)
        .start()
        .await
        .unwrap();
    let b = provider("b")
        .events(&[CHUNK_1, DONE])
        .start()
        .await
        .unwrap();
    let (ctx, sink) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let plan = streaming(plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]));
    let (_, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(
        trail(&attempts),
        vec![t("a", "m1", "k1", Some(200), "succeeded")]
    );
    assert_eq!(sink.broken(), vec!["a/m1/k1"]);
    let tail = body
        .strip_prefix(&format!("{CHUNK_1}{CHUNK_2}"))
        .expect("relayed chunks first");
    assert!(tail.starts_with("data: {\"error\":"), "{tail}");
    assert!(tail.ends_with("\n\n"));
    let event: serde_json::Value =
        serde_json::from_str(tail.trim_start_matches("data: ").trim()).unwrap();
    assert_eq!(event["error"]["code"], "stream_interrupted");
    assert!(
        event["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broke")
    );
    // No failover after the commit.
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn a_stalled_stream_ends_with_an_error_event_after_the_idle_timeout() {
    let a = provider("a")
        .events(&[CHUNK_1])
        .stall_after(1)
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(&[("a.internal", a.server.addr)], None);
    let mut plan = streaming(plan(vec![attempt(
        url(a.server.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]));
    plan.stream_idle_timeout_ms = 300;
    plan.format = ApiFormat::Anthropic;
    let started = Instant::now();
    let (_, body, _) = served(run(&ctx, &plan).await).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    let tail = body.strip_prefix(CHUNK_1).unwrap();
    assert!(tail.starts_with("event: error\ndata: "), "{tail}");
    let event: serde_json::Value =
        serde_json::from_str(tail.trim_start_matches("event: error\ndata: ").trim()).unwrap();
    assert_eq!(event["type"], "error");
    assert!(
        event["error"]["message"]
            .as_str()
            .unwrap()
            .contains("300 ms")
    );
}

#[tokio::test]
async fn a_stream_stalling_before_its_first_event_times_out_the_attempt() {
    let a = provider("a")
        .events(&[])
        .stall_after(0)
        .start()
        .await
        .unwrap();
    let b = provider("b")
        .events(&[CHUNK_1, DONE])
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let mut first = attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0);
    first.timeout_ms = 300;
    let plan = streaming(plan(vec![
        first,
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]));
    let (_, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(body, format!("{CHUNK_1}{DONE}"));
    assert_eq!(attempts[0].failure, Some(FailureKind::Timeout));
    assert_eq!(attempts[0].status, Some(200));
}

#[tokio::test]
async fn a_json_answer_to_a_streaming_request_fails_over() {
    let a = provider("a")
        .body("{\"choices\":[]}")
        .start()
        .await
        .unwrap();
    let b = provider("b")
        .events(&[CHUNK_1, DONE])
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let plan = streaming(plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]));
    let (_, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(attempts[0].failure, Some(FailureKind::StreamError));
    assert!(
        attempts[0].message.contains("application/json"),
        "{}",
        attempts[0].message
    );
}

#[tokio::test]
async fn streams_over_https_and_http2_commit_and_end_with_an_error_event_when_broken() {
    let ca = Arc::new(TestCa::new("stream-ca").unwrap());
    let good = provider("s")
        .events(&[CHUNK_1, CHUNK_2, DONE])
        .tls(&ca)
        .start()
        .await
        .unwrap();
    let broken = provider("b")
        .events(&[CHUNK_1])
        .drop_after(1)
        .tls(&ca)
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(
        &[
            ("s.internal", good.server.addr),
            ("b.internal", broken.server.addr),
        ],
        Some(&*ca),
    );
    let plan_ok = streaming(plan(vec![attempt(
        url(good.server.addr, "s.internal", "https"),
        "s",
        "m1",
        "k1",
        0,
    )]));
    let (_, body, _) = served(run(&ctx, &plan_ok).await).await;
    assert_eq!(body, format!("{CHUNK_1}{CHUNK_2}{DONE}"));
    assert_eq!(good.received()[0].headers["accept-encoding"], "identity");
    let plan_broken = streaming(plan(vec![attempt(
        url(broken.server.addr, "b.internal", "https"),
        "b",
        "m1",
        "k1",
        0,
    )]));
    let (_, body, _) = served(run(&ctx, &plan_broken).await).await;
    let tail = body.strip_prefix(CHUNK_1).unwrap();
    assert!(tail.starts_with("data: {\"error\":"), "{tail}");
}
