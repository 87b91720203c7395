//! What a compiled expression reads and calls, found by walking its syntax tree once at load.
//!
//! This is the one analysis every CEL context uses. Policy rules and templates use it to
//! reject unknown names before any request arrives, to resolve `secrets.get` at load time,
//! to know whether the policy reads request bodies, to evaluate constant expressions at load
//! and to answer a bare variable path without the interpreter. The ai-gateway's strategies
//! use it for the same name checks and to decide how long a result may be cached: once per
//! load, per metrics generation, or not at all (`ai_gateway/strategy.rs`).

use std::collections::BTreeSet;

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use super::names;

/// The names one expression uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    /// Functions called, namespaced ones written `ns.name` (operators excluded).
    pub functions: BTreeSet<String>,
    /// Variable paths read, e.g. `["req", "url", "path"]` (as far as the path is a plain
    /// chain of field selections).
    pub variables: BTreeSet<Vec<String>>,
    /// `secrets.get(vault, name)` calls with literal arguments.
    pub secrets: BTreeSet<(String, String)>,
    /// Every field name selected (`m.metrics`, also on comprehension variables) and every
    /// string literal (which may be a key: `m['metrics']`).
    pub fields: BTreeSet<String>,
    /// Problems found while walking (a call with the wrong number of arguments, a
    /// `secrets.get` whose arguments are not string literals).
    pub problems: Vec<String>,
}

impl Refs {
    /// Collects the references of `expr`. `is_namespace` says which identifiers name a
    /// function namespace in the caller's context (`json` in `json.decode(x)`).
    pub fn of(expr: &IdedExpr, is_namespace: impl Fn(&str) -> bool) -> Refs {
        let mut refs = Refs::default();
        let mut bound = Vec::new();
        refs.walk(expr, &mut bound, &is_namespace);
        refs
    }

    /// The roots of the variables read (`req` for `req.url.path`).
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.variables
            .iter()
            .filter_map(|path| path.first().map(String::as_str))
    }

    /// True when the expression calls a function whose result changes from call to call.
    pub fn calls_nondeterministic(&self) -> bool {
        self.functions
            .iter()
            .any(|f| names::NONDETERMINISTIC.contains(&f.as_str()))
    }

    /// True when some variable path starts with `prefix` (e.g. `["req", "body"]`).
    pub fn reads(&self, prefix: &[&str]) -> bool {
        self.variables
            .iter()
            .any(|path| path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b))
    }

    /// True when the expression reads no variable at all (it can be evaluated at load).
    pub fn is_constant(&self) -> bool {
        self.variables.is_empty()
            && !self.calls_nondeterministic()
            && !self.functions.iter().any(|f| needs_request(f))
    }

    fn walk(&mut self, e: &IdedExpr, bound: &mut Vec<String>, is_namespace: &dyn Fn(&str) -> bool) {
        match &e.expr {
            Expr::Ident(name) => {
                if !bound.contains(name) {
                    self.variables.insert(vec![name.clone()]);
                }
            }
            Expr::Select(select) => {
                if let Some(path) = qualified_path(e) {
                    self.fields.extend(path.iter().skip(1).cloned());
                    if !path.first().is_some_and(|root| bound.contains(root)) {
                        self.variables.insert(path);
                    }
                } else {
                    self.fields.insert(select.field.clone());
                    self.walk(&select.operand, bound, is_namespace);
                }
            }
            Expr::Call(call) => {
                let namespaced = call.target.as_deref().and_then(|target| {
                    let path = qualified_path(target)?;
                    let root = path.first()?;
                    (path.len() == 1 && is_namespace(root) && !bound.contains(root))
                        .then(|| format!("{root}.{}", call.func_name))
                });
                match namespaced {
                    Some(name) => {
                        self.check_arity(&name, call.args.len());
                        if name == "secrets.get" {
                            self.collect_secret(&call.args);
                        }
                        self.functions.insert(name);
                    }
                    None => {
                        if !names::is_operator(&call.func_name) {
                            if call.target.is_none() {
                                self.check_arity(&call.func_name, call.args.len());
                            }
                            self.functions.insert(call.func_name.clone());
                        }
                        if let Some(target) = &call.target {
                            self.walk(target, bound, is_namespace);
                        }
                    }
                }
                for arg in &call.args {
                    self.walk(arg, bound, is_namespace);
                }
            }
            Expr::Comprehension(comp) => {
                self.walk(&comp.iter_range, bound, is_namespace);
                self.walk(&comp.accu_init, bound, is_namespace);
                let depth = bound.len();
                bound.push(comp.iter_var.clone());
                if let Some(second) = &comp.iter_var2 {
                    bound.push(second.clone());
                }
                bound.push(comp.accu_var.clone());
                self.walk(&comp.loop_cond, bound, is_namespace);
                self.walk(&comp.loop_step, bound, is_namespace);
                self.walk(&comp.result, bound, is_namespace);
                bound.truncate(depth);
            }
            Expr::List(list) => {
                for item in &list.elements {
                    self.walk(item, bound, is_namespace);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(kv) = &entry.expr {
                        self.walk(&kv.key, bound, is_namespace);
                        self.walk(&kv.value, bound, is_namespace);
                    }
                }
            }
            Expr::Struct(st) => {
                for entry in &st.entries {
                    match &entry.expr {
                        EntryExpr::StructField(field) => {
                            self.walk(&field.value, bound, is_namespace)
                        }
                        EntryExpr::MapEntry(kv) => {
                            self.walk(&kv.key, bound, is_namespace);
                            self.walk(&kv.value, bound, is_namespace);
                        }
                    }
                }
            }
            Expr::Literal(cel::common::ast::LiteralValue::String(s)) => {
                self.fields.insert(s.inner().to_string());
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn check_arity(&mut self, name: &str, got: usize) {
        let want = match name {
            "rand.double" => 0,
            "getReqHeader" | "hasReqHeader" | "getQueryParam" | "hasQueryParam"
            | "getResHeader" | "hasResHeader" | "json.decode" | "json.encode" | "base64.encode"
            | "base64.decode" | "hash.sha256" | "hash.sha512" => 1,
            "rand.int" | "secrets.get" | "inCidrRange" | "inCidrRanges" | "basic_auth.encode" => 2,
            _ => return,
        };
        if got != want {
            self.problems.push(format!(
                "`{name}` takes {want} argument{}, found {got}",
                if want == 1 { "" } else { "s" }
            ));
        }
    }

    fn collect_secret(&mut self, args: &[IdedExpr]) {
        let literal = |e: &IdedExpr| match &e.expr {
            Expr::Literal(cel::common::ast::LiteralValue::String(s)) => Some(s.inner().to_string()),
            _ => None,
        };
        // A wrong argument count is reported by the arity check.
        if let [vault, name] = args {
            match (literal(vault), literal(name)) {
                (Some(vault), Some(name)) => {
                    self.secrets.insert((vault, name));
                }
                _ => self.problems.push(
                    "`secrets.get` needs string literals: secrets are resolved when the policy loads"
                        .to_string(),
                ),
            }
        }
    }
}

/// Functions that read the request through the resolver.
fn needs_request(name: &str) -> bool {
    matches!(
        name,
        "getReqHeader"
            | "hasReqHeader"
            | "getQueryParam"
            | "hasQueryParam"
            | "getResHeader"
            | "hasResHeader"
    )
}

/// `a.b.c` when `expr` is nothing but that variable path (no calls, no `has()`, not an
/// absolute `.a` name): such an expression is answered straight from the request's
/// variables, skipping the interpreter.
pub fn variable_path(expr: &Expr) -> Option<String> {
    let mut segments = Vec::new();
    let mut node = expr;
    loop {
        match node {
            Expr::Ident(name) if !name.starts_with('.') => {
                segments.push(name.as_str());
                segments.reverse();
                return Some(segments.join("."));
            }
            Expr::Select(select) if !select.test => {
                segments.push(select.field.as_str());
                node = &select.operand.expr;
            }
            _ => return None,
        }
    }
}

/// `a.b.c` as `["a", "b", "c"]` when `e` is a plain chain of field selections on an
/// identifier; `has(a.b)` tests count as reading `a.b`.
fn qualified_path(e: &IdedExpr) -> Option<Vec<String>> {
    let mut rev = Vec::new();
    let mut cur = e;
    loop {
        match &cur.expr {
            Expr::Ident(name) => {
                rev.push(name.clone());
                rev.reverse();
                return Some(rev);
            }
            Expr::Select(select) => {
                rev.push(select.field.clone());
                cur = &select.operand;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str) -> Refs {
        let env = cel::Env::stdlib();
        let program = env.compile(src).unwrap();
        Refs::of(program.expression(), |ns| {
            names::POLICY_NAMESPACES.contains(&ns)
        })
    }

    fn paths(r: &Refs) -> Vec<String> {
        r.variables.iter().map(|p| p.join(".")).collect()
    }

    #[test]
    fn qualified_variables_and_functions_are_found() {
        let r = refs("req.url.path.startsWith('/v1') && size(req.headers['x']) > 0");
        assert_eq!(paths(&r), vec!["req.headers", "req.url.path"]);
        assert!(r.functions.contains("startsWith"));
        assert!(r.functions.contains("size"));
        assert!(!r.functions.iter().any(|f| f.starts_with('_')));
    }

    #[test]
    fn comprehension_variables_are_not_free() {
        let r = refs("[1, 2].exists(x, x > vars.min)");
        assert_eq!(paths(&r), vec!["vars.min"]);
    }

    #[test]
    fn namespaced_calls_are_functions_not_variables() {
        let r = refs("json.decode(req.body).model == secrets.get('v', 'n')");
        assert!(r.functions.contains("json.decode"));
        assert!(r.functions.contains("secrets.get"));
        assert_eq!(paths(&r), vec!["req.body"]);
        assert!(r.secrets.contains(&("v".to_string(), "n".to_string())));
    }

    #[test]
    fn wrong_arity_and_non_literal_secrets_are_problems() {
        assert_eq!(refs("rand.int(1)").problems.len(), 1);
        assert_eq!(refs("secrets.get(vars.a, 'n')").problems.len(), 1);
        assert!(refs("1 + 2 == 3").is_constant());
        assert!(!refs("rand.double() < 0.5").is_constant());
    }
}
