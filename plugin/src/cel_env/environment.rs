//! The one CEL environment of the plugin: the standard library, the strings, lists and
//! math extensions, and the helpers every context shares.
//!
//! Built once per process (it holds no policy data) and shared by every policy load. Each
//! context makes its root from [`root`] and adds its own functions and variables: policy
//! rules in `cel_env::Evaluator`, the ai-gateway's strategies and failover rule in
//! `ai_gateway/strategy.rs`. The names they may call are [`super::names::STANDARD`] plus
//! each context's own ([`super::vocabulary`]).

use std::sync::{Arc, OnceLock};

use cel::{Context, DeclarationError, Env, Value};

/// The environment could not be built (a declaration clashed: a bug, not a policy error).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the CEL environment cannot be built")]
pub struct EnvError(#[source] DeclarationError);

/// The shared environment, built on first use.
pub fn shared() -> Result<Arc<Env>, EnvError> {
    static ENV: OnceLock<Result<Arc<Env>, EnvError>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        env.add_extension(cel::extensions::strings)
            .and_then(|()| env.add_extension(cel::extensions::lists))
            .and_then(|()| env.add_extension(cel::extensions::math))
            .map_err(EnvError)?;
        Ok(Arc::new(env))
    })
    .clone()
}

/// A root context of the shared environment with the shared helpers registered: `max`
/// and `min` (of their arguments, or of one list) and `quote` (as `strings.quote`). A
/// context adds its own functions and variables to it.
pub fn root() -> Result<Context<'static, 'static>, EnvError> {
    let mut ctx = Context::with_env(shared()?);
    ctx.add_function("max", cel::functions::max)
        .and_then(|()| ctx.add_function("min", cel::functions::min))
        .and_then(|()| {
            ctx.add_function("quote", |text: Arc<String>| {
                Value::String(Arc::new(quote(&text)))
            })
        })
        .map_err(EnvError)?;
    Ok(ctx)
}

/// `s` as a CEL string literal in double quotes, escaped as `strings.quote` does.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '\x07' => quoted.push_str("\\a"),
            '\x08' => quoted.push_str("\\b"),
            '\x0c' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\x0b' => quoted.push_str("\\v"),
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> cel::Value {
        let program = shared().unwrap().compile(src).unwrap();
        program.execute(&root().unwrap()).unwrap()
    }

    #[test]
    fn shared_helpers_work_in_every_root() {
        assert_eq!(eval("max(1, 3, 2)"), cel::Value::Int(3));
        assert_eq!(eval("min([4, 2, 3])"), cel::Value::Int(2));
        assert_eq!(
            eval(r#"quote('a"b\\\n\t') == strings.quote('a"b\\\n\t')"#),
            cel::Value::Bool(true)
        );
        assert_eq!(eval("math.ceil(1.2) == 2.0"), cel::Value::Bool(true));
    }
}
