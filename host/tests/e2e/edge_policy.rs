//! Traffic-policy actions end to end: the real edge, a real echo upstream, CEL rules that
//! allow, deny, rewrite and forward. Every action in docs/traffic-policy.md is exercised at least once.

use crate::edge;
use edge_test_support::{Client, echo_upstream};

/// Starts an echo upstream and an edge forwarding to it with `policy`.
async fn setup(
    policy: &str,
) -> (
    edge_test_support::EchoUpstream,
    edge_test_support::Edge,
    Client,
) {
    let up = echo_upstream().await.unwrap();
    let e = edge()
        .policy(policy)
        .upstream(&up.server.url())
        .start()
        .await
        .unwrap();
    (up, e, Client::new().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rule_matches_so_the_request_is_forwarded_unchanged() {
    let (up, e, c) = setup("on_http_request: []\n").await;
    let r = c
        .send(
            c.inner()
                .post(e.url("/a/b?x=1&y=2"))
                .header("x-custom", "v")
                .body("payload"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-upstream"),
        Some("echo"),
        "the upstream's own headers reach the client"
    );
    let got = up.requests.all();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/a/b?x=1&y=2");
    assert_eq!(got[0].header("x-custom"), Some("v"));
    assert_eq!(&got[0].body[..], b"payload");
    assert!(
        r.header("x-request-id").is_some_and(|v| !v.is_empty()),
        "request id echoed: {:?}",
        r.headers
    );
    up.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_applies_only_where_its_expressions_hold() {
    let policy = r#"
on_http_request:
  - name: block admin
    expressions:
      - req.url.path.startsWith('/admin')
      - req.method == 'GET'
    actions:
      - type: deny
  - expressions: ["req.url.path == '/teapot'"]
    actions:
      - type: deny
        config:
          status_code: 418
"#;
    let (up, e, c) = setup(policy).await;
    assert_eq!(c.get(&e.url("/admin/users")).await.unwrap().status, 403);
    assert_eq!(c.get(&e.url("/teapot")).await.unwrap().status, 418);
    // Both expressions must hold: a POST to /admin is not denied.
    let r = c
        .send(c.inner().post(e.url("/admin/users")).body("x"))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&e.url("/public")).await.unwrap().status, 200);
    let paths: Vec<String> = up.requests.all().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        vec!["/admin/users", "/public"],
        "denied requests never reach the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_response_interpolates_request_variables() {
    let policy = r#"
on_http_request:
  - expressions: ["req.url.path == '/hello'"]
    actions:
      - type: custom-response
        config:
          status_code: 201
          headers:
            content-type: text/plain
            x-method: "${req.method}"
          body: "hello ${getQueryParam('name')[0]} via ${req.method} ${req.url.path}"
"#;
    let (up, e, c) = setup(policy).await;
    let r = c.get(&e.url("/hello?name=ada")).await.unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.text(), "hello ada via GET /hello");
    assert_eq!(r.header("x-method"), Some("GET"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(up.requests.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_headers_in_both_phases() {
    let policy = r#"
on_http_request:
  - actions:
      - type: add-headers
        config:
          headers:
            x-client-ip: "${conn.client_ip}"
            x-path-upper: "${req.url.path.upper()}"
      - type: remove-headers
        config:
          headers: [x-secret]
on_http_response:
  - actions:
      - type: add-headers
        config:
          headers:
            x-status-seen: "${string(res.status_code)}"
      - type: remove-headers
        config:
          headers: [x-upstream]
"#;
    let (up, e, c) = setup(policy).await;
    let r = c
        .send(
            c.inner()
                .get(e.url("/abc"))
                .header("x-secret", "s3cr3t")
                .header("x-keep", "k"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-status-seen"), Some("200"));
    assert_eq!(r.header("x-upstream"), None, "response header removed");
    let got = &up.requests.all()[0];
    assert_eq!(got.header("x-client-ip"), Some("127.0.0.1"));
    assert_eq!(got.header("x-path-upper"), Some("/ABC"));
    assert_eq!(
        got.header("x-secret"),
        None,
        "request header removed before the upstream"
    );
    assert_eq!(got.header("x-keep"), Some("k"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_vars_feed_later_rules_and_keep_their_type() {
    let policy = r#"
on_http_request:
  - actions:
      - type: set-vars
        config:
          vars:
            - tier: "${req.headers['x-tier'][0]}"
            - limit: "${size(req.url.path)}"
  - expressions: ["vars.tier == 'gold' && vars.limit == 5"]
    actions:
      - type: custom-response
        config:
          status_code: 200
          body: "gold member, path length ${vars.limit}"
  - expressions: ["has(vars.tier)"]
    actions:
      - type: custom-response
        config:
          status_code: 402
          body: "tier ${vars.tier}"
"#;
    let (_up, e, c) = setup(policy).await;
    let r = c
        .send(c.inner().get(e.url("/abcd")).header("x-tier", "gold"))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.text()),
        (200, "gold member, path length 5".to_owned())
    );
    let r = c
        .send(c.inner().get(e.url("/abcd")).header("x-tier", "free"))
        .await
        .unwrap();
    assert_eq!((r.status, r.text()), (402, "tier free".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrict_ips_allows_and_denies_by_cidr() {
    let deny_loopback = r#"
on_http_request:
  - expressions: ["req.url.path == '/deny-loopback'"]
    actions:
      - type: restrict-ips
        config:
          deny: ["127.0.0.0/8"]
  - expressions: ["req.url.path == '/allow-other'"]
    actions:
      - type: restrict-ips
        config:
          allow: ["10.0.0.0/8", "192.168.0.0/16"]
  - expressions: ["req.url.path == '/allow-loopback'"]
    actions:
      - type: restrict-ips
        config:
          allow: ["127.0.0.1/32"]
  - expressions: ["inCidrRange(conn.client_ip, '127.0.0.0/8') && req.url.path == '/cel'"]
    actions:
      - type: custom-response
        config: {status_code: 200, body: "loopback client"}
"#;
    let (up, e, c) = setup(deny_loopback).await;
    assert_eq!(c.get(&e.url("/deny-loopback")).await.unwrap().status, 403);
    assert_eq!(c.get(&e.url("/allow-other")).await.unwrap().status, 403);
    assert_eq!(c.get(&e.url("/allow-loopback")).await.unwrap().status, 200);
    assert_eq!(
        c.get(&e.url("/cel")).await.unwrap().text(),
        "loopback client"
    );
    let paths: Vec<String> = up.requests.all().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/allow-loopback"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after_per_bucket() {
    let policy = r#"
on_http_request:
  - actions:
      - type: rate-limit
        config:
          name: per-user
          algorithm: sliding_window
          capacity: 2
          rate: 60s
          bucket_key:
            - getReqHeader('x-user')[0]
"#;
    let (up, e, c) = setup(policy).await;
    let send = |user: &'static str| c.send(c.inner().get(e.url("/r")).header("x-user", user));
    assert_eq!(send("alice").await.unwrap().status, 200);
    assert_eq!(send("alice").await.unwrap().status, 200);
    let limited = send("alice").await.unwrap();
    assert_eq!(limited.status, 429, "{}", limited.text());
    let ra: u64 = limited
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("seconds");
    // A sliding-window *counter* (current window plus the weighted previous one) can ask
    // for up to 1.5 windows when the current window alone is full.
    assert!((1..=90).contains(&ra), "retry-after {ra}");
    // Another bucket is independent.
    assert_eq!(send("bob").await.unwrap().status, 200);
    assert_eq!(up.requests.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_action_writes_interpolated_metadata() {
    let policy = r#"
on_http_request:
  - actions:
      - type: log
        config:
          metadata:
            marker: "log-action-marker"
            path: "${req.url.path}"
"#;
    let (_up, e, c) = setup(policy).await;
    assert_eq!(c.get(&e.url("/logged-path-7")).await.unwrap().status, 200);
    e.wait_for_log("log-action-marker", std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let logs = e.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("log-action-marker"))
        .unwrap();
    assert!(
        line.contains("/logged-path-7"),
        "interpolated metadata in the log line: {line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_run_in_order_and_a_terminating_action_ends_the_phase() {
    let policy = r#"
on_http_request:
  - actions:
      - type: add-headers
        config:
          headers: {x-first: "1"}
  - expressions: ["req.url.path == '/stop'"]
    actions:
      - type: custom-response
        config: {status_code: 200, body: "stopped"}
  - actions:
      - type: custom-response
        config: {status_code: 500, body: "should not run for /stop"}
"#;
    let (up, e, c) = setup(policy).await;
    let r = c.get(&e.url("/stop")).await.unwrap();
    assert_eq!((r.status, r.text()), (200, "stopped".to_owned()));
    let r = c.get(&e.url("/other")).await.unwrap();
    assert_eq!(
        (r.status, r.text()),
        (500, "should not run for /stop".to_owned())
    );
    assert_eq!(up.requests.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_phase_can_replace_an_upstream_error() {
    let policy = r#"
on_http_response:
  - expressions: ["res.status_code >= 500"]
    actions:
      - type: custom-response
        config:
          status_code: 503
          headers: {content-type: application/json}
          body: '{"replaced": true, "was": ${res.status_code}}'
"#;
    let (_up, e, c) = setup(policy).await;
    let r = c.get(&e.url("/status/502")).await.unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.json(), serde_json::json!({"replaced": true, "was": 502}));
    let r = c.get(&e.url("/status/404")).await.unwrap();
    assert_eq!(r.status, 404, "non-matching responses pass through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_form_and_cel_string_functions() {
    let policy = r#"
on_http_request:
  - type: add-headers
    config:
      headers:
        x-parts: "${string(size(req.url.path.split('/')))}"
        x-hash: "${hash.sha256('abc')}"
        x-b64: "${base64.encode(b'hi')}"
"#;
    let (up, e, c) = setup(policy).await;
    assert_eq!(c.get(&e.url("/a/b/c")).await.unwrap().status, 200);
    let got = &up.requests.all()[0];
    assert_eq!(got.header("x-parts"), Some("4"));
    assert_eq!(
        got.header("x-hash"),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(got.header("x-b64"), Some("aGk="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_upstream_unanswered_requests_get_a_json_404() {
    let e = edge()
        .policy("on_http_request: []\n")
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let r = c.get(&e.url("/anything")).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(msg.contains("no upstream"), "{}", r.text());
    assert_eq!(r.error_code().as_deref(), Some("no_upstream"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_with_prior_knowledge_is_served() {
    let (up, e, _) = setup("on_http_request: []\n").await;
    let c = Client::http2_prior_knowledge().unwrap();
    let r = c.get(&e.url("/h2")).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(up.requests.all()[0].path, "/h2");
}
