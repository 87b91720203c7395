//! `provider/model` addressing (docs/ai-gateway.md, "Model resolution"): a configured
//! provider named before the first `/`, unless a model id matches the whole string — asserted
//! on which loopback provider received which `model`.

use crate::{assert_load_refused, edge};
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_slash_model_reaches_the_provider_and_slashed_model_ids_stay_whole() {
    let mine = provider("mycompany").start().await.unwrap();
    let org = provider("meta-llama").start().await.unwrap();
    let host = provider("together").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::of(&mine).models(&["custom-gpt-4"]))
        .provider(ProviderCfg::of(&org).models(&["llama-small"]))
        .provider(ProviderCfg::of(&host).models(&["meta-llama/Meta-Llama-3.1-70B-Instruct"]))
        .build();
    let e = edge()
        .policy(&policy)
        .provider(&mine)
        .provider(&org)
        .provider(&host)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let url = e.url("/v1/chat/completions");
    for model in [
        "mycompany/custom-gpt-4",
        "meta-llama/Meta-Llama-3.1-70B-Instruct",
        "meta-llama/llama-small",
        "together/meta-llama/Meta-Llama-3.1-70B-Instruct",
    ] {
        let r = c.post_json(&url, &chat(model, &[], false)).await.unwrap();
        assert_eq!(r.status, 200, "{model}: {}", r.text());
    }
    assert_eq!(mine.models_seen(), ["custom-gpt-4"]);
    assert_eq!(org.models_seen(), ["llama-small"], "the whole model id won");
    assert_eq!(
        host.models_seen(),
        [
            "meta-llama/Meta-Llama-3.1-70B-Instruct",
            "meta-llama/Meta-Llama-3.1-70B-Instruct"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_id_with_a_colon_stops_the_load_saying_why() {
    let p = provider("colon").start().await.unwrap();
    let policy = ai_policy()
        .provider(ProviderCfg::named("team:a", &p.base_url()))
        .build();
    assert_load_refused(
        edge().provider(&p),
        &policy,
        "\"team:a\"",
        "contains ':', which separates provider and model",
    )
    .await;
}
