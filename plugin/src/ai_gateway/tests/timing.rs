//! Decision cost of a typical request (the issue's benchmark shape: three providers, a
//! request-independent strategy, a client `models` list, a 2 KB body). Ignored by default
//! (timing depends on the machine and build profile); run with
//! `cargo test -p gateway-plugin --release decision_cost -- --ignored --nocapture`.

use std::time::Instant;

use serde_json::json;

use super::harness::{chat, load};

pub const BENCH_CONFIG: &str = r#"
only_allow_configured_providers: true
providers:
  - id: openai
    api_keys: [{value: k-one-abcdefgh}, {value: k-two-abcdefgh}]
  - id: anthropic
    api_keys: [{value: k-three-abcdefgh}]
  - id: local
    base_url: http://llm.internal:8080
    models: [{id: llama3}]
model_selection:
  strategy:
    - "ai.models.filter(m, m.provider_id in ['openai', 'anthropic', 'local'])"
"#;

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn decision_cost() {
    let l = load(BENCH_CONFIG);
    let content = "x".repeat(1900);
    let req = chat(
        json!({"model": "gpt-4o", "models": ["claude-sonnet-4-5", "llama3"], "messages": [{"role": "user", "content": content}]}),
    );
    assert!((1900..2100).contains(&req.body.len()), "{}", req.body.len());
    let env = l.req_env();
    for _ in 0..200 {
        let _ = l.plan_with(&req, &env);
    }
    let mut samples: Vec<u128> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            let _ = l.plan_with(&req, &env);
            t.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    let cpu_before = thread_cpu_ns();
    for _ in 0..2000 {
        let _ = l.plan_with(&req, &env);
    }
    let cpu = match (cpu_before, thread_cpu_ns()) {
        (Some(a), Some(b)) => format!("{} ns on CPU per call", (b - a) / 2000),
        _ => "CPU time unavailable".to_owned(),
    };
    println!(
        "plan p50 = {} µs wall, p99 = {} µs wall, {cpu}",
        samples[1000] / 1000,
        samples[1980] / 1000
    );
}

/// Nanoseconds this thread has spent on a CPU (Linux): stable on a busy machine, where
/// wall time mostly measures waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[test]
#[ignore = "timing breakdown"]
fn decision_cost_breakdown() {
    use crate::ai_gateway::body::ClientBody;
    use crate::ai_gateway::resolve::resolve;
    use crate::model::ApiFormat;
    let l = load(BENCH_CONFIG);
    let content = "x".repeat(1900);
    let req = chat(
        json!({"model": "gpt-4o", "models": ["claude-sonnet-4-5", "llama3"], "messages": [{"role": "user", "content": content}]}),
    );
    let env = l.req_env();
    let time = |name: &str, f: &mut dyn FnMut()| {
        for _ in 0..200 {
            f();
        }
        let mut samples: Vec<u128> = (0..2000)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        println!("{name}: p50 {} ns", samples[1000]);
    };
    time("parse", &mut || {
        let _ = ClientBody::parse(&req.body).unwrap();
    });
    let names = vec![
        "gpt-4o".to_owned(),
        "claude-sonnet-4-5".to_owned(),
        "llama3".to_owned(),
    ];
    time("resolve", &mut || {
        let _ = resolve(&l.gw.universe, ApiFormat::OpenAi, &names, false);
    });
    let r = resolve(&l.gw.universe, ApiFormat::OpenAi, &names, false);
    time("select", &mut || {
        let _ = l.gw.select_models(
            ApiFormat::OpenAi,
            &r,
            crate::ai_gateway::request_types::RequestType::ChatCompletion,
            &env,
            &l.host,
        );
    });
    let body = ClientBody::parse(&req.body).unwrap();
    let merge = serde_json::Map::new();
    time("upstream_body", &mut || {
        let _ = crate::ai_gateway::body::upstream_body(
            &body,
            &crate::ai_gateway::body::BodyEdits {
                model: "gpt-4o",
                merge: &merge,
                max_output_tokens: None,
                limit_field: Some("max_completion_tokens"),
                allow: None,
                deny: &[],
            },
        );
    });
    let base = url::Url::parse("https://api.openai.com/v1/").unwrap();
    let overrides = std::collections::BTreeMap::new();
    time("upstream_url", &mut || {
        let _ = crate::ai_gateway::upstream::upstream_url(
            &base,
            crate::ai_gateway::surface::Surface::ChatCompletions,
            "/v1/chat/completions",
            "",
            &overrides,
            &[],
        );
    });
    time("headers", &mut || {
        let h = crate::ai_gateway::request_headers::RequestHeaders::new(
            &req.headers,
            &[],
            &[],
            ApiFormat::OpenAi,
        );
        let _ = h.for_attempt(
            crate::ai_gateway::credentials::AttemptKey::Configured("k"),
            &crate::ai_gateway::key_auth::KeyAuth::default_for(ApiFormat::OpenAi),
        );
    });
    let crate::ai_gateway::GatewayStep::Forward(p) = l.plan_with(&req, &env) else {
        panic!()
    };
    let c = crate::ai_gateway::continuation::Continuation::decode(&p.continuation).unwrap();
    println!("continuation: {} bytes", p.continuation.len());
    time("continuation", &mut || {
        let _ = c.encode();
    });
    time("plan", &mut || {
        let _ = l.plan_with(&req, &env);
    });
}
