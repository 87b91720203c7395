//! Strategies → the models to try, and the keys to try for each (docs/ai-gateway.md,
//! "Strategies").
//!
//! For each `model_selection` strategy in order: evaluate (cached when it cannot change),
//! keep what the policy allows (`candidates_after_allowed_filter`), then, when the client
//! named models, keep those in the client's order (`candidates_after_client_filter`). The
//! first non-empty list wins. With no strategies the client's candidates are the list, or
//! every allowed model when the client named none.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use serde_json::{Value as Json, json};

use super::ai_value::ai_value;
use super::errors::GatewayError;
use super::per_format::PerFormat;
use super::quota::quota_json;
use super::request_types::{RequestType, not_allowed};
use super::resolve::{Cand, Resolved};
use super::selection_record::{CandidateLists, SelectionRecord};
use super::strategy::Dependence;
use super::strategy_functions::{field, str_field};
use super::universe::{ProviderKey, metrics_scope};
use super::{AiGateway, RequestEnv};
use crate::host_api::HostApi;
use crate::model::{ApiFormat, TargetMetrics};

/// A strategy result after the allowed filter.
#[derive(Debug, Clone)]
pub struct Digested {
    /// `candidates_returned`, as `provider:model`.
    pub returned: Json,
    pub allowed: Vec<Cand>,
    /// `candidates_after_allowed_filter`.
    pub allowed_names: Json,
}

/// The keys to try and the `api_key_selection` record, or the error and the record.
pub type KeySelection<'k> = Result<(Vec<&'k ProviderKey>, Vec<Json>), (GatewayError, Vec<Json>)>;

/// A digested strategy result, or its error and record (boxed: rare, and large).
pub type DigestResult = Result<Digested, Box<(GatewayError, SelectionRecord)>>;

/// The winning list and the per-strategy record (`model_selection[]`).
pub struct Selection {
    pub models: Vec<Cand>,
    pub records: Vec<SelectionRecord>,
}

impl AiGateway {
    /// `provider:model` of a candidate, as records show it.
    pub(crate) fn cand_name(&self, c: Cand, r: &Resolved) -> String {
        let (p, id) = self.cand_parts(c, r);
        format!("{p}:{id}")
    }

    /// (provider index, model id) of a candidate.
    pub(crate) fn cand_provider(&self, c: Cand, r: &Resolved) -> usize {
        match c {
            Cand::Known(i) => self.universe.models.get(i).map(|m| m.provider).unwrap_or(0),
            Cand::Pass(i) => r.pass.get(i).map(|p| p.provider).unwrap_or(0),
        }
    }

    pub(crate) fn cand_parts(&self, c: Cand, r: &Resolved) -> (String, String) {
        let p = self.cand_provider(c, r);
        let pid = self
            .universe
            .providers
            .get(p)
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let id = match c {
            Cand::Known(i) => self
                .universe
                .models
                .get(i)
                .map(|m| m.id.clone())
                .unwrap_or_default(),
            Cand::Pass(i) => r.pass.get(i).map(|p| p.id.clone()).unwrap_or_default(),
        };
        (pid, id)
    }

    /// Runs at load, once the gateway is built: request-independent strategies evaluated
    /// once per format and digested; every request that adds no pass-through model reuses
    /// the result.
    pub(super) fn static_selections(&self) -> Vec<PerFormat<Option<DigestResult>>> {
        let none = Resolved::default();
        self.model_strategies
            .iter()
            .map(|s| {
                PerFormat::new(|f| {
                    (s.dependence == Dependence::Static).then(|| {
                        self.digest(&s.source, s.eval(self.roots.get(f), &[], None), f, &none)
                    })
                })
            })
            .collect()
    }

    /// `ai` with metrics for the current generation (built at most once per generation).
    fn metrics_ai(&self, host: &dyn HostApi, format: ApiFormat) -> Value {
        let generation = host.metrics_generation();
        if let Ok(guard) = self.metrics_cache.lock()
            && let Some((g, values)) = guard.as_ref()
            && *g == generation
        {
            return values.get(format).clone();
        }
        let metrics = model_metrics(&host.metrics_snapshot());
        let values = PerFormat::new(|f| ai_value(&self.universe, f, Some(&metrics)));
        let v = values.get(format).clone();
        if let Ok(mut guard) = self.metrics_cache.lock() {
            *guard = Some((generation, values));
        }
        v
    }

    /// A strategy's value as (names returned, allowed candidates), or the error and its
    /// record.
    pub(crate) fn digest(
        &self,
        source: &str,
        result: Result<Value, String>,
        format: ApiFormat,
        resolved: &Resolved,
    ) -> DigestResult {
        let failed = |error: String| SelectionRecord::Failed {
            strategy: source.to_owned(),
            error,
        };
        let value = result.map_err(|e| {
            Box::new((
                GatewayError::SelectionFailed(format!("{source}: {e}")),
                failed(e),
            ))
        })?;
        let returned = model_refs(&value).map_err(|got| {
            Box::new((
                GatewayError::BadStrategyResult {
                    expression: source.to_owned(),
                    got: got.clone(),
                },
                failed(format!("returned {got}")),
            ))
        })?;
        let mut allowed: Vec<Cand> = Vec::with_capacity(returned.len());
        for (p, id) in &returned {
            if let Some(c) = self.lookup(p, id, format, resolved)
                && !allowed.contains(&c)
            {
                allowed.push(c);
            }
        }
        Ok(Digested {
            returned: Json::Array(
                returned
                    .iter()
                    .map(|(p, id)| Json::String(format!("{p}:{id}")))
                    .collect(),
            ),
            allowed_names: Json::Array(
                allowed
                    .iter()
                    .map(|c| Json::String(self.cand_name(*c, resolved)))
                    .collect(),
            ),
            allowed,
        })
    }

    pub(crate) fn select_models(
        &self,
        format: ApiFormat,
        resolved: &Resolved,
        request_type: RequestType,
        env: &dyn RequestEnv,
        host: &dyn HostApi,
    ) -> Result<Selection, (GatewayError, Vec<SelectionRecord>)> {
        // Providers that refused the request's type, for the error when nothing is left.
        let mut refused: Vec<String> = Vec::new();
        if self.model_strategies.is_empty() {
            let models = if resolved.requested {
                resolved.candidates.clone()
            } else {
                self.universe
                    .allowed(format)
                    .iter()
                    .map(|&i| Cand::Known(i))
                    .collect()
            };
            let models = self.serving(models, resolved, request_type, &mut refused);
            if models.is_empty() && !refused.is_empty() {
                return Err((not_allowed(request_type, &refused), Vec::new()));
            }
            return Ok(Selection {
                models,
                records: Vec::new(),
            });
        }
        let pass_values: Vec<Value> = resolved
            .pass
            .iter()
            .map(|p| super::universe::to_cel(&p.cel))
            .collect();
        let mut records = Vec::new();
        let mut metrics_ai: Option<Value> = None;
        for (i, s) in self.model_strategies.iter().enumerate() {
            // Request-independent strategies were evaluated and digested at load.
            let cached = if pass_values.is_empty() && s.dependence == Dependence::Static {
                self.static_selections
                    .get(i)
                    .and_then(|r| r.get(format).clone())
            } else {
                None
            };
            let from_cache = cached.is_some();
            let metrics_key = (pass_values.is_empty() && s.dependence == Dependence::Metrics)
                .then(|| (i, format, host.metrics_generation()));
            let digested = match (cached, metrics_key.and_then(|k| self.metrics_result(k))) {
                (Some(d), _) | (None, Some(d)) => d,
                (None, None) => {
                    let mut ai = if s.dependence == Dependence::Metrics {
                        metrics_ai
                            .get_or_insert_with(|| self.metrics_ai(host, format))
                            .clone()
                    } else {
                        self.ai_static.get(format).clone()
                    };
                    if !pass_values.is_empty() {
                        ai = with_extra_models(&ai, &pass_values);
                    }
                    let d = self.digest(
                        &s.source,
                        s.eval(self.roots.get(format), &[("ai", ai)], Some(env)),
                        format,
                        resolved,
                    );
                    // A metrics-only strategy gives the same answer until the metrics change.
                    if let Some((i, format, generation)) = metrics_key
                        && let Ok(mut cache) = self.metrics_results.lock()
                    {
                        cache.insert((i, format), (generation, d.clone()));
                    }
                    d
                }
            };
            let d = match digested {
                Ok(d) => d,
                Err(failure) => {
                    let (e, record) = *failure;
                    records.push(record);
                    return Err((e, records));
                }
            };
            // A cached result's long lists stay out of the per-request record (and so out
            // of the continuation); `selection_json` reads them back when results are built.
            let lists = if from_cache {
                CandidateLists::AtLoad(i)
            } else {
                CandidateLists::Computed {
                    returned: d.returned,
                    allowed: d.allowed_names,
                }
            };
            let (to_try, client_filtered) = if resolved.requested {
                let kept: Vec<Cand> = resolved
                    .candidates
                    .iter()
                    .copied()
                    .filter(|c| d.allowed.contains(c))
                    .collect();
                let names = kept.iter().map(|c| self.cand_name(*c, resolved)).collect();
                (kept, Some(names))
            } else {
                (d.allowed, None)
            };
            let to_try = self.serving(to_try, resolved, request_type, &mut refused);
            records.push(SelectionRecord::Candidates {
                strategy: s.source.clone(),
                lists,
                client_filtered,
            });
            if !to_try.is_empty() {
                return Ok(Selection {
                    models: to_try,
                    records,
                });
            }
        }
        let err = if !refused.is_empty() {
            not_allowed(request_type, &refused)
        } else if resolved.requested {
            GatewayError::NoMatchingModels("every model the client requested was filtered out by the model_selection strategies".to_owned())
        } else {
            GatewayError::SelectionEmpty(
                "every model_selection strategy returned no models".to_owned(),
            )
        };
        Err((err, records))
    }

    /// The candidates whose provider may serve `t` (its `allowed_requests`), in order; the
    /// ids of the providers that may not are added to `refused`.
    fn serving(
        &self,
        mut cands: Vec<Cand>,
        r: &Resolved,
        t: RequestType,
        refused: &mut Vec<String>,
    ) -> Vec<Cand> {
        self.universe
            .retain_serving(&mut cands, |&c| self.cand_provider(c, r), t, refused);
        cands
    }

    /// The cached result of metrics strategy `i` for format `f`, if computed from metrics
    /// of this generation.
    fn metrics_result(
        &self,
        (i, format, generation): (usize, ApiFormat, u64),
    ) -> Option<DigestResult> {
        let cache = self.metrics_results.lock().ok()?;
        match cache.get(&(i, format)) {
            Some((g, d)) if *g == generation => Some(d.clone()),
            _ => None,
        }
    }

    /// `model_selection[]` as the result variables show it.
    pub(crate) fn selection_json(&self, records: &[SelectionRecord], format: ApiFormat) -> Json {
        let at_load = |i: usize| match self.static_selections.get(i).map(|x| x.get(format)) {
            Some(Some(Ok(d))) => Some((&d.returned, &d.allowed_names)),
            _ => None,
        };
        Json::Array(records.iter().map(|r| r.to_json(at_load)).collect())
    }

    /// A strategy-returned (provider id, model id) as an allowed candidate of this format.
    fn lookup(&self, provider: &str, id: &str, format: ApiFormat, r: &Resolved) -> Option<Cand> {
        if let Some(i) = self.universe.find(provider, id)
            && self.universe.allowed(format).contains(&i)
        {
            return Some(Cand::Known(i));
        }
        r.pass
            .iter()
            .position(|p| {
                p.id == id
                    && self
                        .universe
                        .providers
                        .get(p.provider)
                        .is_some_and(|x| x.id == provider)
            })
            .map(Cand::Pass)
    }

    /// The keys to try for one provider, in order, and the `api_key_selection` record.
    pub(crate) fn select_keys<'k>(
        &self,
        keys: &[&'k ProviderKey],
        provider: &str,
        env: &dyn RequestEnv,
        host: &dyn HostApi,
    ) -> KeySelection<'k> {
        if self.key_strategies.is_empty() || keys.is_empty() {
            // No record: the caller (`key_order::candidate_keys`) writes one when the
            // default order is not the config order, which `finish` rebuilds.
            return Ok((keys.to_vec(), Vec::new()));
        }
        let snapshot = host.metrics_snapshot();
        let key_values: Vec<Value> = keys
            .iter()
            .map(|k| key_value(k, provider, &snapshot))
            .collect();
        let ai = map_value(vec![("keys", Value::List(Arc::new(key_values)))]);
        let mut records = Vec::new();
        for s in &self.key_strategies {
            // Key strategies read `ai.keys`, bound here, never `ai.models`: either root
            // serves.
            match s.eval(&self.roots.openai, &[("ai", ai.clone())], Some(env)) {
                Err(e) => {
                    records.push(json!({"strategy": s.source, "error": e}));
                    return Err((
                        GatewayError::KeySelectionFailed(format!("{}: {e}", s.source)),
                        records,
                    ));
                }
                Ok(v) => {
                    let items: Vec<Value> = match v {
                        Value::List(l) => l.as_ref().clone(),
                        m @ Value::Map(_) => vec![m],
                        other => {
                            let got = format!("{:?}", other.type_of());
                            records.push(
                                json!({"strategy": s.source, "error": format!("returned {got}")}),
                            );
                            return Err((
                                GatewayError::KeySelectionFailed(format!(
                                    "'{}' must return a key or a list of keys, got {got}",
                                    s.source
                                )),
                                records,
                            ));
                        }
                    };
                    let chosen: Vec<&ProviderKey> = items
                        .iter()
                        .filter_map(|it| keys.iter().find(|k| k.id == str_field(it, "id")).copied())
                        .collect();
                    records.push(json!({"strategy": s.source, "keys_to_try": chosen.iter().map(|k| k.id.clone()).collect::<Vec<_>>()}));
                    if !chosen.is_empty() {
                        return Ok((chosen, records));
                    }
                }
            }
        }
        Err((
            GatewayError::KeySelectionFailed(
                "every api_key_selection strategy returned no keys".to_owned(),
            ),
            records,
        ))
    }
}

/// `ai` with pass-through models appended to `ai.models`.
fn with_extra_models(ai: &Value, extra: &[Value]) -> Value {
    let Value::Map(Map { map }) = ai else {
        return ai.clone();
    };
    let mut map = map.as_ref().clone();
    let key = Key::String(Arc::new("models".to_owned()));
    let mut models = match map.get(&key) {
        Some(Value::List(l)) => l.as_ref().clone(),
        _ => Vec::new(),
    };
    models.extend(extra.iter().cloned());
    map.insert(key, Value::List(Arc::new(models)));
    Value::Map(Map { map: Arc::new(map) })
}

fn map_value(entries: Vec<(&str, Value)>) -> Value {
    let map: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k.to_owned())), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// (provider_id, id) of each model a strategy returned; `Err(type)` when it returned
/// something else.
fn model_refs(v: &Value) -> Result<Vec<(String, String)>, String> {
    let one = |m: &Value| -> Result<(String, String), String> {
        match (field(m, "provider_id"), field(m, "id")) {
            (Some(Value::String(p)), Some(Value::String(id))) => {
                Ok((p.to_string(), id.to_string()))
            }
            _ => Err(format!("{:?}", m.type_of())),
        }
    };
    match v {
        Value::List(items) => items.iter().map(one).collect(),
        m @ Value::Map(_) => Ok(vec![one(m)?]),
        other => Err(format!("{:?}", other.type_of())),
    }
}

/// `m.metrics` per (provider, model) from the host's snapshot: requests and errors summed
/// over keys, p50 latency averaged weighted by requests (reported as `upstream_ms_avg`),
/// p95 the worst key's. `global`, `region`, `account` and `endpoint` all hold this edge's
/// own observations (a self-hosted gateway has no wider view).
pub fn model_metrics(snapshot: &[TargetMetrics]) -> HashMap<(String, String), Json> {
    let mut groups: HashMap<(String, String), Vec<&TargetMetrics>> = HashMap::new();
    for t in snapshot {
        groups
            .entry((t.provider.clone(), t.model.clone()))
            .or_default()
            .push(t);
    }
    groups
        .into_iter()
        .map(|((p, m), ts)| {
            let requests: u64 = ts.iter().map(|t| t.requests).sum();
            let errors: u64 = ts.iter().map(|t| t.errors).sum();
            let rate = if requests == 0 { 0.0 } else { errors as f64 / requests as f64 };
            let p50 = if requests == 0 { 0.0 } else { ts.iter().map(|t| t.latency_p50_ms * t.requests as f64).sum::<f64>() / requests as f64 };
            let p95 = ts.iter().map(|t| t.latency_p95_ms).fold(0.0, f64::max);
            let scope = metrics_scope(&p, &m, requests, rate, p50, p95);
            let keys: serde_json::Map<String, Json> = ts
                .iter()
                .filter(|t| !t.key_id.is_empty())
                .map(|t| {
                    let mut s = metrics_scope(&p, &m, t.requests, t.error_rate, t.latency_p50_ms, t.latency_p95_ms);
                    s["quota"] = quota_json(t.quota_remaining_requests, t.quota_remaining_tokens);
                    (t.key_id.clone(), s)
                })
                .collect();
            let v = json!({"global": scope, "region": scope, "account": scope, "endpoint": scope, "api_keys": keys});
            ((p, m), v)
        })
        .collect()
}

/// `k` of `ai.keys`: id, value, quota and error rates from the host's metrics.
fn key_value(k: &ProviderKey, provider: &str, snapshot: &[TargetMetrics]) -> Value {
    let mine: Vec<&TargetMetrics> = snapshot
        .iter()
        .filter(|t| t.provider == provider && t.key_id == k.id)
        .collect();
    let requests: u64 = mine.iter().map(|t| t.requests).sum();
    let errors: u64 = mine.iter().map(|t| t.errors).sum();
    let rate = if requests == 0 {
        0.0
    } else {
        errors as f64 / requests as f64
    };
    let rr = mine.iter().filter_map(|t| t.quota_remaining_requests).min();
    let rt = mine.iter().filter_map(|t| t.quota_remaining_tokens).min();
    super::universe::to_cel(&json!({
        "id": k.id,
        "value": k.value,
        "quota": quota_json(rr, rt),
        "error_rate": {"total": rate, "timeout": 0.0, "rate_limit": 0.0, "client": 0.0, "server": 0.0},
    }))
}
