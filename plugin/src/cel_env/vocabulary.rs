//! One context's names on top of the shared environment: the functions it adds to
//! [`names::STANDARD`] and the variables it may read.
//!
//! Each kind of expression is one [`Vocabulary`]: policy rules and templates
//! ([`Vocabulary::policy`]), and the ai-gateway's strategies and failover rule (declared in
//! `ai_gateway/strategy.rs`). A vocabulary runs the one analysis of what an expression
//! reads ([`Refs`]) and checks it, at load, so that an unknown name is a diagnostic.

use std::fmt;

use cel::IdedExpr;

use super::names::{self, Scope};
use super::refs::Refs;

/// The names one kind of expression may use.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary<'a> {
    /// Functions this context adds to [`names::STANDARD`].
    pub functions: &'a [&'a str],
    /// Namespaces of those functions (`json` of `json.decode`).
    pub namespaces: &'a [&'a str],
    /// The variables it may read.
    pub variables: Variables<'a>,
}

/// How a context checks the variables an expression reads.
#[derive(Debug, Clone, Copy)]
pub enum Variables<'a> {
    /// Policy rules and templates: the whole path (`req.url.path`) is checked against the
    /// schema of the phase.
    Schema(Scope),
    /// Only the root is checked: it must be one of [`names::REQUEST_ROOTS`] or of these
    /// (strategies: `ai`; a failover rule: `ai` and `attempt`).
    RequestRoots(&'a [&'a str]),
}

/// One unknown or misused name, found at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A call the analysis itself rejects (wrong argument count, a `secrets.get` without
    /// literal arguments).
    Call(String),
    UnknownFunction(String),
    /// A variable the context does not have; `message` says which part is unknown.
    Variable {
        root: String,
        message: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Call(message) | Problem::Variable { message, .. } => f.write_str(message),
            Problem::UnknownFunction(name) => write!(f, "unknown function `{name}`"),
        }
    }
}

impl Vocabulary<'static> {
    /// Policy rules, `${…}` templates, set-vars and the other actions' expressions.
    pub fn policy(scope: Scope) -> Vocabulary<'static> {
        Vocabulary {
            functions: names::POLICY,
            namespaces: names::POLICY_NAMESPACES,
            variables: Variables::Schema(scope),
        }
    }
}

impl Vocabulary<'_> {
    /// True for the standard functions and the context's own.
    pub fn is_known_function(&self, name: &str) -> bool {
        names::STANDARD.contains(&name) || self.functions.contains(&name)
    }

    fn is_namespace(&self, name: &str) -> bool {
        names::STANDARD_NAMESPACES.contains(&name) || self.namespaces.contains(&name)
    }

    /// What `expr` reads and calls, with this context's namespaces.
    pub fn refs(&self, expr: &IdedExpr) -> Refs {
        Refs::of(expr, |name| self.is_namespace(name))
    }

    /// Every problem with the names `refs` uses: misused calls first, then unknown
    /// functions, then unknown variables (each group in name order).
    pub fn check(&self, refs: &Refs) -> Vec<Problem> {
        let mut problems: Vec<Problem> = refs.problems.iter().cloned().map(Problem::Call).collect();
        for function in &refs.functions {
            if !self.is_known_function(function) {
                problems.push(Problem::UnknownFunction(function.clone()));
            }
        }
        for path in &refs.variables {
            let Some(root) = path.first() else { continue };
            let result = match self.variables {
                Variables::Schema(scope) => {
                    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                    names::check_variable(&segments, scope)
                }
                Variables::RequestRoots(own)
                    if own.contains(&root.as_str())
                        || names::REQUEST_ROOTS.contains(&root.as_str()) =>
                {
                    Ok(())
                }
                Variables::RequestRoots(_) => Err(format!("unknown variable `{root}`")),
            };
            if let Err(message) = result {
                problems.push(Problem::Variable {
                    root: root.clone(),
                    message,
                });
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context like the strategies': one function of its own, `ai` besides the request.
    const STRATEGY: Vocabulary<'static> = Vocabulary {
        functions: &["only"],
        namespaces: &[],
        variables: Variables::RequestRoots(&["ai"]),
    };

    fn problems(vocabulary: Vocabulary<'_>, src: &str) -> Vec<String> {
        let program = cel::Env::stdlib().compile(src).unwrap();
        let refs = vocabulary.refs(program.expression());
        vocabulary
            .check(&refs)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn standard_functions_are_known_to_every_context() {
        for vocabulary in [Vocabulary::policy(Scope::Request), STRATEGY] {
            for src in [
                "size([1]) == 1",
                "lists.range(2) == [0, 1]",
                "math.ceil(1.5) == 2.0",
                "strings.quote('a') == quote('a')",
                "max(1, 2) == min(2, 3)",
            ] {
                assert_eq!(problems(vocabulary, src), Vec::<String>::new(), "{src}");
            }
        }
    }

    #[test]
    fn each_context_adds_its_own_names() {
        assert!(problems(STRATEGY, "ai.models.only(['a'])").is_empty());
        assert_eq!(
            problems(STRATEGY, "json.decode(ai)"),
            vec!["unknown function `decode`", "unknown variable `json`"]
        );
        assert_eq!(
            problems(Vocabulary::policy(Scope::Request), "[].only(['a'])"),
            vec!["unknown function `only`"]
        );
        assert!(
            problems(
                Vocabulary::policy(Scope::Request),
                "json.decode(req.body) == 1"
            )
            .is_empty()
        );
    }
}
