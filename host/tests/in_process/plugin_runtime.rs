//! The plugin runtime against the hostile fixture (`tests/fixtures/hostile-plugin`): a guest
//! that loops, hogs memory or panics on request. Each failure must come back as the right
//! `PluginError`, and the same loaded policy must keep answering ordinary requests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use edge::host_services::{AttemptSample, HostServices, Quota, SecretStore, TargetKey};
use edge::plugin_runtime::{
    ArtifactCache, CacheOutcome, LoadError, LoadedPolicy, PluginError, PluginRuntime, RuntimeConfig,
};
use edge::wit::types::{
    Connection, Decision, EndpointInfo, LoadOptions, Request, RequestOutcome, ResponseDecision,
    ResponseHead,
};

/// The hostile fixture (built by `edge-test-support`'s build script), read once per process.
fn hostile_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| std::fs::read(edge_test_support::paths::hostile_plugin()).unwrap())
}

fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "edge-runtime-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn test_config() -> RuntimeConfig {
    RuntimeConfig {
        cache: ArtifactCache::Off,
        max_instances: 16,
        // Instance counts must be deterministic in most tests; the warmer has its own.
        warm_instances: 0,
        ..RuntimeConfig::default()
    }
}

fn runtime_with(cfg: RuntimeConfig, services: HostServices) -> PluginRuntime {
    PluginRuntime::new(hostile_wasm(), cfg, Arc::new(services)).unwrap()
}

/// Load options for an endpoint on 127.0.0.1:8080 (also used by `plan_support`).
pub fn options() -> LoadOptions {
    LoadOptions {
        file_name: "policy.yaml".into(),
        check_only: false,
        endpoint: EndpointInfo {
            id: "ep".into(),
            url: "http://127.0.0.1:8080".into(),
            host: "127.0.0.1".into(),
            port: 8080,
            protocol: "http".into(),
        },
    }
}

fn load(rt: &PluginRuntime) -> LoadedPolicy {
    rt.load_policy("on_http_request: []", options()).unwrap()
}

fn request(path_and_query: &str) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    Request {
        id: "req-1".into(),
        method: "GET".into(),
        scheme: "http".into(),
        authority: "example.test".into(),
        path: path.into(),
        query: query.into(),
        version: "HTTP/1.1".into(),
        headers: vec![("host".into(), "example.test".into())],
        body: Vec::new(),
        conn: Connection {
            client_ip: "127.0.0.1".into(),
            client_port: 40000,
            server_ip: "127.0.0.1".into(),
            server_port: 8080,
            tls: None,
        },
        received_at_ms: 0,
    }
}

/// Status, body and the `x-instance-calls` header of a `respond` decision.
fn answer(outcome: RequestOutcome) -> (u16, String, u64) {
    let Decision::Respond(r) = outcome.decision else {
        panic!("expected a respond decision")
    };
    let calls = r
        .headers
        .iter()
        .find(|(k, _)| k == "x-instance-calls")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    (r.status, String::from_utf8(r.body).unwrap(), calls)
}

fn assert_serves(policy: &LoadedPolicy) {
    let (status, body, _) = answer(policy.on_http_request(&request("/hello")).unwrap());
    assert_eq!(status, 200);
    assert_eq!(body, "hello from /hello");
}

#[test]
fn artifact_cache_hit_on_second_start() {
    let dir = temp_dir("cache");
    let cfg = RuntimeConfig {
        cache: ArtifactCache::Dir(dir.clone()),
        ..test_config()
    };
    let first = runtime_with(cfg.clone(), HostServices::default());
    let CacheOutcome::Stored(path) = first.cache_outcome().clone() else {
        panic!(
            "first start must compile and store, got {:?}",
            first.cache_outcome()
        )
    };
    assert!(path.starts_with(&dir) && path.is_file());
    assert!(first.cache_outcome().compiled());
    drop(first);

    let second = runtime_with(cfg.clone(), HostServices::default());
    assert_eq!(second.cache_outcome(), &CacheOutcome::Hit(path.clone()));
    assert!(!second.cache_outcome().compiled());
    assert_serves(&load(&second));
    // The artifact is mapped while a runtime uses it; only overwrite it once that one is gone
    // (the runtime itself never writes in place: it renames a new file over the old one).
    drop(second);

    // A corrupt artifact is not trusted: the next start compiles and replaces it.
    std::fs::write(&path, b"garbage").unwrap();
    let third = runtime_with(cfg, HostServices::default());
    assert_eq!(third.cache_outcome(), &CacheOutcome::Stored(path.clone()));
    assert_serves(&load(&third));
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn cache_off_always_compiles() {
    let rt = runtime_with(test_config(), HostServices::default());
    assert_eq!(rt.cache_outcome(), &CacheOutcome::Compiled);
}

#[test]
fn not_a_component_is_a_load_error() {
    let err = PluginRuntime::new(b"not wasm at all", test_config(), Arc::default()).unwrap_err();
    assert!(matches!(err, PluginError::Load(_)), "{err:?}");
    assert_eq!(err.code(), "plugin_load_failed");
}

#[test]
fn infinite_loop_hits_the_deadline_and_the_policy_keeps_serving() {
    let rt = runtime_with(test_config(), HostServices::default());
    let policy = load(&rt);
    let start = Instant::now();
    let err = policy.on_http_request(&request("/loop")).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err, PluginError::DeadlineExceeded);
    assert_eq!(err.code(), "plugin_deadline_exceeded");
    assert_eq!(edge::server::EdgeError::from(err.clone()).status(), 500);
    // 100 ms deadline at a 1 ms tick; allow for a loaded CI machine.
    assert!(
        took >= Duration::from_millis(90),
        "interrupted too early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "interrupted too late: {took:?}"
    );
    assert_serves(&policy);
    assert_eq!(policy.pool_stats().discarded, 1);
}

#[test]
fn memory_hog_is_stopped_by_the_limit() {
    // Filling 64 MiB takes tens of ms, more on a loaded machine; a long deadline keeps this
    // test about memory only.
    let cfg = RuntimeConfig {
        call_deadline: Duration::from_secs(10),
        ..test_config()
    };
    let rt = runtime_with(cfg, HostServices::default());
    let policy = load(&rt);
    let err = policy.on_http_request(&request("/hog")).unwrap_err();
    assert_eq!(err, PluginError::MemoryExhausted);
    assert_eq!(err.code(), "plugin_memory_exhausted");
    assert_serves(&policy);
}

#[test]
fn panic_is_a_trap_with_the_guest_message() {
    let rt = runtime_with(test_config(), HostServices::default());
    let policy = load(&rt);
    let err = policy.on_http_request(&request("/panic")).unwrap_err();
    let PluginError::Trap { message } = &err else {
        panic!("expected a trap, got {err:?}")
    };
    assert!(
        message.contains("hostile plugin panicked on purpose"),
        "{message}"
    );
    assert_eq!(err.code(), "plugin_trap");
    assert_serves(&policy);
    // The trapped instance was dropped, a fresh one created.
    let stats = policy.pool_stats();
    assert_eq!(stats.discarded, 1);
    assert_eq!(stats.created, 2);
}

/// The server calls the plugin from tokio worker threads; guest stderr writes (a panic
/// message, or plain `eprintln!`) must not reach wasmtime-wasi's `block_on`, which panics there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_stderr_is_safe_on_tokio_workers() {
    let rt = runtime_with(test_config(), HostServices::default());
    let policy = load(&rt);
    let (status, _, _) = answer(policy.on_http_request(&request("/stderr")).unwrap());
    assert_eq!(status, 200);
    let err = policy.on_http_request(&request("/panic")).unwrap_err();
    assert_eq!(err.code(), "plugin_trap");
    let p = policy.clone();
    tokio::spawn(async move { p.on_http_request(&request("/panic")).unwrap_err() })
        .await
        .unwrap();
    assert_serves(&policy);
}

#[test]
fn hostile_calls_beside_concurrent_ordinary_ones() {
    let rt = runtime_with(test_config(), HostServices::default());
    let policy = load(&rt);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let policy = policy.clone();
            std::thread::spawn(move || {
                let mut ok = 0;
                for i in 0..40 {
                    let path = match (t, i % 20) {
                        (0, 5) => "/panic",
                        (1, 7) => "/loop",
                        (2, 9) => "/hog",
                        _ => "/busy?ms=1",
                    };
                    match policy.on_http_request(&request(path)) {
                        Ok(o) => {
                            assert_eq!(answer(o).0, 200);
                            ok += 1;
                        }
                        Err(e) => assert_ne!(path, "/busy?ms=1", "ordinary call failed: {e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(ok, 4 * 40 - 6);
    let stats = policy.pool_stats();
    assert_eq!(stats.discarded, 6);
    // Concurrency 4, plus one replacement per discarded instance at most.
    assert!(stats.created <= 4 + 6 + 1, "{stats:?}");
}

#[test]
fn instances_are_reused_then_recycled_after_n_calls() {
    let cfg = RuntimeConfig {
        recycle_after_calls: 3,
        ..test_config()
    };
    let rt = runtime_with(cfg, HostServices::default());
    let policy = load(&rt);
    let seen: Vec<u64> = (0..7)
        .map(|_| answer(policy.on_http_request(&request("/")).unwrap()).2)
        .collect();
    // One instance serves three calls, then a fresh one (calls counted inside the guest).
    assert_eq!(seen, vec![1, 2, 3, 1, 2, 3, 1]);
    let stats = policy.pool_stats();
    assert_eq!(stats.recycled, 2);
    assert_eq!(stats.created, 3);
    assert_eq!(stats.idle, 1);
}

/// Polls `cond` for up to 20 s (the warmer works in the background).
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn warmer_keeps_instances_ready_and_replaces_lost_ones() {
    let cfg = RuntimeConfig {
        warm_instances: 3,
        recycle_after_calls: 2,
        ..test_config()
    };
    let rt = runtime_with(cfg, HostServices::default());
    let policy = load(&rt);
    eventually("3 warm instances after load", || {
        policy.pool_stats().idle == 3
    });
    assert_eq!(policy.pool_stats().created, 3);

    // A check-only load (`edge check`) is never warmed.
    let checked = rt
        .load_policy(
            "x",
            LoadOptions {
                check_only: true,
                ..options()
            },
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(checked.pool_stats().created, 1);

    // A trap costs an instance; the warmer replaces it without a request waiting for it.
    policy.on_http_request(&request("/panic")).unwrap_err();
    eventually("a replacement after the trap", || {
        policy.pool_stats().idle == 3
    });
    assert_eq!(policy.pool_stats().created, 4);

    // Same after recycling.
    for _ in 0..2 {
        assert_serves(&policy);
    }
    eventually("a replacement after recycling", || {
        policy.pool_stats().idle == 3
    });
    let stats = policy.pool_stats();
    assert_eq!((stats.recycled, stats.created), (1, 5));
    // The next request lands on a fresh (warmed) instance that has served nothing yet.
    let (_, _, calls) = answer(policy.on_http_request(&request("/")).unwrap());
    assert_eq!(calls, 1);
}

#[test]
fn invalid_policy_returns_diagnostics_and_load_panic_is_a_trap() {
    let rt = runtime_with(test_config(), HostServices::default());
    match rt.load_policy("invalid", options()) {
        Err(LoadError::Diagnostics(d)) => {
            assert_eq!(d.len(), 1);
            assert_eq!((d[0].line, d[0].column), (1, 1));
            assert_eq!(d[0].message, "this policy is invalid on purpose");
        }
        other => panic!("expected diagnostics, got {other:?}"),
    }
    match rt.load_policy("panic-on-load", options()) {
        Err(LoadError::Plugin(PluginError::Trap { message })) => {
            assert!(message.contains("panicked while loading"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    // The runtime is unaffected.
    assert_serves(&load(&rt));
}

#[test]
fn response_phase_and_failover_exports() {
    use edge::wit::types::{AttemptResult, FailoverAction, FailureKind, GatewayOutcome};
    let rt = runtime_with(test_config(), HostServices::default());
    let policy = load(&rt);
    assert!(policy.summary().has_response_rules);
    let head = ResponseHead {
        status: 200,
        headers: vec![("content-type".into(), "text/plain".into())],
    };
    match policy
        .on_http_response(&[], &request("/"), &head, None)
        .unwrap()
    {
        ResponseDecision::Headers(h) => {
            assert!(h.contains(&("x-hostile-response".into(), "seen".into())))
        }
        ResponseDecision::Replace(_) => panic!("expected headers"),
    }
    let failed = AttemptResult {
        index: 0,
        provider: "p".into(),
        model: "m".into(),
        key_id: "k".into(),
        status: Some(429),
        failure: Some(FailureKind::Status),
        message: "too many".into(),
        headers: Vec::new(),
        body_excerpt: Vec::new(),
        duration_ms: 3,
        retry_after_ms: None,
        step: edge::wit::types::AttemptStep::NextKey,
    };
    assert_eq!(
        policy.classify_failure(&failed, true).unwrap(),
        FailoverAction::NextKey
    );
    let outcome = GatewayOutcome {
        served: None,
        attempts: vec![failed],
        timed_out: false,
        duration_ms: 3,
        last_answer: None,
    };
    let (status, body, _) = answer(policy.resume(&[], &request("/"), &outcome).unwrap());
    assert_eq!((status, body.as_str()), (502, "attempts=1"));
    let Decision::Upstream(up) = policy
        .on_http_request(&request("/upstream/a?b=1"))
        .unwrap()
        .decision
    else {
        panic!("expected an upstream decision")
    };
    assert_eq!(
        (up.method.as_str(), up.path_and_query.as_str()),
        ("GET", "/upstream/a?b=1")
    );
}

#[test]
fn rate_limit_counters_are_shared_by_all_instances() {
    let rt = runtime_with(test_config(), HostServices::default());
    let policy = load(&rt);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let policy = policy.clone();
            std::thread::spawn(move || {
                (0..10)
                    .filter(|_| {
                        let o = policy
                            .on_http_request(&request(
                                "/ratelimit?bucket=shared&capacity=15&window=60000",
                            ))
                            .unwrap();
                        answer(o).0 == 200
                    })
                    .count()
            })
        })
        .collect();
    let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(allowed, 15);
    // A second policy load (a reload) sees the same buckets.
    let reloaded = load(&rt);
    let (status, body, _) = answer(
        reloaded
            .on_http_request(&request(
                "/ratelimit?bucket=shared&capacity=15&window=60000",
            ))
            .unwrap(),
    );
    assert_eq!(status, 429);
    assert!(body.starts_with("remaining=0 retry_after_ms="), "{body}");
}

#[test]
fn secrets_and_metrics_reach_the_plugin() {
    let secrets = SecretStore::new().with_env([(
        "EDGE_SECRET_OPENAI_PROD_KEY".to_owned(),
        "sk-test-123".to_owned(),
    )]);
    let services = HostServices::new(secrets);
    services.metrics.record(
        &TargetKey {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            key_id: "abc".into(),
        },
        AttemptSample {
            error: false,
            latency: Duration::from_millis(20),
            quota: Quota::default(),
        },
    );
    let rt = runtime_with(test_config(), services);
    let policy = load(&rt);
    let (status, body, _) = answer(
        policy
            .on_http_request(&request("/secret?vault=openai&name=prod-key"))
            .unwrap(),
    );
    assert_eq!((status, body.as_str()), (200, "sk-test-123"));
    let (status, _, _) = answer(
        policy
            .on_http_request(&request("/secret?vault=openai&name=missing"))
            .unwrap(),
    );
    assert_eq!(status, 404);
    let (_, body, _) = answer(policy.on_http_request(&request("/metrics")).unwrap());
    assert!(body.starts_with("targets=1 generation="), "{body}");
    let (status, _, _) = answer(policy.on_http_request(&request("/log")).unwrap());
    assert_eq!(status, 200);
}

/// The real gateway plugin embedded in the edge, on the benchmark's rules policy: the
/// runtime must load it, and its decisions must come through the pool unchanged.
#[test]
fn embedded_plugin_serves_the_rules_policy() {
    let policy_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/rules.yaml"),
    )
    .unwrap();
    let rt = PluginRuntime::new(edge::EMBEDDED_PLUGIN, test_config(), Arc::default()).unwrap();
    let policy = rt.load_policy(&policy_text, options()).unwrap();
    assert!(policy.summary().has_response_rules);
    assert!(policy.summary().request_rules >= 4);

    // No API key on the API: the policy answers 401 itself.
    let outcome = policy.on_http_request(&request("/api/items")).unwrap();
    let Decision::Respond(r) = outcome.decision else {
        panic!("expected the 401 custom-response")
    };
    assert_eq!(r.status, 401);

    // With a key the request goes upstream with the policy's headers added.
    let mut req = request("/api/items");
    req.headers.push(("x-api-key".into(), "demo".into()));
    req.headers.push(("x-debug".into(), "1".into()));
    let outcome = policy.on_http_request(&req).unwrap();
    let Decision::Upstream(up) = outcome.decision else {
        panic!("expected an upstream decision")
    };
    assert!(
        up.headers
            .contains(&("x-forwarded-by".into(), "edge".into())),
        "{:?}",
        up.headers
    );
    assert!(
        up.headers
            .contains(&("x-request-id".into(), "req-1".into())),
        "{:?}",
        up.headers
    );
    assert!(
        !up.headers.iter().any(|(k, _)| k == "x-debug"),
        "{:?}",
        up.headers
    );

    // The response phase runs on the state the request phase left.
    let head = ResponseHead {
        status: 200,
        headers: vec![("server".into(), "upstream".into())],
    };
    match policy
        .on_http_response(&outcome.state, &req, &head, None)
        .unwrap()
    {
        ResponseDecision::Headers(h) => {
            assert!(h.contains(&("x-served-by".into(), "edge".into())), "{h:?}");
            assert!(!h.iter().any(|(k, _)| k == "server"), "{h:?}");
        }
        ResponseDecision::Replace(_) => panic!("expected header edits"),
    }
    // An invalid policy yields positioned diagnostics from the real plugin.
    match rt.load_policy(
        "on_http_request:\n  - actions:\n      - type: no-such-action\n",
        options(),
    ) {
        Err(LoadError::Diagnostics(d)) => assert!(d.iter().any(|d| d.line == 3), "{d:?}"),
        other => panic!("expected diagnostics, got {other:?}"),
    }
}
