//! Every documented strategy expression (docs/ai-gateway.md, "Strategies"), compiled and
//! evaluated against a known universe.

use serde_json::{Value as Json, json};

use super::harness::{Loaded, chat, load};
use crate::ai_gateway::GatewayStep;
use crate::ai_gateway::continuation::Continuation;
use crate::ai_gateway::strategy::Dependence;
use crate::model::TargetMetrics;

const UNIVERSE: &str = r#"
only_allow_configured_providers: true
only_allow_configured_models: true
providers:
  - id: openai
    metadata: {tier: premium}
    models:
      - id: gpt-4o
        metadata: {tier: budget, config: {region: us}}
      - id: gpt-4o-mini
      - id: gpt-3.5-turbo
  - id: anthropic
    metadata: {tier: premium}
    models: [{id: claude-sonnet-4-5}]
  - id: google
    metadata: {tier: premium}
    models: [{id: gemini-2.5-flash}]
  - id: ollama-gpu-1
    base_url: http://gpu1.internal
    metadata: {tier: budget}
    models:
      - id: llama3
        author_id: meta
        datacenters: [{country_code: US, region: us-east-1}]
        pricing: {text: {input: 0.1}}
  - id: ollama-gpu-2
    base_url: http://gpu2.internal
    metadata: {tier: budget}
    models:
      - id: llama3
        author_id: meta
        datacenters: [{country_code: DE, region: eu-central-1}]
"#;

const ALL: &[&str] = &[
    "openai:gpt-4o",
    "openai:gpt-4o-mini",
    "openai:gpt-3.5-turbo",
    "anthropic:claude-sonnet-4-5",
    "google:gemini-2.5-flash",
    "ollama-gpu-1:llama3",
    "ollama-gpu-2:llama3",
];

fn with_strategy(expr: &str) -> Loaded {
    let yaml = format!(
        "{UNIVERSE}\nmodel_selection:\n  strategy:\n    - {}\n",
        serde_json::to_string(expr).unwrap()
    );
    let l = load(&yaml);
    *l.host.metrics.borrow_mut() = vec![TargetMetrics {
        provider: "openai".into(),
        model: "gpt-4o".into(),
        key_id: "k_test".into(),
        requests: 100,
        errors: 5,
        error_rate: 0.05,
        latency_p50_ms: 500.0,
        latency_p95_ms: 900.0,
        quota_remaining_requests: Some(10),
        quota_remaining_tokens: None,
    }];
    *l.host.generation.borrow_mut() = 1;
    l
}

/// The `models_to_try` of the only strategy, for a request that names no model.
fn selected(expr: &str) -> Vec<String> {
    let l = with_strategy(expr);
    match l.plan(&chat(
        json!({"messages": [{"role": "user", "content": "hi"}]}),
    )) {
        GatewayStep::Forward(p) => {
            let c = Continuation::decode(&p.continuation).unwrap();
            let records =
                l.gw.selection_json(&c.model_selection, crate::model::ApiFormat::OpenAi);
            let tried = records[0]["models_to_try"].clone();
            serde_json::from_value(tried).unwrap()
        }
        GatewayStep::Respond(f) => panic!("{expr}: {}", String::from_utf8_lossy(&f.response.body)),
    }
}

fn check(expr: &str, expected: &[&str]) {
    assert_eq!(selected(expr), expected, "strategy: {expr}");
}

#[test]
fn documented_strategies_select_what_they_say() {
    check("ai.models", ALL);
    check("ai.models.filter(m, m.provider_id == 'openai')", &ALL[..3]);
    check(
        "ai.models.filter(m, m.provider_id == 'openai' && m.id.contains('gpt-4'))",
        &ALL[..2],
    );
    check(
        "ai.models.filter(m, m.metrics.global.error_rate.total < 0.01)",
        &ALL[1..],
    );
    check(
        "ai.models.filter(m, 'tool-calling' in m.supported_features)",
        &[
            "openai:gpt-4o",
            "openai:gpt-4o-mini",
            "anthropic:claude-sonnet-4-5",
            "google:gemini-2.5-flash",
        ],
    );
    check(
        "ai.models.filter(m, 'image' in m.input_modalities)",
        &[
            "openai:gpt-4o",
            "openai:gpt-4o-mini",
            "anthropic:claude-sonnet-4-5",
            "google:gemini-2.5-flash",
        ],
    );
    check(
        "ai.models.filter(m, m.metadata.tier == 'budget')",
        &[
            "openai:gpt-4o",
            "ollama-gpu-1:llama3",
            "ollama-gpu-2:llama3",
        ],
    );
    check(
        "ai.models.filter(m, m.getMetadata('config.region') == 'us')",
        &["openai:gpt-4o"],
    );
    check("ai.models.filter(m, m.known)", ALL);
    check(
        "ai.models.filter(m, m.id.contains('turbo') || m.id.contains('mini')).filter(m, m.metrics.global.latency.upstream_ms_avg < 800 && m.metrics.global.error_rate.total < 0.02)",
        // "gemini" contains "mini".
        &[
            "openai:gpt-4o-mini",
            "openai:gpt-3.5-turbo",
            "google:gemini-2.5-flash",
        ],
    );
    check(
        "ai.models.only(['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet'])",
        &ALL[..2],
    );
    check(
        "ai.models.ignore(['gpt-3.5-turbo', 'gpt-4-turbo'])",
        &[
            "openai:gpt-4o",
            "openai:gpt-4o-mini",
            "anthropic:claude-sonnet-4-5",
            "google:gemini-2.5-flash",
            "ollama-gpu-1:llama3",
            "ollama-gpu-2:llama3",
        ],
    );
    check(
        "ai.models.onlyProviders(['openai', 'anthropic'])",
        &ALL[..4],
    );
    check(
        "ai.models.ignoreProviders(['google'])",
        &[
            "openai:gpt-4o",
            "openai:gpt-4o-mini",
            "openai:gpt-3.5-turbo",
            "anthropic:claude-sonnet-4-5",
            "ollama-gpu-1:llama3",
            "ollama-gpu-2:llama3",
        ],
    );
    check("ai.models.onlyAuthors(['openai'])", &ALL[..3]);
    check("ai.models.ignoreAuthors(['meta'])", &ALL[..5]);
    check("ai.models.inRegion('us-east-1')", &["ollama-gpu-1:llama3"]);
    check("ai.models.inCountryCode('US')", &["ollama-gpu-1:llama3"]);
    check(
        "ai.models.underCost('text.input', 1.0)",
        &["openai:gpt-4o-mini", "ollama-gpu-1:llama3"],
    );
    check(
        "ai.models.underCost('text.input', 0.5).sortBy('price')",
        &["ollama-gpu-1:llama3", "openai:gpt-4o-mini"],
    );
    check(
        "ai.models.sortBy('price')",
        &[
            "ollama-gpu-1:llama3",
            "openai:gpt-4o-mini",
            "openai:gpt-4o",
            "anthropic:claude-sonnet-4-5",
            "openai:gpt-3.5-turbo",
            "google:gemini-2.5-flash",
            "ollama-gpu-2:llama3",
        ],
    );
    check(
        "ai.models.sortBy(m, m.metrics.global.latency.upstream_ms_avg)",
        &[
            "openai:gpt-4o-mini",
            "openai:gpt-3.5-turbo",
            "anthropic:claude-sonnet-4-5",
            "google:gemini-2.5-flash",
            "ollama-gpu-1:llama3",
            "ollama-gpu-2:llama3",
            "openai:gpt-4o",
        ],
    );
    check(
        "ai.models.filter(m, m.provider_id == 'openai')[0]",
        &["openai:gpt-4o"],
    );
    check("ai.models.get('openai', 'gpt-4o')", &["openai:gpt-4o"]);
    check(
        "ai.providers.get('openai').getModel('gpt-4o')",
        &["openai:gpt-4o"],
    );
    check(
        "ai.models.filter(m, 'k_test' in m.metrics.api_keys && m.metrics.api_keys['k_test'].latency.upstream_ms_avg < 1000)",
        &["openai:gpt-4o"],
    );
}

#[test]
fn random_strategies_pick_from_their_input() {
    for _ in 0..10 {
        let one = selected(
            "ai.models.filter(m, m.provider_id in ['ollama-gpu-1', 'ollama-gpu-2']).random()",
        );
        assert_eq!(one.len(), 1);
        assert!(one[0].starts_with("ollama-gpu-"), "{one:?}");
        let one = selected("ai.models.random()");
        assert!(ALL.contains(&one[0].as_str()));
    }
    let mut all = selected("ai.models.randomize()");
    assert_eq!(all.len(), ALL.len());
    all.sort();
    let mut expected: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(all, expected);
}

#[test]
fn strategies_are_classified_by_what_they_read() {
    let cases = [
        (
            "ai.models.filter(m, m.provider_id == 'openai')",
            Dependence::Static,
        ),
        ("ai.models.sortBy('price')", Dependence::Static),
        (
            "ai.models.filter(m, m.metrics.global.error_rate.total < 0.01)",
            Dependence::Metrics,
        ),
        ("ai.models.random()", Dependence::Request),
        (
            "ai.models.filter(m, m.provider_id == req.headers['x-provider'][0])",
            Dependence::Request,
        ),
    ];
    for (expr, dep) in cases {
        let l = with_strategy(expr);
        assert_eq!(l.gw.model_strategies[0].dependence, dep, "{expr}");
        // Static strategies were evaluated at load, and only they.
        assert_eq!(
            l.gw.static_selections[0].openai.is_some(),
            dep == Dependence::Static,
            "{expr}"
        );
    }
}

#[test]
fn request_variables_reach_strategies() {
    let l = with_strategy("ai.models.filter(m, m.provider_id == vars.provider)");
    let mut env = l.req_env();
    let mut vars = std::collections::HashMap::new();
    vars.insert(
        cel::objects::Key::String(std::sync::Arc::new("provider".into())),
        cel::Value::String(std::sync::Arc::new("google".into())),
    );
    env.vars.insert(
        "vars".into(),
        cel::Value::Map(cel::objects::Map {
            map: std::sync::Arc::new(vars),
        }),
    );
    let GatewayStep::Forward(p) = l.plan_with(&chat(json!({"messages": []})), &env) else {
        panic!()
    };
    assert_eq!(p.attempts[0].provider, "google");
}

#[test]
fn metrics_strategies_follow_the_metrics_generation() {
    let l = with_strategy("ai.models.filter(m, m.metrics.global.error_rate.total < 0.01)");
    let req = chat(json!({"messages": []}));
    assert!(!l.attempt_order(&req).iter().any(|a| a == "openai:gpt-4o"));
    // The errors clear but the generation stays: the cached result is reused.
    l.host.metrics.borrow_mut()[0].errors = 0;
    assert!(!l.attempt_order(&req).iter().any(|a| a == "openai:gpt-4o"));
    // The host bumps the generation: gpt-4o is back.
    *l.host.generation.borrow_mut() = 2;
    assert!(l.attempt_order(&req).iter().any(|a| a == "openai:gpt-4o"));
}

#[test]
fn first_non_empty_strategy_wins_and_client_models_are_only_filtered() {
    let yaml = format!(
        "{UNIVERSE}\nmodel_selection:\n  strategy:\n    - \"ai.models.filter(m, m.provider_id == 'nobody')\"\n    - \"ai.models.filter(m, m.provider_id == 'openai')\"\n    - \"ai.models\"\n"
    );
    let l = load(&yaml);
    // No client model: the second strategy's list is the whole failover list.
    assert_eq!(l.attempt_order(&chat(json!({"messages": []}))), &ALL[..3]);
    // Client models: kept in client order, only those the strategy allows.
    let req = chat(json!({"model": "gemini-2.5-flash", "models": ["gpt-4o-mini", "gpt-4o"]}));
    assert_eq!(
        l.attempt_order(&req),
        &["openai:gpt-4o-mini", "openai:gpt-4o"]
    );
    let GatewayStep::Forward(p) = l.plan(&req) else {
        panic!()
    };
    let c = Continuation::decode(&p.continuation).unwrap();
    let records =
        l.gw.selection_json(&c.model_selection, crate::model::ApiFormat::OpenAi);
    let expected: Json = json!([
        {"strategy": "ai.models.filter(m, m.provider_id == 'nobody')", "candidates_returned": [], "candidates_after_allowed_filter": [], "candidates_after_client_filter": [], "models_to_try": []},
        {"strategy": "ai.models.filter(m, m.provider_id == 'openai')", "candidates_returned": ALL[..3], "candidates_after_allowed_filter": ALL[..3],
         "candidates_after_client_filter": ["openai:gpt-4o-mini", "openai:gpt-4o"], "models_to_try": ["openai:gpt-4o-mini", "openai:gpt-4o"]}
    ]);
    assert_eq!(records, expected);
}

#[test]
fn strategy_errors_and_bad_results_are_422s() {
    let l = with_strategy("ai.models.filter(m, m.metadata.nope == 'x')");
    let f = l.respond(&chat(json!({"messages": []})));
    assert_eq!(f.response.status, 422);
    assert_eq!(f.results["error"]["code"], "model_selection_failed");
    let l = with_strategy("size(ai.models)");
    let f = l.respond(&chat(json!({"messages": []})));
    assert_eq!(f.response.status, 422);
    assert_eq!(f.results["error"]["code"], "invalid_strategy_result");
    let l = with_strategy("ai.models.filter(m, false)");
    let f = l.respond(&chat(json!({"messages": []})));
    assert_eq!(
        (f.response.status, f.results["error"]["code"].as_str()),
        (422, Some("model_selection_empty"))
    );
}

#[test]
fn key_selection_strategies_choose_keys() {
    let yaml = r#"
providers:
  - id: openai
    api_keys:
      - value: ${secrets.get('openai','primary')}
      - value: ${secrets.get('openai','backup')}
    models: [{id: gpt-4o}]
only_allow_configured_providers: true
only_allow_configured_models: true
api_key_selection:
  strategy:
    - "ai.keys.filter(k, k.quota.known && k.quota.remaining_requests > 100)"
    - "ai.keys.filter(k, k.error_rate.total < 0.1)"
    - "ai.keys"
"#;
    let l = load(yaml);
    let primary = crate::ai_gateway::provider_keys::key_id("sk-openai-primary-0001");
    let backup = crate::ai_gateway::provider_keys::key_id("sk-openai-backup-0002");
    *l.host.metrics.borrow_mut() = vec![TargetMetrics {
        provider: "openai".into(),
        model: "gpt-4o".into(),
        key_id: primary.clone(),
        requests: 10,
        errors: 5,
        error_rate: 0.5,
        ..TargetMetrics::default()
    }];
    let order = l.attempt_order(&chat(json!({"model": "gpt-4o"})));
    assert_eq!(order, vec![format!("openai:gpt-4o#{backup}")]);
    // The record of both strategies that ran reaches the result variables.
    let GatewayStep::Forward(p) = l.plan(&chat(json!({"model": "gpt-4o"}))) else {
        panic!()
    };
    let failed = crate::model::AttemptResult {
        provider: "openai".into(),
        model: "gpt-4o".into(),
        key_id: backup.clone(),
        status: Some(500),
        failure: Some(crate::model::FailureKind::Status),
        step: crate::model::AttemptStep::Exhausted,
        ..Default::default()
    };
    let out = crate::model::GatewayOutcome {
        attempts: vec![failed],
        ..Default::default()
    };
    let f = l.gw.finish(&p.continuation, &out);
    let rec = &f.results["models_tried"][0]["api_key_selection"];
    assert_eq!(rec.as_array().unwrap().len(), 2, "{rec}");
    assert_eq!(rec[1]["keys_to_try"], json!([backup]));
}
