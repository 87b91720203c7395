//! Helpers for ai-gateway tests: a policy builder over mock providers and request bodies.
//!
//! The policy is generated as JSON, which is also valid YAML, so field values never need
//! quoting care.

use serde_json::{Value, json};

use crate::providers::MockProvider;

/// One `providers[]` entry.
#[derive(Debug, Clone)]
pub struct ProviderCfg {
    pub id: String,
    pub base_url: String,
    pub keys: Vec<String>,
    pub models: Vec<String>,
    /// `supported_api_surfaces[].format` values; empty = default (openai).
    pub formats: Vec<String>,
    /// Any other fields of the entry (e.g. `allowed_requests`), written as given.
    pub fields: serde_json::Map<String, Value>,
}

impl ProviderCfg {
    /// A provider entry pointing at `p` with one model named `<name>-model`.
    pub fn of(p: &MockProvider) -> Self {
        Self {
            id: p.name.clone(),
            base_url: p.base_url(),
            keys: Vec::new(),
            models: vec![format!("{}-model", p.name)],
            formats: Vec::new(),
            fields: serde_json::Map::new(),
        }
    }
    /// A provider entry with explicit id and base URL and one model `<id>-model`.
    pub fn named(id: &str, base_url: &str) -> Self {
        Self {
            id: id.to_owned(),
            base_url: base_url.to_owned(),
            keys: Vec::new(),
            models: vec![format!("{id}-model")],
            formats: Vec::new(),
            fields: serde_json::Map::new(),
        }
    }
    pub fn keys(mut self, keys: &[&str]) -> Self {
        self.keys = keys.iter().map(|k| (*k).to_owned()).collect();
        self
    }
    pub fn models(mut self, models: &[&str]) -> Self {
        self.models = models.iter().map(|m| (*m).to_owned()).collect();
        self
    }
    pub fn formats(mut self, formats: &[&str]) -> Self {
        self.formats = formats.iter().map(|f| (*f).to_owned()).collect();
        self
    }
    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = url.to_owned();
        self
    }
    /// Sets any other field of the entry (written after the ones above, so it wins).
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_owned(), value);
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "base_url": self.base_url,
            "models": self.models.iter().map(|m| json!({"id": m})).collect::<Vec<_>>(),
        });
        if !self.keys.is_empty() {
            v["api_keys"] = Value::Array(self.keys.iter().map(|k| json!({"value": k})).collect());
        }
        if !self.formats.is_empty() {
            v["supported_api_surfaces"] =
                Value::Array(self.formats.iter().map(|f| json!({"format": f})).collect());
        }
        for (k, field) in &self.fields {
            v[k] = field.clone();
        }
        v
    }
}

/// Builds `on_http_request: [{type: ai-gateway, config: …}]`.
#[derive(Debug, Clone, Default)]
pub struct AiPolicy {
    providers: Vec<ProviderCfg>,
    config: serde_json::Map<String, Value>,
    rules_after: Vec<Value>,
    response_rules: Vec<Value>,
}

pub fn ai_policy() -> AiPolicy {
    AiPolicy::default()
}

impl AiPolicy {
    pub fn provider(mut self, p: ProviderCfg) -> Self {
        self.providers.push(p);
        self
    }
    /// Sets a top-level config field (e.g. `per_request_timeout`, `"300ms"`).
    pub fn set(mut self, key: &str, value: Value) -> Self {
        self.config.insert(key.to_owned(), value);
        self
    }
    /// Appends a rule after the ai-gateway one (for `on_error: continue`).
    pub fn then_rule(mut self, rule: Value) -> Self {
        self.rules_after.push(rule);
        self
    }
    /// Appends an `on_http_response` rule.
    pub fn response_rule(mut self, rule: Value) -> Self {
        self.response_rules.push(rule);
        self
    }
    pub fn build(&self) -> String {
        let mut config = self.config.clone();
        config.insert(
            "providers".into(),
            Value::Array(self.providers.iter().map(ProviderCfg::to_json).collect()),
        );
        config
            .entry("only_allow_configured_providers")
            .or_insert(Value::Bool(true));
        let mut rules = vec![json!({"actions": [{"type": "ai-gateway", "config": config}]})];
        rules.extend(self.rules_after.iter().cloned());
        let mut doc = json!({ "on_http_request": rules });
        if !self.response_rules.is_empty() {
            doc["on_http_response"] = Value::Array(self.response_rules.clone());
        }
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }
}

/// An OpenAI chat request for `model` with fallbacks `models`.
pub fn chat(model: &str, fallbacks: &[&str], stream: bool) -> Value {
    let mut v = json!({
        "model": model,
        "messages": [{"role": "user", "content": "hello"}],
    });
    if !fallbacks.is_empty() {
        v["models"] = json!(fallbacks);
    }
    if stream {
        v["stream"] = Value::Bool(true);
    }
    v
}

/// An Anthropic messages request.
pub fn messages(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello"}],
        "stream": stream,
    })
}
