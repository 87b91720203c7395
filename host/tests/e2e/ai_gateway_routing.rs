//! ai-gateway routing: credentials, model resolution, body handling, formats, `/v1/models`,
//! secrets, `on_error: continue`, and streaming without buffering.

use std::time::Duration;

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat, messages};
use edge_test_support::{Client, MockProvider, provider};
use serde_json::json;

async fn start_edge(policy: &str, providers: &[&MockProvider]) -> edge_test_support::Edge {
    let mut b = edge().policy(policy);
    for p in providers {
        b = b.provider(p);
    }
    b.start().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_keys_replace_the_client_credential_and_passthrough_keeps_it() {
    let keyed = provider("keyed").start().await.unwrap();
    let open = provider("open").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&keyed).keys(&["sk-configured"]))
        .provider(ProviderCfg::of(&open))
        .build();
    let e = start_edge(&policy, &[&keyed, &open]).await;
    let c = Client::new().unwrap();
    let send = |model: &'static str| {
        c.send(
            c.inner()
                .post(e.url("/v1/chat/completions"))
                .header("authorization", "Bearer client-own-key")
                .header("content-type", "application/json")
                .body(chat(model, &[], false).to_string()),
        )
    };
    assert_eq!(send("keyed:keyed-model").await.unwrap().status, 200);
    assert_eq!(send("open:open-model").await.unwrap().status, 200);
    let k = &keyed.received()[0];
    assert_eq!(k.header("authorization"), Some("Bearer sk-configured"));
    assert!(
        !format!("{:?}", k.headers).contains("client-own-key"),
        "the client's credential never reaches a provider with configured keys: {:?}",
        k.headers
    );
    assert_eq!(
        open.received()[0].header("authorization"),
        Some("Bearer client-own-key"),
        "passthrough"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_format_uses_x_api_key_and_passes_anthropic_version() {
    let anth = provider("anth").start().await.unwrap();
    let oai = provider("oai").start().await.unwrap();
    let policy = ai_policy()
        .provider(
            ProviderCfg::of(&anth)
                .keys(&["sk-ant"])
                .formats(&["anthropic"]),
        )
        .provider(ProviderCfg::of(&oai).keys(&["sk-oai"]))
        .build();
    let e = start_edge(&policy, &[&anth, &oai]).await;
    let c = Client::new().unwrap();
    let r = c
        .send(
            c.inner()
                .post(e.url("/v1/messages"))
                .header("x-api-key", "client-ant-key")
                .header("anthropic-version", "2023-06-01")
                .header("content-type", "application/json")
                .body(messages("anth:anth-model", false).to_string()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], "anth:anth-model");
    let got = &anth.received()[0];
    assert!(got.path.ends_with("/messages"), "{}", got.path);
    assert_eq!(got.header("x-api-key"), Some("sk-ant"));
    assert_eq!(got.header("anthropic-version"), Some("2023-06-01"));
    assert!(!format!("{:?}", got.headers).contains("client-ant-key"));

    // An OpenAI-only provider is never a candidate on the Anthropic surface.
    let r = c
        .post_json(&e.url("/v1/messages"), &messages("oai:oai-model", false))
        .await
        .unwrap();
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.text());
    assert_eq!(
        r.json()["type"],
        "error",
        "Anthropic error shape on /v1/messages: {}",
        r.text()
    );
    assert!(r.header("x-edge-error-code").is_some());
    assert!(oai.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_is_rewritten_per_attempt_and_gateway_fields_never_leak() {
    let a = provider("a").status(500).start().await.unwrap();
    let b = provider("b").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .provider(ProviderCfg::of(&b))
        .set("headers", json!({"x-team": "ml", "x-req": "${req.method}"}))
        .set("body", json!({"temperature": 0}))
        .build();
    let e = start_edge(&policy, &[&a, &b]).await;
    let mut body = chat("a:a-model", &["b:b-model"], false);
    body["temperature"] = json!(1.5);
    body["user"] = json!("u-1");
    let r = Client::new()
        .unwrap()
        .post_json(&e.url("/v1/chat/completions"), &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    for (p, model) in [(&a, "a-model"), (&b, "b-model")] {
        let got = p.received()[0].json();
        assert_eq!(
            got["model"], model,
            "model rewritten for this attempt: {got}"
        );
        assert!(
            got.get("models").is_none(),
            "`models` is gateway-only: {got}"
        );
        assert_eq!(got["temperature"], 0, "config body wins: {got}");
        assert_eq!(got["user"], "u-1", "other client fields kept: {got}");
        assert_eq!(p.received()[0].header("x-team"), Some("ml"));
        assert_eq!(p.received()[0].header("x-req"), Some("POST"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_endpoint_is_answered_by_the_gateway() {
    let a = provider("a").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).models(&["alpha", "beta"]))
        .build();
    let e = start_edge(&policy, &[&a]).await;
    let r = Client::new()
        .unwrap()
        .get(&e.url("/v1/models"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "list");
    let ids: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().any(|i| i.ends_with("alpha")) && ids.iter().any(|i| i.ends_with("beta")),
        "{ids:?}"
    );
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["object"] == "model")
    );
    assert!(a.received().is_empty(), "no provider is asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_models_are_rejected_before_any_attempt() {
    let a = provider("a").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .set("only_allow_configured_models", json!(true))
        .build();
    let e = start_edge(&policy, &[&a]).await;
    let c = Client::new().unwrap();
    for model in ["no-such-model", "nosuchprovider:x", "a:not-configured"] {
        let r = c
            .post_json(&e.url("/v1/chat/completions"), &chat(model, &[], false))
            .await
            .unwrap();
        assert!(
            (400..500).contains(&r.status),
            "{model}: {} {}",
            r.status,
            r.text()
        );
        assert!(r.json()["error"]["code"].is_string(), "{}", r.text());
        assert_eq!(
            r.header("x-edge-error-code"),
            r.json()["error"]["code"].as_str()
        );
    }
    // Aliases are case-insensitive and a bare configured id resolves.
    let r = c
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("A:A-MODEL", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("x-request-id").is_some());
    assert_eq!(a.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_resolve_from_the_environment_and_never_show() {
    let a = provider("a").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a).keys(&["${secrets.get('llm', 'primary')}"]))
        .build();
    let secret = "sk-very-secret-value-42";
    let e = edge()
        .policy(&policy)
        .provider(&a)
        .env("EDGE_SECRET_LLM_PRIMARY", secret)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let r = c
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        a.received()[0].header("authorization"),
        Some(&*format!("Bearer {secret}"))
    );
    let policy_status = c.get(&e.admin_url("/policy")).await.unwrap().text();
    let metrics = c.get(&e.admin_url("/metrics")).await.unwrap().text();
    assert!(!policy_status.contains(secret) && !metrics.contains(secret));
    assert!(!r.text().contains(secret) && !format!("{:?}", r.headers).contains(secret));
    assert!(!e.logs().contains(secret), "secret in the edge log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_stops_serve_but_is_a_warning_for_check() {
    let policy = ai_policy()
        .provider(
            ProviderCfg::named("a", "https://a.example.com/v1")
                .keys(&["${secrets.get('llm', 'absent')}"]),
        )
        .build();
    let err = edge()
        .policy(&policy)
        .start()
        .await
        .err()
        .expect("serve must refuse the policy");
    let text = err.to_string();
    assert!(
        text.contains("absent"),
        "the diagnostic names the secret: {text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.yaml");
    std::fs::write(&f, &policy).unwrap();
    let out = std::process::Command::new(crate::EDGE_BIN)
        .arg("check")
        .arg(&f)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check passes with a warning: {stdout}"
    );
    assert!(
        stdout.contains("warning") && stdout.contains("absent"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_continue_exposes_the_result_to_later_rules() {
    let a = provider("a").status(500).start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&a))
        .set("on_error", json!("continue"))
        .then_rule(json!({"actions": [{"type": "custom-response", "config": {
            "status_code": 299,
            "body": "fallback ${actions.ngrok.ai_gateway.status} ${actions.ngrok.ai_gateway.error.code}"
        }}]}))
        .build();
    let e = start_edge(&policy, &[&a]).await;
    let r = Client::new()
        .unwrap()
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 299, "{}", r.text());
    let text = r.text();
    assert!(text.starts_with("fallback error "), "{text}");
    assert!(
        text.len() > "fallback error ".len(),
        "error code interpolated: {text}"
    );
    assert_eq!(a.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_relayed_chunk_by_chunk_without_buffering() {
    let a = provider("a")
        .stream_chunks(5)
        .chunk_delay(150)
        .start()
        .await
        .unwrap();
    let policy = ai_policy().provider(ProviderCfg::of(&a)).build();
    let e = start_edge(&policy, &[&a]).await;
    let s = Client::new()
        .unwrap()
        .post_stream(
            &e.url("/v1/chat/completions"),
            &chat("a:a-model", &[], true),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(
        edge_test_support::sse::stream_text(&s.events),
        "a:a-model c1 c2 c3 c4 "
    );
    // Chunks arrive spread out like the provider sent them, not in one lump at the end.
    let first_content = s
        .chunks
        .iter()
        .position(|(_, b)| String::from_utf8_lossy(b).contains("a:a-model"))
        .unwrap();
    let (t_first, _) = s.chunks[first_content];
    let (t_last, _) = *s.chunks.last().unwrap();
    assert!(
        t_last.duration_since(t_first) >= Duration::from_millis(450),
        "chunks were buffered: {:?}",
        s.chunks
            .iter()
            .map(|(t, _)| t.duration_since(t_first))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_base_url_outside_internal_is_a_load_error() {
    let policy = "\
on_http_request:
  - type: ai-gateway
    config:
      providers:
        - id: bad
          base_url: http://api.example.com/v1
";
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.yaml");
    std::fs::write(&f, policy).unwrap();
    let out = std::process::Command::new(crate::EDGE_BIN)
        .arg("check")
        .arg(&f)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("{}:6:21: error:", f.display())),
        "located at the base_url value: {stdout}"
    );
    assert!(
        stdout.contains("https://") && stdout.contains(".internal"),
        "says which rule it broke: {stdout}"
    );
}
