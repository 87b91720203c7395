//! Failover classification (default rules and a policy rule) and what the client sees
//! when every attempt failed.

use serde_json::json;

use super::harness::{chat, load, response_json};
use crate::ai_gateway::failover::default_action;
use crate::model::{
    AttemptResult, AttemptStep, FailoverAction, FailureKind, GatewayOutcome, ProviderAnswer,
};

fn status(s: u16, headers: &[(&str, &str)]) -> AttemptResult {
    AttemptResult {
        status: Some(s),
        failure: Some(FailureKind::Status),
        key_id: "k1".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..AttemptResult::default()
    }
}

fn waiting(s: u16, retry_after_ms: u64) -> AttemptResult {
    AttemptResult {
        retry_after_ms: Some(retry_after_ms),
        ..status(s, &[])
    }
}

fn kind(k: FailureKind) -> AttemptResult {
    AttemptResult {
        failure: Some(k),
        ..AttemptResult::default()
    }
}

#[test]
fn default_rules() {
    use FailoverAction::*;
    // (attempt, whether the host can honour a retry, expected)
    let cases = [
        (status(401, &[]), true, DropKey),
        (status(403, &[]), true, NextKey),
        (status(429, &[]), true, NextKey),
        (waiting(429, 1_000), true, RetrySame),
        (waiting(429, 1_000), false, NextKey),
        (waiting(503, 2_000), true, RetrySame),
        (waiting(503, 2_000), false, NextModel),
        (status(503, &[]), true, NextModel),
        (status(500, &[]), true, NextModel),
        (status(408, &[]), true, NextModel),
        (status(400, &[]), true, Stop),
        (status(404, &[]), true, Stop),
        (status(422, &[]), true, Stop),
        (kind(FailureKind::Connect), true, NextModel),
        (kind(FailureKind::Dns), true, NextModel),
        (kind(FailureKind::Tls), true, NextModel),
        (kind(FailureKind::Timeout), true, NextModel),
        (kind(FailureKind::StreamError), true, NextModel),
        (kind(FailureKind::Protocol), true, NextModel),
        (kind(FailureKind::Saturated), true, NextModel),
        (kind(FailureKind::TotalTimeout), true, Stop),
    ];
    for (r, can_retry, expected) in cases {
        assert_eq!(
            default_action(&r, can_retry),
            expected,
            "{:?} {:?} {:?} {can_retry}",
            r.status,
            r.failure,
            r.retry_after_ms,
        );
    }
}

#[test]
fn without_a_rule_the_defaults_decide() {
    let l = load("providers: [{id: openai}]");
    assert_eq!(
        l.gw.classify_failure(&waiting(429, 1_000), true),
        FailoverAction::RetrySame
    );
    assert_eq!(
        l.gw.classify_failure(&status(500, &[]), true),
        FailoverAction::NextModel
    );
}

#[test]
fn a_policy_rule_replaces_the_defaults() {
    let l = load(
        r#"
providers: [{id: openai}]
failover:
  rule: "attempt.status == 400 && attempt.body.contains('context_length') ? 'next_model' : attempt.default"
"#,
    );
    let mut too_long = status(400, &[]);
    too_long.body_excerpt = br#"{"error":{"code":"context_length_exceeded"}}"#.to_vec();
    assert_eq!(
        l.gw.classify_failure(&too_long, true),
        FailoverAction::NextModel
    );
    assert_eq!(
        l.gw.classify_failure(&status(400, &[]), true),
        FailoverAction::Stop
    );
    assert_eq!(
        l.gw.classify_failure(&status(401, &[]), true),
        FailoverAction::DropKey
    );
}

#[test]
fn a_rule_that_returns_nonsense_falls_back_to_the_default() {
    let l = load("providers: [{id: openai}]\nfailover:\n  rule: \"'sideways'\"");
    assert_eq!(
        l.gw.classify_failure(&status(500, &[]), true),
        FailoverAction::NextModel
    );
    let l = load("providers: [{id: openai}]\nfailover:\n  rule: \"'drop_key'\"");
    assert_eq!(
        l.gw.classify_failure(&status(500, &[]), true),
        FailoverAction::DropKey
    );
}

#[test]
fn failover_rule_sees_every_attempt_variable() {
    let l = load(
        r#"
providers: [{id: openai}]
failover:
  rule: "attempt.failure == 'status' && attempt.provider == 'openai' && attempt.model == 'gpt-4o' && attempt.index == 0 && attempt.retry_after_ms == 3000 && attempt.can_retry_same && attempt.headers['x-a'][0] == 'b' && attempt.duration_ms >= 0 && attempt.key_id == '' && attempt.default == 'next_model' ? 'retry_same' : 'stop'"
"#,
    );
    let mut r = status(500, &[("retry-after", "3"), ("x-a", "b")]);
    r.provider = "openai".into();
    r.model = "gpt-4o".into();
    r.key_id = String::new();
    r.retry_after_ms = Some(3_000);
    assert_eq!(l.gw.classify_failure(&r, true), FailoverAction::RetrySame);
    assert_eq!(l.gw.classify_failure(&r, false), FailoverAction::Stop);
}

fn outcome(attempts: Vec<AttemptResult>, timed_out: bool) -> GatewayOutcome {
    GatewayOutcome {
        served: None,
        attempts,
        timed_out,
        duration_ms: 1234,
        last_answer: None,
    }
}

fn tried(
    index: u32,
    provider: &str,
    model: &str,
    s: Option<u16>,
    f: FailureKind,
    step: AttemptStep,
) -> AttemptResult {
    AttemptResult {
        index,
        provider: provider.into(),
        model: model.into(),
        status: s,
        failure: Some(f),
        message: format!("{f:?}"),
        headers: vec![("content-type".into(), "application/json".into())],
        body_excerpt: if s.is_some() {
            br#"{"error":"upstream says no"}"#.to_vec()
        } else {
            Vec::new()
        },
        duration_ms: 12,
        step,
        ..AttemptResult::default()
    }
}

#[test]
fn golden_all_failed_error_and_results() {
    let l = load(
        "providers: [{id: openai, api_keys: [{value: k1-abcdefghijkl}, {value: k2-abcdefghijkl}]}]",
    );
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o-mini"]})));
    let out = outcome(
        vec![
            tried(
                0,
                "openai",
                "gpt-4o",
                Some(429),
                FailureKind::Status,
                AttemptStep::NextKey,
            ),
            tried(
                1,
                "openai",
                "gpt-4o",
                Some(503),
                FailureKind::Status,
                AttemptStep::NextModel,
            ),
            tried(
                2,
                "openai",
                "gpt-4o-mini",
                None,
                FailureKind::Connect,
                AttemptStep::NextKey,
            ),
            tried(
                3,
                "openai",
                "gpt-4o-mini",
                None,
                FailureKind::Timeout,
                AttemptStep::Exhausted,
            ),
        ],
        false,
    );
    let f = l.gw.finish(&plan.continuation, &out);
    assert!(!f.on_error_continue);
    insta::assert_json_snapshot!("all_failed_response", response_json(&f.response));
    insta::assert_json_snapshot!("all_failed_results", f.results, {".gateway_latency_ms" => "[ms]"});
}

#[test]
fn error_kinds_after_attempts() {
    let l = load("total_timeout: 90s\nproviders: [{id: openai}]");
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o-mini"]})));
    let cases = [
        (
            outcome(
                vec![tried(
                    0,
                    "openai",
                    "gpt-4o",
                    None,
                    FailureKind::TotalTimeout,
                    AttemptStep::Exhausted,
                )],
                true,
            ),
            504,
            "total_timeout",
        ),
        (
            outcome(
                vec![tried(
                    0,
                    "openai",
                    "gpt-4o",
                    Some(400),
                    FailureKind::Status,
                    AttemptStep::FailFast,
                )],
                false,
            ),
            400,
            "upstream_rejected",
        ),
        (
            outcome(
                vec![
                    tried(
                        0,
                        "openai",
                        "gpt-4o",
                        None,
                        FailureKind::Connect,
                        AttemptStep::NextModel,
                    ),
                    tried(
                        1,
                        "openai",
                        "gpt-4o-mini",
                        None,
                        FailureKind::Dns,
                        AttemptStep::Exhausted,
                    ),
                ],
                false,
            ),
            502,
            "provider_unreachable",
        ),
        (
            outcome(
                vec![
                    tried(
                        0,
                        "openai",
                        "gpt-4o",
                        Some(500),
                        FailureKind::Status,
                        AttemptStep::NextModel,
                    ),
                    tried(
                        1,
                        "openai",
                        "gpt-4o-mini",
                        Some(502),
                        FailureKind::Status,
                        AttemptStep::Exhausted,
                    ),
                ],
                false,
            ),
            503,
            "all_providers_failed",
        ),
    ];
    for (out, st, code) in cases {
        let f = l.gw.finish(&plan.continuation, &out);
        assert_eq!(f.response.status, st, "{code}");
        assert_eq!(f.results["error"]["code"], code);
        assert!(
            f.response
                .headers
                .contains(&("x-aigw-attempts".into(), out.attempts.len().to_string()))
        );
    }
    let f = l.gw.finish(&plan.continuation, &cases_timeout());
    assert!(
        f.results["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1m 30s")
    );
}

fn cases_timeout() -> GatewayOutcome {
    outcome(vec![], true)
}

#[test]
fn too_many_attempts_when_the_cap_cut_the_plan_short() {
    let mut yaml = String::from("providers:\n  - id: openai\n    api_keys:\n");
    for i in 0..6 {
        yaml.push_str(&format!("      - value: key-number-{i}\n"));
    }
    let l = load(&yaml);
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o-mini"]})));
    assert_eq!(plan.attempts.len(), 10);
    let mut attempts: Vec<AttemptResult> = (0..10)
        .map(|i| {
            let s = if i % 2 == 0 { 429 } else { 500 };
            tried(
                i,
                "openai",
                "gpt-4o",
                Some(s),
                FailureKind::Status,
                AttemptStep::NextKey,
            )
        })
        .collect();
    if let Some(last) = attempts.last_mut() {
        last.step = AttemptStep::AttemptCap;
    }
    let f = l.gw.finish(&plan.continuation, &outcome(attempts, false));
    assert_eq!(f.results["error"]["code"], "too_many_attempts");
    assert_eq!(f.response.status, 503);
}

fn header<'a>(r: &'a crate::model::Response, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn credentials_rejected_everywhere_answers_that_status() {
    let l = load("providers: [{id: openai}, {id: anthropic}]");
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o-mini"]})));
    let rejected = |statuses: &[u16]| {
        let attempts = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                tried(
                    i as u32,
                    "openai",
                    "gpt-4o",
                    Some(*s),
                    FailureKind::Status,
                    AttemptStep::DropKey,
                )
            })
            .collect();
        l.gw.finish(&plan.continuation, &outcome(attempts, false))
    };
    for (statuses, expected) in [
        (&[401, 401][..], 401),
        (&[403, 403][..], 403),
        (&[401, 403][..], 401),
    ] {
        let f = rejected(statuses);
        assert_eq!(f.response.status, expected, "{statuses:?}");
        assert_eq!(f.results["error"]["code"], "authentication_failed");
        let body = response_json(&f.response);
        assert_eq!(
            body["body"]["error"]["code"], "authentication_failed",
            "{body}"
        );
    }
    // One attempt that failed otherwise makes it an ordinary failure.
    let mut attempts = vec![tried(
        0,
        "openai",
        "gpt-4o",
        Some(401),
        FailureKind::Status,
        AttemptStep::DropKey,
    )];
    attempts.push(tried(
        1,
        "openai",
        "gpt-4o-mini",
        None,
        FailureKind::Timeout,
        AttemptStep::Exhausted,
    ));
    let f = l.gw.finish(&plan.continuation, &outcome(attempts, false));
    assert_eq!(f.response.status, 503);
    assert_eq!(f.results["error"]["code"], "all_providers_failed");
}

#[test]
fn rate_limited_everywhere_answers_429_with_the_shortest_wait() {
    let l = load("providers: [{id: openai}]");
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o-mini"]})));
    let limited = |i: u32, wait: Option<u64>| AttemptResult {
        retry_after_ms: wait,
        ..tried(
            i,
            "openai",
            "gpt-4o",
            Some(429),
            FailureKind::Status,
            AttemptStep::NextKey,
        )
    };
    let f = l.gw.finish(
        &plan.continuation,
        &outcome(
            vec![
                limited(0, Some(30_000)),
                limited(1, Some(12_500)),
                limited(2, None),
            ],
            false,
        ),
    );
    assert_eq!(f.response.status, 429);
    assert_eq!(f.results["error"]["code"], "rate_limited");
    assert_eq!(header(&f.response, "retry-after"), Some("13"));
    assert_eq!(header(&f.response, "retry-after-ms"), Some("12500"));
    // No provider said how long: no header rather than a guess.
    let f =
        l.gw.finish(&plan.continuation, &outcome(vec![limited(0, None)], false));
    assert_eq!(f.response.status, 429);
    assert_eq!(header(&f.response, "retry-after"), None);
}

#[test]
fn a_providers_rejection_passes_through_unchanged() {
    let l = load("providers: [{id: openai}]");
    let plan = l.forward(&chat(json!({"model": "gpt-4o"})));
    let body = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
    let attempts = vec![tried(
        0,
        "openai",
        "gpt-4o",
        Some(400),
        FailureKind::Status,
        AttemptStep::FailFast,
    )];
    let mut out = outcome(attempts, false);
    out.last_answer = Some(ProviderAnswer {
        status: 400,
        content_type: "application/json; charset=utf-8".into(),
        body: body.to_vec(),
        complete: true,
    });
    let f = l.gw.finish(&plan.continuation, &out);
    assert_eq!(f.response.status, 400);
    assert_eq!(f.response.body, body.to_vec());
    assert_eq!(
        header(&f.response, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(header(&f.response, "x-aigw-attempts"), Some("1"));
    assert_eq!(
        header(&f.response, "x-edge-error-code"),
        Some("upstream_rejected")
    );
    assert_eq!(f.results["error"]["code"], "upstream_rejected");
    // A body the host could not keep whole is not passed on half: the gateway's own error
    // quotes its start instead, never cutting a character.
    if let Some(answer) = out.last_answer.as_mut() {
        answer.complete = false;
    }
    out.attempts[0].body_excerpt = "é".repeat(400).into_bytes();
    let f = l.gw.finish(&plan.continuation, &out);
    assert_eq!(f.response.status, 400);
    let v = response_json(&f.response);
    assert_eq!(v["body"]["error"]["code"], "upstream_rejected", "{v}");
}

#[test]
fn served_results_name_the_attempt_that_served() {
    let l = load(
        "providers: [{id: openai, api_keys: [{value: k1-abcdefghijkl}, {value: k2-abcdefghijkl}]}]",
    );
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o-mini"]})));
    let mut served = tried(
        2,
        "openai",
        "gpt-4o-mini",
        Some(200),
        FailureKind::Status,
        AttemptStep::Succeeded,
    );
    served.failure = None;
    let mut out = outcome(
        vec![
            tried(
                0,
                "openai",
                "gpt-4o",
                Some(500),
                FailureKind::Status,
                AttemptStep::NextModel,
            ),
            served,
        ],
        false,
    );
    out.served = Some(200);
    let r = l.gw.served_results(&plan.continuation, &out);
    assert_eq!(r["status"], "success");
    assert_eq!(r["success"]["model"], "gpt-4o-mini");
    assert_eq!(r["success"]["provider"], "openai");
    assert_eq!(r["success"]["model_index"], 1);
    assert_eq!(r["success"]["request_index"], 0);
    assert_eq!(
        r["models_tried"][0]["requests_made"][0]["retry_action"],
        "next_model"
    );
    assert_eq!(
        r["models_tried"][1]["requests_made"][0]["status"],
        "success"
    );
    assert_eq!(r["attempts"], 2);
}

#[test]
fn on_error_continue_hands_control_back() {
    let l = load("on_error: continue\nproviders: [{id: openai}]");
    let plan = l.forward(&chat(json!({"model": "gpt-4o"})));
    let f = l.gw.finish(
        &plan.continuation,
        &outcome(
            vec![tried(
                0,
                "openai",
                "gpt-4o",
                Some(500),
                FailureKind::Status,
                AttemptStep::Exhausted,
            )],
            false,
        ),
    );
    assert!(f.on_error_continue);
    assert_eq!(f.results["status"], "error");
    assert_eq!(f.results["error"]["ngrok_code"], "ERR_NGROK_3807");
    // Early errors continue too.
    let f = l.respond(&chat(json!({"model": 1})));
    assert!(f.on_error_continue);
}
