//! `model_selection` / `api_key_selection` strategies and the `failover.rule`: CEL compiled
//! once at load in the plugin's shared environment (`cel_env::environment`), with the
//! functions of `strategy_functions` on top of the standard ones.
//!
//! Each strategy is classified at load by what it reads (the analysis of `cel_env::refs`),
//! which decides how often it runs:
//! - [`Dependence::Static`]: only `ai.*` without metrics → evaluated once per load and
//!   cached (the common case: `ai.models.filter(m, m.provider_id == 'openai')`);
//! - [`Dependence::Metrics`]: selects a `metrics`, `quota` or `error_rate` field → re-evaluated
//!   when the host's metrics generation changes;
//! - [`Dependence::Request`]: reads a request variable (`req`, `vars`, …) or calls
//!   `random`/`randomize` → evaluated per request.

use std::sync::Arc;

use cel::{Context, Env, Program, Value};

use super::env::RequestEnv;
use super::strategy_functions::{self, FUNCTIONS};
use crate::cel_env::names::REQUEST_ROOTS;
use crate::cel_env::refs::Refs;
use crate::cel_env::{Problem, Variables, Vocabulary, environment};

/// The fields of `ai.models[]`/`ai.keys[]` that carry the host's metrics: a strategy that
/// selects one depends on the metrics generation.
const METRICS_FIELDS: &[&str] = &["metrics", "quota", "error_rate"];

/// Which names a strategy or failover rule may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `model_selection` / `api_key_selection`: `ai` and the request's variables.
    Selection,
    /// `failover.rule`: `attempt` as well.
    Failover,
}

impl Kind {
    fn vocabulary(self) -> Vocabulary<'static> {
        Vocabulary {
            functions: FUNCTIONS,
            namespaces: &[],
            // A failover rule may name the request's roots too; the caller refuses them, as
            // a failover rule runs without a request.
            variables: Variables::RequestRoots(match self {
                Kind::Selection => &["ai"],
                Kind::Failover => &["ai", "attempt"],
            }),
        }
    }
}

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
    /// The request roots it reads (from the analysis), fetched whole from
    /// [`RequestEnv::variable`] per request. Whole, not through the rules' lazy resolver:
    /// in a strategy `req.url` is the map whose `raw` is the URL, in a rule the URL string.
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

/// The CEL environment strategies compile and run in: the shared one.
pub struct StrategyEnv {
    env: Arc<Env>,
}

impl StrategyEnv {
    pub fn new() -> Result<StrategyEnv, String> {
        let env = environment::shared().map_err(|e| e.to_string())?;
        Ok(StrategyEnv { env })
    }

    /// A root context with our functions and `ai` bound, for one API format.
    pub fn root(&self, ai: Value) -> Result<Context<'static, 'static>, String> {
        let mut ctx = environment::root().map_err(|e| e.to_string())?;
        strategy_functions::register(&mut ctx)?;
        ctx.add_variable_from_value("ai", ai);
        Ok(ctx)
    }

    /// Compiles a strategy or failover rule, rejecting unknown functions and variables.
    pub fn compile(&self, source: &str, kind: Kind) -> Result<Strategy, String> {
        let program = self.env.compile(source).map_err(|e| e.to_string())?;
        let vocabulary = kind.vocabulary();
        let refs = vocabulary.refs(program.expression());
        if let Some(problem) = first_problem(vocabulary.check(&refs)) {
            return Err(problem);
        }
        let mut request_vars: Vec<&'static str> = refs
            .roots()
            .filter_map(|root| REQUEST_ROOTS.iter().copied().find(|r| *r == root))
            .collect();
        request_vars.dedup();
        Ok(Strategy {
            source: source.to_owned(),
            program,
            dependence: dependence(&refs, !request_vars.is_empty()),
            request_vars,
        })
    }
}

/// How often a strategy's result can change, from what it reads.
fn dependence(refs: &Refs, reads_request: bool) -> Dependence {
    if reads_request || refs.calls_nondeterministic() {
        Dependence::Request
    } else if METRICS_FIELDS.iter().any(|f| refs.fields.contains(*f)) {
        Dependence::Metrics
    } else {
        Dependence::Static
    }
}

/// The message of a strategy's load error: the first unknown variable, else the first
/// unknown function, else the first misused call.
fn first_problem(problems: Vec<Problem>) -> Option<String> {
    let rank = |p: &Problem| match p {
        Problem::Variable { .. } => 0,
        Problem::UnknownFunction(_) => 1,
        Problem::Call(_) => 2,
    };
    let problem = problems.into_iter().min_by_key(rank)?;
    Some(match problem {
        Problem::Variable { root, .. } => format!("undeclared variable '{root}'"),
        Problem::UnknownFunction(name) => format!("unknown function '{name}'"),
        Problem::Call(message) => message,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(source: &str) -> Result<Strategy, String> {
        StrategyEnv::new().unwrap().compile(source, Kind::Selection)
    }

    fn eval(source: &str) -> Value {
        let env = StrategyEnv::new().unwrap();
        let root = env.root(Value::Null).unwrap();
        let strategy = env.compile(source, Kind::Selection).unwrap();
        strategy.eval(&root, &[], None).unwrap()
    }

    /// Strategies share the standard functions of policy rules: the namespaced ones
    /// (`lists.range`, `math.*`, `strings.quote`) and `existsOne` load now, and `max`,
    /// `min` and `quote`, which loaded before but had no implementation, now run.
    #[test]
    fn strategies_call_the_shared_standard_functions() {
        for (source, expected) in [
            ("lists.range(3)", "[0, 1, 2]"),
            ("math.ceil(1.2)", "2.0"),
            ("strings.quote('a') == quote('a')", "true"),
            ("[1, 2].existsOne(x, x == 2)", "true"),
            ("max(1, 3, 2)", "3"),
            ("min([4, 2])", "2"),
        ] {
            let expected = eval(expected);
            assert_eq!(eval(source), expected, "{source}");
        }
    }

    #[test]
    fn unknown_names_name_the_first_problem() {
        assert_eq!(
            compile("foo.models.bogus()").unwrap_err(),
            "undeclared variable 'foo'"
        );
        assert_eq!(
            compile("ai.models.bogus()").unwrap_err(),
            "unknown function 'bogus'"
        );
        assert_eq!(
            compile("json.decode('1')").unwrap_err(),
            "undeclared variable 'json'"
        );
        // A failover rule may read `attempt`; a selection strategy may not.
        assert!(compile("attempt.status == 429").is_err());
        let env = StrategyEnv::new().unwrap();
        assert!(env.compile("attempt.status == 429", Kind::Failover).is_ok());
    }

    #[test]
    fn dependence_follows_what_the_strategy_reads() {
        let dep = |source: &str| compile(source).unwrap().dependence;
        assert_eq!(dep("ai.models"), Dependence::Static);
        assert_eq!(
            dep("ai.models.filter(m, m['metrics'] != null)"),
            Dependence::Metrics
        );
        assert_eq!(
            dep("ai.keys.filter(k, k.quota.remaining_requests > 0)"),
            Dependence::Metrics
        );
        assert_eq!(dep("ai.models.randomize()"), Dependence::Request);
        assert_eq!(
            dep("ai.models.filter(m, m.id == vars.model)"),
            Dependence::Request
        );
        let s =
            compile("[req.method, conn.client_ip, req.id].size() > 0 ? ai.models : []").unwrap();
        assert_eq!(s.request_vars, vec!["conn", "req"]);
    }
}
