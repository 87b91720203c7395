//! Policy text to a [`LoadedPolicy`]: parse, check every rule and action, compile every
//! expression, and report all problems at once.

use super::gateway_env::GatewayLoadEnv;
use super::{LoadedPolicy, Rule, Step};
use crate::actions::catalog::{self, ActionInfo};
use crate::actions::{Action, Compiler};
use crate::ai_gateway::AiGateway;
use crate::cel_env::Template;
use crate::cel_env::{CelEnv, Scope};
use crate::host_api::HostApi;
use crate::model::{Diagnostic, LoadOptions, LoadSummary, ProviderUrl, Severity};
use crate::policy::{self, ActionDoc, Diagnostics, PathIndex, Phase, RuleDoc};

/// Loads a policy. `Err` holds every diagnostic (errors and warnings) in document order;
/// on success the warnings ride in the summary.
pub fn load(
    text: &str,
    options: &LoadOptions,
    host: &dyn HostApi,
) -> Result<LoadedPolicy, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    let Some(parsed) = policy::parse(text, &mut diags) else {
        return Err(diags.into_sorted(&PathIndex::default()));
    };
    let mut cel = CelEnv::new(options.check_only).map_err(|e| vec![internal(e)])?;
    let mut gateway = GatewaySlot::default();
    let mut rules_of = |phase: Phase, cel: &mut CelEnv, diags: &mut Diagnostics| {
        let mut out = Vec::new();
        let mut ended_by: Option<String> = None;
        for rule in parsed.doc.rules(phase) {
            let mut ctx = RuleCtx {
                phase,
                ended_by: &ended_by,
                cel,
                host,
                diags,
                gateway: &mut gateway,
            };
            let compiled = compile_rule(rule, &mut ctx);
            if rule.expressions.is_empty()
                && let Some(term) = rule
                    .actions
                    .iter()
                    .find(|a| catalog::info(&a.kind).is_some_and(|i| i.terminating))
            {
                ended_by.get_or_insert_with(|| format!("`{}` at {}", term.kind, term.path));
            }
            if let Some(r) = compiled {
                out.push(r);
            }
        }
        out
    };
    let request_rules = rules_of(Phase::Request, &mut cel, &mut diags);
    let response_rules = rules_of(Phase::Response, &mut cel, &mut diags);
    if diags.has_errors() {
        return Err(diags.into_sorted(&parsed.index));
    }
    let (_, warnings) = diags.split(&parsed.index);
    let summary = LoadSummary {
        // The ai-gateway action reads the model (and more) from the body.
        needs_body: cel.reads_body() || gateway.count > 0,
        has_response_rules: !response_rules.is_empty(),
        request_rules: u32::try_from(request_rules.len()).unwrap_or(u32::MAX),
        response_rules: u32::try_from(response_rules.len()).unwrap_or(u32::MAX),
        warnings,
        provider_urls: gateway
            .base_urls
            .iter()
            .map(|(url, path)| {
                let pos = parsed.index.locate(path);
                ProviderUrl {
                    url: url.clone(),
                    line: pos.line,
                    column: pos.column,
                    path: path.clone(),
                }
            })
            .collect(),
    };
    let secrets = cel.secret_values();
    Ok(LoadedPolicy {
        ev: cel.into_evaluator(),
        endpoint: options.endpoint.clone(),
        request_rules,
        response_rules,
        summary,
        secrets,
        gateway_templates: gateway.templates,
    })
}

/// The ai-gateway action's share of a load: at most one per policy, and the templates it
/// compiled through `LoadEnv`.
#[derive(Default)]
struct GatewaySlot {
    count: usize,
    templates: Vec<Template>,
    /// (`providers[].base_url` as written, its document path), for the load summary.
    base_urls: Vec<(String, String)>,
}

/// What compiling one rule needs.
struct RuleCtx<'a> {
    phase: Phase,
    ended_by: &'a Option<String>,
    cel: &'a mut CelEnv,
    host: &'a dyn HostApi,
    diags: &'a mut Diagnostics,
    gateway: &'a mut GatewaySlot,
}

fn compile_rule(doc: &RuleDoc, rc: &mut RuleCtx<'_>) -> Option<Rule> {
    let phase = rc.phase;
    let ended_by = rc.ended_by;
    let scope = match phase {
        Phase::Request => Scope::Request,
        Phase::Response => Scope::Response,
    };
    let mut c = Compiler {
        cel: &mut *rc.cel,
        host: rc.host,
        diags: &mut *rc.diags,
        scope,
    };
    let mut ok = true;
    let mut exprs = Vec::with_capacity(doc.expressions.len());
    for e in &doc.expressions {
        match c.expr_source(&e.source, &e.path) {
            // A rule expression must be a boolean; one that reads nothing per request is
            // checked now.
            Some(x) if x.refs.is_constant() => match c.cel.eval_static_expr(&x) {
                Ok(cel::Value::Bool(_)) => exprs.push(x),
                Ok(other) => {
                    c.error(
                        &e.path,
                        format!(
                            "expression `{}` produces {other:?}, not a boolean",
                            e.source
                        ),
                    );
                    ok = false;
                }
                Err(message) => {
                    c.error(&e.path, message);
                    ok = false;
                }
            },
            Some(x) => exprs.push(x),
            None => ok = false,
        }
    }
    let mut steps = Vec::with_capacity(doc.actions.len());
    let mut terminated: Option<&str> = None;
    for (i, action) in doc.actions.iter().enumerate() {
        let type_path = format!("{}.type", action.path);
        let Some(info) = catalog::info(&action.kind) else {
            c.error(
                &type_path,
                format!(
                    "unknown action type `{}`; known types: {}",
                    action.kind,
                    catalog::known_kinds()
                ),
            );
            ok = false;
            continue;
        };
        if !info.phases.contains(&phase) {
            c.error(&type_path, phase_message(info, phase));
            ok = false;
            continue;
        }
        if let Some(prev) = terminated {
            c.error(
                &type_path,
                format!(
                    "action `{}` is unreachable: `{prev}` before it always ends the phase",
                    action.kind
                ),
            );
            ok = false;
        } else if i == 0
            && let Some(prev) = ended_by
        {
            c.error(
                &type_path,
                format!(
                    "action `{}` is unreachable: {prev} always ends the phase before this rule",
                    action.kind
                ),
            );
            ok = false;
        }
        if info.terminating {
            terminated.get_or_insert(info.kind);
        }
        if info.kind == "ai-gateway" {
            rc.gateway.count += 1;
            if rc.gateway.count > 1 {
                c.error(
                    &type_path,
                    "only one `ai-gateway` action is allowed per policy",
                );
                ok = false;
                continue;
            }
            rc.gateway.base_urls = configured_base_urls(action);
            match compile_gateway(action, &mut c, &mut rc.gateway.templates) {
                Some(gw) => steps.push(Step::Gateway(Box::new(gw))),
                None => ok = false,
            }
            continue;
        }
        match Action::compile(action, &mut c) {
            Some(a) => steps.push(Step::Action(a)),
            None => ok = false,
        }
    }
    ok.then(|| Rule {
        label: doc.label().to_string(),
        exprs,
        steps,
    })
}

/// Compiles the ai-gateway action, which reports its diagnostics by paths relative to its
/// `config`.
fn compile_gateway(
    action: &ActionDoc,
    c: &mut Compiler<'_>,
    templates: &mut Vec<Template>,
) -> Option<AiGateway> {
    let config = action.config.as_ref().map_or_else(
        || serde_json::Value::Object(serde_json::Map::new()),
        |n| n.to_json(),
    );
    let mut env = GatewayLoadEnv {
        cel: &mut *c.cel,
        host: c.host,
        templates,
        warnings: Vec::new(),
    };
    c.diags.within(&format!("{}.config", action.path), |diags| {
        let compiled = AiGateway::compile(&config, &mut env, diags);
        // Warnings the CEL environment raised (missing secrets under `edge check`).
        for w in std::mem::take(&mut env.warnings) {
            diags.warning("", w);
        }
        compiled
    })
}

/// Every `providers[i].base_url` string the action's config writes, with its path.
fn configured_base_urls(action: &ActionDoc) -> Vec<(String, String)> {
    let Some(config) = action.config.as_ref().map(|n| n.to_json()) else {
        return Vec::new();
    };
    let Some(providers) = config.get("providers").and_then(|p| p.as_array()) else {
        return Vec::new();
    };
    providers
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let url = p.get("base_url")?.as_str()?;
            Some((
                url.to_owned(),
                format!("{}.config.providers[{i}].base_url", action.path),
            ))
        })
        .collect()
}

fn phase_message(info: &ActionInfo, phase: Phase) -> String {
    let allowed: Vec<&str> = info.phases.iter().map(|p| p.key()).collect();
    format!(
        "action `{}` cannot run in `{}`; it runs in: {}",
        info.kind,
        phase.key(),
        allowed.join(", ")
    )
}

fn internal(message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message: format!("internal error preparing the CEL environment: {message}"),
        line: 0,
        column: 0,
        path: String::new(),
    }
}
