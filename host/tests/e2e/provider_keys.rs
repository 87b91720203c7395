//! Several keys per provider (docs/ai-gateway.md, "Several keys"): `weight` decides which key
//! a request's first attempt uses, `models` keeps a key to some models, and a key written as
//! `env.VAR_NAME` is read from the edge's environment at load and never shown — asserted on
//! the keys a loopback provider received.

use std::time::Duration;

use crate::{assert_load_refused, edge};
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, provider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_keys_share_first_attempts_and_env_keys_come_from_the_environment() {
    let from_env = "sk-from-the-environment-7f3a";
    let literal = "sk-literal-key-0000000002";
    let p = provider("keys").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&p).models(&["both", "only-env"]).field(
            "api_keys",
            json!([
                {"value": "env.E2E_KEYS_PRIMARY", "weight": 1},
                {"value": literal, "weight": 1, "models": ["both"]},
            ]),
        ))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&p)
        .env("E2E_KEYS_PRIMARY", from_env)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let url = e.url("/v1/chat/completions");
    let runs = 40;
    for _ in 0..runs {
        let r = c
            .post_json(&url, &chat("keys:both", &[], false))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let firsts: Vec<String> = p
        .received()
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect();
    let env_first = firsts
        .iter()
        .filter(|a| **a == format!("Bearer {from_env}"))
        .count();
    let literal_first = firsts
        .iter()
        .filter(|a| **a == format!("Bearer {literal}"))
        .count();
    assert_eq!(env_first + literal_first, runs, "{firsts:?}");
    // Equal weights: each key is first about half the time. Fewer than 8 of 40 for either
    // happens to a fair draw less than once in 10,000 runs.
    assert!(
        env_first >= 8 && literal_first >= 8,
        "env key first {env_first}, literal key first {literal_first} of {runs}"
    );

    // A model the literal key is not for gets the env key only.
    let before = p.hits();
    for _ in 0..10 {
        let r = c
            .post_json(&url, &chat("keys:only-env", &[], false))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let received = p.received();
    assert!(
        received[before..]
            .iter()
            .all(|r| r.header("authorization") == Some(format!("Bearer {from_env}").as_str())),
        "only the env key serves only-env"
    );

    // The value read from the environment is in no log line.
    e.wait_for_log("edge::access", Duration::from_secs(5))
        .await
        .unwrap();
    let logs = e.logs();
    assert!(!logs.contains(from_env), "the env key in the logs:\n{logs}");
    assert!(
        !logs.contains(literal),
        "the literal key in the logs:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_env_key_stops_the_load_naming_the_variable() {
    let p = provider("nokey").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&p).field("api_keys", json!([{"value": "env.E2E_KEYS_NOT_SET"}])))
        .build();
    // The diagnostic points at the line of the key's value and names the variable.
    assert_load_refused(
        edge().provider(&p),
        &policy,
        "env.E2E_KEYS_NOT_SET",
        "environment variable 'E2E_KEYS_NOT_SET' is not set",
    )
    .await;
}
