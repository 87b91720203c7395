//! `AiGateway::compile`: the action's config turned into a ready [`AiGateway`], or every
//! problem found as diagnostics (paths relative to the config object).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::catalog::Catalog;
use super::config::{ActionConfig, ModelConfig, ProviderConfig};
use super::env::LoadEnv;
use super::resolve::Resolved;
use super::strategy::{Dependence, Strategy, StrategyEnv};
use super::templates::{BodyTemplate, Template, scalar_text};
use super::universe::{Model, Provider, ProviderKey, Universe, model_json, to_cel};
use super::validate::{self, SURFACES};
use super::{AiGateway, Settings};
use crate::model::{ApiFormat, Diagnostic, Severity};

/// Defaults from the design's answers to open questions 3 and 4.
const DEFAULT_PER_REQUEST_TIMEOUT_MS: u64 = 180_000;
const DEFAULT_TOTAL_TIMEOUT_MS: u64 = 360_000;
const DEFAULT_STREAM_IDLE_TIMEOUT_MS: u64 = 60_000;

/// A model config with its flags: (config, known, configured).
type ModelEntry = (ModelConfig, bool, bool);

struct Diags(Vec<Diagnostic>);

impl Diags {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, path, message);
    }
    fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, path, message);
    }
    fn push(&mut self, severity: Severity, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Diagnostic {
            severity,
            message: message.into(),
            line: 0,
            column: 0,
            path: path.into(),
        });
    }
    fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
}

/// Names the key in logs, metrics and result variables without revealing it.
pub fn key_id(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    format!("k_{}", &hex::encode(digest)[..8])
}

fn format_of(name: &str) -> Option<ApiFormat> {
    match name.to_ascii_lowercase().as_str() {
        "openai" => Some(ApiFormat::OpenAi),
        "anthropic" => Some(ApiFormat::Anthropic),
        _ => None,
    }
}

pub(super) fn compile(config: &Json, env: &mut dyn LoadEnv) -> Result<AiGateway, Vec<Diagnostic>> {
    let mut d = Diags(Vec::new());
    let cfg: ActionConfig = match serde_path_to_error::deserialize(config) {
        Ok(c) => c,
        Err(e) => {
            let path = e.path().to_string();
            d.error(
                if path == "." { String::new() } else { path },
                e.inner().to_string(),
            );
            return Err(d.0);
        }
    };
    let catalog = match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => {
            d.error("", e);
            return Err(d.0);
        }
    };

    let settings = settings(&cfg, &mut d);
    let headers = templates_of("headers", &cfg.headers, env, &mut d, true);
    let query_params = templates_of("query_params", &cfg.query_params, env, &mut d, false);
    let body = match BodyTemplate::compile(&cfg.body, env) {
        Ok(b) => b,
        Err(errors) => {
            for (pointer, e) in errors {
                d.error(format!("body{}", pointer.replace('/', ".")), e);
            }
            BodyTemplate::default()
        }
    };
    for reserved in ["model", "models", "stream"] {
        if cfg.body.contains_key(reserved) {
            d.error(
                format!("body.{reserved}"),
                format!(
                    "'{reserved}' is decided per attempt by the gateway and cannot be set in body"
                ),
            );
        }
    }

    let universe = build_universe(&cfg, &catalog, env, &mut d);

    let senv = match StrategyEnv::new() {
        Ok(s) => s,
        Err(e) => {
            d.error("", e);
            return Err(d.0);
        }
    };
    let model_strategies = strategies(
        "model_selection",
        cfg.model_selection.as_ref().map(|s| &s.strategy),
        &senv,
        &mut d,
    );
    let key_strategies = strategies(
        "api_key_selection",
        cfg.api_key_selection.as_ref().map(|s| &s.strategy),
        &senv,
        &mut d,
    );
    let failover_rule = cfg
        .failover
        .as_ref()
        .and_then(|f| f.rule.as_ref())
        .and_then(|rule| match senv.compile(rule, &["attempt"]) {
            Ok(s) if s.dependence == Dependence::Request => {
                d.error("failover.rule", "a failover rule reads only `attempt.*`");
                None
            }
            Ok(s) => Some(s),
            Err(e) => {
                d.error("failover.rule", format!("invalid CEL: {e}"));
                None
            }
        });

    if d.has_errors() {
        return Err(d.0);
    }
    let Some(universe) = universe else {
        return Err(d.0);
    };

    let ai_static = [ApiFormat::OpenAi, ApiFormat::Anthropic].map(|f| ai_value(&universe, f, None));
    let roots = match (
        senv.root(ai_static[0].clone()),
        senv.root(ai_static[1].clone()),
    ) {
        (Ok(a), Ok(b)) => [a, b],
        (Err(e), _) | (_, Err(e)) => {
            d.error("", e);
            return Err(d.0);
        }
    };
    let mut gw = AiGateway {
        settings,
        headers,
        query_params,
        body,
        universe,
        model_strategies,
        key_strategies,
        failover_rule,
        roots,
        ai_static,
        static_selections: Vec::new(),
        metrics_cache: Mutex::new(None),
        metrics_results: Mutex::new(HashMap::new()),
        warnings: d.0,
    };
    // Request-independent strategies run now, once per format; their digested results are
    // reused by every request that adds no pass-through model.
    let none = Resolved::default();
    let formats = [ApiFormat::OpenAi, ApiFormat::Anthropic];
    gw.static_selections = gw
        .model_strategies
        .iter()
        .map(|s| {
            if s.dependence == Dependence::Static {
                [0, 1].map(|f| {
                    Some(gw.digest(
                        &s.source,
                        s.eval(&gw.roots[f], &[], None),
                        formats[f],
                        &none,
                    ))
                })
            } else {
                [None, None]
            }
        })
        .collect();
    Ok(gw)
}

/// `ai` = {models, providers, authors} for one format; `metrics` replaces each model's
/// zeroed `metrics` when given.
pub(super) fn ai_value(
    u: &Universe,
    format: ApiFormat,
    metrics: Option<&HashMap<(String, String), Json>>,
) -> cel::Value {
    let models: Vec<Json> = u
        .allowed(format)
        .iter()
        .filter_map(|&i| u.models.get(i))
        .map(|m| with_metrics(m, u, metrics))
        .collect();
    to_cel(&serde_json::json!({
        "models": models,
        "providers": u.providers_json(format),
        "authors": u.authors_json(format),
    }))
}

pub(super) fn with_metrics(
    m: &Model,
    u: &Universe,
    metrics: Option<&HashMap<(String, String), Json>>,
) -> Json {
    let mut j = m.cel.clone();
    if let (Some(metrics), Some(p)) = (metrics, u.providers.get(m.provider))
        && let Some(mj) = metrics.get(&(p.id.clone(), m.id.clone()))
        && let Some(obj) = j.as_object_mut()
    {
        obj.insert("metrics".to_owned(), mj.clone());
    }
    j
}

fn settings(cfg: &ActionConfig, d: &mut Diags) -> Settings {
    let mut tokens = |name: &str, v: Option<i64>| {
        v.and_then(|n| validate::token_limit(n).map_err(|e| d.error(name, e)).ok())
    };
    let max_input_tokens = tokens("max_input_tokens", cfg.max_input_tokens);
    let max_output_tokens = tokens("max_output_tokens", cfg.max_output_tokens);
    let mut dur = |name: &str, v: &Option<String>, default: u64| -> u64 {
        match v {
            None => default,
            Some(text) => match validate::duration(text) {
                Ok(d) => u64::try_from(d.as_millis()).unwrap_or(default),
                Err(e) => {
                    d.error(name, e);
                    default
                }
            },
        }
    };
    let per_request_timeout_ms = dur(
        "per_request_timeout",
        &cfg.per_request_timeout,
        DEFAULT_PER_REQUEST_TIMEOUT_MS,
    );
    let total_timeout_ms = dur(
        "total_timeout",
        &cfg.total_timeout,
        DEFAULT_TOTAL_TIMEOUT_MS,
    );
    let stream_idle_timeout_ms = dur(
        "stream_idle_timeout",
        &cfg.stream_idle_timeout,
        DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    );
    if per_request_timeout_ms > total_timeout_ms {
        d.warning("per_request_timeout", "per_request_timeout is longer than total_timeout; the total timeout will cut attempts short");
    }
    let on_error_continue = match cfg.on_error.as_deref() {
        None | Some("halt") => false,
        Some("continue") => true,
        Some(other) => {
            d.error(
                "on_error",
                format!("'{other}' is not valid: on_error must be 'halt' or 'continue'"),
            );
            false
        }
    };
    Settings {
        max_input_tokens,
        max_output_tokens,
        on_error_continue,
        per_request_timeout_ms,
        total_timeout_ms,
        stream_idle_timeout_ms,
        only_allow_configured_models: cfg.only_allow_configured_models,
    }
}

fn templates_of(
    field: &str,
    map: &BTreeMap<String, Json>,
    env: &mut dyn LoadEnv,
    d: &mut Diags,
    header_names: bool,
) -> Vec<(String, Template)> {
    let mut out = Vec::new();
    for (k, v) in map {
        let path = format!("{field}.{k}");
        if header_names && let Err(e) = validate::header_name(k) {
            d.error(&path, e);
            continue;
        }
        if v.is_array() || v.is_object() {
            d.error(&path, "must be a string");
            continue;
        }
        match Template::compile(&scalar_text(v), env) {
            Ok(t) => out.push((
                if header_names {
                    k.to_ascii_lowercase()
                } else {
                    k.clone()
                },
                t,
            )),
            Err(e) => d.error(&path, format!("invalid interpolation: {e}")),
        }
    }
    out
}

fn strategies(
    field: &str,
    list: Option<&Vec<String>>,
    senv: &StrategyEnv,
    d: &mut Diags,
) -> Vec<Strategy> {
    let mut out = Vec::new();
    for (i, source) in list.into_iter().flatten().enumerate() {
        match senv.compile(source, &[]) {
            Ok(s) => out.push(s),
            Err(e) => d.error(
                format!("{field}.strategy[{i}]"),
                format!("invalid strategy: {e}"),
            ),
        }
    }
    out
}

/// Merges the catalog with `providers[]` and applies the allow rules.
fn build_universe(
    cfg: &ActionConfig,
    catalog: &Catalog,
    env: &mut dyn LoadEnv,
    d: &mut Diags,
) -> Option<Universe> {
    let mut providers: Vec<Provider> = Vec::new();
    // Model configs per provider index, with (known, configured) flags.
    let mut model_cfgs: Vec<Vec<(ModelConfig, bool, bool)>> = Vec::new();
    let mut seen_names: HashMap<String, String> = HashMap::new();
    let mut failed = false;

    for (i, pc) in cfg.providers.iter().enumerate() {
        let path = format!("providers[{i}]");
        if pc.id.trim().is_empty() {
            d.error(format!("{path}.id"), "provider id is required");
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
            if let Some(other) = seen_names.get(&key) {
                d.error(at, format!("'{name}' is already used by {other}"));
                failed = true;
            } else {
                seen_names.insert(key, format!("{path} ('{}')", pc.id));
            }
        }
        match provider_from_config(i, pc, catalog, env, d) {
            Some((p, models)) => {
                providers.push(p);
                model_cfgs.push(models);
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
        let Ok(base_url) = url::Url::parse(&cp.base_url) else {
            continue;
        };
        let shadow = providers
            .iter()
            .find(|p| p.answers_to(&cp.id))
            .map(|p| p.id.clone());
        let excluded = if let Some(by) = shadow {
            Some(format!(
                "provider '{}' is replaced by configured provider '{by}'",
                cp.id
            ))
        } else if cfg.only_allow_configured_providers {
            Some(format!(
                "provider '{}' is not configured (only_allow_configured_providers)",
                cp.id
            ))
        } else {
            None
        };
        providers.push(Provider {
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
            custom: false,
            configured: false,
            builtin: Some(cp.id.clone()),
            excluded,
        });
        model_cfgs.push(
            catalog
                .models_of(&cp.id)
                .map(|(m, _)| (m, true, false))
                .collect(),
        );
    }
    if failed {
        return None;
    }

    // Models: alias uniqueness across different models, then the allow rules.
    let mut models: Vec<Model> = Vec::new();
    let mut alias_owner: HashMap<String, (String, String)> = HashMap::new();
    for (pi, cfgs) in model_cfgs.iter().enumerate() {
        let Some(provider) = providers.get(pi) else {
            continue;
        };
        for (mj, (mc, known, configured)) in cfgs.iter().enumerate() {
            let path = format!("providers[{pi}].models[{mj}]");
            for alias in &mc.id_aliases {
                let key = alias.to_ascii_lowercase();
                match alias_owner.get(&key) {
                    Some((prov, id)) if !id.eq_ignore_ascii_case(&mc.id) && *configured => {
                        d.error(format!("{path}.id_aliases"), format!("alias '{alias}' is already used by model '{id}' of provider '{prov}'"));
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
            } else if cfg.only_allow_configured_models && !configured {
                Some(format!(
                    "model '{}' is not configured (only_allow_configured_models)",
                    mc.id
                ))
            } else {
                None
            };
            let author = mc.author_id.clone().unwrap_or_default();
            let cel = model_json(
                provider,
                &mc.id,
                &mc.id_aliases,
                &author,
                *known,
                *configured,
                mc,
            );
            models.push(Model {
                provider: pi,
                id: mc.id.clone(),
                id_aliases: mc.id_aliases.clone(),
                author_id: author,
                known: *known,
                custom: *configured,
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
    if d.has_errors() {
        return None;
    }
    let mut by_key = HashMap::new();
    let (mut openai, mut anthropic) = (Vec::new(), Vec::new());
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
            openai.push(i);
        }
        if p.formats.contains(&ApiFormat::Anthropic) {
            anthropic.push(i);
        }
    }
    Some(Universe {
        providers,
        models,
        openai,
        anthropic,
        by_key,
    })
}

/// One `providers[i]` entry: validated, merged with the catalog when it names a built-in
/// provider, keys resolved.
fn provider_from_config(
    i: usize,
    pc: &ProviderConfig,
    catalog: &Catalog,
    env: &mut dyn LoadEnv,
    d: &mut Diags,
) -> Option<(Provider, Vec<ModelEntry>)> {
    let path = format!("providers[{i}]");
    let builtin = catalog
        .provider(&pc.id)
        .filter(|cp| cp.id.eq_ignore_ascii_case(&pc.id) || pc.base_url.is_none());
    let base_url = match (&pc.base_url, builtin) {
        (Some(text), _) => match validate::base_url(text) {
            Ok(u) => u,
            Err(e) => {
                d.error(format!("{path}.base_url"), e);
                return None;
            }
        },
        (None, Some(cp)) => match url::Url::parse(&cp.base_url) {
            Ok(u) => u,
            Err(e) => {
                d.error(format!("{path}.base_url"), e.to_string());
                return None;
            }
        },
        (None, None) => {
            d.error(
                format!("{path}.base_url"),
                format!(
                    "base_url is required for custom provider '{}' (not a built-in provider)",
                    pc.id
                ),
            );
            return None;
        }
    };

    let mut formats = Vec::new();
    let mut param_allowlists = Vec::new();
    for (j, s) in pc.supported_api_surfaces.iter().enumerate() {
        let at = format!("{path}.supported_api_surfaces[{j}]");
        let Some(f) = format_of(&s.format) else {
            d.error(
                format!("{at}.format"),
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
            d.error(
                format!("{at}.surface"),
                format!(
                    "'{surface}' is not a surface: use one of {}",
                    SURFACES.join(", ")
                ),
            );
        }
        if !s.supported_params.is_empty() {
            match &s.surface {
                None => d.error(
                    format!("{at}.supported_params"),
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
        if !SURFACES.contains(&surface.as_str()) {
            d.error(
                format!("{path}.request_path_overrides.{surface}"),
                format!(
                    "'{surface}' is not a surface: use one of {}",
                    SURFACES.join(", ")
                ),
            );
        } else if !p.starts_with('/') {
            d.error(
                format!("{path}.request_path_overrides.{surface}"),
                "a path override must start with '/'",
            );
        }
    }

    let mut keys = Vec::new();
    for (k, key) in pc.api_keys.iter().enumerate() {
        let at = format!("{path}.api_keys[{k}].value");
        let value = if key.value.contains("${") {
            match env.eval_static(&key.value) {
                Ok(v) => v,
                Err(e) if env.check_only() => {
                    d.warning(
                        &at,
                        format!("key not resolved (it will be at serve time): {e}"),
                    );
                    // Placeholder so the plan shape can still be checked; never sent.
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
        if keys.iter().any(|k: &ProviderKey| k.id == id) {
            // The same model/key pair is never tried twice, so a repeated key adds nothing.
            d.warning(&at, "same key as an earlier entry; it is tried once");
            continue;
        }
        keys.push(ProviderKey { id, value });
    }

    let metadata = match &pc.metadata {
        None => Json::Object(serde_json::Map::new()),
        Some(m @ Json::Object(_)) => m.clone(),
        Some(_) => {
            d.error(format!("{path}.metadata"), "metadata must be a map");
            Json::Object(serde_json::Map::new())
        }
    };

    // Configured models first (policy order), then catalog models not overridden.
    let mut models: Vec<(ModelConfig, bool, bool)> = Vec::new();
    for (j, mc) in pc.models.iter().enumerate() {
        let at = format!("{path}.models[{j}]");
        if mc.id.trim().is_empty() {
            d.error(format!("{at}.id"), "model id is required");
            continue;
        }
        if let Some(m) = &mc.metadata
            && !m.is_object()
        {
            d.error(format!("{at}.metadata"), "metadata must be a map");
        }
        for (k, name) in std::iter::once(&mc.id)
            .chain(mc.id_aliases.iter())
            .enumerate()
        {
            let clash = models.iter().any(|(o, _, _)| {
                o.id.eq_ignore_ascii_case(name)
                    || o.id_aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            });
            if clash {
                let field = if k == 0 {
                    format!("{at}.id")
                } else {
                    format!("{at}.id_aliases[{}]", k - 1)
                };
                d.error(
                    field,
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
        models.push((merge_model(mc, catalog_entry), true, true));
    }
    if let Some(cp) = builtin {
        for (cm, _) in catalog.models_of(&cp.id) {
            if !models
                .iter()
                .any(|(m, _, _)| m.id.eq_ignore_ascii_case(&cm.id))
            {
                models.push((cm, true, false));
            }
        }
    }

    let provider = Provider {
        id: pc.id.clone(),
        // A configured built-in provider keeps answering to its catalog names too.
        id_aliases: {
            let mut names = pc.id_aliases.clone();
            if let Some(b) = builtin {
                for n in std::iter::once(&b.id).chain(b.id_aliases.iter()) {
                    if !n.eq_ignore_ascii_case(&pc.id)
                        && !names.iter().any(|x| x.eq_ignore_ascii_case(n))
                    {
                        names.push(n.clone());
                    }
                }
            }
            names
        },
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
        formats,
        param_allowlists,
        path_overrides: pc.request_path_overrides.clone(),
        custom: builtin.is_none(),
        configured: true,
        builtin: builtin.map(|b| b.id.clone()),
        excluded: pc
            .disabled
            .then(|| format!("provider '{}' is disabled", pc.id)),
    };
    Some((provider, models))
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
