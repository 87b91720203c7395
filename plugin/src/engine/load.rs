//! Policy text to a [`LoadedPolicy`]: parse, check every rule and action, compile every
//! expression, and report all problems at once.

use super::{LoadedPolicy, Rule};
use crate::actions::catalog::{self, ActionInfo};
use crate::actions::{Action, Compiler};
use crate::cel_env::{CelEnv, Scope};
use crate::host_api::HostApi;
use crate::model::{Diagnostic, LoadOptions, LoadSummary, Severity};
use crate::policy::{self, Diagnostics, Phase, PathIndex, RuleDoc};

/// Loads a policy. `Err` holds every diagnostic (errors and warnings) in document order;
/// on success the warnings ride in the summary.
pub fn load(text: &str, options: &LoadOptions, host: &dyn HostApi) -> Result<LoadedPolicy, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    let Some(parsed) = policy::parse(text, &mut diags) else {
        return Err(diags.into_sorted());
    };
    let mut cel = CelEnv::new(options.check_only).map_err(|e| vec![internal(e)])?;
    let rules_of = |phase: Phase, cel: &mut CelEnv, diags: &mut Diagnostics| {
        let mut out = Vec::new();
        let mut ended_by: Option<String> = None;
        for rule in parsed.doc.rules(phase) {
            let compiled = compile_rule(rule, phase, &ended_by, cel, host, &parsed.index, diags);
            if rule.expressions.is_empty()
                && let Some(term) = rule.actions.iter().find(|a| catalog::info(&a.kind).is_some_and(|i| i.terminating))
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
        return Err(diags.into_sorted());
    }
    let (_, warnings) = diags.split();
    let summary = LoadSummary {
        needs_body: cel.reads_body(),
        has_response_rules: !response_rules.is_empty(),
        request_rules: u32::try_from(request_rules.len()).unwrap_or(u32::MAX),
        response_rules: u32::try_from(response_rules.len()).unwrap_or(u32::MAX),
        warnings,
    };
    let secrets = cel.secret_values();
    Ok(LoadedPolicy {
        ev: cel.into_evaluator(),
        endpoint: options.endpoint.clone(),
        request_rules,
        response_rules,
        summary,
        secrets,
    })
}

fn compile_rule(
    doc: &RuleDoc,
    phase: Phase,
    ended_by: &Option<String>,
    cel: &mut CelEnv,
    host: &dyn HostApi,
    index: &PathIndex,
    diags: &mut Diagnostics,
) -> Option<Rule> {
    let scope = match phase {
        Phase::Request => Scope::Request,
        Phase::Response => Scope::Response,
    };
    let mut c = Compiler { cel, host, index, diags, scope };
    let mut ok = true;
    let mut exprs = Vec::with_capacity(doc.expressions.len());
    for e in &doc.expressions {
        match c.expr_source(&e.source, &e.path) {
            Some(x) => exprs.push(x),
            None => ok = false,
        }
    }
    let mut actions = Vec::with_capacity(doc.actions.len());
    let mut terminated: Option<&str> = None;
    for (i, action) in doc.actions.iter().enumerate() {
        let type_path = format!("{}.type", action.path);
        let Some(info) = catalog::info(&action.kind) else {
            c.error(
                &type_path,
                format!("unknown action type `{}`; known types: {}", action.kind, catalog::known_kinds()),
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
                format!("action `{}` is unreachable: `{prev}` before it always ends the phase", action.kind),
            );
            ok = false;
        } else if i == 0
            && let Some(prev) = ended_by
        {
            c.error(
                &type_path,
                format!("action `{}` is unreachable: {prev} always ends the phase before this rule", action.kind),
            );
            ok = false;
        }
        if info.terminating {
            terminated.get_or_insert(info.kind);
        }
        if info.kind == "ai-gateway" {
            c.error(&type_path, "the `ai-gateway` action is not available in this build yet");
            ok = false;
            continue;
        }
        match Action::compile(action, &mut c) {
            Some(a) => actions.push(a),
            None => ok = false,
        }
    }
    ok.then(|| Rule {
        label: doc.label().to_string(),
        exprs,
        actions,
    })
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
