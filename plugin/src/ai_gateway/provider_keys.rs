//! A provider's configured `api_keys` at load: `${secrets.get(…)}` and Bifrost's
//! `env.VAR_NAME` resolved, `weight` and `models` checked, empty and repeated keys
//! reported, each key named by an id that does not reveal it.

use sha2::{Digest, Sha256};

use super::config::ApiKeyConfig;
use super::env::LoadEnv;
use super::universe::ProviderKey;
use crate::policy::Diagnostics;

/// The reserved vault of the host's `secret` import whose names are the edge's environment
/// variables (the plugin cannot read the environment; wit/gateway.wit, `secret`).
pub const ENV_VAULT: &str = "edge.env";

/// Bifrost's way of naming an environment variable as a key: `env.VAR_NAME`.
const ENV_PREFIX: &str = "env.";

/// Largest `weight` accepted: shares are relative, so larger numbers add nothing.
const MAX_WEIGHT: f64 = 1_000_000.0;

/// Names the key in logs, metrics and result variables without revealing it.
pub fn key_id(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    format!("k_{}", &hex::encode(digest)[..8])
}

/// The usable keys, in config order; problems reported under `api_keys[k]`. Under
/// `edge check` a secret or variable that cannot be resolved is a warning and a placeholder
/// stands in for it, so the rest of the policy is still checked; it is never sent.
/// Diagnostics name the variable or secret, never a value.
pub(super) fn provider_keys(
    configured: &[ApiKeyConfig],
    env: &mut dyn LoadEnv,
    d: &mut Diagnostics,
) -> Vec<ProviderKey> {
    let mut keys: Vec<ProviderKey> = Vec::new();
    for (k, key) in configured.iter().enumerate() {
        let at = format!("api_keys[{k}].value");
        let weight = weight(key.weight, &format!("api_keys[{k}].weight"), d);
        for (m, model) in key.models.iter().enumerate() {
            if model.trim().is_empty() {
                d.error(&format!("api_keys[{k}].models[{m}]"), "model name is empty");
            }
        }
        let value = match resolve(&key.value, env) {
            Ok(v) => v,
            Err(e) if env.check_only() => {
                d.warning(&at, format!("{e} (it will be resolved at serve time)"));
                format!("unresolved-{k}")
            }
            Err(e) => {
                d.error(&at, e);
                continue;
            }
        };
        if value.trim().is_empty() {
            d.error(&at, "API key is empty");
            continue;
        }
        let id = key_id(&value);
        if keys.iter().any(|k| k.id == id) {
            // The same model/key pair is never tried twice, so a repeated key adds nothing.
            d.warning(&at, "same key as an earlier entry; it is tried once");
            continue;
        }
        keys.push(ProviderKey {
            id,
            value,
            weight,
            models: key.models.clone(),
        });
    }
    keys
}

/// The key a `value` names: a `${…}` expression, an `env.VAR_NAME`, or the key itself.
/// `Err` is the diagnostic's text.
fn resolve(text: &str, env: &mut dyn LoadEnv) -> Result<String, String> {
    if text.contains("${") {
        return env
            .eval_static(text)
            .map_err(|e| format!("key could not be resolved: {e}"));
    }
    if let Some(var) = text.strip_prefix(ENV_PREFIX) {
        if var.trim().is_empty() {
            return Err("env. needs a variable name, e.g. env.OPENAI_API_KEY".to_owned());
        }
        return env
            .host()
            .secret(ENV_VAULT, var)
            .ok_or_else(|| format!("environment variable '{var}' is not set"));
    }
    Ok(text.to_owned())
}

/// `weight`, when written: a number above 0 and at most [`MAX_WEIGHT`]. A bad one is
/// reported at `at`.
fn weight(w: Option<f64>, at: &str, d: &mut Diagnostics) -> Option<f64> {
    let w = w?;
    if w.is_finite() && w > 0.0 && w <= MAX_WEIGHT {
        return Some(w);
    }
    d.error(
        at,
        format!("weight {w} is out of range: must be above 0 and at most {MAX_WEIGHT}"),
    );
    None
}
