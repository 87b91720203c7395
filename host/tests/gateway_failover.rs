//! The attempt loop's failover matrix against real loopback providers (plain HTTP `.internal`
//! and HTTPS with a test CA), non-streaming requests.

mod gateway_support;

use std::time::{Duration, Instant};

use edge::gateway::{FailoverClassifier, PlanResult, execute_plan};
use edge::wit::types::{AttemptResult, FailoverAction, FailureKind};
use gateway_support::*;

fn failed(result: PlanResult) -> edge::wit::types::GatewayOutcome {
    match result {
        PlanResult::Failed(outcome) => outcome,
        PlanResult::Served { outcome, .. } => panic!("expected a failure, got served: {outcome:?}"),
    }
}

async fn served(result: PlanResult) -> (u16, http::HeaderMap, String, Vec<AttemptResult>) {
    match result {
        PlanResult::Served { response, outcome } => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            assert_eq!(outcome.served, Some(status));
            (status, headers, body_text(response).await, outcome.attempts)
        }
        PlanResult::Failed(outcome) => panic!("expected success, got {outcome:?}"),
    }
}

#[tokio::test]
async fn success_passes_body_and_headers_through() {
    let p = provider()
        .reply(Reply::Status {
            status: 200,
            headers: vec![
                ("content-type", "application/json".into()),
                ("x-ratelimit-remaining-requests", "42".into()),
                ("connection", "x-hop".into()),
                ("x-hop", "1".into()),
            ],
            body: "{\"ok\":true}".into(),
        })
        .start()
        .await;
    let (ctx, sink) = context(&[("a.internal", p.addr)], None);
    let plan = plan(vec![attempt(
        url(p.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]);
    let (status, headers, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(status, 200);
    assert_eq!(body, "{\"ok\":true}");
    assert_eq!(headers["x-aigw-attempts"], "1");
    assert_eq!(headers["x-aigw-provider"], "a");
    assert_eq!(headers["x-aigw-model"], "m1");
    assert_eq!(headers["x-plan"], "yes");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "42");
    assert!(headers.get("x-hop").is_none());
    assert_eq!(
        trail(&attempts),
        vec![t("a", "m1", "k1", Some(200), "succeeded")]
    );
    // The provider got the plan's credential, body and path.
    let seen = p.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].headers["authorization"], "Bearer secret-k1");
    assert_eq!(&seen[0].body[..], b"{\"model\":\"m1\"}");
    assert_eq!(
        sink.records(),
        vec![Record {
            provider: "a".into(),
            model: "m1".into(),
            key_id: "k1".into(),
            status: Some(200),
            ok: true
        }]
    );
}

#[tokio::test]
async fn connection_refused_fails_over_to_next_model() {
    let dead = refused_addr().await;
    let good = provider().reply(ok_json("{}")).start().await;
    let (ctx, sink) = context(
        &[("dead.internal", dead), ("good.internal", good.addr)],
        None,
    );
    let plan = plan(vec![
        attempt(url(dead, "dead.internal", "http"), "dead", "m1", "k1", 0),
        attempt(url(dead, "dead.internal", "http"), "dead", "m1", "k2", 0),
        attempt(
            url(good.addr, "good.internal", "http"),
            "good",
            "m2",
            "k1",
            1,
        ),
    ]);
    let (status, headers, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-aigw-attempts"], "2");
    assert_eq!(attempts[0].failure, Some(FailureKind::Connect));
    assert_eq!(
        trail(&attempts),
        vec![
            t("dead", "m1", "k1", None, "next_model"),
            t("good", "m2", "k1", Some(200), "succeeded")
        ]
    );
    assert!(!sink.records()[0].ok);
}

#[tokio::test]
async fn dns_failure_is_reported_as_dns() {
    let good = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(&[("good.internal", good.addr)], None);
    let plan = plan(vec![
        attempt(
            "https://no-such-host.invalid/v1/chat/completions".into(),
            "x",
            "m1",
            "k1",
            0,
        ),
        attempt(
            url(good.addr, "good.internal", "http"),
            "good",
            "m2",
            "k1",
            1,
        ),
    ]);
    let (_, _, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(
        attempts[0].failure,
        Some(FailureKind::Dns),
        "{:?}",
        attempts[0].message
    );
    assert_eq!(attempts[0].retry_action, "next_model");
}

#[tokio::test]
async fn https_with_the_test_ca_works_and_a_wrong_ca_is_a_tls_failure() {
    let trusted = TestCa::new("trusted");
    let untrusted = TestCa::new("untrusted");
    let bad = provider()
        .reply(ok_json("{\"from\":\"bad\"}"))
        .tls(&untrusted, "bad.internal")
        .start()
        .await;
    let good = provider()
        .reply(ok_json("{\"from\":\"good\"}"))
        .tls(&trusted, "good.internal")
        .start()
        .await;
    let (ctx, _) = context(
        &[("bad.internal", bad.addr), ("good.internal", good.addr)],
        Some(&trusted),
    );
    let plan = plan(vec![
        attempt(url(bad.addr, "bad.internal", "https"), "bad", "m1", "k1", 0),
        attempt(
            url(good.addr, "good.internal", "https"),
            "good",
            "m2",
            "k1",
            1,
        ),
    ]);
    let (status, _, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(status, 200);
    assert_eq!(body, "{\"from\":\"good\"}");
    assert_eq!(
        attempts[0].failure,
        Some(FailureKind::Tls),
        "{}",
        attempts[0].message
    );
    assert_eq!(
        trail(&attempts),
        vec![
            t("bad", "m1", "k1", None, "next_model"),
            t("good", "m2", "k1", Some(200), "succeeded")
        ]
    );
    assert_eq!(bad.hits(), 0);
}

#[tokio::test]
async fn server_error_skips_the_models_other_keys() {
    let a = provider().reply(status(500)).start().await;
    let b = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(&[("a.internal", a.addr), ("b.internal", b.addr)], None);
    let plan = plan(vec![
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k2", 0),
        attempt(url(b.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]);
    let (_, _, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(
        trail(&attempts),
        vec![
            t("a", "m1", "k1", Some(500), "next_model"),
            t("b", "m2", "k1", Some(200), "succeeded")
        ]
    );
    assert_eq!(a.hits(), 1);
    assert_eq!(attempts[0].failure, Some(FailureKind::Status));
    assert_eq!(
        String::from_utf8_lossy(&attempts[0].body_excerpt),
        "{\"error\":{\"message\":\"scripted 500\"}}"
    );
}

#[tokio::test]
async fn service_unavailable_with_short_retry_after_retries_the_same_target() {
    let a = provider()
        .reply(status_with(503, "retry-after", "1"))
        .reply(ok_json("{\"second\":true}"))
        .start()
        .await;
    let (ctx, _) = context(&[("a.internal", a.addr)], None);
    let plan = plan(vec![attempt(
        url(a.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]);
    let started = Instant::now();
    let (_, headers, body, attempts) = served(run(&ctx, &plan).await).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(body, "{\"second\":true}");
    assert_eq!(headers["x-aigw-attempts"], "2");
    assert_eq!(
        trail(&attempts),
        vec![
            t("a", "m1", "k1", Some(503), "retry_same"),
            t("a", "m1", "k1", Some(200), "succeeded")
        ]
    );
}

#[tokio::test]
async fn retry_after_too_long_or_beyond_the_total_timeout_moves_on() {
    let a = provider()
        .reply(status_with(503, "retry-after", "30"))
        .start()
        .await;
    let b = provider()
        .reply(status_with(429, "retry-after", "3"))
        .start()
        .await;
    let c = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(
        &[
            ("a.internal", a.addr),
            ("b.internal", b.addr),
            ("c.internal", c.addr),
        ],
        None,
    );
    let mut plan = plan(vec![
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.addr, "b.internal", "http"), "b", "m2", "k1", 1),
        attempt(url(c.addr, "c.internal", "http"), "c", "m3", "k1", 2),
    ]);
    // 3 s fits under max_retry_after (5 s) but not in what is left of a 2 s total timeout.
    plan.total_timeout_ms = 2_000;
    let (_, _, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(
        trail(&attempts),
        vec![
            t("a", "m1", "k1", Some(503), "next_model"),
            t("b", "m2", "k1", Some(429), "next_key"),
            t("c", "m3", "k1", Some(200), "succeeded"),
        ]
    );
}

#[tokio::test]
async fn retry_same_happens_at_most_twice() {
    let a = provider()
        .reply(status_with(503, "retry-after", "0"))
        .start()
        .await;
    let (ctx, _) = context(&[("a.internal", a.addr)], None);
    let plan = plan(vec![attempt(
        url(a.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]);
    let outcome = failed(run(&ctx, &plan).await);
    assert_eq!(
        trail(&outcome.attempts),
        vec![
            t("a", "m1", "k1", Some(503), "retry_same"),
            t("a", "m1", "k1", Some(503), "retry_same"),
            t("a", "m1", "k1", Some(503), "exhausted"),
        ]
    );
}

#[tokio::test]
async fn rate_limit_tries_the_next_key_then_the_next_model() {
    let a = provider().reply(status(429)).start().await;
    let b = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(&[("a.internal", a.addr), ("b.internal", b.addr)], None);
    let plan = plan(vec![
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k2", 0),
        attempt(url(b.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]);
    let (_, headers, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(
        trail(&attempts),
        vec![
            t("a", "m1", "k1", Some(429), "next_key"),
            t("a", "m1", "k2", Some(429), "next_key"),
            t("b", "m2", "k1", Some(200), "succeeded"),
        ]
    );
    assert_eq!(headers["x-aigw-attempts"], "3");
    let keys: Vec<_> = a
        .seen()
        .iter()
        .map(|s| s.headers["authorization"].clone())
        .collect();
    assert_eq!(keys, vec!["Bearer secret-k1", "Bearer secret-k2"]);
}

#[tokio::test]
async fn unauthorized_tries_the_next_key() {
    let a = provider()
        .reply(status(401))
        .reply(ok_json("{\"key\":2}"))
        .start()
        .await;
    let (ctx, _) = context(&[("a.internal", a.addr)], None);
    let plan = plan(vec![
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k2", 0),
    ]);
    let (_, _, body, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(body, "{\"key\":2}");
    assert_eq!(
        trail(&attempts),
        vec![
            t("a", "m1", "k1", Some(401), "next_key"),
            t("a", "m1", "k2", Some(200), "succeeded")
        ]
    );
}

#[tokio::test]
async fn bad_request_stops_at_once() {
    let a = provider().reply(status(400)).start().await;
    let b = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(&[("a.internal", a.addr), ("b.internal", b.addr)], None);
    let plan = plan(vec![
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(b.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]);
    let outcome = failed(run(&ctx, &plan).await);
    assert_eq!(
        trail(&outcome.attempts),
        vec![t("a", "m1", "k1", Some(400), "fail_fast")]
    );
    assert!(!outcome.timed_out);
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn per_attempt_timeout_moves_to_the_next_model() {
    let slow = provider().reply(Reply::Hang).start().await;
    let b = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(
        &[("slow.internal", slow.addr), ("b.internal", b.addr)],
        None,
    );
    let mut first = attempt(
        url(slow.addr, "slow.internal", "http"),
        "slow",
        "m1",
        "k1",
        0,
    );
    first.timeout_ms = 300;
    let plan = plan(vec![
        first,
        attempt(url(b.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]);
    let started = Instant::now();
    let (_, _, _, attempts) = served(run(&ctx, &plan).await).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(attempts[0].failure, Some(FailureKind::Timeout));
    assert_eq!(
        trail(&attempts),
        vec![
            t("slow", "m1", "k1", None, "next_model"),
            t("b", "m2", "k1", Some(200), "succeeded")
        ]
    );
}

#[tokio::test]
async fn total_timeout_ends_the_loop() {
    let slow = provider().reply(Reply::Hang).start().await;
    let (ctx, _) = context(&[("slow.internal", slow.addr)], None);
    let mut plan = plan(vec![
        attempt(
            url(slow.addr, "slow.internal", "http"),
            "slow",
            "m1",
            "k1",
            0,
        ),
        attempt(
            url(slow.addr, "slow.internal", "http"),
            "slow",
            "m2",
            "k1",
            1,
        ),
    ]);
    plan.total_timeout_ms = 400;
    let started = Instant::now();
    let outcome = failed(run(&ctx, &plan).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(outcome.timed_out);
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(outcome.attempts[0].failure, Some(FailureKind::TotalTimeout));
    assert_eq!(outcome.attempts[0].retry_action, "exhausted");
}

#[tokio::test]
async fn attempt_cap_and_no_repeated_targets() {
    let a = provider().reply(status(500)).start().await;
    let (ctx, _) = context(&[("a.internal", a.addr)], None);
    let mut attempts = Vec::new();
    for group in 0..6 {
        attempts.push(attempt(
            url(a.addr, "a.internal", "http"),
            "a",
            &format!("m{group}"),
            "k1",
            group,
        ));
        // The same target again: must never be called twice.
        attempts.push(attempt(
            url(a.addr, "a.internal", "http"),
            "a",
            &format!("m{group}"),
            "k1",
            group + 100,
        ));
    }
    let mut plan = plan(attempts);
    plan.max_attempts = 4;
    let outcome = failed(run(&ctx, &plan).await);
    let models: Vec<_> = outcome.attempts.iter().map(|a| a.model.as_str()).collect();
    assert_eq!(models, vec!["m0", "m1", "m2", "m3"]);
    assert_eq!(outcome.attempts[3].retry_action, "exhausted");
    assert_eq!(a.hits(), 4);
}

#[tokio::test]
async fn plain_http_to_a_public_host_is_refused() {
    let b = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(&[("b.internal", b.addr)], None);
    let plan = plan(vec![
        attempt(
            format!("http://127.0.0.1:{}/v1/chat/completions", b.addr.port()),
            "raw",
            "m1",
            "k1",
            0,
        ),
        attempt(url(b.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]);
    let (_, _, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(attempts[0].failure, Some(FailureKind::Connect));
    assert!(
        attempts[0].message.contains(".internal"),
        "{}",
        attempts[0].message
    );
    assert_eq!(b.hits(), 1);
}

/// A policy rule that stops on 500 and retries 429 on the next model.
struct StopOn500;

impl FailoverClassifier for StopOn500 {
    fn classify(&self, failed: &AttemptResult) -> FailoverAction {
        match failed.status {
            Some(500) => FailoverAction::Stop,
            _ => FailoverAction::NextModel,
        }
    }
}

#[tokio::test]
async fn custom_failover_asks_the_classifier() {
    let a = provider().reply(status(429)).start().await;
    let b = provider().reply(status(500)).start().await;
    let c = provider().reply(ok_json("{}")).start().await;
    let (ctx, _) = context(
        &[
            ("a.internal", a.addr),
            ("b.internal", b.addr),
            ("c.internal", c.addr),
        ],
        None,
    );
    let mut plan = plan(vec![
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(a.addr, "a.internal", "http"), "a", "m1", "k2", 0),
        attempt(url(b.addr, "b.internal", "http"), "b", "m2", "k1", 1),
        attempt(url(c.addr, "c.internal", "http"), "c", "m3", "k1", 2),
    ]);
    plan.custom_failover = true;
    let outcome = failed(execute_plan(&ctx, &plan, &StopOn500).await);
    assert_eq!(
        trail(&outcome.attempts),
        vec![
            t("a", "m1", "k1", Some(429), "next_model"),
            t("b", "m2", "k1", Some(500), "fail_fast")
        ]
    );
    assert_eq!(c.hits(), 0);
}

#[tokio::test]
async fn credentials_never_reach_the_attempt_record() {
    let a = provider().reply(status(502)).start().await;
    let (ctx, _) = context(&[("a.internal", a.addr)], None);
    let mut plan = plan(vec![attempt(
        format!(
            "http://a.internal:{}/v1/chat/completions?key=secret-in-query",
            a.addr.port()
        ),
        "a",
        "m1",
        "k1",
        0,
    )]);
    plan.attempts.push(attempt(
        format!(
            "http://a.internal:{}/v1/x?key=secret-in-query",
            refused_addr().await.port()
        ),
        "a",
        "m2",
        "k1",
        1,
    ));
    let outcome = failed(run(&ctx, &plan).await);
    let dump = format!("{outcome:?}");
    assert!(!dump.contains("secret"), "{dump}");
}

#[tokio::test]
async fn a_rejected_key_echoed_by_the_provider_is_redacted() {
    let a = provider()
        .reply(Reply::Status {
            status: 401,
            headers: vec![("content-type", "application/json".into())],
            body: "{\"error\":{\"message\":\"Incorrect API key provided: secret-k1\"}}".into(),
        })
        .start()
        .await;
    let (ctx, _) = context(&[("a.internal", a.addr)], None);
    let plan = plan(vec![attempt(
        url(a.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]);
    let outcome = failed(run(&ctx, &plan).await);
    assert_eq!(
        String::from_utf8_lossy(&outcome.attempts[0].body_excerpt),
        "{\"error\":{\"message\":\"Incorrect API key provided: [REDACTED]\"}}"
    );
}

#[tokio::test]
async fn a_plain_body_that_breaks_after_the_head_errors_instead_of_ending_cleanly() {
    let a = provider()
        .reply(Reply::Sse {
            status: 200,
            content_type: "application/json",
            chunks: vec!["{\"choices\":["],
            gap: std::time::Duration::from_millis(5),
            end: StreamEnd::Drop,
        })
        .start()
        .await;
    let (ctx, sink) = context(&[("a.internal", a.addr)], None);
    let plan = plan(vec![attempt(
        url(a.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]);
    let PlanResult::Served { response, .. } = run(&ctx, &plan).await else {
        panic!("not served")
    };
    use http_body_util::BodyExt;
    let result = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
        .await
        .unwrap();
    assert!(
        result.is_err(),
        "a truncated JSON body must not look complete"
    );
    assert_eq!(sink.broken(), vec!["a/m1/k1"]);
}

#[test]
fn the_loop_can_run_on_any_worker_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let (ctx, _) = context(&[], None);
    let plan = plan(Vec::new());
    let classifier = edge::gateway::DefaultFailover;
    let future = execute_plan(&ctx, &plan, &classifier);
    assert_send(&future);
}
