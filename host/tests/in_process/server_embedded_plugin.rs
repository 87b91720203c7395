//! The real edge (`edge::server::start`, the embedded gateway plugin) on loopback: the
//! host-side behaviours that do not depend on policy features — body limit, no upstream,
//! request ids, admin endpoints, invalid reloads — plus a deny rule end to end.

use std::time::Duration;

use edge::server::{ServeConfig, start};

use crate::serve_support::InProcessEdge as Edge;

const DENY_POLICY: &str = "\
on_http_request:
  - expressions:
      - \"req.url.path == '/blocked'\"
    actions:
      - type: deny
        config:
          status_code: 403
";

fn code(res: &reqwest::Response) -> &str {
    res.headers()
        .get("x-edge-error-code")
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn deny_rule_no_upstream_body_limit_and_admin() {
    let e = Edge::start(DENY_POLICY, |c| c.max_body_bytes = 1024).await;

    let denied = e.client.get(e.url("/blocked")).send().await.unwrap();
    assert_eq!(denied.status(), 403);
    assert!(denied.headers().contains_key("x-request-id"));

    let passed = e.client.get(e.url("/open")).send().await.unwrap();
    assert_eq!(passed.status(), 404);
    assert_eq!(code(&passed), "no_upstream");

    let big = e
        .client
        .post(e.url("/open"))
        .body(vec![b'x'; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(code(&big), "request_body_too_large");

    assert_eq!(
        e.client
            .get(e.admin("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        e.client
            .get(e.admin("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = e
        .client
        .get(e.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("edge_plugin_call_duration_seconds"),
        "{metrics}"
    );
    e.stop().await;
}

#[tokio::test]
async fn invalid_policy_on_reload_is_reported_and_previous_kept() {
    let e = Edge::start(DENY_POLICY, |c| c.watch_policy = false).await;
    std::fs::write(
        e.dir().join("policy.yaml"),
        "on_http_request:\n  - actions:\n      - type: no-such-action\n",
    )
    .unwrap();
    e.edge.reload();
    let mut reported = false;
    for _ in 0..100 {
        if e.edge.policy_status().last_error.is_some() {
            reported = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reported, "invalid policy not reported");
    let policy: serde_json::Value = e
        .client
        .get(e.admin("/policy"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let diag = &policy["last_error"]["diagnostics"][0];
    assert_eq!(diag["line"], 3, "{policy}");
    assert_eq!(
        e.client
            .get(e.url("/blocked"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    e.stop().await;
}

#[tokio::test]
async fn start_fails_on_an_invalid_policy() {
    let dir = std::env::temp_dir().join(format!("edge-embedded-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "on_http_request:\n  - actions:\n      - type: no-such-action\n",
    )
    .unwrap();
    let err = start(ServeConfig::new(&file))
        .await
        .err()
        .expect("started with an invalid policy");
    assert!(err.to_string().contains("bad.yaml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
