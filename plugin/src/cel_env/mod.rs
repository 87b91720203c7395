//! The CEL stack of the plugin: the one shared environment ([`environment`]), the names
//! each context may use ([`names`], [`vocabulary`]), the one analysis of what an expression
//! reads ([`refs`]), and the traffic-policy context on top of them: variables, functions,
//! `${…}` interpolation.
//!
//! [`CelEnv`] is used while a policy loads: it compiles every expression and template,
//! rejects unknown functions and variables, and resolves `secrets.get` through the host.
//! [`Evaluator`] is what remains for requests: the root CEL context with every function
//! registered, evaluated against an [`Activation`] (the request's variables).

pub mod activation;
pub mod convert;
pub mod environment;
pub mod functions;
pub mod names;
pub mod refs;
pub mod template;
pub mod value_template;
pub mod vocabulary;

use std::sync::Arc;

use cel::{Context, Env, Program, Value};

pub use activation::{Activation, Bindings, RequestData};
pub use names::Scope;
pub use refs::Refs;
pub use template::Template;
pub use value_template::ValueTemplate;
pub use vocabulary::{Problem, Variables, Vocabulary};

use crate::host_api::HostApi;
use crate::model::{EndpointInfo, Request};
use functions::SecretStore;
use template::{Part, RawPart};

/// A compiled CEL expression with what it reads.
#[derive(Debug, Clone)]
pub struct Expr {
    program: Arc<Program>,
    pub source: Arc<str>,
    pub refs: Arc<Refs>,
    /// `Some("conn.client_ip")` when the whole expression is a plain variable path: such an
    /// expression (common in `${…}` header values) is answered straight from the request's
    /// variables, skipping the interpreter; see [`Evaluator::eval`].
    path: Option<Arc<str>>,
}

/// Evaluates compiled expressions; one per loaded policy.
pub struct Evaluator {
    root: Context<'static, 'static>,
}

impl Evaluator {
    fn new(secrets: SecretStore) -> Result<Evaluator, String> {
        let mut root = environment::root().map_err(|e| e.to_string())?;
        functions::register(&mut root, secrets).map_err(|e| e.to_string())?;
        Ok(Evaluator { root })
    }

    /// Runs `expr` against a request's variables. The error text names the failure.
    pub fn eval(&self, expr: &Expr, act: &Activation<'_, '_>) -> Result<Value, String> {
        // The interpreter would ask the resolver for this very name first and return what
        // it gives; anything else (unknown names, errors) still goes through it below.
        if let Some(value) = expr.path.as_deref().and_then(|p| act.value(p)) {
            return Ok(value);
        }
        let root: &Context<'_, '_> = &self.root;
        let mut ctx = root.new_inner_scope();
        ctx.set_variable_resolver(act);
        expr.program.execute(&ctx).map_err(|e| e.to_string())
    }

    /// Runs a rule expression, which must produce a boolean.
    pub fn eval_bool(&self, expr: &Expr, act: &Activation<'_, '_>) -> Result<bool, String> {
        match self.eval(expr, act)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!(
                "expression `{}` produced {other:?}, not a boolean",
                expr.source
            )),
        }
    }

    pub fn render(&self, t: &Template, act: &Activation<'_, '_>) -> Result<Value, String> {
        t.render(|e| self.eval(e, act))
    }

    pub fn render_string(&self, t: &Template, act: &Activation<'_, '_>) -> Result<String, String> {
        t.render_string(|e| self.eval(e, act))
    }
}

/// The load-time compiler. Create one per policy load; finish with [`CelEnv::into_evaluator`].
pub struct CelEnv {
    env: Arc<Env>,
    evaluator: Evaluator,
    secrets: SecretStore,
    check_only: bool,
    warnings: Vec<String>,
    reads_body: bool,
    empty_request: Request,
    empty_endpoint: EndpointInfo,
}

impl CelEnv {
    /// `check_only`: a secret the host cannot find is a warning (with a placeholder value)
    /// instead of an error, so `edge check` works without production secrets.
    pub fn new(check_only: bool) -> Result<CelEnv, String> {
        let env = environment::shared().map_err(|e| e.to_string())?;
        let secrets = SecretStore::default();
        let evaluator = Evaluator::new(secrets.clone())?;
        Ok(CelEnv {
            env,
            evaluator,
            secrets,
            check_only,
            warnings: Vec::new(),
            reads_body: false,
            empty_request: Request::default(),
            empty_endpoint: EndpointInfo::default(),
        })
    }

    pub fn check_only(&self) -> bool {
        self.check_only
    }

    /// Warnings produced since the last call (missing secrets in check-only mode).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// True once any compiled expression reads the request body: the host must then
    /// buffer bodies and pass them in.
    pub fn reads_body(&self) -> bool {
        self.reads_body
    }

    /// Every secret value resolved so far (masked out of runtime error messages).
    pub fn secret_values(&self) -> Vec<String> {
        self.secrets
            .read()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn evaluator(&self) -> &Evaluator {
        &self.evaluator
    }

    pub fn into_evaluator(self) -> Evaluator {
        self.evaluator
    }

    /// Compiles one expression and checks every name it uses. `Err` is the message of the
    /// diagnostic.
    pub fn compile(
        &mut self,
        source: &str,
        scope: Scope,
        host: &dyn HostApi,
    ) -> Result<Expr, String> {
        let program = self
            .env
            .compile(source)
            .map_err(|e| format!("invalid CEL expression `{source}`: {}", syntax_errors(&e)))?;
        let vocabulary = Vocabulary::policy(scope);
        let refs = vocabulary.refs(program.expression());
        let problems = vocabulary.check(&refs);
        if !problems.is_empty() {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(format!("in `{source}`: {}", problems.join("; ")));
        }
        self.resolve_secrets(&refs, host)?;
        // The whole `req` map includes the body too.
        self.reads_body |=
            refs.reads(&["req", "body"]) || refs.variables.contains(&vec!["req".to_string()]);
        let path = refs::variable_path(&program.expression().expr).map(Arc::from);
        let expr = Expr {
            path,
            program: Arc::new(program),
            source: Arc::from(source),
            refs: Arc::new(refs),
        };
        if expr.refs.is_constant() {
            // Nothing per-request: evaluate now so `1 + 'a'` fails at load, not on traffic.
            self.eval_static_expr(&expr)
                .map_err(|e| redact(&format!("`{source}` fails: {e}"), &self.secret_values()))?;
        }
        Ok(expr)
    }

    /// Compiles a config string that may hold `${…}`.
    pub fn compile_template(
        &mut self,
        text: &str,
        scope: Scope,
        host: &dyn HostApi,
    ) -> Result<Template, String> {
        let raw = template::split(text)?;
        match raw.as_slice() {
            [] => Ok(Template::Text(String::new())),
            [RawPart::Text(t)] => Ok(Template::Text(t.clone())),
            [RawPart::Expr(src)] => Ok(Template::Whole(self.compile(src, scope, host)?)),
            _ => {
                let mut parts = Vec::with_capacity(raw.len());
                for part in raw {
                    parts.push(match part {
                        RawPart::Text(t) => Part::Text(t),
                        RawPart::Expr(src) => Part::Expr(self.compile(&src, scope, host)?),
                    });
                }
                Ok(Template::Parts(parts))
            }
        }
    }

    /// Evaluates an expression with no request (load time: secrets, constants).
    pub fn eval_static_expr(&self, expr: &Expr) -> Result<Value, String> {
        self.with_no_request(|act| self.evaluator.eval(expr, act))
    }

    /// Renders a template with no request (load time).
    pub fn render_static(&self, t: &Template) -> Result<String, String> {
        self.with_no_request(|act| self.evaluator.render_string(t, act))
    }

    /// Runs `f` with the variables of an empty request and no bindings (load time).
    fn with_no_request<T>(&self, f: impl FnOnce(&Activation<'_, '_>) -> T) -> T {
        let data = RequestData::new(&self.empty_request, &self.empty_endpoint, None);
        let bindings = Bindings::default();
        f(&Activation {
            data: &data,
            bindings: &bindings,
        })
    }

    fn resolve_secrets(&mut self, refs: &Refs, host: &dyn HostApi) -> Result<(), String> {
        for (vault, name) in &refs.secrets {
            let key = (vault.clone(), name.clone());
            let known = self
                .secrets
                .read()
                .map(|s| s.contains_key(&key))
                .map_err(|_| "secret store unavailable".to_string())?;
            if known {
                continue;
            }
            let value = match host.secret(vault, name) {
                Some(v) => v,
                None if self.check_only => {
                    self.warnings.push(format!(
                        "secret `{vault}/{name}` not found; a placeholder is used"
                    ));
                    format!("<secret {vault}/{name}>")
                }
                None => return Err(format!("secret `{vault}/{name}` not found")),
            };
            self.secrets
                .write()
                .map_err(|_| "secret store unavailable".to_string())?
                .insert(key, value);
        }
        Ok(())
    }
}

/// `syntax error at column N: message` for each parse error (columns count from 1 inside
/// the expression).
fn syntax_errors(errors: &cel::ParseErrors) -> String {
    errors
        .errors
        .iter()
        .map(|e| {
            let msg = e.msg.strip_prefix("Syntax error: ").unwrap_or(&e.msg);
            format!("syntax error at column {}: {msg}", e.pos.1)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Masks secret values out of a message.
pub fn redact(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests;
