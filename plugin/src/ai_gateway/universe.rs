//! The providers and models a loaded policy allows (docs/ai-gateway.md, "Providers and
//! models"): the catalog merged with
//! `providers[]`, with `disabled` and `only_allow_configured_*` applied. Built once per
//! policy load, together with the `ai.models` / `ai.providers` / `ai.authors` CEL values
//! of each API format.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value as Json, json};

use super::config::ModelConfig;
use super::per_format::PerFormat;
use super::provider_extras::ProviderExtras;
use super::request_types::{AllowedRequests, RequestType};
use crate::model::{ApiFormat, ConcurrencyLimit, TlsTrust};

/// A provider the gateway may call.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: String,
    pub id_aliases: Vec<String>,
    pub base_url: url::Url,
    pub display_name: String,
    pub description: String,
    pub website: String,
    pub metadata: Json,
    /// Configured keys in order (empty = the client's key is passed through).
    pub keys: Vec<ProviderKey>,
    pub formats: Vec<ApiFormat>,
    /// `supported_api_surfaces` entries that carry a `surface` and a non-empty allowlist:
    /// (format, surface) -> allowed top-level body keys.
    pub param_allowlists: Vec<(ApiFormat, String, Vec<String>)>,
    /// Surface name -> path joined to `base_url` verbatim.
    pub path_overrides: BTreeMap<String, String>,
    /// The request types it may serve (`allowed_requests`).
    pub allowed_requests: AllowedRequests,
    /// Its own `headers`, `query_params` and `auth`.
    pub extras: ProviderExtras,
    /// Its own `per_request_timeout`, replacing the action's for its attempts.
    pub per_request_timeout_ms: Option<u64>,
    /// How its certificate is verified (`ca_cert_pem`, `insecure_skip_verify`).
    pub tls: TlsTrust,
    /// Its `concurrency_and_buffer_size`, written on each of its attempts for the host.
    pub concurrency: Option<ConcurrencyLimit>,
    /// Not in the built-in catalog.
    pub custom: bool,
    /// Listed in `providers[]`.
    pub configured: bool,
    /// The built-in provider this entry configures (its catalog id), if any.
    pub builtin: Option<String>,
    /// Why the policy excludes it (disabled, only_allow_configured_providers, shadowed).
    pub excluded: Option<String>,
}

/// One configured API key. `value` never leaves the plan's credential header.
#[derive(Clone)]
pub struct ProviderKey {
    pub value: String,
    /// `k_` + 8 hex digits of SHA-256: names the key in logs, metrics, results.
    pub id: String,
    /// Its share of first attempts (`weight`, always > 0), when written. Keys are drawn
    /// only when some key of the provider has one (an unwritten weight counts 1);
    /// otherwise they keep ngrok's order, as written.
    pub weight: Option<f64>,
    /// The models it may be used for (`models`, as written); empty: every model.
    pub models: Vec<String>,
}

impl std::fmt::Debug for ProviderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKey")
            .field("id", &self.id)
            .field("weight", &self.weight)
            .field("models", &self.models)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub fn answers_to(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self.id_aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// A model of a provider before the universe is built: its config and where it came from.
#[derive(Debug, Clone)]
pub(super) struct ModelEntry {
    pub config: ModelConfig,
    /// In the catalog or configured (listed in `GET /v1/models`).
    pub known: bool,
    /// Listed in the policy's `providers[].models[]`.
    pub configured: bool,
}

impl ModelEntry {
    /// A catalog model the policy did not configure.
    pub(super) fn from_catalog(config: ModelConfig) -> ModelEntry {
        ModelEntry {
            config,
            known: true,
            configured: false,
        }
    }
}

/// A model of one provider.
#[derive(Debug, Clone)]
pub struct Model {
    /// Index into [`Universe::providers`].
    pub provider: usize,
    pub id: String,
    pub id_aliases: Vec<String>,
    pub author_id: String,
    /// In the catalog or configured (false for pass-through models).
    pub known: bool,
    /// Listed in `providers[].models[]`.
    pub custom: bool,
    pub unsupported_params: Vec<String>,
    /// Why the policy excludes it.
    pub excluded: Option<String>,
    /// The model as strategies see it (`m.*`), without `metrics`.
    pub cel: Json,
}

impl Model {
    pub fn answers_to(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self.id_aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// Everything a policy allows, and the CEL values strategies read.
#[derive(Debug, Clone)]
pub struct Universe {
    pub providers: Vec<Provider>,
    pub models: Vec<Model>,
    /// Allowed model indices serving each format, in policy order.
    pub allowed: PerFormat<Vec<usize>>,
    /// (lower provider id, lower model id) -> index into `models`.
    pub by_key: HashMap<(String, String), usize>,
}

impl Universe {
    pub fn allowed(&self, format: ApiFormat) -> &[usize] {
        self.allowed.get(format)
    }

    pub fn provider_allowed(&self, p: usize, format: ApiFormat) -> bool {
        self.providers
            .get(p)
            .is_some_and(|p| p.excluded.is_none() && p.formats.contains(&format))
    }

    /// Keeps the items whose provider (`provider_of`, an index into `providers`) may serve
    /// a request of type `t` (its `allowed_requests`), in order; the ids of the providers
    /// that may not are added to `refused`, once each.
    pub fn retain_serving<T>(
        &self,
        items: &mut Vec<T>,
        provider_of: impl Fn(&T) -> usize,
        t: RequestType,
        refused: &mut Vec<String>,
    ) {
        items.retain(|item| {
            let Some(p) = self.providers.get(provider_of(item)) else {
                return false;
            };
            if p.allowed_requests.allows(t) {
                return true;
            }
            if !refused.contains(&p.id) {
                refused.push(p.id.clone());
            }
            false
        });
    }

    /// Index of the model `provider_id`/`id` (exact ids, as a strategy result names them).
    pub fn find(&self, provider_id: &str, id: &str) -> Option<usize> {
        self.by_key
            .get(&(provider_id.to_ascii_lowercase(), id.to_ascii_lowercase()))
            .copied()
    }

    /// `ai.providers` of one format, as JSON.
    pub fn providers_json(&self, format: ApiFormat) -> Json {
        let list: Vec<Json> = self
            .providers
            .iter()
            .enumerate()
            .filter(|(i, _)| self.provider_allowed(*i, format))
            .map(|(i, p)| {
                let models: Vec<Json> = self
                    .allowed(format)
                    .iter()
                    .filter_map(|&m| self.models.get(m))
                    .filter(|m| m.provider == i)
                    .map(|m| m.cel.clone())
                    .collect();
                json!({
                    "id": p.id, "id_aliases": p.id_aliases, "display_name": p.display_name,
                    "description": p.description, "website": p.website, "metadata": p.metadata,
                    "custom": p.custom, "models": models,
                })
            })
            .collect();
        Json::Array(list)
    }

    /// `ai.authors` of one format: the distinct authors of the allowed models.
    pub fn authors_json(&self, format: ApiFormat) -> Json {
        let mut seen: Vec<String> = Vec::new();
        for &m in self.allowed(format) {
            if let Some(model) = self.models.get(m)
                && !model.author_id.is_empty()
                && !seen
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&model.author_id))
            {
                seen.push(model.author_id.clone());
            }
        }
        Json::Array(
            seen.into_iter()
                .map(|a| json!({"id": a, "id_aliases": []}))
                .collect(),
        )
    }
}

/// Builds the `m.*` object strategies see. `metrics` is added separately (zeros unless
/// the strategy reads metrics).
pub(super) fn model_json(provider: &Provider, entry: &ModelEntry) -> Json {
    let cfg = &entry.config;
    let id = cfg.id.as_str();
    let mut metadata = match &provider.metadata {
        Json::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    if let Some(Json::Object(own)) = &cfg.metadata {
        for (k, v) in own {
            metadata.insert(k.clone(), v.clone());
        }
    }
    json!({
        "id": id,
        "id_aliases": cfg.id_aliases,
        "provider_id": provider.id,
        "provider_id_aliases": provider.id_aliases,
        "author_id": cfg.author_id.as_deref().unwrap_or_default(),
        "author_id_aliases": [],
        "display_name": cfg.display_name.clone().unwrap_or_else(|| id.to_owned()),
        "description": cfg.description.clone().unwrap_or_default(),
        "known": entry.known,
        "custom": entry.configured,
        "metadata": Json::Object(metadata),
        "input_modalities": cfg.input_modalities,
        "output_modalities": cfg.output_modalities,
        "supported_features": cfg.supported_features,
        "max_context_window": cfg.max_context_window.unwrap_or(0),
        "max_output_tokens": cfg.max_output_tokens.unwrap_or(0),
        "parameter_count": cfg.parameter_count.unwrap_or(0),
        "quantization": cfg.quantization.clone().unwrap_or_default(),
        "data_training_policy": cfg.data_training_policy.clone().unwrap_or_default(),
        "data_retention_days": cfg.data_retention_days.unwrap_or(0),
        "data_retention_policy": cfg.data_retention_policy.clone().unwrap_or_default(),
        "pricing": cfg.pricing.clone().map(Json::Object).unwrap_or_else(|| json!({})),
        "datacenters": cfg.datacenters,
        "metrics": zero_metrics(&provider.id, id),
    })
}

/// One metrics scope with every documented field at zero (new models have zero values,
/// so a strategy reading them never fails on a missing key).
pub fn metrics_scope(
    provider: &str,
    model: &str,
    requests: u64,
    error_rate: f64,
    p50: f64,
    p95: f64,
) -> Json {
    json!({
        "provider": provider, "model": model, "request_count": requests,
        "start_time": 0, "end_time": 0,
        "latency": {"gateway_ms_avg": 0, "gateway_ms_p95": 0, "upstream_ms_avg": p50, "upstream_ms_p95": p95},
        "error_rate": {"total": error_rate, "timeout": 0.0, "rate_limit": 0.0, "client": 0.0, "server": 0.0},
    })
}

pub fn zero_metrics(provider: &str, model: &str) -> Json {
    let s = metrics_scope(provider, model, 0, 0.0, 0.0, 0.0);
    json!({"global": s, "region": s, "account": s, "endpoint": s, "api_keys": {}})
}

/// Converts JSON to a CEL value (numbers: integers stay integers, others become doubles).
pub fn to_cel(v: &Json) -> cel::Value {
    use cel::objects::{Key, Map};
    match v {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                i64::try_from(u)
                    .map(cel::Value::Int)
                    .unwrap_or(cel::Value::UInt(u))
            } else if let Some(i) = n.as_i64() {
                cel::Value::Int(i)
            } else {
                cel::Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => cel::Value::String(Arc::new(s.clone())),
        Json::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Json::Object(o) => {
            let map: HashMap<Key, cel::Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            cel::Value::Map(Map { map: Arc::new(map) })
        }
    }
}
