//! `AiGateway::compile`: the action's config turned into a ready [`AiGateway`] at policy
//! load, or every problem found. Each part of the config is checked by its own file:
//! `settings`, `attempt_templates`, `universe_builder` (with `providers` and
//! `provider_keys`), `strategies`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value as Json;

use super::AiGateway;
use super::ai_value::ai_value;
use super::attempt_templates::AttemptTemplates;
use super::catalog::Catalog;
use super::config::ActionConfig;
use super::env::LoadEnv;
use super::per_format::PerFormat;
use super::request_headers::compile_forward_headers;
use super::settings::Settings;
use super::strategies::CompiledStrategies;
use super::strategy::StrategyEnv;
use super::universe_builder::build_universe;
use crate::policy::Diagnostics;

/// Compiles the action's `config`, reporting paths relative to it. `None` when an error
/// was reported.
pub(super) fn compile(
    config: &Json,
    env: &mut dyn LoadEnv,
    d: &mut Diagnostics,
) -> Option<AiGateway> {
    let cfg: ActionConfig = match serde_path_to_error::deserialize(config) {
        Ok(c) => c,
        Err(e) => {
            let path = e.path().to_string();
            d.error(if path == "." { "" } else { &path }, e.inner().to_string());
            return None;
        }
    };
    let catalog = Catalog::builtin().map_err(|e| d.error("", e)).ok()?;

    let settings = Settings::from_config(&cfg, d);
    let templates = AttemptTemplates::compile(&cfg.headers, &cfg.query_params, &cfg.body, env, d);
    let forward_headers = compile_forward_headers(&cfg.forward_headers, d);
    let universe = build_universe(&cfg, &catalog, env, d);
    let senv = StrategyEnv::new().map_err(|e| d.error("", e)).ok()?;
    let strategies = CompiledStrategies::compile(&cfg, &senv, d);
    if d.has_errors() {
        return None;
    }
    let universe = universe?;

    let ai_static = PerFormat::new(|f| ai_value(&universe, f, None));
    let roots = PerFormat::try_new(|f| senv.root(ai_static.get(f).clone()))
        .map_err(|e| d.error("", e))
        .ok()?;
    let mut gw = AiGateway {
        settings,
        headers: templates.headers,
        forward_headers,
        query_params: templates.query_params,
        body: templates.body,
        universe,
        model_strategies: strategies.model,
        key_strategies: strategies.key,
        failover_rule: strategies.failover_rule,
        roots,
        ai_static,
        static_selections: Vec::new(),
        metrics_cache: Mutex::new(None),
        metrics_results: Mutex::new(HashMap::new()),
    };
    gw.static_selections = gw.static_selections();
    Some(gw)
}
