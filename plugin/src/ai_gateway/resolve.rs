//! The client's `model` / `models` turned into candidates (docs/ai-gateway.md, "Model
//! resolution"): `provider:model`
//! split on the first `:` when the prefix names a provider, catalog/config lookup by id or
//! alias (case-insensitive), then `provider/model` split on the first `/` when the prefix
//! names a configured provider, `ngrok/auto` (or no model) for automatic selection, unknown
//! models passed through only behind a known provider prefix, a `provider:` name with no
//! model flagged (the plan answers it with a 400), and every rejected name recorded with its
//! reason.

use serde_json::Value as Json;

use super::config::ModelConfig;
use super::surface::format_name;
use super::universe::{ModelEntry, Universe, model_json};
use crate::model::ApiFormat;

/// The name a client uses to ask for automatic selection.
pub const AUTO_MODEL: &str = "ngrok/auto";

/// A model candidate: a model of the universe, or a pass-through model of this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cand {
    Known(usize),
    Pass(usize),
}

/// A model the client named behind a known provider that the catalog does not list.
#[derive(Debug, Clone)]
pub struct PassThrough {
    pub provider: usize,
    pub id: String,
    pub cel: Json,
}

/// The outcome of resolving the client's model names.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The client named at least one model (strategies then only filter).
    pub requested: bool,
    /// Candidates in client order, without repeats.
    pub candidates: Vec<Cand>,
    pub pass: Vec<PassThrough>,
    /// `client.rejected_models`: (model, reason).
    pub rejected: Vec<(String, String)>,
    /// Some name matched only models of the other API format.
    pub wrong_format: bool,
    /// A `provider:` name with nothing after the colon: the client's mistake, answered
    /// with a 400 before anything is selected (never sent upstream as `"model": ""`).
    pub empty_model: Option<EmptyModel>,
}

/// A `provider:` name whose model part is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyModel {
    /// The name as the client wrote it.
    pub name: String,
    /// The provider id the prefix named.
    pub provider: String,
}

impl std::fmt::Display for EmptyModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "model \"{}\" names provider '{}' but no model; write \"{}:<model id>\"",
            self.name, self.provider, self.provider
        )
    }
}

pub fn resolve(
    u: &Universe,
    format: ApiFormat,
    names: &[String],
    only_configured_models: bool,
) -> Resolved {
    let mut r = Resolved::default();
    for name in names {
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case(AUTO_MODEL) {
            continue;
        }
        r.requested = true;
        let before = r.candidates.len();
        if let Some(reason) = resolve_one(u, format, name, only_configured_models, &mut r)
            && r.candidates.len() == before
        {
            r.rejected.push((name.to_owned(), reason));
        }
    }
    r
}

fn push(r: &mut Resolved, c: Cand) {
    if !r.candidates.contains(&c) {
        r.candidates.push(c);
    }
}

/// Adds the candidates of one name; returns the rejection reason when none fit.
///
/// Precedence (docs/ai-gateway.md, "Model resolution"): `provider:model` when the part
/// before the first `:` names a provider; else the whole name as a model id or alias
/// (`meta-llama/Meta-Llama-3.1-70B-Instruct` stays one id); else `provider/model` when the
/// part before the first `/` names a configured provider.
fn resolve_one(
    u: &Universe,
    format: ApiFormat,
    name: &str,
    only_configured: bool,
    r: &mut Resolved,
) -> Option<String> {
    if let Some(prefixed) = split_prefix(u, name, ':', false) {
        return prefixed.resolve(u, format, name, only_configured, r);
    }
    // Bare name (or a prefix that names no provider: the whole string is a model id).
    let matches: Vec<usize> = u
        .models
        .iter()
        .enumerate()
        .filter(|(_, m)| m.answers_to(name))
        .map(|(i, _)| i)
        .collect();
    if matches.is_empty() {
        if let Some(prefixed) = split_prefix(u, name, '/', true) {
            return prefixed.resolve(u, format, name, only_configured, r);
        }
        return Some(format!(
            "client supplied model (\"{name}\") did not match any known models and a provider could not be parsed"
        ));
    }
    let mut reasons: Vec<String> = Vec::new();
    for i in matches {
        let Some(m) = u.models.get(i) else { continue };
        if let Some(e) = &m.excluded {
            add_reason(&mut reasons, e.clone());
        } else if !u.provider_allowed(m.provider, format) {
            r.wrong_format = true;
            add_reason(
                &mut reasons,
                format!(
                    "model '{}' is not served in the {} API format",
                    m.id,
                    format_name(format)
                ),
            );
        } else {
            push(r, Cand::Known(i));
        }
    }
    joined(reasons)
}

/// A name split at its first `sep` whose prefix names providers.
struct Prefixed<'n> {
    providers: Vec<usize>,
    model: &'n str,
}

/// `name` split at its first `sep`, when the part before it is a provider's id or alias
/// (only a `configured_only` provider, listed in `providers[]`, if so asked).
fn split_prefix<'n>(
    u: &Universe,
    name: &'n str,
    sep: char,
    configured_only: bool,
) -> Option<Prefixed<'n>> {
    let (prefix, model) = name.split_once(sep)?;
    let providers: Vec<usize> = u
        .providers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.answers_to(prefix) && (p.configured || !configured_only))
        .map(|(i, _)| i)
        .collect();
    (!providers.is_empty()).then_some(Prefixed { providers, model })
}

impl Prefixed<'_> {
    /// The candidates of the named providers' model; a name with nothing after the
    /// separator is flagged as the client's mistake.
    fn resolve(
        &self,
        u: &Universe,
        format: ApiFormat,
        name: &str,
        only_configured: bool,
        r: &mut Resolved,
    ) -> Option<String> {
        if self.model.trim().is_empty() {
            let empty = EmptyModel {
                name: name.to_owned(),
                provider: self
                    .providers
                    .first()
                    .and_then(|&i| u.providers.get(i))
                    .map(|p| p.id.clone())
                    .unwrap_or_default(),
            };
            let reason = empty.to_string();
            r.empty_model.get_or_insert(empty);
            return Some(reason);
        }
        resolve_prefixed(u, format, &self.providers, self.model, only_configured, r)
    }
}

fn add_reason(reasons: &mut Vec<String>, reason: String) {
    if !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

/// Every distinct reason a name was excluded, most specific (configured) first.
fn joined(reasons: Vec<String>) -> Option<String> {
    if reasons.is_empty() {
        None
    } else {
        Some(reasons.join("; "))
    }
}

fn resolve_prefixed(
    u: &Universe,
    format: ApiFormat,
    providers: &[usize],
    model: &str,
    only_configured: bool,
    r: &mut Resolved,
) -> Option<String> {
    let mut reasons: Vec<String> = Vec::new();
    for &pi in providers {
        let Some(p) = u.providers.get(pi) else {
            continue;
        };
        if let Some(e) = &p.excluded {
            add_reason(&mut reasons, e.clone());
            continue;
        }
        if !p.formats.contains(&format) {
            r.wrong_format = true;
            add_reason(
                &mut reasons,
                format!(
                    "provider '{}' does not serve the {} API format",
                    p.id,
                    format_name(format)
                ),
            );
            continue;
        }
        let found = u
            .models
            .iter()
            .enumerate()
            .find(|(_, m)| m.provider == pi && m.answers_to(model));
        match found {
            Some((i, m)) => match &m.excluded {
                Some(e) => add_reason(&mut reasons, e.clone()),
                None => push(r, Cand::Known(i)),
            },
            None if only_configured => {
                add_reason(
                    &mut reasons,
                    format!(
                        "model '{model}' is not configured for provider '{}' (only_allow_configured_models)",
                        p.id
                    ),
                );
            }
            None => {
                // Known provider, unknown model: passed through as written, so a model the
                // catalog does not list yet still works.
                let idx = match r
                    .pass
                    .iter()
                    .position(|x| x.provider == pi && x.id == model)
                {
                    Some(i) => i,
                    None => {
                        let entry = ModelEntry {
                            config: ModelConfig {
                                id: model.to_owned(),
                                ..ModelConfig::default()
                            },
                            known: false,
                            configured: false,
                        };
                        r.pass.push(PassThrough {
                            provider: pi,
                            id: model.to_owned(),
                            cel: model_json(p, &entry),
                        });
                        r.pass.len() - 1
                    }
                };
                push(r, Cand::Pass(idx));
            }
        }
    }
    joined(reasons)
}
