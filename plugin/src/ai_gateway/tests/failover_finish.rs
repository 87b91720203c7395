//! Failover classification (default rules and a policy rule) and what the client sees
//! when every attempt failed.

use serde_json::json;

use super::harness::{chat, load, response_json};
use crate::ai_gateway::failover::default_action;
use crate::model::{AttemptResult, FailoverAction, FailureKind, GatewayOutcome};

fn status(s: u16, headers: &[(&str, &str)]) -> AttemptResult {
    AttemptResult {
        status: Some(s),
        failure: Some(FailureKind::Status),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..AttemptResult::default()
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
    let cases = [
        (status(401, &[]), NextKey),
        (status(403, &[]), NextKey),
        (status(429, &[]), NextKey),
        (status(429, &[("retry-after", "1")]), RetrySame),
        (status(429, &[("retry-after", "30")]), NextKey),
        (status(503, &[("retry-after", "2")]), RetrySame),
        (status(503, &[]), NextModel),
        (status(500, &[]), NextModel),
        (status(408, &[]), NextModel),
        (status(400, &[]), Stop),
        (status(404, &[]), Stop),
        (status(422, &[]), Stop),
        (kind(FailureKind::Connect), NextModel),
        (kind(FailureKind::Dns), NextModel),
        (kind(FailureKind::Tls), NextModel),
        (kind(FailureKind::Timeout), NextModel),
        (kind(FailureKind::StreamError), NextModel),
        (kind(FailureKind::Protocol), NextModel),
        (kind(FailureKind::TotalTimeout), Stop),
    ];
    for (r, expected) in cases {
        assert_eq!(
            default_action(&r, 5_000),
            expected,
            "{:?} {:?} {:?}",
            r.status,
            r.failure,
            r.headers
        );
    }
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
    let plan = l.forward(&chat(json!({"model": "gpt-4o", "models": ["gpt-4o-mini"]})));
    assert!(plan.custom_failover);
    let mut too_long = status(400, &[]);
    too_long.body_excerpt = br#"{"error":{"code":"context_length_exceeded"}}"#.to_vec();
    assert_eq!(
        l.gw.classify_failure(&plan.continuation, &too_long),
        FailoverAction::NextModel
    );
    assert_eq!(
        l.gw.classify_failure(&plan.continuation, &status(400, &[])),
        FailoverAction::Stop
    );
    assert_eq!(
        l.gw.classify_failure(&plan.continuation, &status(401, &[])),
        FailoverAction::NextKey
    );
    // Without a rule the plan leaves failover to the host's default rules.
    let l = load("providers: [{id: openai}]");
    assert!(!l.forward(&chat(json!({"model": "gpt-4o"}))).custom_failover);
}

#[test]
fn failover_rule_sees_every_attempt_variable() {
    let l = load(
        r#"
providers: [{id: openai}]
failover:
  rule: "attempt.failure == 'status' && attempt.provider == 'openai' && attempt.model == 'gpt-4o' && attempt.index == 0 && attempt.retry_after_ms == 3000 && attempt.headers['x-a'][0] == 'b' && attempt.duration_ms >= 0 && attempt.key_id == '' ? 'retry_same' : 'stop'"
"#,
    );
    let plan = l.forward(&chat(json!({"model": "gpt-4o"})));
    let mut r = status(500, &[("retry-after", "3"), ("x-a", "b")]);
    r.provider = "openai".into();
    r.model = "gpt-4o".into();
    assert_eq!(
        l.gw.classify_failure(&plan.continuation, &r),
        FailoverAction::RetrySame
    );
}

fn outcome(attempts: Vec<AttemptResult>, timed_out: bool) -> GatewayOutcome {
    GatewayOutcome {
        served: None,
        attempts,
        timed_out,
        duration_ms: 1234,
    }
}

fn tried(
    index: u32,
    provider: &str,
    model: &str,
    s: Option<u16>,
    f: FailureKind,
    action: &str,
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
        retry_action: action.into(),
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
                "next_key",
            ),
            tried(
                1,
                "openai",
                "gpt-4o",
                Some(503),
                FailureKind::Status,
                "next_model",
            ),
            tried(
                2,
                "openai",
                "gpt-4o-mini",
                None,
                FailureKind::Connect,
                "next_key",
            ),
            tried(
                3,
                "openai",
                "gpt-4o-mini",
                None,
                FailureKind::Timeout,
                "exhausted",
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
                    "exhausted",
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
                    "fail_fast",
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
                        "next_model",
                    ),
                    tried(
                        1,
                        "openai",
                        "gpt-4o-mini",
                        None,
                        FailureKind::Dns,
                        "exhausted",
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
                        "next_model",
                    ),
                    tried(
                        1,
                        "openai",
                        "gpt-4o-mini",
                        Some(502),
                        FailureKind::Status,
                        "exhausted",
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
    // The host retried the first attempt twice (Retry-After), so the cap hit at index 7.
    let mut attempts: Vec<AttemptResult> = (0..8)
        .map(|i| {
            tried(
                i,
                "openai",
                "gpt-4o",
                Some(429),
                FailureKind::Status,
                "next_key",
            )
        })
        .collect();
    attempts.insert(
        0,
        tried(
            0,
            "openai",
            "gpt-4o",
            Some(429),
            FailureKind::Status,
            "retry_same",
        ),
    );
    attempts.insert(
        0,
        tried(
            0,
            "openai",
            "gpt-4o",
            Some(429),
            FailureKind::Status,
            "retry_same",
        ),
    );
    let f = l.gw.finish(&plan.continuation, &outcome(attempts, false));
    assert_eq!(f.results["error"]["code"], "too_many_attempts");
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
                "exhausted",
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
