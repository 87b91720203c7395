//! A provider's own TLS trust (docs/ai-gateway.md, "Provider TLS"): `ca_cert_pem` trusts a
//! CA for that provider only, `insecure_skip_verify` skips verification, both together are
//! refused at load, and a refused certificate's cause reaches the client's error. Against
//! HTTPS loopback providers whose certificates come from test CAs.

use std::sync::Arc;

use crate::{assert_load_refused, edge};
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, TestCa, provider};
use serde_json::json;

/// Sends a chat request for `model` and returns (status, body text).
async fn ask(e: &edge_test_support::Edge, model: &str) -> (u16, String) {
    let r = Client::new()
        .unwrap()
        .post_json(&e.url("/v1/chat/completions"), &chat(model, &[], false))
        .await
        .unwrap();
    (r.status, r.text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_own_ca_is_trusted_for_it_and_not_for_another() {
    // Both providers present certificates of `private`; the edge-wide trust is another CA.
    let private = Arc::new(TestCa::new("private provider CA").unwrap());
    let edge_wide = Arc::new(TestCa::new("edge-wide CA").unwrap());
    let own = provider("own").tls(&private).start().await.unwrap();
    let other = provider("other").tls(&private).start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&own).field("ca_cert_pem", json!(private.cert_pem())))
        .provider(ProviderCfg::of(&other))
        .build();
    let e = edge()
        .policy(&policy)
        .provider_ca(&edge_wide)
        .provider(&own)
        .provider(&other)
        .start()
        .await
        .unwrap();

    let (status, body) = ask(&e, "own-model").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(own.hits(), 1);

    let (status, body) = ask(&e, "other-model").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("other:other-model tls"), "{body}");
    assert!(body.contains("unknown issuer"), "{body}");
    assert_eq!(other.hits(), 0, "the handshake failed before any request");

    // The provider's client is kept: a second call is served the same way.
    let (status, body) = ask(&e, "own-model").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_serves_an_untrusted_certificate() {
    let stranger = Arc::new(TestCa::new("nobody trusts this CA").unwrap());
    let lax = provider("lax").tls(&stranger).start().await.unwrap();
    let strict = provider("strict").tls(&stranger).start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&lax).field("insecure_skip_verify", json!(true)))
        .provider(ProviderCfg::of(&strict))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&lax)
        .provider(&strict)
        .start()
        .await
        .unwrap();

    let (status, body) = ask(&e, "lax-model").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(lax.hits(), 1);

    let (status, body) = ask(&e, "strict-model").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("unknown issuer"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_named_in_the_error() {
    // The certificate is valid for `named.internal`; the policy reaches the same server
    // as `alias.internal`.
    let ca = Arc::new(TestCa::new("provider test CA").unwrap());
    let named = provider("named").tls(&ca).start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::named("alias", "https://alias.internal/v1"))
        .build();
    let e = edge()
        .policy(&policy)
        .provider_ca(&ca)
        .internal(&format!("alias.internal={}", named.server.addr))
        .start()
        .await
        .unwrap();

    let (status, body) = ask(&e, "alias-model").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("alias:alias-model tls"), "{body}");
    assert!(body.contains("wrong name"), "{body}");
    assert!(body.contains("alias.internal"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_and_insecure_skip_verify_together_are_refused_at_load() {
    let ca = TestCa::new("provider test CA").unwrap();
    let policy = ai_policy()
        .provider(
            ProviderCfg::named("both", "https://both.example/v1")
                .field("ca_cert_pem", json!(ca.cert_pem()))
                .field("insecure_skip_verify", json!(true)),
        )
        .build();
    assert_load_refused(
        edge(),
        &policy,
        "insecure_skip_verify",
        "ca_cert_pem and insecure_skip_verify cannot both be set",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparsable_ca_is_refused_at_load() {
    let policy = ai_policy()
        .provider(ProviderCfg::named("bad", "https://bad.example/v1").field(
            "ca_cert_pem",
            json!("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"),
        ))
        .build();
    assert_load_refused(
        edge(),
        &policy,
        "ca_cert_pem",
        "ca_cert_pem is not a PEM certificate",
    )
    .await;
}
