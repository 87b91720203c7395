//! The fault matrix of issue 3, each case over plain-HTTP `.internal` providers and over
//! HTTPS providers with certificates from a test CA. Every case asserts the exact attempt
//! order the providers saw, the client's status and body, and the gateway's headers
//! (`x-aigw-attempts`, `x-aigw-provider`, `x-aigw-model`, `x-edge-error-code`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_tests::ai::{ProviderCfg, ai_policy, chat, messages};
use edge_tests::client::{Reply, StreamReply};
use edge_tests::http_server::closed_port;
use edge_tests::providers::ProviderBuilder;
use edge_tests::{Client, Edge, MockProvider, TestCa, edge, provider};
use serde_json::json;

/// Plain or HTTPS providers; the edge trusts `ca` for provider TLS.
struct Fx {
    tls: bool,
    ca: Arc<TestCa>,
}

impl Fx {
    fn new(tls: bool) -> Self {
        Self {
            tls,
            ca: Arc::new(TestCa::new("provider test CA").unwrap()),
        }
    }
    fn provider(&self, name: &str) -> ProviderBuilder {
        let b = provider(name);
        if self.tls { b.tls(&self.ca) } else { b }
    }
    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
    async fn edge(
        &self,
        policy: String,
        providers: &[&MockProvider],
        extra_internal: &[String],
    ) -> Edge {
        let mut b = edge().policy(&policy).provider_ca(&self.ca);
        for p in providers {
            b = b.provider(p);
        }
        for m in extra_internal {
            b = b.internal(m);
        }
        b.start().await.unwrap()
    }
}

/// Every request the providers saw, in arrival order, as `provider/model/credential`.
fn attempt_log(providers: &[&MockProvider]) -> Vec<String> {
    let mut all: Vec<(Instant, String)> = providers
        .iter()
        .flat_map(|p| {
            p.received().into_iter().map(move |r| {
                let cred = r
                    .header("authorization")
                    .map(|a| a.trim_start_matches("Bearer ").to_owned())
                    .or_else(|| r.header("x-api-key").map(str::to_owned))
                    .unwrap_or_else(|| "-".into());
                (
                    r.at,
                    format!("{}/{}/{}", p.name, r.model().unwrap_or_default(), cred),
                )
            })
        })
        .collect();
    all.sort_by_key(|(t, _)| *t);
    all.into_iter().map(|(_, s)| s).collect()
}

fn assert_served(r: &Reply, provider: &str, model: &str, attempts: u32) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-aigw-provider"),
        Some(provider),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("x-aigw-model"), Some(model), "{:?}", r.headers);
    assert_eq!(
        r.header("x-aigw-attempts"),
        Some(attempts.to_string().as_str()),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("x-edge-error-code"), None);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"].as_str(),
        Some(format!("{provider}:{model}").as_str()),
        "the body is the serving provider's, byte for byte: {}",
        r.text()
    );
}

/// A gateway error: status, code in body and header agree, OpenAI shape, attempts counted.
fn assert_gateway_error(r: &Reply, status: u16, attempts: u32) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code: {}", r.text()))
        .to_owned();
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(v["error"]["type"].is_string(), "{v}");
    assert_eq!(r.header("x-edge-error-code"), Some(code.as_str()));
    assert_eq!(
        r.header("x-aigw-attempts"),
        Some(attempts.to_string().as_str()),
        "{:?}",
        r.headers
    );
    code
}

async fn post(e: &Edge, body: &serde_json::Value) -> Reply {
    Client::new()
        .unwrap()
        .post_json(&e.url("/v1/chat/completions"), body)
        .await
        .unwrap()
}

async fn post_stream(e: &Edge, body: &serde_json::Value) -> StreamReply {
    Client::new()
        .unwrap()
        .post_stream(
            &e.url("/v1/chat/completions"),
            body,
            Duration::from_secs(10),
        )
        .await
        .unwrap()
}

macro_rules! plain_and_https {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn plain_internal() {
                super::$case(super::Fx::new(false)).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn https_test_ca() {
                super::$case(super::Fx::new(true)).await
            }
        }
    )*};
}

plain_and_https!(
    connection_refused_moves_to_the_next_model,
    tls_failure_moves_to_the_next_model,
    status_500_moves_to_the_next_model,
    status_503_with_short_retry_after_retries_the_same_attempt,
    status_503_with_long_retry_after_moves_on,
    status_429_tries_the_next_key_then_the_next_model,
    status_401_tries_the_next_key,
    status_400_stops_at_once,
    per_attempt_timeout_moves_to_the_next_model,
    total_timeout_ends_the_loop_with_504,
    everything_failing_lists_every_attempt,
    stream_failing_before_its_first_byte_fails_over,
    error_event_as_first_sse_event_fails_over,
    stream_dropped_midway_ends_with_an_error_event,
    stalled_stream_ends_with_an_error_event,
);

async fn connection_refused_moves_to_the_next_model(fx: Fx) {
    let up = fx.provider("up").start().await.unwrap();
    let down = closed_port().unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::named(
            "down",
            &format!("{}://down.internal/v1", fx.scheme()),
        ))
        .provider(ProviderCfg::of(&up))
        .build();
    let e = fx
        .edge(policy, &[&up], &[format!("down.internal={down}")])
        .await;
    let r = post(&e, &chat("down:down-model", &["up:up-model"], false)).await;
    assert_served(&r, "up", "up-model", 2);
    assert_eq!(attempt_log(&[&up]), vec!["up/up-model/-"]);
}

async fn tls_failure_moves_to_the_next_model(fx: Fx) {
    // A provider whose certificate comes from a CA the edge does not trust (HTTPS), or a
    // plain-HTTP server addressed with https:// (plain case): both are TLS failures.
    let stranger = Arc::new(TestCa::new("untrusted CA").unwrap());
    let bad = provider("bad").tls(&stranger).start().await.unwrap();
    let good = fx.provider("good").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&bad).base_url("https://bad.internal/v1"))
        .provider(ProviderCfg::of(&good))
        .build();
    let e = fx.edge(policy, &[&bad, &good], &[]).await;
    let r = post(&e, &chat("bad:bad-model", &["good:good-model"], false)).await;
    assert_served(&r, "good", "good-model", 2);
    assert!(
        bad.received().is_empty(),
        "no HTTP request completes over a failed handshake"
    );
    assert_eq!(attempt_log(&[&good]), vec!["good/good-model/-"]);
}

async fn status_500_moves_to_the_next_model(fx: Fx) {
    let a = fx.provider("a").status(500).start().await.unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["ka1", "ka2"]))
        .provider(ProviderCfg::of(&b).keys(&["kb1"]))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    // A 5xx is the model's fault, not the key's: the second key of `a` is skipped.
    assert_served(&r, "b", "b-model", 2);
    assert_eq!(
        attempt_log(&[&a, &b]),
        vec!["a/a-model/ka1", "b/b-model/kb1"]
    );
}

async fn status_503_with_short_retry_after_retries_the_same_attempt(fx: Fx) {
    let a = fx
        .provider("a")
        .status(503)
        .retry_after(1)
        .then()
        .start()
        .await
        .unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["ka1"]))
        .provider(ProviderCfg::of(&b).keys(&["kb1"]))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let t = Instant::now();
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    assert_served(&r, "a", "a-model", 2);
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "Retry-After honoured: {:?}",
        t.elapsed()
    );
    assert_eq!(
        attempt_log(&[&a, &b]),
        vec!["a/a-model/ka1", "a/a-model/ka1"]
    );
}

async fn status_503_with_long_retry_after_moves_on(fx: Fx) {
    let a = fx
        .provider("a")
        .status(503)
        .retry_after(30)
        .start()
        .await
        .unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let t = Instant::now();
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    assert_served(&r, "b", "b-model", 2);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "a Retry-After over 5 s is not waited for"
    );
    assert_eq!(attempt_log(&[&a, &b]), vec!["a/a-model/-", "b/b-model/-"]);
}

async fn status_429_tries_the_next_key_then_the_next_model(fx: Fx) {
    let a = fx.provider("a").status(429).start().await.unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["ka1", "ka2"]))
        .provider(ProviderCfg::of(&b).keys(&["kb1", "kb2"]))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    assert_served(&r, "b", "b-model", 3);
    assert_eq!(
        attempt_log(&[&a, &b]),
        vec!["a/a-model/ka1", "a/a-model/ka2", "b/b-model/kb1"]
    );
}

async fn status_401_tries_the_next_key(fx: Fx) {
    let a = fx.provider("a").status(401).then().start().await.unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["ka1", "ka2"]))
        .provider(ProviderCfg::of(&b).keys(&["kb1"]))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    assert_served(&r, "a", "a-model", 2);
    assert_eq!(
        attempt_log(&[&a, &b]),
        vec!["a/a-model/ka1", "a/a-model/ka2"]
    );
}

async fn status_400_stops_at_once(fx: Fx) {
    let a = fx
        .provider("a")
        .status(400)
        .error_body(json!({"error": {"message": "bad temperature", "type": "invalid_request_error", "code": "bad_param"}}))
        .start()
        .await
        .unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["ka1", "ka2"]))
        .provider(ProviderCfg::of(&b))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("x-aigw-attempts"), Some("1"));
    assert!(
        r.text().contains("bad temperature"),
        "the provider's reason reaches the client: {}",
        r.text()
    );
    assert_eq!(
        attempt_log(&[&a, &b]),
        vec!["a/a-model/ka1"],
        "no other key, no other model"
    );
}

async fn per_attempt_timeout_moves_to_the_next_model(fx: Fx) {
    let a = fx.provider("a").delay(3_000).start().await.unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["ka1", "ka2"]))
        .provider(ProviderCfg::of(&b))
        .set("per_request_timeout", json!("300ms"))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let t = Instant::now();
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    let took = t.elapsed();
    assert_served(&r, "b", "b-model", 2);
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(2_000),
        "{took:?}"
    );
    assert_eq!(attempt_log(&[&a, &b]), vec!["a/a-model/ka1", "b/b-model/-"]);
}

async fn total_timeout_ends_the_loop_with_504(fx: Fx) {
    let a = fx.provider("a").delay(3_000).start().await.unwrap();
    let b = fx.provider("b").delay(3_000).start().await.unwrap();
    let c = fx.provider("c").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .provider(ProviderCfg::of(&c))
        .set("per_request_timeout", json!("400ms"))
        .set("total_timeout", json!("600ms"))
        .build();
    let e = fx.edge(policy, &[&a, &b, &c], &[]).await;
    let t = Instant::now();
    let r = post(&e, &chat("a:a-model", &["b:b-model", "c:c-model"], false)).await;
    let took = t.elapsed();
    let code = assert_gateway_error(&r, 504, 2);
    assert!(!code.is_empty());
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_millis(2_000),
        "{took:?}"
    );
    assert_eq!(
        attempt_log(&[&a, &b, &c]),
        vec!["a/a-model/-", "b/b-model/-"],
        "c is never tried"
    );
}

async fn everything_failing_lists_every_attempt(fx: Fx) {
    let a = fx.provider("a").status(500).start().await.unwrap();
    let b = fx.provider("b").status(502).start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let r = post(&e, &chat("a:a-model", &["b:b-model"], false)).await;
    assert_gateway_error(&r, 503, 2);
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        msg.contains("a-model") && msg.contains("b-model"),
        "each failed attempt is named: {msg}"
    );
    assert!(
        msg.contains("500") && msg.contains("502"),
        "with its status: {msg}"
    );
    assert_eq!(attempt_log(&[&a, &b]), vec!["a/a-model/-", "b/b-model/-"]);

    // Anthropic format: same failure, Anthropic error shape.
    let a2 = fx.provider("a2").status(500).start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a2).formats(&["anthropic"]))
        .build();
    let e = fx.edge(policy, &[&a2], &[]).await;
    let r = Client::new()
        .unwrap()
        .post_json(&e.url("/v1/messages"), &messages("a2:a2-model", false))
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert!(
        v["error"]["type"].is_string() && v["error"]["message"].is_string(),
        "{v}"
    );
    assert!(r.header("x-edge-error-code").is_some());
}

fn assert_stream_ok(s: &StreamReply, provider: &str, model: &str, attempts: u32) {
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(s.header("content-type"), Some("text/event-stream"));
    assert_eq!(s.header("x-aigw-provider"), Some(provider));
    assert_eq!(s.header("x-aigw-model"), Some(model));
    assert_eq!(
        s.header("x-aigw-attempts"),
        Some(attempts.to_string().as_str())
    );
    assert!(s.transport_error.is_none(), "{:?}", s.transport_error);
    assert!(!s.events.iter().any(|e| e.is_error()), "{}", s.raw);
    assert_eq!(
        edge_tests::sse::stream_text(&s.events),
        format!("{provider}:{model} c1 c2 ")
    );
    assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));
}

async fn stream_failing_before_its_first_byte_fails_over(fx: Fx) {
    let a = fx
        .provider("a")
        .fail_before_first_byte()
        .start()
        .await
        .unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let s = post_stream(&e, &chat("a:a-model", &["b:b-model"], true)).await;
    assert_stream_ok(&s, "b", "b-model", 2);
    assert_eq!(attempt_log(&[&a, &b]), vec!["a/a-model/-", "b/b-model/-"]);
}

async fn error_event_as_first_sse_event_fails_over(fx: Fx) {
    let a = fx.provider("a").first_event_error().start().await.unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let s = post_stream(&e, &chat("a:a-model", &["b:b-model"], true)).await;
    assert_stream_ok(&s, "b", "b-model", 2);
    assert!(
        !s.raw.contains("mock overloaded"),
        "the failed attempt's bytes never reach the client"
    );
    assert_eq!(attempt_log(&[&a, &b]), vec!["a/a-model/-", "b/b-model/-"]);
}

async fn stream_dropped_midway_ends_with_an_error_event(fx: Fx) {
    let a = fx
        .provider("a")
        .stream_chunks(6)
        .drop_after(3)
        .start()
        .await
        .unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let s = post_stream(&e, &chat("a:a-model", &["b:b-model"], true)).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.header("x-aigw-provider"), Some("a"));
    assert_eq!(
        edge_tests::sse::stream_text(&s.events),
        "a:a-model c1 c2 ",
        "chunks before the break arrive"
    );
    let last = s.events.last().expect("events");
    assert!(
        last.is_error(),
        "an explicit error event ends the stream, not a clean end: {}",
        s.raw
    );
    assert!(!s.raw.contains("[DONE]"), "{}", s.raw);
    assert_eq!(
        attempt_log(&[&a, &b]),
        vec!["a/a-model/-"],
        "no failover after the first byte"
    );
}

async fn stalled_stream_ends_with_an_error_event(fx: Fx) {
    let a = fx
        .provider("a")
        .stream_chunks(6)
        .stall_after(2)
        .start()
        .await
        .unwrap();
    let b = fx.provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .set("stream_idle_timeout", json!("400ms"))
        .build();
    let e = fx.edge(policy, &[&a, &b], &[]).await;
    let t = Instant::now();
    let s = post_stream(&e, &chat("a:a-model", &["b:b-model"], true)).await;
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(s.status, 200);
    assert_eq!(edge_tests::sse::stream_text(&s.events), "a:a-model c1 ");
    let last = s.events.last().expect("events");
    assert!(
        last.is_error(),
        "a stalled stream ends with an error event: {}",
        s.raw
    );
    assert!(
        s.transport_error.is_none()
            || !s
                .transport_error
                .as_deref()
                .unwrap_or("")
                .contains("client gave up")
    );
    assert_eq!(attempt_log(&[&a, &b]), vec!["a/a-model/-"]);
}
