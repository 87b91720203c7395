//! Builds the [`Universe`] at load: the configured providers (see `providers.rs`), the
//! built-in ones the policy did not list, every model with the allow rules applied, and
//! the per-format lists of allowed models.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::catalog::{Catalog, CatalogProvider};
use super::config::ActionConfig;
use super::env::LoadEnv;
use super::per_format::PerFormat;
use super::provider_extras::ProviderExtras;
use super::providers::{format_of, provider_from_config};
use super::request_types::AllowedRequests;
use super::universe::{Model, ModelEntry, Provider, Universe, model_json};
use super::validate;
use crate::model::{ApiFormat, TlsTrust};
use crate::policy::Diagnostics;

/// Merges the catalog with `providers[]` and applies the allow rules. `None` when a
/// provider or model could not be built (the problems are reported).
pub(super) fn build_universe(
    cfg: &ActionConfig,
    catalog: &Catalog,
    env: &mut dyn LoadEnv,
    d: &mut Diagnostics,
) -> Option<Universe> {
    let mut providers: Vec<Provider> = Vec::new();
    // Model entries per provider index.
    let mut model_entries: Vec<Vec<ModelEntry>> = Vec::new();
    let mut failed = false;
    let mut seen_names: HashMap<String, String> = HashMap::new();

    for (i, pc) in cfg.providers.iter().enumerate() {
        let path = format!("providers[{i}]");
        if pc.id.trim().is_empty() {
            d.error(&format!("{path}.id"), "provider id is required");
            failed = true;
            continue;
        }
        for (j, name) in std::iter::once(&pc.id)
            .chain(pc.id_aliases.iter())
            .enumerate()
        {
            let key = name.to_ascii_lowercase();
            let at = if j == 0 {
                format!("{path}.id")
            } else {
                format!("{path}.id_aliases[{}]", j - 1)
            };
            if let Err(e) = validate::provider_id(name) {
                d.error(&at, e.to_string());
                failed = true;
            } else if let Some(other) = seen_names.get(&key) {
                d.error(&at, format!("'{name}' is already used by {other}"));
                failed = true;
            } else {
                seen_names.insert(key, format!("{path} ('{}')", pc.id));
            }
        }
        match provider_from_config(i, pc, catalog, env, d) {
            Some((p, models)) => {
                providers.push(p);
                model_entries.push(models);
            }
            None => failed = true,
        }
    }

    // Built-in providers the policy did not list: allowed unless
    // only_allow_configured_providers, and shadowed when a configured provider answers to
    // their id (e.g. `openai-eu` with `id_aliases: [openai]`).
    for cp in &catalog.providers {
        if providers
            .iter()
            .any(|p| p.configured && p.builtin.as_deref() == Some(cp.id.as_str()))
        {
            continue;
        }
        let Some(provider) = unlisted_builtin(cp, &providers, cfg.only_allow_configured_providers)
        else {
            continue;
        };
        providers.push(provider);
        model_entries.push(
            catalog
                .models_of(&cp.id)
                .map(|(m, _)| ModelEntry::from_catalog(m))
                .collect(),
        );
    }
    if failed {
        return None;
    }

    let models = models(cfg, &providers, &model_entries, d);
    if d.has_errors() {
        return None;
    }
    let mut by_key = HashMap::new();
    let mut allowed: PerFormat<Vec<usize>> = PerFormat::default();
    for (i, m) in models.iter().enumerate() {
        let Some(p) = providers.get(m.provider) else {
            continue;
        };
        by_key
            .entry((p.id.to_ascii_lowercase(), m.id.to_ascii_lowercase()))
            .or_insert(i);
        if m.excluded.is_some() {
            continue;
        }
        if p.formats.contains(&ApiFormat::OpenAi) {
            allowed.openai.push(i);
        }
        if p.formats.contains(&ApiFormat::Anthropic) {
            allowed.anthropic.push(i);
        }
    }
    Some(Universe {
        providers,
        models,
        allowed,
        by_key,
    })
}

/// A built-in provider the policy did not list, with why it is excluded if it is. `None`
/// when its catalog base URL does not parse.
fn unlisted_builtin(
    cp: &CatalogProvider,
    configured: &[Provider],
    only_allow_configured_providers: bool,
) -> Option<Provider> {
    let base_url = url::Url::parse(&cp.base_url).ok()?;
    let shadow = configured
        .iter()
        .find(|p| p.answers_to(&cp.id))
        .map(|p| p.id.clone());
    let excluded = if let Some(by) = shadow {
        Some(format!(
            "provider '{}' is replaced by configured provider '{by}'",
            cp.id
        ))
    } else if only_allow_configured_providers {
        Some(format!(
            "provider '{}' is not configured (only_allow_configured_providers)",
            cp.id
        ))
    } else {
        None
    };
    Some(Provider {
        id: cp.id.clone(),
        id_aliases: cp.id_aliases.clone(),
        base_url,
        display_name: cp.display_name.clone(),
        description: String::new(),
        website: cp.website.clone(),
        metadata: Json::Object(serde_json::Map::new()),
        keys: Vec::new(),
        formats: cp.formats.iter().filter_map(|f| format_of(f)).collect(),
        param_allowlists: Vec::new(),
        path_overrides: BTreeMap::new(),
        allowed_requests: AllowedRequests::default(),
        extras: ProviderExtras::default(),
        per_request_timeout_ms: None,
        tls: TlsTrust::Default,
        concurrency: None,
        custom: false,
        configured: false,
        builtin: Some(cp.id.clone()),
        excluded,
    })
}

/// Every model of every provider: alias uniqueness across different models, then the
/// allow rules (`disabled`, `only_allow_configured_models`).
fn models(
    cfg: &ActionConfig,
    providers: &[Provider],
    model_entries: &[Vec<ModelEntry>],
    d: &mut Diagnostics,
) -> Vec<Model> {
    let mut models: Vec<Model> = Vec::new();
    let mut alias_owner: HashMap<String, (String, String)> = HashMap::new();
    for (pi, entries) in model_entries.iter().enumerate() {
        let Some(provider) = providers.get(pi) else {
            continue;
        };
        for (mj, entry) in entries.iter().enumerate() {
            let mc = &entry.config;
            let path = format!("providers[{pi}].models[{mj}]");
            for alias in &mc.id_aliases {
                let key = alias.to_ascii_lowercase();
                match alias_owner.get(&key) {
                    Some((prov, id)) if !id.eq_ignore_ascii_case(&mc.id) && entry.configured => {
                        d.error(
                            &format!("{path}.id_aliases"),
                            format!(
                                "alias '{alias}' is already used by model '{id}' of provider '{prov}'"
                            ),
                        );
                    }
                    _ => {
                        alias_owner.insert(key, (provider.id.clone(), mc.id.clone()));
                    }
                }
            }
            let excluded = if let Some(e) = &provider.excluded {
                Some(e.clone())
            } else if mc.disabled {
                Some(format!(
                    "model '{}' of provider '{}' is disabled",
                    mc.id, provider.id
                ))
            } else if cfg.only_allow_configured_models && !entry.configured {
                Some(format!(
                    "model '{}' is not configured (only_allow_configured_models)",
                    mc.id
                ))
            } else {
                None
            };
            let author = mc.author_id.clone().unwrap_or_default();
            let cel = model_json(provider, entry);
            models.push(Model {
                provider: pi,
                id: mc.id.clone(),
                id_aliases: mc.id_aliases.clone(),
                author_id: author,
                known: entry.known,
                custom: entry.configured,
                unsupported_params: mc
                    .unsupported_params
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect(),
                excluded,
                cel,
            });
        }
    }
    models
}
