//! The in-process edge (`edge::server::start`) with real parts: the embedded plugin loading
//! real YAML policies (or the hostile fixture plugin), real loopback sockets, a real
//! upstream and a real mock provider. These are the flows the end-to-end suite in
//! `tests/e2e` does not already pin down: exact metric labels, request ids, the body
//! handed to a body-reading policy, hop-by-hop stripping, the response phase, a failed
//! ai-gateway plan resuming into later rules, silent clients, and the reload counters.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use crate::serve_support::InProcessEdge as Harness;
use bytes::Bytes;
use edge_test_support::paths::hostile_plugin;
use edge_test_support::provider;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers every request with 418 from the policy itself.
const TEAPOT: &str = "\
on_http_request:
  - actions:
      - type: custom-response
        config:
          status_code: 418
          body: teapot
";

/// An upstream that echoes the body and reports what it received as `x-seen-*` headers.
/// It also sends `x-upstream-secret`, which the response-phase rule must remove.
async fn echo_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let (parts, body) = req.into_parts();
                    let bytes = body
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    let mut res = http::Response::new(Full::new(bytes));
                    let h = res.headers_mut();
                    h.insert("x-seen-path", parts.uri.to_string().parse().unwrap());
                    for name in ["x-added-by-policy", "x-forwarded-for", "te", "x-drop-me"] {
                        if let Some(v) = parts.headers.get(name) {
                            h.insert(
                                format!("x-seen-{name}")
                                    .parse::<http::HeaderName>()
                                    .unwrap(),
                                v.clone(),
                            );
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
async fn request_ids_and_per_decision_metrics() {
    let h = Harness::start(TEAPOT, |_| {}).await;
    let res = h.client.get(h.url("/anything")).send().await.unwrap();
    assert_eq!(res.status(), 418);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid_shaped(&id), "{id}");
    // The public port has no admin routes: the policy answers `/healthz` too.
    let res = h.client.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 418);
    assert_ne!(
        res.headers()["x-request-id"].to_str().unwrap(),
        id,
        "each request gets its own id"
    );
    let metrics = h.metrics().await;
    assert!(
        metrics.contains(r#"edge_requests_total{decision="respond",status="4xx"} 2"#),
        "{metrics}"
    );
    h.stop().await;
}

fn uuid_shaped(id: &str) -> bool {
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12] && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// A policy whose expression reads the body makes the edge buffer it (within the limit)
/// before the request phase runs.
#[tokio::test]
async fn body_reading_policy_sees_the_body_and_the_limit_holds() {
    let policy = "\
on_http_request:
  - expressions: [\"req.body.contains('ping')\"]
    actions:
      - type: custom-response
        config:
          status_code: 200
          body: pong
  - actions:
      - type: custom-response
        config:
          status_code: 202
          body: no ping
";
    let h = Harness::start(policy, |c| c.max_body_bytes = 16).await;
    let ok = h
        .client
        .post(h.url("/b"))
        .body("a ping")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "pong");
    let other = h
        .client
        .post(h.url("/b"))
        .body("pong")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (other.status().as_u16(), other.text().await.unwrap()),
        (202, "no ping".to_owned())
    );
    let big = h
        .client
        .post(h.url("/b"))
        .body(vec![b'x'; 17])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(error_code(&big), "request_body_too_large");
    // Chunked (no content-length): the limit is enforced while reading.
    let stream = futures_util::stream::iter(
        (0..3).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 10]))),
    );
    let chunked = h
        .client
        .post(h.url("/b"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 413);
    h.stop().await;
}

#[tokio::test]
async fn upstream_gets_edits_and_body_without_hop_headers_and_response_rules_run() {
    let policy = "\
on_http_request:
  - actions:
      - type: add-headers
        config:
          headers:
            x-added-by-policy: \"1\"
      - type: remove-headers
        config:
          headers: [x-drop-me]
on_http_response:
  - actions:
      - type: remove-headers
        config:
          headers: [x-upstream-secret]
      - type: add-headers
        config:
          headers:
            x-response-phase: \"${req.url.path} ${string(res.status_code)}\"
";
    let up = echo_upstream().await;
    let h = Harness::start(policy, |c| c.upstream = Some(format!("http://{up}"))).await;
    let res = h
        .client
        .post(h.url("/a/b?q=1"))
        .header("te", "trailers")
        .header("x-drop-me", "1")
        .body("hello upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["x-seen-path"], "/a/b?q=1");
    assert_eq!(headers["x-seen-x-added-by-policy"], "1");
    assert_eq!(headers["x-seen-x-forwarded-for"], "127.0.0.1");
    assert!(
        !headers.contains_key("x-seen-te"),
        "hop-by-hop header forwarded"
    );
    assert!(
        !headers.contains_key("x-seen-x-drop-me"),
        "removed header forwarded"
    );
    // The response phase removed one header and added one built from request and response.
    assert!(!headers.contains_key("x-upstream-secret"));
    assert_eq!(headers["x-response-phase"], "/a/b 200");
    assert_eq!(res.text().await.unwrap(), "hello upstream");
    h.stop().await;
}

#[tokio::test]
async fn plugin_failure_is_a_500_for_that_request_only() {
    let plugin = hostile_plugin();
    let h = Harness::start("any policy text loads\n", |c| c.plugin = Some(plugin)).await;
    let res = h.client.get(h.url("/panic")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(error_code(&res), "plugin_trap");
    let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "plugin_trap");
    let fine = h.client.get(h.url("/fine")).send().await.unwrap();
    assert_eq!(fine.status(), 200);
    assert_eq!(fine.text().await.unwrap(), "hello from /fine");
    let metrics = h.metrics().await;
    assert!(
        metrics.contains(r#"edge_plugin_errors_total{kind="plugin_trap"} 1"#),
        "{metrics}"
    );
    h.stop().await;
}

/// A plan whose only attempt fails goes back to the policy (resume); with
/// `on_error: continue` the next rule answers from the recorded result.
#[tokio::test]
async fn failed_plan_goes_back_to_the_policy_via_resume() {
    let p = provider("p").status(429).start().await.unwrap();
    let policy = "\
on_http_request:
  - actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          on_error: continue
          providers:
            - id: p
              base_url: http://p.internal/v1
              api_keys: [{value: k1}]
              models: [{id: m}]
  - actions:
      - type: custom-response
        config:
          status_code: 503
          body: \"resumed ${actions.ngrok.ai_gateway.status}\"
";
    let h = Harness::start(policy, |c| {
        c.internal_hosts = vec![("p.internal".into(), p.server.addr)]
    })
    .await;
    let body = serde_json::json!({"model": "p:m", "messages": [{"role": "user", "content": "hi"}]});
    let res = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.text().await.unwrap(), "resumed error");
    assert_eq!(p.hits(), 1, "one key, so one attempt");
    assert_eq!(p.received()[0].path, "/v1/chat/completions");
    let metrics = h.metrics().await;
    // A 429 asks for the next key; there is none, so the attempt is recorded as exhausted.
    assert!(
        metrics.contains(r#"edge_upstream_attempts_total{provider="p",result="exhausted"} 1"#),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn silent_and_slow_clients_are_disconnected() {
    let h = Harness::start(TEAPOT, |c| {
        c.header_read_timeout = Duration::from_millis(300)
    })
    .await;
    // Connects and sends nothing.
    let mut silent = tokio::net::TcpStream::connect(h.edge.addr).await.unwrap();
    // Sends half a head and stalls.
    let mut slow = tokio::net::TcpStream::connect(h.edge.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
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
    assert_eq!(h.client.get(h.url("/")).send().await.unwrap().status(), 418);
    h.stop().await;
}

fn respond_with(status: u16) -> String {
    format!(
        "on_http_request:\n  - actions:\n      - type: custom-response\n        config:\n          status_code: {status}\n"
    )
}

#[tokio::test]
async fn invalid_reload_keeps_the_previous_policy_and_both_results_are_counted() {
    let h = Harness::start(&respond_with(201), |c| c.watch_policy = false).await;
    let file = h.dir().join("policy.yaml");
    std::fs::write(
        &file,
        "on_http_request:\n  - actions:\n      - type: no-such-action\n",
    )
    .unwrap();
    h.edge.reload();
    assert!(
        wait_for(|| h.edge.policy_status().last_error.is_some()).await,
        "reload failure not recorded"
    );
    assert_eq!(h.client.get(h.url("/")).send().await.unwrap().status(), 201);
    let policy: serde_json::Value = serde_json::from_str(
        &h.client
            .get(h.admin("/policy"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        policy["last_error"]["diagnostics"][0]["line"], 3,
        "{policy}"
    );
    std::fs::write(&file, respond_with(202)).unwrap();
    h.edge.reload();
    assert!(wait_for(|| h.edge.policy_status().last_error.is_none()).await);
    assert_eq!(h.client.get(h.url("/")).send().await.unwrap().status(), 202);
    let metrics = h.metrics().await;
    assert!(
        metrics.contains(r#"edge_policy_reloads_total{result="failed"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"edge_policy_reloads_total{result="ok"} 1"#),
        "{metrics}"
    );
    h.stop().await;
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
