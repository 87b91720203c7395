//! A provider's configured `api_keys` at load: `${secrets.get(…)}` resolved, empty and
//! repeated keys reported, each key named by an id that does not reveal it.

use sha2::{Digest, Sha256};

use super::config::ApiKeyConfig;
use super::env::LoadEnv;
use super::universe::ProviderKey;
use crate::policy::Diagnostics;

/// Names the key in logs, metrics and result variables without revealing it.
pub fn key_id(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    format!("k_{}", &hex::encode(digest)[..8])
}

/// The usable keys, in config order; problems reported under `api_keys[k].value`. Under
/// `edge check` a secret that cannot be resolved is a warning and a placeholder stands in
/// for it, so the rest of the policy is still checked; it is never sent.
pub(super) fn provider_keys(
    configured: &[ApiKeyConfig],
    env: &mut dyn LoadEnv,
    d: &mut Diagnostics,
) -> Vec<ProviderKey> {
    let mut keys: Vec<ProviderKey> = Vec::new();
    for (k, key) in configured.iter().enumerate() {
        let at = format!("api_keys[{k}].value");
        let value = if key.value.contains("${") {
            match env.eval_static(&key.value) {
                Ok(v) => v,
                Err(e) if env.check_only() => {
                    d.warning(
                        &at,
                        format!("key not resolved (it will be at serve time): {e}"),
                    );
                    format!("unresolved-{k}")
                }
                Err(e) => {
                    d.error(&at, format!("key could not be resolved: {e}"));
                    continue;
                }
            }
        } else {
            key.value.clone()
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
        keys.push(ProviderKey { id, value });
    }
    keys
}
