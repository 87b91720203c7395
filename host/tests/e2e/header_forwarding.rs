//! Header forwarding in both directions and the redaction of what an attempt sends
//! (docs/ai-gateway.md, "Header forwarding" and "Secrets"), against loopback providers that
//! record every request header and answer with account, rate-limit and cookie headers.

use std::time::Duration;

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat, messages};
use edge_test_support::{Client, Edge, MockProvider, RecordedRequest, provider};
use serde_json::json;

async fn start_edge(policy: &str, providers: &[&MockProvider]) -> Edge {
    let mut b = edge().policy(policy);
    for p in providers {
        b = b.provider(p);
    }
    b.start().await.unwrap()
}

/// POSTs `body` to `path` with these request headers.
async fn post(
    c: &Client,
    e: &Edge,
    path: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> edge_test_support::Reply {
    let mut req = c
        .inner()
        .post(e.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    c.send(req).await.unwrap()
}

fn last(p: &MockProvider) -> RecordedRequest {
    p.received().pop().expect("the provider got a request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_keys_reach_the_provider_in_the_header_the_client_used() {
    let anth = provider("anth").start().await.unwrap();
    let az = provider("az").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&anth).formats(&["anthropic"]))
        .provider(ProviderCfg::of(&az))
        .build();
    let e = start_edge(&policy, &[&anth, &az]).await;
    let c = Client::new().unwrap();
    let msg = messages("anth:anth-model", false);

    // The Anthropic SDK's `auth_token` (OAuth): stays a bearer token.
    let r = post(
        &c,
        &e,
        "/v1/messages",
        &[("authorization", "Bearer oauth-token-1")],
        &msg,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = last(&anth);
    assert_eq!(got.header("authorization"), Some("Bearer oauth-token-1"));
    assert_eq!(got.header("x-api-key"), None, "{:?}", got.headers);

    // The Anthropic SDK's `api_key`: stays `x-api-key`.
    let r = post(
        &c,
        &e,
        "/v1/messages",
        &[("x-api-key", "sk-ant-client-1")],
        &msg,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = last(&anth);
    assert_eq!(got.header("x-api-key"), Some("sk-ant-client-1"));
    assert_eq!(got.header("authorization"), None, "{:?}", got.headers);

    // Both: `x-api-key` is the key for the provider; the bearer value (here a gateway
    // token) goes nowhere.
    let r = post(
        &c,
        &e,
        "/v1/messages",
        &[
            ("authorization", "Bearer gateway-token-1"),
            ("x-api-key", "sk-ant-real-1"),
        ],
        &msg,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = last(&anth);
    assert_eq!(got.header("x-api-key"), Some("sk-ant-real-1"));
    assert_eq!(got.header("authorization"), None);
    assert!(!format!("{:?}", got.headers).contains("gateway-token-1"));

    // The Azure OpenAI SDK's `api-key`: passed through as `api-key`.
    let r = post(
        &c,
        &e,
        "/v1/chat/completions",
        &[("api-key", "azure-key-1")],
        &chat("az:az-model", &[], false),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = last(&az);
    assert_eq!(got.header("api-key"), Some("azure-key-1"));
    assert_eq!(got.header("authorization"), None, "{:?}", got.headers);
}

/// Headers a provider ties to the key it was called with.
const KEY_BOUND: [&str; 6] = [
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "anthropic-ratelimit-requests-remaining",
    "openai-organization",
    "openai-project",
    "set-cookie",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_headers_about_the_gateways_key_stay_with_the_gateway() {
    let keyed = provider("keyed").account_headers().start().await.unwrap();
    let open = provider("open").account_headers().start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&keyed).keys(&["sk-gateway-key-1"]))
        .provider(ProviderCfg::of(&open))
        .build();
    let e = start_edge(&policy, &[&keyed, &open]).await;
    let c = Client::new().unwrap();
    let own_key = [("authorization", "Bearer sk-client-own-1")];

    for stream in [false, true] {
        let body = chat("keyed:keyed-model", &[], stream);
        let r = post(&c, &e, "/v1/chat/completions", &own_key, &body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        for name in KEY_BOUND {
            assert_eq!(
                r.header(name),
                None,
                "stream={stream}: {name} of the gateway's key"
            );
        }
        assert_eq!(
            r.header("x-request-id"),
            Some("req_keyed"),
            "the provider's request id is kept"
        );
        let edge_id = r.header("x-aigw-request-id").unwrap_or_default();
        assert!(
            !edge_id.is_empty() && edge_id != "req_keyed",
            "{:?}",
            r.headers
        );
    }

    // The client's own key: what the provider says about it is the client's to see.
    let r = post(
        &c,
        &e,
        "/v1/chat/completions",
        &own_key,
        &chat("open:open-model", &[], false),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for name in KEY_BOUND {
        assert!(r.header(name).is_some(), "{name} missing: {:?}", r.headers);
    }
    assert_eq!(r.header("x-request-id"), Some("req_open"));

    // A gateway error: the edge's id in both headers.
    let r = post(
        &c,
        &e,
        "/v1/chat/completions",
        &own_key,
        &chat("nope:nope", &[], false),
    )
    .await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.text());
    let edge_id = r.header("x-aigw-request-id").unwrap_or_default();
    assert!(!edge_id.is_empty());
    assert_eq!(r.header("x-request-id"), Some(edge_id));
}

/// What a client sends: credentials and headers meant for the gateway first (the first
/// `GATEWAY_ONLY`), then the default allowlist.
const CLIENT_HEADERS: [(&str, &str); 16] = [
    ("authorization", "Bearer sk-client-own-1"),
    ("x-gateway-token", "gw-token-1"),
    ("x-goog-api-key", "goog-key-1"),
    ("openai-organization", "org-client"),
    ("cookie", "session=abc"),
    ("x-team-id", "team-a"),
    ("user-agent", "OpenAI/Python 1.0"),
    ("accept", "application/json"),
    ("accept-language", "en"),
    ("openai-beta", "assistants=v2"),
    ("anthropic-beta", "tools-2024"),
    ("x-stainless-lang", "python"),
    ("x-stainless-retry-count", "0"),
    ("idempotency-key", "idem-1"),
    (
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ),
    ("tracestate", "vendor=1"),
];
const GATEWAY_ONLY: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowlisted_client_headers_reach_a_provider() {
    let keyed = provider("keyed").start().await.unwrap();
    let open = provider("open").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&keyed).keys(&["sk-gateway-key-1"]))
        .provider(ProviderCfg::of(&open))
        .build();
    let e = start_edge(&policy, &[&keyed, &open]).await;
    let c = Client::new().unwrap();
    let body = chat("keyed:keyed-model", &[], false);
    let r = post(&c, &e, "/v1/chat/completions", &CLIENT_HEADERS, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = last(&keyed);
    for (name, value) in &CLIENT_HEADERS[GATEWAY_ONLY..] {
        assert_eq!(got.header(name), Some(*value), "{name} is forwarded");
    }
    assert_eq!(got.header("authorization"), Some("Bearer sk-gateway-key-1"));
    for (name, _) in &CLIENT_HEADERS[1..GATEWAY_ONLY] {
        assert_eq!(
            got.header(name),
            None,
            "{name} must not reach a keyed provider"
        );
    }

    // With the client's own key, its account header goes along with it.
    let body = chat("open:open-model", &[], false);
    let r = post(&c, &e, "/v1/chat/completions", &CLIENT_HEADERS, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = last(&open);
    assert_eq!(got.header("authorization"), Some("Bearer sk-client-own-1"));
    assert_eq!(got.header("openai-organization"), Some("org-client"));
    for name in ["x-gateway-token", "x-goog-api-key", "cookie", "x-team-id"] {
        assert_eq!(got.header(name), None, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_headers_adds_names_and_prefixes_to_the_allowlist() {
    let keyed = provider("keyed").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&keyed).keys(&["sk-gateway-key-1"]))
        .set("forward_headers", json!(["X-Team-Id", "x-trace-*"]))
        .build();
    let e = start_edge(&policy, &[&keyed]).await;
    let c = Client::new().unwrap();
    let mut sent = CLIENT_HEADERS.to_vec();
    sent.push(("x-trace-span", "s1"));
    let r = post(
        &c,
        &e,
        "/v1/chat/completions",
        &sent,
        &chat("keyed:keyed-model", &[], false),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = last(&keyed);
    assert_eq!(got.header("x-team-id"), Some("team-a"));
    assert_eq!(got.header("x-trace-span"), Some("s1"));
    assert_eq!(got.header("x-gateway-token"), None);
    assert_eq!(got.header("openai-organization"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_headers_naming_credentials_or_bad_names_fail_the_load() {
    let policy = ai_policy()
        .provider(ProviderCfg::named("a", "https://a.example.com/v1"))
        .set(
            "forward_headers",
            json!(["authorization", "bad name", "x-ok"]),
        )
        .build();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.yaml");
    std::fs::write(&f, &policy).unwrap();
    let out = std::process::Command::new(crate::EDGE_BIN)
        .arg("check")
        .arg(&f)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("'authorization' carries credentials"),
        "{text}"
    );
    assert!(
        text.contains("'bad name' is not a valid header name"),
        "{text}"
    );
    assert_eq!(text.matches("error:").count(), 2, "x-ok is fine: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_header_and_query_secrets_never_show_when_a_provider_echoes_them() {
    let header_secret = "hdr-secret-value-7f3a9c";
    let query_secret = "qry-secret-value-19bd42";
    let a = provider("a")
        .status(400)
        .echo_headers(&["x-custom-auth"])
        .echo_query()
        .start()
        .await
        .unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .set(
            "headers",
            json!({"X-Custom-Auth": "${secrets.get('vault', 'custom')}"}),
        )
        .set(
            "query_params",
            json!({"tenant": "${secrets.get('vault', 'tenant')}"}),
        )
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&a)
        .env("EDGE_SECRET_VAULT_CUSTOM", header_secret)
        .env("EDGE_SECRET_VAULT_TENANT", query_secret)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let r = post(
        &c,
        &e,
        "/v1/chat/completions",
        &[],
        &chat("a:a-model", &[], false),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // The provider got both values and echoed them …
    let got = last(&a);
    assert_eq!(got.header("x-custom-auth"), Some(header_secret));
    assert!(got.path.contains(query_secret), "{}", got.path);
    // … and the client sees the echo with both blotted out.
    let text = r.text();
    assert!(
        text.contains("[REDACTED]"),
        "the echo reached the client: {text}"
    );
    for secret in [header_secret, query_secret] {
        assert!(!text.contains(secret), "{secret} in the error body: {text}");
        assert!(!format!("{:?}", r.headers).contains(secret));
    }
    e.wait_for_log("edge::access", Duration::from_secs(5))
        .await
        .unwrap();
    let logs = e.logs();
    for secret in [header_secret, query_secret] {
        assert!(
            !logs.contains(secret),
            "{secret} in the edge's logs:\n{logs}"
        );
    }
}

/// A provider that rejects the client's own key is not sent that key again for its other
/// models; the next provider, with a key of the gateway's, serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passthrough_key_the_provider_rejected_is_not_sent_to_its_other_models() {
    let a = provider("a").status(401).start().await.unwrap();
    let b = provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).models(&["m1", "m2"]))
        .provider(ProviderCfg::of(&b).keys(&["sk-gateway-b-1"]))
        .build();
    let e = start_edge(&policy, &[&a, &b]).await;
    let c = Client::new().unwrap();
    let body = chat("a:m1", &["a:m2", "b:b-model"], false);
    let r = post(
        &c,
        &e,
        "/v1/chat/completions",
        &[("authorization", "Bearer sk-client-typo-1")],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-attempts"), Some("2"));
    assert_eq!(a.models_seen(), vec!["m1"], "a got the rejected key once");
    assert_eq!(
        last(&b).header("authorization"),
        Some("Bearer sk-gateway-b-1")
    );
}
