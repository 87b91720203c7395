//! The order of a provider's configured keys for one model of one request
//! (docs/ai-gateway.md, "Several keys"): only the keys whose `models` list allows the
//! model, the first drawn by `weight` when the provider's keys have weights, the others
//! after it in config order as failover. Without weights the order is ngrok's: as written.
//!
//! Runs per candidate while the plan is written, before any `api_key_selection` strategy
//! (which then sees only the allowed keys and decides the order itself). The draw is
//! derived from the request id, so a plan is reproducible from its request and needs no
//! randomness source in the plugin; request ids are UUIDs, whose SHA-256 is uniform.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::errors::GatewayError;
use super::select::KeySelection;
use super::universe::{Provider, ProviderKey};
use super::{AiGateway, RequestEnv};
use crate::host_api::HostApi;

/// The keys to try for one candidate (a model answering to `names`, of `provider`) and its
/// `api_key_selection` record: [`key_order`], then the policy's `api_key_selection`
/// strategies. The record of the default order is left out when it is the config order
/// (`finish` rebuilds that one); otherwise it lists the keys in the order tried.
pub(super) fn candidate_keys<'k>(
    gw: &AiGateway,
    provider: &'k Provider,
    names: &[&str],
    request_id: &str,
    env: &dyn RequestEnv,
    host: &dyn HostApi,
) -> KeySelection<'k> {
    let model = names.first().copied().unwrap_or_default();
    let seed = DrawSeed {
        request_id,
        provider: &provider.id,
        model,
    };
    let order = key_order(&provider.keys, names, &seed);
    if !provider.keys.is_empty() && order.is_empty() {
        return Err((
            GatewayError::KeySelectionFailed(format!(
                "no api_keys entry of provider '{}' may be used for model '{model}' (api_keys[].models)",
                provider.id
            )),
            Vec::new(),
        ));
    }
    let (keys, mut record) = gw.select_keys(&order, &provider.id, env, host)?;
    let config_order = keys
        .iter()
        .map(|k| &k.id)
        .eq(provider.keys.iter().map(|k| &k.id));
    if record.is_empty() && !config_order {
        record.push(json!({
            "strategy": "ai.keys",
            "keys_to_try": keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        }));
    }
    Ok((keys, record))
}

/// The keys that may serve a model named by any of `names` (its id and aliases), in the
/// order they are tried when no strategy decides it.
pub fn key_order<'k>(
    keys: &'k [ProviderKey],
    names: &[&str],
    seed: &DrawSeed<'_>,
) -> Vec<&'k ProviderKey> {
    let mut allowed: Vec<&ProviderKey> = keys.iter().filter(|k| serves(k, names)).collect();
    let weighted = keys.iter().any(|k| k.weight.is_some());
    if weighted && allowed.len() > 1 {
        let first = drawn(&allowed, seed.unit());
        let key = allowed.remove(first);
        allowed.insert(0, key);
    }
    allowed
}

/// May `key` be used for a model answering to `names`? Its `models` list, compared without
/// regard to case; an empty list allows every model.
fn serves(key: &ProviderKey, names: &[&str]) -> bool {
    key.models.is_empty()
        || key
            .models
            .iter()
            .any(|m| names.iter().any(|n| n.eq_ignore_ascii_case(m)))
}

/// Index of the key whose share of the total weight covers `point` (in `[0, 1)`).
fn drawn(keys: &[&ProviderKey], point: f64) -> usize {
    let weight = |k: &ProviderKey| k.weight.unwrap_or(1.0);
    let total: f64 = keys.iter().map(|k| weight(k)).sum();
    let mut left = point * total;
    for (i, k) in keys.iter().enumerate() {
        if left < weight(k) {
            return i;
        }
        left -= weight(k);
    }
    keys.len().saturating_sub(1)
}

/// What a draw is derived from: the request and the candidate, so two providers (or two
/// models) of one request draw independently.
pub struct DrawSeed<'a> {
    pub request_id: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
}

impl DrawSeed<'_> {
    /// A point in `[0, 1)`: the first 53 bits of SHA-256 over the three parts.
    fn unit(&self) -> f64 {
        let mut h = Sha256::new();
        for part in [self.request_id, self.provider, self.model] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, weight: f64, models: &[&str]) -> ProviderKey {
        ProviderKey {
            value: format!("value-{id}"),
            id: id.to_owned(),
            weight: Some(weight),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    fn seed(id: &str) -> DrawSeed<'_> {
        DrawSeed {
            request_id: id,
            provider: "p",
            model: "m",
        }
    }

    #[test]
    fn the_first_key_follows_the_weights_within_tolerance() {
        let keys = [key("a", 3.0, &[]), key("b", 1.0, &[]), key("c", 0.5, &[])];
        let runs = 10_000;
        let mut first = [0u32; 3];
        for n in 0..runs {
            let id = format!("0193a0b2-{n:04x}-7000-8000-{n:012x}");
            let order = key_order(&keys, &["m"], &seed(&id));
            assert_eq!(order.len(), 3, "every key is tried");
            let i = keys.iter().position(|k| k.id == order[0].id).unwrap();
            first[i] += 1;
            // The others follow in config order.
            let rest: Vec<&str> = order[1..].iter().map(|k| k.id.as_str()).collect();
            let mut expected: Vec<&str> = ["a", "b", "c"]
                .into_iter()
                .filter(|x| *x != order[0].id)
                .collect();
            expected.truncate(2);
            assert_eq!(rest, expected);
        }
        // Shares 3 : 1 : 0.5 of 4.5; allowed: ±2 percentage points each (the binomial
        // standard deviation at 10,000 draws is under 0.5 points).
        for (i, want) in [3.0 / 4.5, 1.0 / 4.5, 0.5 / 4.5].into_iter().enumerate() {
            let got = f64::from(first[i]) / f64::from(runs);
            assert!(
                (got - want).abs() < 0.02,
                "key {i}: {got:.3} vs {want:.3}: {first:?}"
            );
        }
    }

    #[test]
    fn without_weights_the_order_is_as_written() {
        let mut keys = [key("a", 1.0, &[]), key("b", 1.0, &[]), key("c", 1.0, &[])];
        for k in &mut keys {
            k.weight = None;
        }
        for n in 0..100 {
            let id = format!("req-{n}");
            let order: Vec<&str> = key_order(&keys, &["m"], &seed(&id))
                .iter()
                .map(|k| k.id.as_str())
                .collect();
            assert_eq!(order, ["a", "b", "c"]);
        }
    }

    #[test]
    fn the_same_request_draws_the_same_order() {
        let keys = [key("a", 1.0, &[]), key("b", 1.0, &[])];
        let once = key_order(&keys, &["m"], &seed("req-42"));
        let again = key_order(&keys, &["m"], &seed("req-42"));
        assert_eq!(once[0].id, again[0].id);
    }

    #[test]
    fn a_key_with_models_serves_only_those() {
        let keys = [
            key("mini-only", 1.0, &["GPT-4o-mini"]),
            key("all", 1.0, &[]),
            key("alias", 1.0, &["fast"]),
        ];
        let ids = |names: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = key_order(&keys, names, &seed("r"))
                .iter()
                .map(|k| k.id.clone())
                .collect();
            v.sort();
            v
        };
        assert_eq!(ids(&["gpt-4o"]), ["all"]);
        assert_eq!(ids(&["gpt-4o-mini"]), ["all", "mini-only"]);
        assert_eq!(ids(&["turbo", "fast"]), ["alias", "all"]);
        let only = [key("x", 1.0, &["other"])];
        assert!(key_order(&only, &["m"], &seed("r")).is_empty());
    }
}
