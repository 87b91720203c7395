//! The edge's request path, listeners, admin and reload against real sockets, with a
//! scripted policy standing in for the plugin so each flow can be forced. The policy text
//! is a tiny line format read by the scripted loader:
//!   `respond <status>`   answer every request with that status
//!   `upstream`           forward every request to --upstream
//!   `path`               decide by path (see `ScriptedPolicy::decide`)
//!   anything with `invalid` is rejected with a diagnostic at line 2, column 5.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use edge::body::full;
use edge::plugin_runtime::bindings::types::{
    ApiFormat, AttemptResult, EndpointInfo, Decision, FailoverAction, FailureKind, GatewayOutcome, Plan, Request, RequestOutcome,
    Response as WitResponse, ResponseDecision, ResponseHead, UpstreamRequest,
};
use edge::policy_state::DiagnosticView;
use edge::server::decider::{FailoverClassifier, PlanFuture, PlanResult, PlanRunner, PluginCallError, PolicyDecider};
use edge::server::policy_loader::{LoadRejection, Loaded, PolicyLoader};
use edge::server::{RunningEdge, ServeConfig, start_with};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct ScriptedPolicy {
    mode: String,
    body: bool,
    response_rules: bool,
}

impl ScriptedPolicy {
    fn decide(&self, req: &Request) -> Result<Decision, PluginCallError> {
        if let Some(status) = self.mode.strip_prefix("respond ") {
            return Ok(respond(status.trim().parse().unwrap(), b"scripted"));
        }
        if self.mode == "upstream" {
            return Ok(Decision::Upstream(upstream_of(req)));
        }
        Ok(match req.path.as_str() {
            "/deny" => respond(403, b"denied"),
            "/echo-body" => respond(200, &req.body),
            "/trap" => return Err(PluginCallError { code: "plugin_trap", message: "wasm trap: unreachable".into() }),
            "/plan" => Decision::Forward(plan()),
            "/tls" => {
                let tls = req.conn.tls.as_ref().map(|t| {
                    format!("{} {} {:?} {}", req.scheme, t.version, t.negotiated_alpn, t.cipher_suite)
                });
                respond(200, tls.unwrap_or_default().as_bytes())
            }
            _ => Decision::Upstream(upstream_of(req)),
        })
    }
}

fn respond(status: u16, body: &[u8]) -> Decision {
    Decision::Respond(WitResponse {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: body.to_vec(),
    })
}

fn upstream_of(req: &Request) -> UpstreamRequest {
    let mut headers = req.headers.clone();
    headers.push(("x-added-by-policy".into(), "1".into()));
    let pq = if req.query.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, req.query) };
    UpstreamRequest { method: req.method.clone(), path_and_query: pq, headers, body: None }
}

fn plan() -> Plan {
    Plan {
        attempts: vec![],
        format: ApiFormat::Openai,
        stream: false,
        total_timeout_ms: 1000,
        max_attempts: 1,
        stream_idle_timeout_ms: 1000,
        max_retry_after_ms: 0,
        custom_failover: true,
        response_headers: vec![],
        continuation: b"cont".to_vec(),
    }
}

impl PolicyDecider for ScriptedPolicy {
    fn needs_body(&self) -> bool {
        self.body
    }
    fn has_response_rules(&self) -> bool {
        self.response_rules
    }
    fn on_http_request(&self, req: &Request) -> Result<RequestOutcome, PluginCallError> {
        Ok(RequestOutcome { decision: self.decide(req)?, state: b"state".to_vec() })
    }
    fn on_http_response(&self, state: &[u8], _req: &Request, head: &ResponseHead) -> Result<ResponseDecision, PluginCallError> {
        let mut headers = head.headers.clone();
        headers.retain(|(n, _)| n != "x-upstream-secret");
        headers.push(("x-response-phase".into(), String::from_utf8_lossy(state).into_owned()));
        Ok(ResponseDecision::Headers(headers))
    }
    fn classify_failure(&self, _c: &[u8], failed: &AttemptResult) -> Result<FailoverAction, PluginCallError> {
        Ok(if failed.status == Some(429) { FailoverAction::NextKey } else { FailoverAction::Stop })
    }
    fn resume(&self, cont: &[u8], _req: &Request, outcome: &GatewayOutcome) -> Result<RequestOutcome, PluginCallError> {
        let body = format!("resumed {} after {} attempts", String::from_utf8_lossy(cont), outcome.attempts.len());
        Ok(RequestOutcome { decision: respond(503, body.as_bytes()), state: vec![] })
    }
}

struct ScriptedLoader {
    loads: AtomicUsize,
}

impl PolicyLoader for ScriptedLoader {
    type Policy = ScriptedPolicy;
    fn load(&self, text: &str, _file: &str, endpoint: &EndpointInfo) -> Result<Loaded<ScriptedPolicy>, LoadRejection> {
        assert!(endpoint.url.contains("://127.0.0.1:") && endpoint.port != 0, "{}", endpoint.url);
        self.loads.fetch_add(1, Ordering::SeqCst);
        if text.contains("invalid") {
            return Err(LoadRejection::Invalid(vec![DiagnosticView {
                severity: "error",
                message: "unknown action type `invalid`".into(),
                line: 2,
                column: 5,
                path: "on_http_request[0].actions[0].type".into(),
            }]));
        }
        let first = text.lines().next().unwrap_or_default().trim().to_owned();
        Ok(Loaded {
            policy: ScriptedPolicy {
                mode: first,
                body: text.contains("needs_body"),
                response_rules: text.contains("response_rules"),
            },
            warnings: vec![],
        })
    }
}

/// A plan runner that fails every attempt the way the attempt loop reports it, asking the
/// policy's classifier once.
struct FailingPlans;

impl PlanRunner for FailingPlans {
    fn run<'a>(&'a self, _plan: &'a Plan, classifier: &'a dyn FailoverClassifier) -> PlanFuture<'a> {
        Box::pin(async move {
            let failed = AttemptResult {
                index: 0,
                provider: "p".into(),
                model: "m".into(),
                key_id: "k1".into(),
                status: Some(429),
                failure: Some(FailureKind::Status),
                message: "rate limited".into(),
                headers: vec![],
                body_excerpt: vec![],
                duration_ms: 1,
                retry_action: String::new(),
            };
            let action = classifier.classify(&failed);
            let retry_action = match action {
                FailoverAction::NextKey => "next_key",
                _ => "fail_fast",
            };
            PlanResult::Failed(GatewayOutcome {
                served: None,
                attempts: vec![AttemptResult { retry_action: retry_action.into(), ..failed }],
                timed_out: false,
                duration_ms: 1,
            })
        })
    }
}

struct Harness {
    edge: RunningEdge,
    dir: std::path::PathBuf,
    client: reqwest::Client,
}

impl Harness {
    async fn start(policy: &str, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "edge-server-flows-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("policy.txt");
        std::fs::write(&file, policy).unwrap();
        edge::tls::install_crypto_provider();
        let mut cfg = ServeConfig::new(&file);
        tweak(&mut cfg);
        let edge = start_with(cfg, Arc::new(ScriptedLoader { loads: AtomicUsize::new(0) }), Arc::new(FailingPlans))
            .await
            .unwrap();
        Self { edge, dir, client: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.edge.addr, path)
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{}", self.edge.admin_addr, path)
    }

    async fn stop(self) {
        self.edge.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An upstream that echoes what it received as headers `x-seen-*` and the body.
async fn echo_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let (parts, body) = req.into_parts();
                    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                    let mut res = http::Response::new(Full::new(bytes));
                    let h = res.headers_mut();
                    h.insert("x-seen-path", parts.uri.to_string().parse().unwrap());
                    for name in ["x-added-by-policy", "x-forwarded-for", "te", "host"] {
                        if let Some(v) = parts.headers.get(name) {
                            h.insert(format!("x-seen-{name}").parse::<http::HeaderName>().unwrap(), v.clone());
                        }
                    }
                    h.insert("x-upstream-secret", "s".parse().unwrap());
                    Ok::<_, Infallible>(res)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn error_code(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-edge-error-code")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn health_ready_and_request_id() {
    let h = Harness::start("respond 418\n", |_| {}).await;
    let health = h.client.get(h.admin("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(h.client.get(h.admin("/readyz")).send().await.unwrap().status(), 200);
    let res = h.client.get(h.url("/anything")).send().await.unwrap();
    assert_eq!(res.status(), 418);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    // The admin endpoints are not on the public port.
    let res = h.client.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 418);
    let metrics = h.client.get(h.admin("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"edge_requests_total{decision="respond",status="4xx"} 2"#), "{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn no_upstream_is_a_json_404() {
    let h = Harness::start("upstream\n", |_| {}).await;
    let res = h.client.get(h.url("/v1/x")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&res), "no_upstream");
    let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("no upstream is configured"));
    assert_eq!(v["error"]["code"], "no_upstream");
    h.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_streamed() {
    let h = Harness::start("path\nneeds_body\n", |c| c.max_body_bytes = 16).await;
    let ok = h.client.post(h.url("/echo-body")).body("small").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "small");
    let big = h.client.post(h.url("/echo-body")).body(vec![b'x'; 17]).send().await.unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(error_code(&big), "request_body_too_large");
    // Chunked (no content-length): the limit is enforced while reading.
    let stream = futures_util::stream::iter((0..3).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 10]))));
    let chunked = h.client.post(h.url("/echo-body")).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
    assert_eq!(chunked.status(), 413);
    h.stop().await;
}

#[tokio::test]
async fn upstream_gets_edits_and_streamed_body_without_hop_headers() {
    let up = echo_upstream().await;
    let h = Harness::start("path\nresponse_rules\n", |c| c.upstream = Some(format!("http://{up}"))).await;
    let res = h
        .client
        .post(h.url("/a/b?q=1"))
        .header("te", "trailers")
        .body("hello upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["x-seen-path"], "/a/b?q=1");
    assert_eq!(headers["x-seen-x-added-by-policy"], "1");
    assert_eq!(headers["x-seen-x-forwarded-for"], "127.0.0.1");
    assert!(!headers.contains_key("x-seen-te"));
    // Response phase ran: removed one header, added one with the request-phase state.
    assert!(!headers.contains_key("x-upstream-secret"));
    assert_eq!(headers["x-response-phase"], "state");
    assert_eq!(res.text().await.unwrap(), "hello upstream");
    h.stop().await;
}

#[tokio::test]
async fn streamed_body_over_limit_to_upstream_is_413() {
    let up = echo_upstream().await;
    let h = Harness::start("upstream\n", |c| {
        c.upstream = Some(format!("http://{up}"));
        c.max_body_bytes = 8;
    })
    .await;
    let stream = futures_util::stream::iter((0..3).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 6]))));
    let res = h.client.post(h.url("/x")).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
    assert_eq!(res.status(), 413);
    h.stop().await;
}

#[tokio::test]
async fn plugin_failure_is_a_500_for_that_request_only() {
    let h = Harness::start("path\n", |_| {}).await;
    let res = h.client.get(h.url("/trap")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(error_code(&res), "plugin_trap");
    let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("trap"));
    assert_eq!(h.client.get(h.url("/deny")).send().await.unwrap().status(), 403);
    let metrics = h.client.get(h.admin("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"edge_plugin_errors_total{kind="plugin_trap"} 1"#), "{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn failed_plan_goes_back_to_the_policy_via_resume() {
    let h = Harness::start("path\n", |_| {}).await;
    let res = h.client.post(h.url("/plan")).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.text().await.unwrap(), "resumed cont after 1 attempts");
    let metrics = h.client.get(h.admin("/metrics")).send().await.unwrap().text().await.unwrap();
    // The custom failover rule (classify_failure) chose next_key for the 429.
    assert!(metrics.contains(r#"edge_upstream_attempts_total{provider="p",result="next_key"} 1"#), "{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn silent_and_slow_clients_are_disconnected() {
    let h = Harness::start("respond 200\n", |c| c.header_read_timeout = Duration::from_millis(300)).await;
    // Connects and sends nothing.
    let mut silent = tokio::net::TcpStream::connect(h.edge.addr).await.unwrap();
    // Sends half a head and stalls.
    let mut slow = tokio::net::TcpStream::connect(h.edge.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    for conn in [&mut silent, &mut slow] {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3), conn.read_to_end(&mut buf)).await;
        let n = read.expect("connection still open after the header read timeout");
        // Closed (EOF or reset), possibly after a 408.
        if let Ok(n) = n {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
        }
    }
    // A prompt client is still served.
    assert_eq!(h.client.get(h.url("/")).send().await.unwrap().status(), 200);
    h.stop().await;
}

#[tokio::test]
async fn http2_prior_knowledge_is_served() {
    let h = Harness::start("respond 204\n", |_| {}).await;
    let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let res = client.get(h.url("/")).send().await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);
    assert_eq!(res.status(), 204);
    h.stop().await;
}

#[tokio::test]
async fn invalid_reload_keeps_serving_previous_policy_then_valid_one_swaps() {
    let h = Harness::start("respond 201\n", |c| c.watch_policy = false).await;
    let file = h.dir.join("policy.txt");
    std::fs::write(&file, "respond 202\ninvalid\n").unwrap();
    h.edge.reload();
    let status = wait_for(|| h.edge.policy_status().last_error.is_some()).await;
    assert!(status, "reload failure not recorded");
    assert_eq!(h.client.get(h.url("/")).send().await.unwrap().status(), 201);
    let policy: serde_json::Value = h.client.get(h.admin("/policy")).send().await.unwrap().text().await.map(|t| serde_json::from_str(&t).unwrap()).unwrap();
    assert_eq!(policy["last_error"]["diagnostics"][0]["line"], 2);
    assert_eq!(policy["last_error"]["diagnostics"][0]["column"], 5);
    std::fs::write(&file, "respond 202\n").unwrap();
    h.edge.reload();
    assert!(wait_for(|| h.edge.policy_status().last_error.is_none()).await);
    assert_eq!(h.client.get(h.url("/")).send().await.unwrap().status(), 202);
    let metrics = h.client.get(h.admin("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"edge_policy_reloads_total{result="failed"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"edge_policy_reloads_total{result="ok"} 1"#), "{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn file_watch_reloads_on_rename_into_place() {
    let h = Harness::start("respond 201\n", |_| {}).await;
    let tmp = h.dir.join("policy.txt.tmp");
    std::fs::write(&tmp, "respond 203\n").unwrap();
    std::fs::rename(&tmp, h.dir.join("policy.txt")).unwrap();
    let mut status = 0;
    for _ in 0..50 {
        status = h.client.get(h.url("/")).send().await.unwrap().status().as_u16();
        if status == 203 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 203);
    h.stop().await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    // An upstream that answers after 300 ms.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok::<_, Infallible>(http::Response::new(full("slow")))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    let h = Harness::start("upstream\n", |c| c.upstream = Some(format!("http://{up}"))).await;
    let client = h.client.clone();
    let url = h.url("/slow");
    let in_flight = tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let addr = h.edge.addr;
    h.stop().await;
    assert_eq!(in_flight.await.unwrap(), "slow");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}

async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    false
}

#[tokio::test]
async fn tls_listener_negotiates_h2_and_reports_tls_facts() {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("edge-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, pkey) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, key.cert.pem()).unwrap();
    std::fs::write(&pkey, key.signing_key.serialize_pem()).unwrap();
    let h = Harness::start("path\n", |c| c.tls = Some(edge::server::TlsFiles { cert: cert.clone(), key: pkey.clone() })).await;
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(key.cert.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let res = client.get(format!("https://localhost:{}/tls", h.edge.addr.port())).send().await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);
    let body = res.text().await.unwrap();
    assert!(body.starts_with("https TLSv1.3 Some(\"h2\") TLS13_"), "{body}");
    // Plain HTTP on the TLS port is refused.
    assert!(h.client.get(format!("http://{}/tls", h.edge.addr)).send().await.is_err());
    h.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
