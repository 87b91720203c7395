//! A provider's own `per_request_timeout` (docs/ai-gateway.md, "Provider timeouts"): it
//! replaces the action's for that provider's attempts, against loopback providers that
//! answer late.

use std::time::{Duration, Instant};

use crate::edge;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, provider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_timeout_cuts_its_attempt_and_another_keeps_the_actions() {
    // `quick` is given 300ms but answers after 3s; `patient` answers after 1s, well within
    // the action's 10s. The client's order tries quick first.
    let quick = provider("quick").delay(3_000).start().await.unwrap();
    let patient = provider("patient").delay(1_000).start().await.unwrap();
    let policy = ai_policy()
        .set("per_request_timeout", json!("10s"))
        .provider(
            ProviderCfg::of(&quick)
                .models(&["shared"])
                .field("per_request_timeout", json!("300ms")),
        )
        .provider(ProviderCfg::of(&patient).models(&["shared"]))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&quick)
        .provider(&patient)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let started = Instant::now();
    let r = c
        .post_json(&e.url("/v1/chat/completions"), &chat("shared", &[], false))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-attempts"), Some("2"));
    assert_eq!((quick.hits(), patient.hits()), (1, 1));
    // 300ms for quick, then 1s for patient (the action's 10s let it finish); quick's own 3s
    // would have served it instead, after 3s.
    assert!(
        took >= Duration::from_millis(1_250) && took < Duration::from_millis(2_800),
        "took {took:?}"
    );
}
