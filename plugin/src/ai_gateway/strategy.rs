//! `model_selection` / `api_key_selection` strategies: CEL compiled once at load with
//! the `cel` crate, in an environment of the standard library, the strings and lists
//! extensions, and the functions of `strategy_functions`.
//!
//! Each strategy is classified at load by what it reads, which decides how often it runs:
//! - [`Dependence::Static`]: only `ai.*` without metrics → evaluated once per load and
//!   cached (the common case: `ai.models.filter(m, m.provider_id == 'openai')`);
//! - [`Dependence::Metrics`]: reads `metrics`/`quota`/`error_rate` → re-evaluated when the
//!   host's metrics generation changes;
//! - [`Dependence::Request`]: reads a request variable (`req`, `vars`, …) or calls
//!   `random`/`randomize` → evaluated per request.

use std::collections::HashSet;
use std::sync::Arc;

use cel::common::ast::Expr;
use cel::{Context, Env, IdedExpr, Program, Value};

use super::env::{REQUEST_VARIABLES, RequestEnv};
use super::strategy_functions::{self, FUNCTIONS, STANDARD_FUNCTIONS};

/// How often a strategy's result can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependence {
    Static,
    Metrics,
    Request,
}

/// One compiled strategy expression.
pub struct Strategy {
    pub source: String,
    program: Program,
    pub dependence: Dependence,
    /// The request variables it reads, fetched from [`RequestEnv::variable`] per request.
    request_vars: Vec<&'static str>,
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strategy")
            .field("source", &self.source)
            .field("dependence", &self.dependence)
            .finish_non_exhaustive()
    }
}

/// The CEL environment strategies compile and run in.
pub struct StrategyEnv {
    env: Arc<Env>,
}

impl StrategyEnv {
    pub fn new() -> Result<StrategyEnv, String> {
        let mut env = Env::stdlib();
        env.add_extension(cel::extensions::strings)
            .map_err(|e| e.to_string())?;
        env.add_extension(cel::extensions::lists)
            .map_err(|e| e.to_string())?;
        Ok(StrategyEnv { env: Arc::new(env) })
    }

    /// A root context with our functions and `ai` bound, for one API format.
    pub fn root(&self, ai: Value) -> Result<Context<'static, 'static>, String> {
        let mut ctx = Context::with_env(self.env.clone());
        strategy_functions::register(&mut ctx)?;
        ctx.add_variable_from_value("ai", ai);
        Ok(ctx)
    }

    /// Compiles a strategy, rejecting unknown functions and variables. `extra_roots` are
    /// the variables allowed besides `ai` and the request ones (e.g. `attempt` for a
    /// failover rule).
    pub fn compile(&self, source: &str, extra_roots: &[&str]) -> Result<Strategy, String> {
        let program = self.env.compile(source).map_err(|e| e.to_string())?;
        let refs = program.references();
        let mut bound = HashSet::new();
        comprehension_vars(program.expression(), &mut bound);
        let mut request_vars = Vec::new();
        for var in refs.variables() {
            if var == "ai" || bound.contains(var) || extra_roots.contains(&var) {
                continue;
            }
            match REQUEST_VARIABLES.iter().find(|r| **r == var) {
                Some(r) => request_vars.push(*r),
                None => return Err(format!("undeclared variable '{var}'")),
            }
        }
        let mut random = false;
        for func in refs.functions() {
            if func == "random" || func == "randomize" {
                random = true;
            }
            if !(strategy_functions::is_operator(func)
                || FUNCTIONS.contains(&func)
                || STANDARD_FUNCTIONS.contains(&func))
            {
                return Err(format!("unknown function '{func}'"));
            }
        }
        request_vars.sort_unstable();
        let dependence = if random || !request_vars.is_empty() {
            Dependence::Request
        } else if ["metrics", "quota", "error_rate"]
            .iter()
            .any(|w| source.contains(w))
        {
            Dependence::Metrics
        } else {
            Dependence::Static
        };
        Ok(Strategy {
            source: source.to_owned(),
            program,
            dependence,
            request_vars,
        })
    }
}

impl Strategy {
    /// Runs the strategy. `bindings` override root variables (e.g. an `ai` with metrics or
    /// with pass-through models, or `attempt`); request variables come from `req`.
    pub fn eval(
        &self,
        root: &Context<'static, 'static>,
        bindings: &[(&str, Value)],
        req: Option<&dyn RequestEnv>,
    ) -> Result<Value, String> {
        let mut scope = root.new_inner_scope();
        for (name, value) in bindings {
            scope.add_variable_from_value(*name, value.clone());
        }
        if let Some(req) = req {
            for name in &self.request_vars {
                if let Some(v) = req.variable(name) {
                    scope.add_variable_from_value(*name, v);
                }
            }
        }
        self.program.execute(&scope).map_err(|e| e.to_string())
    }
}

/// Names bound by macros (`m` in `filter(m, …)`), which are not free variables.
fn comprehension_vars<'a>(e: &'a IdedExpr, out: &mut HashSet<&'a str>) {
    match &e.expr {
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                comprehension_vars(t, out);
            }
            for a in &call.args {
                comprehension_vars(a, out);
            }
        }
        Expr::Comprehension(c) => {
            out.insert(c.iter_var.as_str());
            if let Some(v2) = &c.iter_var2 {
                out.insert(v2.as_str());
            }
            out.insert(c.accu_var.as_str());
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                comprehension_vars(part, out);
            }
        }
        Expr::List(l) => {
            for x in &l.elements {
                comprehension_vars(x, out);
            }
        }
        Expr::Select(s) => comprehension_vars(&s.operand, out),
        _ => {}
    }
}
