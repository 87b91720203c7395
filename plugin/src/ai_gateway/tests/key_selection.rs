//! `api_key_selection` (docs/ai-gateway.md, "Strategies"): unknown quota reads as an
//! optimistic number, and a candidate whose keys cannot be chosen is skipped, not fatal.

use serde_json::json;

use super::harness::{chat, load};
use crate::ai_gateway::GatewayStep;
use crate::ai_gateway::provider_keys::key_id;
use crate::ai_gateway::quota::UNKNOWN_QUOTA;
use crate::model::{AttemptResult, FailureKind, GatewayOutcome, TargetMetrics};

const TWO_PROVIDERS: &str = r#"
providers:
  - id: openai
    api_keys:
      - value: ${secrets.get('openai','primary')}
      - value: ${secrets.get('openai','backup')}
    models: [{id: gpt-4o}]
  - id: local
    base_url: http://local.internal
    models: [{id: gpt-4o}]
only_allow_configured_providers: true
only_allow_configured_models: true
"#;

fn with_key_strategy(expr: &str) -> super::harness::Loaded {
    load(&format!(
        "{TWO_PROVIDERS}api_key_selection:\n  strategy:\n    - {}\n",
        serde_json::to_string(expr).unwrap()
    ))
}

#[test]
fn the_documented_quota_filter_keeps_keys_whose_quota_is_unknown() {
    let l = with_key_strategy("ai.keys.filter(k, k.quota.remaining_requests > 100)");
    let primary = key_id("sk-openai-primary-0001");
    let backup = key_id("sk-openai-backup-0002");
    // Right after start: no provider has answered, every quota is unknown.
    assert_eq!(
        l.attempt_order(&chat(json!({"model": "gpt-4o"}))),
        vec![
            format!("openai:gpt-4o#{primary}"),
            format!("openai:gpt-4o#{backup}"),
            "local:gpt-4o".to_owned(),
        ]
    );
    // Once the primary key reported a low quota, only it is filtered out.
    *l.host.metrics.borrow_mut() = vec![TargetMetrics {
        provider: "openai".into(),
        model: "gpt-4o".into(),
        key_id: primary.clone(),
        requests: 1,
        quota_remaining_requests: Some(5),
        ..TargetMetrics::default()
    }];
    *l.host.generation.borrow_mut() = 1;
    assert_eq!(
        l.attempt_order(&chat(json!({"model": "gpt-4o"}))),
        vec![format!("openai:gpt-4o#{backup}"), "local:gpt-4o".to_owned()]
    );
}

#[test]
fn unknown_quota_reads_as_the_documented_number_and_known_is_false() {
    let l = with_key_strategy(&format!(
        "ai.keys.filter(k, !k.quota.known && k.quota.remaining_tokens == {UNKNOWN_QUOTA} && k.quota.limit_requests == {UNKNOWN_QUOTA})"
    ));
    assert_eq!(l.attempt_order(&chat(json!({"model": "gpt-4o"}))).len(), 3);
}

#[test]
fn a_failing_key_strategy_skips_that_candidate_and_records_why() {
    let l = with_key_strategy("ai.keys.filter(k, k.nope == 1)");
    let GatewayStep::Forward(p) = l.plan(&chat(json!({"model": "gpt-4o"}))) else {
        panic!("a key-selection error must not fail the request")
    };
    let order: Vec<String> = p
        .attempts
        .iter()
        .map(|a| format!("{}:{}", a.provider, a.model))
        .collect();
    assert_eq!(order, vec!["local:gpt-4o"]);
    let failed = AttemptResult {
        index: 0,
        provider: "local".into(),
        model: "gpt-4o".into(),
        status: Some(500),
        failure: Some(FailureKind::Status),
        step: crate::model::AttemptStep::Exhausted,
        ..Default::default()
    };
    let out = GatewayOutcome {
        attempts: vec![failed],
        ..Default::default()
    };
    let f = l.gw.finish(&p.continuation, &out);
    let tried = f.results["models_tried"].as_array().unwrap();
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert_eq!(tried[0]["provider"], "openai", "candidate order kept");
    assert_eq!(tried[0]["requests_made"], json!([]));
    let error = tried[0]["error"].as_str().unwrap();
    assert!(error.contains("k.nope"), "{error}");
    assert_eq!(
        tried[0]["api_key_selection"][0]["strategy"],
        "ai.keys.filter(k, k.nope == 1)"
    );
    assert_eq!(tried[1]["provider"], "local");
    assert_eq!(tried[1]["requests_made"].as_array().unwrap().len(), 1);
}

#[test]
fn when_every_candidate_is_skipped_the_key_error_is_the_answer() {
    let yaml = r#"
providers:
  - id: openai
    api_keys: [{value: "${secrets.get('openai','primary')}"}]
    models: [{id: gpt-4o}]
only_allow_configured_providers: true
only_allow_configured_models: true
api_key_selection:
  strategy: ["ai.keys.filter(k, false)"]
"#;
    let l = load(yaml);
    let f = l.respond(&chat(json!({"model": "gpt-4o"})));
    assert_eq!(f.response.status, 422);
    assert_eq!(f.results["error"]["code"], "key_selection_failed");
    assert_eq!(f.results["models_tried"][0]["provider"], "openai");
    assert!(
        f.results["models_tried"][0]["error"]
            .as_str()
            .unwrap()
            .contains("returned no keys")
    );
}
