//! Every example policy in `policies/` loads without errors, so none of them rots.

use std::path::PathBuf;

use gateway_plugin::engine::load;
use gateway_plugin::host_api::HostApi;
use gateway_plugin::model::{LoadOptions, LogLevel, RateLimitResult, Severity, TargetMetrics};

/// A host whose vaults hold every secret a policy asks for.
struct AnySecretHost;

impl HostApi for AnySecretHost {
    fn log(&self, _: LogLevel, _: &str, _: &[(String, String)]) {}
    fn rate_limit_check(&self, _: &str, capacity: u64, _: u64) -> RateLimitResult {
        RateLimitResult {
            allowed: true,
            remaining: capacity,
            retry_after_ms: 0,
        }
    }
    fn secret(&self, vault: &str, name: &str) -> Option<String> {
        Some(format!("test-secret-{vault}-{name}"))
    }
    fn metrics_snapshot(&self) -> Vec<TargetMetrics> {
        Vec::new()
    }
    fn metrics_generation(&self) -> u64 {
        0
    }
}

/// A host with no secrets at all (what `edge check` may face).
struct NoSecretHost;

impl HostApi for NoSecretHost {
    fn log(&self, _: LogLevel, _: &str, _: &[(String, String)]) {}
    fn rate_limit_check(&self, _: &str, capacity: u64, _: u64) -> RateLimitResult {
        RateLimitResult {
            allowed: true,
            remaining: capacity,
            retry_after_ms: 0,
        }
    }
    fn secret(&self, _: &str, _: &str) -> Option<String> {
        None
    }
    fn metrics_snapshot(&self) -> Vec<TargetMetrics> {
        Vec::new()
    }
    fn metrics_generation(&self) -> u64 {
        0
    }
}

fn policy_files() -> std::io::Result<Vec<PathBuf>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no policies found in {}", dir.display());
    Ok(files)
}

#[test]
fn every_example_policy_loads_without_errors() {
    for file in policy_files().unwrap() {
        let text = std::fs::read_to_string(&file).unwrap();
        let options = LoadOptions {
            file_name: file.display().to_string(),
            ..LoadOptions::default()
        };
        if let Err(diags) = load(&text, &options, &AnySecretHost) {
            let errors: Vec<_> = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            panic!("{}: {errors:#?}", file.display());
        }
    }
}

#[test]
fn every_example_policy_passes_check_without_secrets() {
    for file in policy_files().unwrap() {
        let text = std::fs::read_to_string(&file).unwrap();
        let options = LoadOptions {
            file_name: file.display().to_string(),
            check_only: true,
            ..LoadOptions::default()
        };
        if let Err(diags) = load(&text, &options, &NoSecretHost) {
            panic!("{}: {diags:#?}", file.display());
        }
    }
}

#[test]
fn the_benchmark_policy_decides_as_documented() {
    use gateway_plugin::engine::memory_host::MemoryHost;
    use gateway_plugin::model::{Connection, Decision, Request};

    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/rules.yaml"),
    )
    .unwrap();
    let policy = load(&text, &LoadOptions::default(), &MemoryHost::new()).unwrap();
    let host = MemoryHost::new();
    let mut req = Request {
        id: "r1".into(),
        method: "GET".into(),
        scheme: "http".into(),
        authority: "localhost:8080".into(),
        path: "/api/items".into(),
        headers: vec![("x-debug".into(), "1".into())],
        conn: Connection {
            client_ip: "127.0.0.1".into(),
            ..Connection::default()
        },
        ..Request::default()
    };
    let Decision::Respond(r) = policy.on_http_request(&req, &host).decision else {
        panic!("no 401")
    };
    assert_eq!(r.status, 401);

    req.headers.push(("x-api-key".into(), "demo".into()));
    let Decision::Upstream(up) = policy.on_http_request(&req, &host).decision else {
        panic!("not forwarded")
    };
    assert!(
        up.headers
            .contains(&("x-forwarded-by".into(), "edge".into()))
    );
    assert!(
        up.headers
            .contains(&("x-client-ip".into(), "127.0.0.1".into()))
    );
    assert!(!up.headers.iter().any(|(k, _)| k == "x-debug"));

    req.method = "DELETE".into();
    let Decision::Respond(r) = policy.on_http_request(&req, &host).decision else {
        panic!("no 405")
    };
    assert_eq!(r.status, 405);

    req.conn.client_ip = "203.0.113.7".into();
    let Decision::Respond(r) = policy.on_http_request(&req, &host).decision else {
        panic!("no 403")
    };
    assert_eq!(r.status, 403);
}
