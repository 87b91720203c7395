//! One `providers[i]` entry at load: its base URL, API surfaces, keys and models checked,
//! merged with the built-in catalog entry it names (if any).

use serde_json::Value as Json;

use super::catalog::{Catalog, CatalogProvider};
use super::concurrency::concurrency_limit;
use super::config::{ModelConfig, ProviderConfig};
use super::env::LoadEnv;
use super::provider_extras::ProviderExtras;
use super::provider_keys::provider_keys;
use super::request_types::AllowedRequests;
use super::universe::{ModelEntry, Provider};
use super::validate::{self, SURFACES};
use crate::model::{ApiFormat, TlsTrust};
use crate::policy::Diagnostics;

/// `openai` / `anthropic` (any case) as written in `supported_api_surfaces[].format` and
/// in the catalog.
pub(super) fn format_of(name: &str) -> Option<ApiFormat> {
    match name.to_ascii_lowercase().as_str() {
        "openai" => Some(ApiFormat::OpenAi),
        "anthropic" => Some(ApiFormat::Anthropic),
        _ => None,
    }
}

/// One `providers[i]` entry, reported under `providers[i]`: validated, merged with the
/// catalog when it names a built-in provider, keys resolved. `None` when it cannot be
/// used at all (no base URL).
pub(super) fn provider_from_config(
    i: usize,
    pc: &ProviderConfig,
    catalog: &Catalog,
    env: &mut dyn LoadEnv,
    d: &mut Diagnostics,
) -> Option<(Provider, Vec<ModelEntry>)> {
    d.within(&format!("providers[{i}]"), |d| {
        let builtin = catalog
            .provider(&pc.id)
            .filter(|cp| cp.id.eq_ignore_ascii_case(&pc.id) || pc.base_url.is_none());
        let base_url = base_url(pc, builtin, d)?;
        let surfaces = Surfaces::check(pc, builtin, d);
        let keys = provider_keys(&pc.api_keys, env, d);
        let metadata = match &pc.metadata {
            None => Json::Object(serde_json::Map::new()),
            Some(m @ Json::Object(_)) => m.clone(),
            Some(_) => {
                d.error("metadata", "metadata must be a map");
                Json::Object(serde_json::Map::new())
            }
        };
        let models = models(pc, builtin, catalog, d);
        let provider = Provider {
            id: pc.id.clone(),
            id_aliases: id_aliases(pc, builtin),
            base_url,
            display_name: pc
                .display_name
                .clone()
                .or_else(|| builtin.map(|b| b.display_name.clone()))
                .unwrap_or_else(|| pc.id.clone()),
            description: pc.description.clone().unwrap_or_default(),
            website: pc
                .website
                .clone()
                .or_else(|| builtin.map(|b| b.website.clone()))
                .unwrap_or_default(),
            metadata,
            keys,
            formats: surfaces.formats,
            param_allowlists: surfaces.param_allowlists,
            path_overrides: pc.request_path_overrides.clone(),
            allowed_requests: AllowedRequests::from_config(pc.allowed_requests.as_ref(), d),
            extras: ProviderExtras::compile(pc, env, d),
            per_request_timeout_ms: pc.per_request_timeout.as_deref().and_then(|text| {
                validate::duration_ms(text)
                    .map_err(|e| d.error("per_request_timeout", e))
                    .ok()
            }),
            tls: TlsTrust::from_config(pc, d),
            concurrency: concurrency_limit(pc.concurrency_and_buffer_size.as_ref(), d),
            custom: builtin.is_none(),
            configured: true,
            builtin: builtin.map(|b| b.id.clone()),
            excluded: pc
                .disabled
                .then(|| format!("provider '{}' is disabled", pc.id)),
        };
        Some((provider, models))
    })
}

/// The configured `base_url`, else the catalog's; a custom provider must set one.
fn base_url(
    pc: &ProviderConfig,
    builtin: Option<&CatalogProvider>,
    d: &mut Diagnostics,
) -> Option<url::Url> {
    let checked = match (&pc.base_url, builtin) {
        (Some(text), _) => validate::base_url(text).map_err(|e| e.to_string()),
        (None, Some(cp)) => url::Url::parse(&cp.base_url).map_err(|e| e.to_string()),
        (None, None) => Err(format!(
            "base_url is required for custom provider '{}' (not a built-in provider)",
            pc.id
        )),
    };
    checked.map_err(|message| d.error("base_url", message)).ok()
}

/// What `supported_api_surfaces` and `request_path_overrides` allow.
struct Surfaces {
    formats: Vec<ApiFormat>,
    /// (format, surface, allowed top-level body keys).
    param_allowlists: Vec<(ApiFormat, String, Vec<String>)>,
}

impl Surfaces {
    /// The formats written (else the catalog's, else OpenAI) and the per-surface
    /// parameter allowlists; the path overrides are only checked.
    fn check(
        pc: &ProviderConfig,
        builtin: Option<&CatalogProvider>,
        d: &mut Diagnostics,
    ) -> Surfaces {
        let mut formats = Vec::new();
        let mut param_allowlists = Vec::new();
        for (j, s) in pc.supported_api_surfaces.iter().enumerate() {
            let at = format!("supported_api_surfaces[{j}]");
            let Some(f) = format_of(&s.format) else {
                d.error(
                    &format!("{at}.format"),
                    format!(
                        "'{}' is not a format: use 'openai' or 'anthropic'",
                        s.format
                    ),
                );
                continue;
            };
            if !formats.contains(&f) {
                formats.push(f);
            }
            if let Some(surface) = &s.surface
                && !SURFACES.contains(&surface.as_str())
            {
                d.error(&format!("{at}.surface"), not_a_surface(surface));
            }
            if !s.supported_params.is_empty() {
                match &s.surface {
                    None => d.error(
                        &format!("{at}.supported_params"),
                        "supported_params needs a surface",
                    ),
                    Some(surface) => param_allowlists.push((
                        f,
                        surface.clone(),
                        s.supported_params
                            .iter()
                            .map(|p| p.name().to_owned())
                            .collect(),
                    )),
                }
            }
        }
        if formats.is_empty() {
            formats = match builtin {
                Some(cp) => cp.formats.iter().filter_map(|f| format_of(f)).collect(),
                None => vec![ApiFormat::OpenAi],
            };
        }
        for (surface, p) in &pc.request_path_overrides {
            let at = format!("request_path_overrides.{surface}");
            if !SURFACES.contains(&surface.as_str()) {
                d.error(&at, not_a_surface(surface));
            } else if !p.starts_with('/') {
                d.error(&at, "a path override must start with '/'");
            }
        }
        Surfaces {
            formats,
            param_allowlists,
        }
    }
}

fn not_a_surface(surface: &str) -> String {
    format!(
        "'{surface}' is not a surface: use one of {}",
        SURFACES.join(", ")
    )
}

/// The provider's own names, and a configured built-in provider's catalog names, so it
/// keeps answering to those too.
fn id_aliases(pc: &ProviderConfig, builtin: Option<&CatalogProvider>) -> Vec<String> {
    let mut names = pc.id_aliases.clone();
    if let Some(b) = builtin {
        for n in std::iter::once(&b.id).chain(b.id_aliases.iter()) {
            if !n.eq_ignore_ascii_case(&pc.id) && !names.iter().any(|x| x.eq_ignore_ascii_case(n)) {
                names.push(n.clone());
            }
        }
    }
    names
}

/// Configured models first (policy order), then the catalog models not overridden.
fn models(
    pc: &ProviderConfig,
    builtin: Option<&CatalogProvider>,
    catalog: &Catalog,
    d: &mut Diagnostics,
) -> Vec<ModelEntry> {
    let mut models: Vec<ModelEntry> = Vec::new();
    for (j, mc) in pc.models.iter().enumerate() {
        let at = format!("models[{j}]");
        if mc.id.trim().is_empty() {
            d.error(&format!("{at}.id"), "model id is required");
            continue;
        }
        if let Some(m) = &mc.metadata
            && !m.is_object()
        {
            d.error(&format!("{at}.metadata"), "metadata must be a map");
        }
        for (k, name) in std::iter::once(&mc.id)
            .chain(mc.id_aliases.iter())
            .enumerate()
        {
            let clash = models.iter().any(|o| {
                o.config.id.eq_ignore_ascii_case(name)
                    || o.config
                        .id_aliases
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(name))
            });
            if clash {
                let field = if k == 0 {
                    format!("{at}.id")
                } else {
                    format!("{at}.id_aliases[{}]", k - 1)
                };
                d.error(
                    &field,
                    format!(
                        "'{name}' is already used by another model of provider '{}'",
                        pc.id
                    ),
                );
            }
        }
        // A configured model that names a catalog model inherits its facts.
        let catalog_entry = builtin.and_then(|cp| {
            catalog.models_of(&cp.id).map(|(m, _)| m).find(|m| {
                m.id.eq_ignore_ascii_case(&mc.id)
                    || m.id_aliases.iter().any(|a| a.eq_ignore_ascii_case(&mc.id))
            })
        });
        // Configured models are known (listed); only pass-through models are not.
        models.push(ModelEntry {
            config: merge_model(mc, catalog_entry),
            known: true,
            configured: true,
        });
    }
    if let Some(cp) = builtin {
        for (cm, _) in catalog.models_of(&cp.id) {
            if !models
                .iter()
                .any(|m| m.config.id.eq_ignore_ascii_case(&cm.id))
            {
                models.push(ModelEntry::from_catalog(cm));
            }
        }
    }
    models
}

/// A configured model over its catalog entry: fields the policy sets win.
fn merge_model(mc: &ModelConfig, catalog: Option<ModelConfig>) -> ModelConfig {
    let Some(c) = catalog else { return mc.clone() };
    let mut m = mc.clone();
    // Keep the catalog's canonical id so `model` sent upstream is the provider's own.
    let mut aliases = c.id_aliases.clone();
    for a in &mc.id_aliases {
        if !aliases.iter().any(|x| x.eq_ignore_ascii_case(a)) {
            aliases.push(a.clone());
        }
    }
    if !c.id.eq_ignore_ascii_case(&mc.id) && !aliases.iter().any(|x| x.eq_ignore_ascii_case(&mc.id))
    {
        aliases.push(mc.id.clone());
    }
    m.id_aliases = aliases;
    m.author_id = m.author_id.or(c.author_id);
    m.max_context_window = m.max_context_window.or(c.max_context_window);
    m.max_output_tokens = m.max_output_tokens.or(c.max_output_tokens);
    if m.input_modalities.is_empty() {
        m.input_modalities = c.input_modalities;
    }
    if m.output_modalities.is_empty() {
        m.output_modalities = c.output_modalities;
    }
    if m.supported_features.is_empty() {
        m.supported_features = c.supported_features;
    }
    m.pricing = m.pricing.or(c.pricing);
    m
}
