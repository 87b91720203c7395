//! One error-code header for every error the edge answers: the real edge (`edge::server::start`,
//! the embedded gateway plugin, and the hostile fixture plugin for plugin failures) on
//! loopback, driven through each error path it has, and for each the `x-edge-error-code`
//! header must equal the JSON body's `error.code`.
//!
//! Paths not reachable from outside without minutes of waiting or a broken build (the
//! upstream's 10 s connect timeout, no policy loaded, a plugin that fails to load, a status
//! code HTTP does not have, a policy resuming forever) answer through the same
//! `EdgeError::to_response`, which the unit tests of `server/errors.rs` check variant by
//! variant.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use edge_test_support::http_server::closed_port;
use edge_test_support::paths::hostile_plugin;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::serve_support::InProcessEdge;

const HEADER: &str = "x-edge-error-code";

/// A provider that answers with the status named by the request's `x-mock-status` header
/// (default 500), after `x-mock-delay-ms` milliseconds.
async fn provider() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let number = |name: &str, default: u64| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok()?.parse().ok())
                            .unwrap_or(default)
                    };
                    let status = u16::try_from(number("x-mock-status", 500)).unwrap();
                    tokio::time::sleep(Duration::from_millis(number("x-mock-delay-ms", 0))).await;
                    let body = json!({"error": {"message": "mock provider says no"}});
                    let mut res = http::Response::new(Full::new(Bytes::from(body.to_string())));
                    *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
                    Ok::<_, std::convert::Infallible>(res)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Asserts the answer is the edge's error `code` with `status`, and that the header and the
/// body agree on the code.
async fn assert_error(what: &str, res: reqwest::Response, status: u16, code: &str) {
    let got_status = res.status().as_u16();
    let header = res
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text}"));
    assert_eq!(got_status, status, "{what}: {text}");
    assert_eq!(body["error"]["code"], code, "{what}: {text}");
    assert_eq!(
        header.as_deref(),
        Some(code),
        "{what}: header vs body {text}"
    );
}

fn ai_gateway(extra: Value) -> Value {
    let mut config = json!({
        "only_allow_configured_providers": true,
        "only_allow_configured_models": true,
        // The mock provider's knobs are client headers (docs/ai-gateway.md, "Header
        // forwarding": only named headers reach a provider).
        "forward_headers": ["x-mock-*"],
        "providers": [
            {"id": "dead", "base_url": "http://dead.internal/v1", "models": [{"id": "dead-model"}]},
            {"id": "mock", "base_url": "http://mock.internal/v1", "models": [{"id": "mock-model"}]},
            {
                "id": "refuses",
                "base_url": "http://mock.internal/v1",
                "models": [{"id": "refuses-model"}],
                "allowed_requests": {},
            },
            {
                "id": "anth",
                "base_url": "http://mock.internal/v1",
                "models": [{"id": "anth-model"}],
                "supported_api_surfaces": [{"format": "anthropic"}],
            },
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"type": "ai-gateway", "config": config})
}

/// The policy of the main edge: one rule per policy-side error, and the ai-gateway (one per
/// policy) with limits tight enough to reach in a test. Everything else goes to the
/// (unreachable) upstream. JSON is valid YAML.
fn policy() -> String {
    let doc = json!({"on_http_request": [
        {"expressions": ["req.url.path == '/rate'"], "actions": [
            {"type": "rate-limit", "config": {"capacity": 1, "rate": "60s", "bucket_key": ["conn.client_ip"]}}
        ]},
        {"expressions": ["req.url.path == '/ip'"], "actions": [
            {"type": "restrict-ips", "config": {"deny": ["127.0.0.0/8"]}}
        ]},
        {"expressions": ["req.url.path == '/broken' && req.headers['x-missing'][0] == 'x'"], "actions": [
            {"type": "deny"}
        ]},
        {"expressions": ["req.url.path.startsWith('/v1/')"], "actions": [ai_gateway(json!({
            "max_input_tokens": 100,
            "per_request_timeout": "1s",
            "total_timeout": "1s",
        }))]},
    ]});
    serde_json::to_string_pretty(&doc).unwrap()
}

fn chat(model: Value) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello there"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_the_edge_answers_names_its_code_in_header_and_body() {
    let dead = closed_port().unwrap();
    let mock = provider().await;
    let edge = InProcessEdge::start(&policy(), |c| {
        c.upstream = Some(format!("http://{dead}"));
        c.max_body_bytes = 4096;
        c.internal_hosts = vec![
            ("dead.internal".into(), dead),
            ("mock.internal".into(), mock),
        ];
    })
    .await;
    let client = &edge.client;
    let url = |path: &str| edge.url(path);
    let chat_url = url("/v1/chat/completions");
    let json_post = |url: &str, body: Value| {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let post = |body: Value| json_post(&chat_url, body);

    // Host side.
    let res = client
        .post(url("/up"))
        .body(vec![b'x'; 5000])
        .send()
        .await
        .unwrap();
    assert_error("body over the limit", res, 413, "request_body_too_large").await;
    let res = client.get(url("/up")).send().await.unwrap();
    assert_error("upstream refuses", res, 502, "upstream_unreachable").await;

    // Policy side.
    let _first = client.get(url("/rate")).send().await.unwrap();
    let res = client.get(url("/rate")).send().await.unwrap();
    assert_error("rate limit", res, 429, "rate_limited").await;
    let res = client.get(url("/ip")).send().await.unwrap();
    assert_error("restrict-ips", res, 403, "ip_restricted").await;
    let res = client.get(url("/broken")).send().await.unwrap();
    assert_error("failing expression", res, 500, "policy_runtime_error").await;

    // The ai-gateway action.
    let cases = [
        (
            "model not a string",
            post(chat(json!(5))),
            400,
            "invalid_request_body",
        ),
        (
            "unknown model",
            post(chat(json!("nosuch:x"))),
            422,
            "no_matching_models",
        ),
        (
            "request type not allowed",
            post(chat(json!("refuses:refuses-model"))),
            400,
            "request_type_not_allowed",
        ),
        (
            "provider unreachable",
            post(chat(json!("dead:dead-model"))),
            502,
            "provider_unreachable",
        ),
        (
            "all providers failed",
            post(chat(json!("mock:mock-model"))),
            503,
            "all_providers_failed",
        ),
        (
            "every attempt refused its key",
            post(chat(json!("mock:mock-model"))).header("x-mock-status", "401"),
            401,
            "authentication_failed",
        ),
        (
            "every attempt rate limited",
            post(chat(json!("mock:mock-model"))).header("x-mock-status", "429"),
            429,
            "rate_limited",
        ),
        (
            "format mismatch",
            post(chat(json!("anth:anth-model"))),
            422,
            "format_not_supported",
        ),
        (
            "input too large",
            post(json!({
                "model": "mock:mock-model",
                "messages": [{"role": "user", "content": "many words ".repeat(200)}],
            })),
            413,
            "input_too_large",
        ),
        (
            "total timeout",
            post(chat(json!("mock:mock-model"))).header("x-mock-delay-ms", "2000"),
            504,
            "total_timeout",
        ),
        (
            "unsupported path",
            json_post(&url("/v1/nope"), chat(json!("mock:mock-model"))),
            404,
            "unsupported_path",
        ),
        (
            "wrong method",
            client.get(&chat_url),
            405,
            "method_not_allowed",
        ),
    ];
    for (what, request, status, code) in cases {
        assert_error(what, request.send().await.unwrap(), status, code).await;
    }

    // A provider's rejection is its own answer, passed through: the body is the provider's
    // (no `code` of ours in it), and the header names the gateway's code all the same.
    let res = post(chat(json!("mock:mock-model")))
        .header("x-mock-status", "400")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(
        res.headers().get(HEADER).and_then(|v| v.to_str().ok()),
        Some("upstream_rejected")
    );
    let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(body, json!({"error": {"message": "mock provider says no"}}));

    // A client that breaks off while sending the body the policy reads.
    let mut tcp = tokio::net::TcpStream::connect(edge.edge.addr)
        .await
        .unwrap();
    tcp.write_all(b"POST /up HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc")
        .await
        .unwrap();
    tcp.shutdown().await.unwrap();
    let mut raw = String::new();
    let _ = tcp.read_to_string(&mut raw).await;
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(
        raw.contains("x-edge-error-code: request_body_unreadable"),
        "{raw}"
    );
    assert!(raw.contains(r#""code":"request_body_unreadable""#), "{raw}");

    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_failures_and_a_missing_upstream_name_their_code_in_header_and_body() {
    let plugin = hostile_plugin();
    let edge = InProcessEdge::start("any policy text loads\n", |c| c.plugin = Some(plugin)).await;
    let client = &edge.client;
    let url = |path: &str| edge.url(path);
    let res = client.get(url("/panic")).send().await.unwrap();
    assert_error("guest panic", res, 500, "plugin_trap").await;
    let res = client.get(url("/loop")).send().await.unwrap();
    assert_error("guest loops", res, 500, "plugin_deadline_exceeded").await;
    // No `--upstream`: the plugin's upstream decision has nowhere to go.
    let res = client.get(url("/upstream/x")).send().await.unwrap();
    assert_error("no upstream", res, 404, "no_upstream").await;
    edge.stop().await;
}
