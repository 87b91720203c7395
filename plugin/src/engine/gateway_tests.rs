//! The ai-gateway action through the engine: plan, continuation, resume, diagnostics.

use super::memory_host::MemoryHost;
use super::*;
use crate::model::{
    AttemptResult, Decision, FailureKind, GatewayOutcome, LoadOptions, Request, Severity,
};

const POLICY: &str = r#"
on_http_request:
  - actions:
      - type: set-vars
        config:
          vars:
            - team: blue
      - type: ai-gateway
        config:
          on_error: continue
          headers:
            x-team: "${vars.team}"
          providers:
            - id: openai
              api_keys:
                - value: ${secrets.get('openai', 'key')}
      - type: custom-response
        config:
          status_code: 502
          body: "fallback for ${vars.team}: ${actions.ngrok.ai_gateway != null}"
"#;

fn host() -> MemoryHost {
    MemoryHost::new().with_secret("openai", "key", "sk-test-123456789")
}

fn chat_request() -> Request {
    Request {
        id: "req-9".into(),
        method: "POST".into(),
        scheme: "https".into(),
        authority: "gw.example".into(),
        path: "/v1/chat/completions".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#.to_vec(),
        ..Request::default()
    }
}

#[test]
fn gateway_plans_attempts_and_falls_through_on_error_continue() {
    let host = host();
    let p = load(POLICY, &LoadOptions::default(), &host).unwrap_or_else(|d| panic!("{d:#?}"));
    assert!(p.summary().needs_body);
    let req = chat_request();
    let out = p.on_http_request(&req, &host);
    let Decision::Forward(plan) = &out.decision else {
        panic!("expected a plan, got {:?}", out.decision);
    };
    assert!(!plan.attempts.is_empty());
    let first = &plan.attempts[0];
    assert!(
        first.headers.contains(&("x-team".into(), "blue".into())),
        "{:?}",
        first.headers
    );

    let failed = AttemptResult {
        index: 0,
        provider: first.provider.clone(),
        model: first.model.clone(),
        status: Some(503),
        failure: Some(FailureKind::Status),
        step: crate::model::AttemptStep::Exhausted,
        ..AttemptResult::default()
    };
    // The policy's ai-gateway action decides: a 503 without Retry-After moves on.
    assert_eq!(
        p.classify_failure(&failed, true),
        crate::model::FailoverAction::NextModel
    );

    let outcome = GatewayOutcome {
        served: None,
        attempts: vec![failed],
        timed_out: false,
        duration_ms: 12,
        last_answer: None,
    };
    let resumed = p.resume(&plan.continuation, &req, &outcome, &host);
    let Decision::Respond(r) = &resumed.decision else {
        panic!("expected the fallback response, got {:?}", resumed.decision);
    };
    assert_eq!(r.status, 502);
    assert_eq!(String::from_utf8_lossy(&r.body), "fallback for blue: true");
}

#[test]
fn a_foreign_continuation_is_a_500_not_a_panic() {
    let host = host();
    let p = load(POLICY, &LoadOptions::default(), &host).unwrap();
    let out = p.resume(
        b"garbage",
        &chat_request(),
        &GatewayOutcome::default(),
        &host,
    );
    let Decision::Respond(r) = out.decision else {
        panic!()
    };
    assert_eq!(r.status, 500);
}

#[test]
fn gateway_diagnostics_are_placed_under_the_action_config() {
    let yaml = "on_http_request:\n  - type: ai-gateway\n    config:\n      providers:\n        - id: openai\n          bogus: 1\n";
    let diags = match load(yaml, &LoadOptions::default(), &host()) {
        Ok(_) => panic!("loaded"),
        Err(d) => d,
    };
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(!errors.is_empty());
    let d = errors[0];
    assert!(
        d.path.starts_with("on_http_request[0].config.providers"),
        "{d:?}"
    );
    assert!(d.line >= 5, "{d:?}");
}

#[test]
fn only_one_gateway_per_policy() {
    let yaml = "on_http_request:\n  - type: ai-gateway\n  - type: ai-gateway\n";
    let diags = load(yaml, &LoadOptions::default(), &host()).err().unwrap();
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("only one `ai-gateway`") && d.line == 3 && d.column == 11),
        "{diags:#?}"
    );
}

#[test]
fn spliced_continuation_reads_back_like_the_built_one() {
    let mut bindings = crate::cel_env::Bindings::default();
    bindings.vars.insert(
        "team".into(),
        cel::Value::String(std::sync::Arc::new("blue".into())),
    );
    let headers = vec![("x-a".to_string(), "1".to_string())];
    let here = super::continuation::Position { rule: 2, action: 1 };
    let gateway = br#"{"format":"openai","n":[1,2]}"#;
    use super::continuation::EngineContinuation;
    let spliced = EngineContinuation::encode_parts(here, &bindings, &headers, gateway);
    let built = EngineContinuation::new(here, &bindings, &headers, gateway);
    let read = EngineContinuation::decode(&spliced).unwrap();
    assert_eq!(read, built);
    assert_eq!(read.gateway_bytes(), gateway.to_vec());
    // Bytes the action failed to encode read back as null, as before.
    let empty = EngineContinuation::encode_parts(here, &bindings, &headers, b"");
    assert_eq!(
        EngineContinuation::decode(&empty).unwrap().gateway_bytes(),
        b"null".to_vec()
    );
}

/// A response rule that reads the action's results, as the ngrok examples do.
const RESPONSE_RULES: &str = r#"
on_http_request:
  - actions:
      - type: ai-gateway
        config:
          providers:
            - id: openai
              api_keys:
                - value: ${secrets.get('openai', 'key')}
on_http_response:
  - expressions:
      - "actions.ngrok.ai_gateway.status == 'success'"
    actions:
      - type: add-headers
        config:
          headers:
            x-served-by: "${actions.ngrok.ai_gateway.success.provider}/${actions.ngrok.ai_gateway.success.model}"
            x-tried: "${size(actions.ngrok.ai_gateway.models_tried)}"
"#;

#[test]
fn the_response_phase_sees_the_results_of_the_plan_that_served() {
    let host = host();
    let p =
        load(RESPONSE_RULES, &LoadOptions::default(), &host).unwrap_or_else(|d| panic!("{d:#?}"));
    let req = chat_request();
    let out = p.on_http_request(&req, &host);
    let Decision::Forward(plan) = &out.decision else {
        panic!("expected a plan, got {:?}", out.decision);
    };
    let first = &plan.attempts[0];
    let served = crate::model::ServedPlan {
        continuation: plan.continuation.clone(),
        outcome: GatewayOutcome {
            served: Some(200),
            attempts: vec![AttemptResult {
                index: 0,
                provider: first.provider.clone(),
                model: first.model.clone(),
                status: Some(200),
                step: crate::model::AttemptStep::Succeeded,
                ..AttemptResult::default()
            }],
            ..GatewayOutcome::default()
        },
    };
    let head = crate::model::ResponseHead {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
    };
    let crate::model::ResponseDecision::Headers(headers) =
        p.on_http_response(&out.state, &req, &head, Some(&served), &host)
    else {
        panic!("the response was replaced");
    };
    assert!(
        headers.contains(&("x-served-by".into(), "openai/gpt-4o".into())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("x-tried".into(), "1".into())),
        "{headers:?}"
    );
}
