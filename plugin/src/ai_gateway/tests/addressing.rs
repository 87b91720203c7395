//! `provider/model` addressing next to `provider:model` and model ids that contain `/`
//! (docs/ai-gateway.md, "Model resolution"), and the provider id rules that keep both
//! separators unambiguous.

use serde_json::json;

use super::harness::{chat, diagnostics, load};

const UNIVERSE: &str = r#"
only_allow_configured_providers: true
providers:
  - id: mycompany
    base_url: https://my.example/v1
    models: [{id: custom-gpt-4}]
  - id: meta-llama
    base_url: https://ml.example/v1
    models: [{id: llama-small}]
  - id: together
    base_url: https://together.example/v1
    id_aliases: [tg]
    models: [{id: meta-llama/Meta-Llama-3.1-70B-Instruct}]
"#;

fn order(model: &str) -> Vec<String> {
    load(UNIVERSE).attempt_order(&chat(json!({ "model": model })))
}

#[test]
fn provider_slash_model_names_a_configured_provider() {
    assert_eq!(order("mycompany/custom-gpt-4"), ["mycompany:custom-gpt-4"]);
    assert_eq!(order("MyCompany/custom-gpt-4"), ["mycompany:custom-gpt-4"]);
    // Through an alias, and an unlisted model passed through as written.
    assert_eq!(
        order("tg/meta-llama/Meta-Llama-3.1-70B-Instruct"),
        ["together:meta-llama/Meta-Llama-3.1-70B-Instruct"]
    );
    assert_eq!(order("mycompany/not-listed"), ["mycompany:not-listed"]);
}

#[test]
fn a_model_id_with_a_slash_wins_over_a_provider_of_its_prefix() {
    // `meta-llama` is a configured provider, but a model id matches the whole string.
    assert_eq!(
        order("meta-llama/Meta-Llama-3.1-70B-Instruct"),
        ["together:meta-llama/Meta-Llama-3.1-70B-Instruct"]
    );
    // Without a whole-id match, the prefix names the provider.
    assert_eq!(order("meta-llama/llama-small"), ["meta-llama:llama-small"]);
}

#[test]
fn provider_colon_model_comes_first() {
    assert_eq!(
        order("together:meta-llama/Meta-Llama-3.1-70B-Instruct"),
        ["together:meta-llama/Meta-Llama-3.1-70B-Instruct"]
    );
    // The colon splits first, so the slash stays in the model passed through.
    assert_eq!(order("mycompany:team/model"), ["mycompany:team/model"]);
}

#[test]
fn a_slash_prefix_that_names_no_configured_provider_is_no_provider() {
    let l = load("providers: [{id: mine, base_url: 'https://mine.example/v1', models: [{id: m}]}]");
    // openai is built in but not configured here: `openai/gpt-4o` is not LLMGateway's
    // addressing of it (`openai:gpt-4o` is).
    let f = l.respond(&chat(json!({"model": "openai/gpt-4o"})));
    assert_eq!(f.response.status, 422);
    assert_eq!(f.results["error"]["code"], "no_matching_models");
    assert_eq!(
        l.attempt_order(&chat(json!({"model": "openai:gpt-4o"})))[0],
        "openai:gpt-4o"
    );
    // An empty model after the slash is the client's mistake, as after a colon.
    let f = l.respond(&chat(json!({"model": "mine/"})));
    assert_eq!(f.response.status, 400);
    assert_eq!(f.results["error"]["code"], "invalid_request_body");
}

#[test]
fn provider_ids_and_aliases_are_checked() {
    let d = diagnostics(
        r#"
providers:
  - id: "azure:eu"
    base_url: https://a.example
  - id: ok
    id_aliases: [team/a, " spaced"]
    base_url: https://b.example
"#,
    );
    for (path, needle) in [
        (
            "providers[0].id",
            "contains ':', which separates provider and model",
        ),
        ("providers[1].id_aliases[0]", "contains '/'"),
        (
            "providers[1].id_aliases[1]",
            "1 to 64 ASCII letters, digits",
        ),
    ] {
        assert!(
            d.iter().any(|(p, m)| p == path && m.contains(needle)),
            "{path}: {needle} in {d:#?}"
        );
    }
}
