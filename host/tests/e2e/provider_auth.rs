//! A provider's own `headers`, `query_params` and `auth` (docs/ai-gateway.md, "Provider
//! headers, query parameters and auth"): the shipped Azure OpenAI example against a
//! loopback provider standing in for the Azure resource, a named key header with a prefix,
//! and the redaction of what a provider's own fields send — asserted on what the providers
//! received and what the client and the logs saw.

use std::time::Duration;

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::paths::workspace_root;
use edge_test_support::{Client, provider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_example_reaches_the_deployment_with_api_key_and_api_version() {
    let azure = provider("azure").start().await.unwrap();
    let shipped =
        std::fs::read_to_string(workspace_root().join("policies/azure-openai.yaml")).unwrap();
    // The example as shipped, with the resource's host pointed at the loopback provider.
    let policy = shipped.replace(
        "https://my-resource.openai.azure.com",
        "http://azure.internal",
    );
    assert_ne!(policy, shipped, "the example names the Azure resource host");
    let key = "azure-key-0123456789abcdef";
    let e = edge()
        .policy(&policy)
        .provider(&azure)
        .env("EDGE_SECRET_AZURE_API_KEY", key)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let r = c
        .send(
            c.inner()
                .post(e.url("/v1/chat/completions"))
                .header("content-type", "application/json")
                .header("authorization", "Bearer client-gateway-token")
                .body(chat("gpt-4o", &[], false).to_string()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let got = azure.received().pop().unwrap();
    assert_eq!(
        got.path,
        "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(got.header("api-key"), Some(key));
    assert_eq!(got.header("authorization"), None, "{:?}", got.headers);
    assert_eq!(got.model().as_deref(), Some("gpt-4o"));
}

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
