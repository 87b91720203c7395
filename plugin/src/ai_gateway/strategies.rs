//! The policy's CEL at load: `model_selection` and `api_key_selection` strategies and the
//! `failover.rule`, each compiled through [`StrategyEnv`] (see `strategy.rs`).

use super::config::ActionConfig;
use super::strategy::{Dependence, Kind, Strategy, StrategyEnv};
use crate::policy::Diagnostics;

/// Every strategy and rule of the config, compiled.
pub(super) struct CompiledStrategies {
    pub model: Vec<Strategy>,
    pub key: Vec<Strategy>,
    pub failover_rule: Option<Strategy>,
}

impl CompiledStrategies {
    /// Runs at load; an expression that does not compile is reported and left out.
    pub(super) fn compile(
        cfg: &ActionConfig,
        senv: &StrategyEnv,
        d: &mut Diagnostics,
    ) -> CompiledStrategies {
        let model = strategy_list(
            "model_selection",
            cfg.model_selection.as_ref().map(|s| &s.strategy),
            senv,
            d,
        );
        let key = strategy_list(
            "api_key_selection",
            cfg.api_key_selection.as_ref().map(|s| &s.strategy),
            senv,
            d,
        );
        let failover_rule = cfg
            .failover
            .as_ref()
            .and_then(|f| f.rule.as_ref())
            .and_then(|rule| match senv.compile(rule, Kind::Failover) {
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
        CompiledStrategies {
            model,
            key,
            failover_rule,
        }
    }
}

fn strategy_list(
    field: &str,
    list: Option<&Vec<String>>,
    senv: &StrategyEnv,
    d: &mut Diagnostics,
) -> Vec<Strategy> {
    let mut out = Vec::new();
    for (i, source) in list.into_iter().flatten().enumerate() {
        match senv.compile(source, Kind::Selection) {
            Ok(s) => out.push(s),
            Err(e) => d.error(
                &format!("{field}.strategy[{i}]"),
                format!("invalid strategy: {e}"),
            ),
        }
    }
    out
}
