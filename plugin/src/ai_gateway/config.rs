//! The `ai-gateway` action's configuration exactly as a policy writes it
//! (docs/ai-gateway.md, "Configuration"),
//! plus our documented extensions (`stream_idle_timeout`, `stream_max_duration`, `failover`,
//! `forward_headers`,
//! `request_path_overrides`, `allowed_requests`, a provider's `headers`, `query_params`,
//! `auth`, `per_request_timeout` and `concurrency_and_buffer_size`, `api_keys[].weight`
//! and `models`, `pricing`, `datacenters`). Unknown fields are rejected so a
//! typo never silently does nothing. Validation of values lives in `validate.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole `config:` object of the action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionConfig {
    pub max_input_tokens: Option<i64>,
    pub max_output_tokens: Option<i64>,
    /// Extra upstream headers; values may hold `${…}`.
    pub headers: BTreeMap<String, serde_json::Value>,
    /// Ours: client headers forwarded to providers besides the default set (names, or
    /// prefixes written with a trailing `*`), checked by `request_headers`.
    pub forward_headers: Vec<String>,
    /// Extra upstream query parameters; values may hold `${…}`.
    pub query_params: BTreeMap<String, serde_json::Value>,
    /// Top-level body fields merged into every upstream body (config wins); string leaves
    /// may hold `${…}`.
    pub body: serde_json::Map<String, serde_json::Value>,
    /// `halt` (default) or `continue`.
    pub on_error: Option<String>,
    pub total_timeout: Option<String>,
    pub per_request_timeout: Option<String>,
    /// Ours: longest silence between two stream chunks before the stream is ended with an
    /// SSE error event. Default 60s.
    pub stream_idle_timeout: Option<String>,
    /// Ours: longest a committed stream may run, from its commit, before it is ended with
    /// an SSE error event. Default: no cap.
    pub stream_max_duration: Option<String>,
    pub providers: Vec<ProviderConfig>,
    pub only_allow_configured_providers: bool,
    pub only_allow_configured_models: bool,
    pub model_selection: Option<StrategyConfig>,
    pub api_key_selection: Option<StrategyConfig>,
    /// Ours: replaces the default failover rules with a CEL expression.
    pub failover: Option<FailoverConfig>,
}

/// `model_selection` / `api_key_selection`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    pub strategy: Vec<String>,
}

/// `failover:` (ours).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverConfig {
    /// CEL over `attempt.*`, returning one of "next_key", "next_model", "retry_same",
    /// "stop" (or a bool: true = "next_key", false = "stop").
    pub rule: Option<String>,
}

/// One entry of `providers[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    pub id: String,
    pub id_aliases: Vec<String>,
    pub base_url: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
    pub disabled: bool,
    pub metadata: Option<serde_json::Value>,
    pub api_keys: Vec<ApiKeyConfig>,
    pub models: Vec<ModelConfig>,
    pub supported_api_surfaces: Vec<SurfaceConfig>,
    /// Ours (after Bifrost): surface name -> path joined to `base_url` as written,
    /// replacing the default path joining for that surface.
    pub request_path_overrides: BTreeMap<String, String>,
    /// Ours (Bifrost's field): request type -> may this provider serve it. Omitted: every
    /// type; written: only the types set to `true`. Checked by `request_types`.
    pub allowed_requests: Option<BTreeMap<String, bool>>,
    /// Ours: headers added to this provider's attempts, over the action's `headers` (the
    /// provider's value wins for the same name); values may hold `${…}`.
    pub headers: BTreeMap<String, serde_json::Value>,
    /// Ours: query parameters added to this provider's URLs, over the action's
    /// `query_params`; values may hold `${…}`.
    pub query_params: BTreeMap<String, serde_json::Value>,
    /// Ours: how a configured key is sent (`bearer`, `x-api-key`, `api-key`, or
    /// `{header, prefix}`), checked by `key_auth`. Default: the format's own way.
    pub auth: Option<serde_json::Value>,
    /// Ours: this provider's attempts' `per_request_timeout`, replacing the action's.
    pub per_request_timeout: Option<String>,
    /// Ours (Bifrost's field): a CA certificate (inline PEM) trusted for this provider
    /// only, checked by `provider_tls`.
    pub ca_cert_pem: Option<String>,
    /// Ours (Bifrost's field): no certificate verification for this provider (dangerous).
    pub insecure_skip_verify: bool,
    /// Ours (Bifrost's field): at most `concurrency` attempts in flight to this provider,
    /// `buffer_size` more waiting; checked by `concurrency`. Omitted: uncapped.
    pub concurrency_and_buffer_size: Option<ConcurrencyConfig>,
}

/// `providers[].concurrency_and_buffer_size`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyConfig {
    pub concurrency: i64,
    /// Default 0: no queue, a request that finds every slot taken fails over at once.
    #[serde(default)]
    pub buffer_size: i64,
}

/// One entry of `providers[].api_keys`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The key, `${secrets.get(…)}`, or (Bifrost's form) `env.VAR_NAME`.
    pub value: String,
    /// Ours (Bifrost's field): the share of requests whose first attempt uses this key.
    /// Default 1.
    #[serde(default)]
    pub weight: Option<f64>,
    /// Ours (Bifrost's field): the models this key may be used for; empty: every model.
    #[serde(default)]
    pub models: Vec<String>,
}

/// One entry of `supported_api_surfaces`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceConfig {
    pub format: String,
    #[serde(default)]
    pub surface: Option<String>,
    #[serde(default)]
    pub supported_params: Vec<ParamName>,
}

/// A body parameter name, written either as a string or as `{name: …}` (the docs use both).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ParamName {
    Plain(String),
    Named { name: String },
}

impl ParamName {
    pub fn name(&self) -> &str {
        match self {
            ParamName::Plain(n) | ParamName::Named { name: n } => n,
        }
    }
}

/// One entry of `providers[].models[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub id: String,
    pub id_aliases: Vec<String>,
    pub author_id: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub disabled: bool,
    pub metadata: Option<serde_json::Value>,
    pub input_modalities: Vec<String>,
    pub output_modalities: Vec<String>,
    pub max_context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub supported_features: Vec<String>,
    pub unsupported_params: Vec<ParamName>,
    /// Ours: USD per million tokens, `{text: {input, output, …}, tools: {…}}`, read by
    /// `underCost` and `sortBy('price')`.
    pub pricing: Option<Pricing>,
    /// Ours: `[{country_code, region}]`, read by `inRegion` / `inCountryCode`.
    pub datacenters: Vec<Datacenter>,
    pub parameter_count: Option<u64>,
    pub quantization: Option<String>,
    pub data_training_policy: Option<String>,
    pub data_retention_days: Option<u64>,
    pub data_retention_policy: Option<String>,
}

/// Prices by type, e.g. `text.input`. Kept as JSON so any documented price type works.
pub type Pricing = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Datacenter {
    pub country_code: String,
    pub region: String,
}
