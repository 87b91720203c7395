//! What the attempt loop records and enforces that a client of the edge cannot see: the
//! attempt record (failure kind, body excerpt, no credentials), the attempt cap, targets never
//! repeated, plain HTTP only to `.internal`, a policy's own failover classifier, and a broken
//! plain body. The failover matrix itself (which failure leads where) is the table in
//! `tests/e2e/failover.rs`, run through the edge binary.

use crate::plan_support::*;
use edge::gateway::{FailoverClassifier, PlanResult, execute_plan};
use edge::wit::types::{AttemptResult, AttemptStep, FailoverAction, FailureKind};
use edge_test_support::http_server::closed_port;
use edge_test_support::provider;

const SCRIPTED_500: &str = "{\"error\":{\"message\":\"scripted 500\"}}";

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
async fn each_attempt_is_recorded_with_its_status_and_a_failure_keeps_the_body_excerpt() {
    let a = provider("a")
        .status(500)
        .body(SCRIPTED_500)
        .start()
        .await
        .unwrap();
    let b = provider("b").body("{}").start().await.unwrap();
    let (ctx, sink) = context(
        &[("a.internal", a.server.addr), ("b.internal", b.server.addr)],
        None,
    );
    let plan = plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k2", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
    ]);
    let (_, _, _, attempts) = served(run(&ctx, &plan).await).await;
    assert_eq!(attempts[0].status, Some(500));
    assert_eq!(attempts[0].failure, Some(FailureKind::Status));
    assert_eq!(
        String::from_utf8_lossy(&attempts[0].body_excerpt),
        SCRIPTED_500
    );
    let record = |provider: &str, model: &str, status, ok| Record {
        provider: provider.into(),
        model: model.into(),
        key_id: "k1".into(),
        status: Some(status),
        ok,
    };
    assert_eq!(
        sink.records(),
        vec![record("a", "m1", 500, false), record("b", "m2", 200, true)]
    );
}

#[tokio::test]
async fn attempt_cap_and_no_repeated_targets() {
    let a = provider("a").status(500).start().await.unwrap();
    let (ctx, _) = context(&[("a.internal", a.server.addr)], None);
    let mut attempts = Vec::new();
    for group in 0..6 {
        attempts.push(attempt(
            url(a.server.addr, "a.internal", "http"),
            "a",
            &format!("m{group}"),
            "k1",
            group,
        ));
        // The same target again: must never be called twice.
        attempts.push(attempt(
            url(a.server.addr, "a.internal", "http"),
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
    // The plugin said go on and attempts were left: the cap, not the plan, ended it.
    assert_eq!(outcome.attempts[3].step, AttemptStep::AttemptCap);
    assert_eq!(a.hits(), 4);
}

#[tokio::test]
async fn plain_http_to_a_public_host_is_refused() {
    let b = provider("b").body("{}").start().await.unwrap();
    let (ctx, _) = context(&[("b.internal", b.server.addr)], None);
    let plan = plan(vec![
        attempt(
            format!(
                "http://127.0.0.1:{}/v1/chat/completions",
                b.server.addr.port()
            ),
            "raw",
            "m1",
            "k1",
            0,
        ),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
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
    fn classify(&self, failed: &AttemptResult, _can_retry_same: bool) -> FailoverAction {
        match failed.status {
            Some(500) => FailoverAction::Stop,
            _ => FailoverAction::NextModel,
        }
    }
}

#[tokio::test]
async fn the_loop_does_what_the_classifier_says() {
    let a = provider("a").status(429).start().await.unwrap();
    let b = provider("b").status(500).start().await.unwrap();
    let c = provider("c").body("{}").start().await.unwrap();
    let (ctx, _) = context(
        &[
            ("a.internal", a.server.addr),
            ("b.internal", b.server.addr),
            ("c.internal", c.server.addr),
        ],
        None,
    );
    let plan = plan(vec![
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k1", 0),
        attempt(url(a.server.addr, "a.internal", "http"), "a", "m1", "k2", 0),
        attempt(url(b.server.addr, "b.internal", "http"), "b", "m2", "k1", 1),
        attempt(url(c.server.addr, "c.internal", "http"), "c", "m3", "k1", 2),
    ]);
    let outcome = failed(execute_plan(&ctx, &plan, &bytes::Bytes::new(), &StopOn500).await);
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
    let a = provider("a").status(502).start().await.unwrap();
    let (ctx, _) = context(&[("a.internal", a.server.addr)], None);
    let mut plan = plan(vec![attempt(
        format!(
            "http://a.internal:{}/v1/chat/completions?key=secret-in-query",
            a.server.addr.port()
        ),
        "a",
        "m1",
        "k1",
        0,
    )]);
    plan.attempts.push(attempt(
        format!(
            "http://a.internal:{}/v1/x?key=secret-in-query",
            closed_port().unwrap().port()
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
    let a = provider("a")
        .status(401)
        .body("{\"error\":{\"message\":\"Incorrect API key provided: secret-k1\"}}")
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(&[("a.internal", a.server.addr)], None);
    let plan = plan(vec![attempt(
        url(a.server.addr, "a.internal", "http"),
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

/// A non-stream answer's body is read before the head goes to the client, so a body that
/// breaks after the head is a failed attempt (the loop fails over), never a truncated
/// answer served as complete.
#[tokio::test]
async fn a_plain_body_that_breaks_after_the_head_fails_the_attempt() {
    let a = provider("a")
        .events(&["{\"choices\":["])
        .header("content-type", "application/json")
        .drop_after(1)
        .start()
        .await
        .unwrap();
    let (ctx, sink) = context(&[("a.internal", a.server.addr)], None);
    let plan = plan(vec![attempt(
        url(a.server.addr, "a.internal", "http"),
        "a",
        "m1",
        "k1",
        0,
    )]);
    let outcome = failed(run(&ctx, &plan).await);
    assert_eq!(outcome.attempts[0].status, Some(200));
    assert!(
        outcome.attempts[0]
            .message
            .contains("the answer's body broke"),
        "{:?}",
        outcome.attempts[0]
    );
    assert_eq!(
        String::from_utf8_lossy(&outcome.attempts[0].body_excerpt),
        "{\"choices\":["
    );
    assert!(sink.broken().is_empty());
}

#[test]
fn the_loop_can_run_on_any_worker_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let (ctx, _) = context(&[], None);
    let plan = plan(Vec::new());
    let body = bytes::Bytes::new();
    let future = execute_plan(&ctx, &plan, &body, &StopOn500);
    assert_send(&future);
}
