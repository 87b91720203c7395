//! The config an attempt sends beyond the client's request — `headers`, `query_params`
//! and `body` — compiled at load through the engine's `${…}` templates.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::env::LoadEnv;
use super::templates::{BodyTemplate, Template, scalar_text};
use super::validate;
use crate::policy::Diagnostics;

/// Body fields the gateway decides per attempt, which a policy's `body` may not set.
const RESERVED_BODY_FIELDS: [&str; 3] = ["model", "models", "stream"];

/// The compiled `headers`, `query_params` and `body`.
pub(super) struct AttemptTemplates {
    /// (lower-cased header name, value).
    pub headers: Vec<(String, Template)>,
    pub query_params: Vec<(String, Template)>,
    pub body: BodyTemplate,
}

impl AttemptTemplates {
    /// Runs at load; every field that fails is reported and left out.
    pub(super) fn compile(
        headers: &BTreeMap<String, Json>,
        query_params: &BTreeMap<String, Json>,
        body: &serde_json::Map<String, Json>,
        env: &mut dyn LoadEnv,
        d: &mut Diagnostics,
    ) -> AttemptTemplates {
        let headers = templates_of("headers", headers, env, d, true);
        let query_params = templates_of("query_params", query_params, env, d, false);
        let compiled_body = match BodyTemplate::compile(body, env) {
            Ok(b) => b,
            Err(errors) => {
                for (pointer, e) in errors {
                    d.error(&format!("body{}", pointer.replace('/', ".")), e);
                }
                BodyTemplate::default()
            }
        };
        for reserved in RESERVED_BODY_FIELDS {
            if body.contains_key(reserved) {
                d.error(
                    &format!("body.{reserved}"),
                    format!(
                        "'{reserved}' is decided per attempt by the gateway and cannot be set in body"
                    ),
                );
            }
        }
        AttemptTemplates {
            headers,
            query_params,
            body: compiled_body,
        }
    }
}

/// `headers` or `query_params` (the action's or a provider's): each value a scalar, header
/// names checked and lower-cased.
pub(super) fn templates_of(
    field: &str,
    map: &BTreeMap<String, Json>,
    env: &mut dyn LoadEnv,
    d: &mut Diagnostics,
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
