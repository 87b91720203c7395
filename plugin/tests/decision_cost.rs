//! How long one request decision takes for the benchmark policy (`policies/rules.yaml`)
//! and for an ai-gateway policy (`policies/multi-provider-failover.yaml`).
//! Not a timed test: it prints numbers and asserts nothing about them. Run with
//! `cargo test -p gateway-plugin --release --test decision_cost -- --ignored --nocapture`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::PathBuf;
use std::time::Instant;

use gateway_plugin::engine::load;
use gateway_plugin::engine::memory_host::MemoryHost;
use gateway_plugin::model::{Connection, Decision, LoadOptions, Request, ResponseHead};

/// Iterations timed per measurement (after 1,000 warm-up calls).
const TIMED_CALLS: u32 = 20_000;

/// Nanoseconds this thread has spent on a CPU (Linux), so the numbers hold on a busy
/// machine where wall time mostly measures waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[test]
#[ignore = "measurement, run by hand in release mode"]
fn decision_cost_of_the_benchmark_policy() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/rules.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let host = MemoryHost::new();
    let started = Instant::now();
    let policy = load(&text, &LoadOptions::default(), &host).unwrap();
    println!("load: {:?}", started.elapsed());

    let req = Request {
        id: "0191f2c4-7d4b-7c3e-9a1b-3f2d4e5a6b7c".into(),
        method: "GET".into(),
        scheme: "http".into(),
        authority: "127.0.0.1:8080".into(),
        path: "/api/items".into(),
        query: "page=2".into(),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("host".into(), "127.0.0.1:8080".into()),
            ("user-agent".into(), "curl/8.5.0".into()),
            ("accept".into(), "*/*".into()),
            ("x-api-key".into(), "demo".into()),
        ],
        body: Vec::new(),
        conn: Connection {
            client_ip: "127.0.0.1".into(),
            client_port: 50000,
            server_ip: "127.0.0.1".into(),
            server_port: 8080,
            tls: None,
        },
        received_at_ms: 1_700_000_000_000,
    };
    let head = ResponseHead {
        status: 200,
        headers: vec![("server".into(), "x".into())],
    };
    for _ in 0..1_000 {
        let out = policy.on_http_request(&req, &host);
        assert!(matches!(out.decision, Decision::Upstream(_)));
    }
    let n = TIMED_CALLS;
    let started = Instant::now();
    let cpu = thread_cpu_ns();
    for _ in 0..n {
        let out = policy.on_http_request(&req, &host);
        std::hint::black_box(&out);
    }
    report("on_http_request", started, cpu, n);
    let started = Instant::now();
    let cpu = thread_cpu_ns();
    for _ in 0..n {
        let out = policy.on_http_response(&[], &req, &head, None, &host);
        std::hint::black_box(&out);
    }
    report("on_http_response", started, cpu, n);
}

/// Three providers, a strategy that reads nothing per request, a client `models` list and
/// a chat body of about 2 KB.
#[test]
#[ignore = "measurement, run by hand in release mode"]
fn decision_cost_of_an_ai_gateway_policy() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/multi-provider-failover.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let host = MemoryHost::new()
        .with_secret("openai", "primary", "sk-primary-0123456789")
        .with_secret("openai", "backup", "sk-backup-0123456789")
        .with_secret("anthropic", "key", "sk-ant-0123456789");
    let policy = load(&text, &LoadOptions::default(), &host).unwrap();
    let content = "Tell me about the weather in a few sentences, please. ".repeat(36);
    let body = format!(
        r#"{{"model":"gpt-4o","models":["claude-sonnet-4-5","llama3.2"],"messages":[{{"role":"system","content":"You are terse."}},{{"role":"user","content":"{content}"}}],"temperature":0.2}}"#
    );
    assert!(body.len() > 1900 && body.len() < 2300, "{}", body.len());
    let req = Request {
        id: "0191f2c4-7d4b-7c3e-9a1b-3f2d4e5a6b7c".into(),
        method: "POST".into(),
        scheme: "http".into(),
        authority: "127.0.0.1:8080".into(),
        path: "/v1/chat/completions".into(),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("host".into(), "127.0.0.1:8080".into()),
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "openai-python/1.50".into()),
        ],
        body: body.into_bytes(),
        ..Request::default()
    };
    for _ in 0..1_000 {
        let out = policy.on_http_request(&req, &host);
        assert!(
            matches!(out.decision, Decision::Forward(_)),
            "{:?}",
            out.decision
        );
    }
    let started = Instant::now();
    let cpu = thread_cpu_ns();
    for _ in 0..TIMED_CALLS {
        let out = policy.on_http_request(&req, &host);
        std::hint::black_box(&out);
    }
    report("ai-gateway on_http_request", started, cpu, TIMED_CALLS);
}

fn report(what: &str, started: Instant, cpu_before: Option<u64>, n: u32) {
    let wall = started.elapsed() / n;
    match (cpu_before, thread_cpu_ns()) {
        (Some(a), Some(b)) => println!(
            "{what}: {wall:?} wall, {} ns on CPU per call",
            (b - a) / u64::from(n)
        ),
        _ => println!("{what}: {wall:?} wall per call"),
    }
}
