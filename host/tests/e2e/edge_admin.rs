//! The admin listener: health, readiness, Prometheus metrics and policy status, on its own
//! address and never on the public port.

use crate::edge;
use edge_test_support::{Client, echo_upstream};
use sha2::Digest;

const POLICY: &str = "\
on_http_request:
  - expressions: [\"req.url.path == '/deny'\"]
    actions:
      - type: deny
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_policy_status() {
    let up = echo_upstream().await.unwrap();
    let e = edge()
        .policy(POLICY)
        .upstream(&up.server.url())
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    assert_eq!(c.get(&e.admin_url("/healthz")).await.unwrap().status, 200);
    assert_eq!(c.get(&e.admin_url("/readyz")).await.unwrap().status, 200);

    for _ in 0..3 {
        assert_eq!(c.get(&e.url("/ok")).await.unwrap().status, 200);
    }
    assert_eq!(c.get(&e.url("/deny")).await.unwrap().status, 403);

    let m = c.get(&e.admin_url("/metrics")).await.unwrap();
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(
        m.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain") || t.contains("openmetrics")),
        "{:?}",
        m.headers
    );
    // Names are part of the operator contract (documented in the README).
    // Samples for these exist once traffic flowed.
    for name in [
        "edge_requests_total",
        "edge_request_duration_seconds_bucket",
        "edge_plugin_call_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "metric {name} missing:\n{text}");
    }
    assert!(
        text.contains("edge_policy_loaded 1"),
        "policy-loaded gauge:\n{text}"
    );
    let requests: f64 = text
        .lines()
        .filter(|l| l.starts_with("edge_requests_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(requests >= 4.0, "requests counted: {requests}\n{text}");

    let p = c.get(&e.admin_url("/policy")).await.unwrap();
    assert_eq!(p.status, 200);
    let v = p.json();
    let want = hex::encode(sha2::Sha256::digest(POLICY.as_bytes()));
    assert_eq!(v["hash"].as_str(), Some(want.as_str()), "{v}");
    assert!(
        v["loaded_at_ms"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "{v}"
    );
    assert_eq!(v["generation"], 1, "{v}");
    assert!(v["last_error"].is_null(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_are_not_served_on_the_public_port() {
    let e = edge()
        .policy("on_http_request: []\n")
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    for path in ["/metrics", "/healthz", "/policy"] {
        let r = c.get(&e.url(path)).await.unwrap();
        assert_eq!(r.status, 404, "{path} on the public port: {}", r.text());
        assert_eq!(r.error_code().as_deref(), Some("no_upstream"));
    }
    assert_ne!(e.addr, e.admin_addr);
}
