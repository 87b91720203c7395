//! A provider's own `headers`, `query_params` and `auth` (docs/ai-gateway.md, "Provider
//! headers, query parameters and auth"): a named key header with a prefix, and the
//! redaction of what a provider's own fields send — asserted on what the provider received
//! and what the client and the logs saw. The shipped Azure OpenAI example, configured with
//! these fields alone, is exercised in `shipped_policies.rs`.

use std::time::Duration;

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, provider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_own_header_query_and_key_header_are_sent_and_never_shown() {
    let header_secret = "prov-hdr-secret-7c21aa";
    let query_secret = "prov-qry-secret-55e0f1";
    let key = "svc-key-0123456789abcdef";
    let svc = provider("svc")
        .status(400)
        .echo_headers(&["x-service-token", "x-tenant-auth", "x-team"])
        .echo_query()
        .start()
        .await
        .unwrap();
    let policy = ai_policy()
        .set("headers", json!({"x-team": "action-team"}))
        .provider(
            ProviderCfg::of(&svc)
                .keys(&[key])
                .field(
                    "headers",
                    json!({"X-Tenant-Auth": "${secrets.get('vault', 'tenant')}"}),
                )
                .field(
                    "query_params",
                    json!({"sig": "${secrets.get('vault', 'sig')}"}),
                )
                .field(
                    "auth",
                    json!({"header": "X-Service-Token", "prefix": "Token "}),
                ),
        )
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&svc)
        .env("EDGE_SECRET_VAULT_TENANT", header_secret)
        .env("EDGE_SECRET_VAULT_SIG", query_secret)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let r = c
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("svc:svc-model", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());

    // What the provider received: its own header and query, the action's header, the key
    // in the named header with its prefix, and no Authorization.
    let got = svc.received().pop().unwrap();
    assert_eq!(got.header("x-tenant-auth"), Some(header_secret));
    assert_eq!(got.header("x-team"), Some("action-team"));
    assert_eq!(
        got.header("x-service-token"),
        Some(format!("Token {key}").as_str())
    );
    assert_eq!(got.header("authorization"), None);
    assert!(
        got.path.ends_with(&format!("?sig={query_secret}")),
        "{}",
        got.path
    );

    // The provider echoed them; the client and the logs see them blotted out.
    let text = r.text();
    assert!(text.contains("[REDACTED]"), "{text}");
    e.wait_for_log("edge::access", Duration::from_secs(5))
        .await
        .unwrap();
    let logs = e.logs();
    for secret in [header_secret, query_secret, key] {
        assert!(!text.contains(secret), "{secret} in the error body: {text}");
        assert!(!format!("{:?}", r.headers).contains(secret));
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}
