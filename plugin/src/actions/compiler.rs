//! Load-time helpers every action uses to read its `config`: typed fields with located
//! diagnostics, unknown-field checks, and CEL / `${…}` compilation.

use std::ops::RangeInclusive;
use std::time::Duration;

use cel::Value;

use crate::cel_env::{CelEnv, Expr, Scope, Template, ValueTemplate};
use crate::host_api::HostApi;
use crate::policy::Diagnostics;
use crate::policy::index::join_key;
use crate::policy::yaml_tree::{Node, NodeValue};

/// Everything an action needs to compile its config.
pub struct Compiler<'a> {
    pub cel: &'a mut CelEnv,
    pub host: &'a dyn HostApi,
    pub diags: &'a mut Diagnostics,
    pub scope: Scope,
}

impl Compiler<'_> {
    pub fn error(&mut self, path: &str, message: impl std::fmt::Display) {
        self.diags.error(path, message);
    }

    pub fn warning(&mut self, path: &str, message: impl std::fmt::Display) {
        self.diags.warning(path, message);
    }

    /// The entries of `config` (a missing config is an empty one), reporting keys outside
    /// `allowed` as unknown fields.
    pub fn fields<'n>(
        &mut self,
        config: Option<&'n Node>,
        config_path: &str,
        kind: &str,
        allowed: &[&str],
    ) -> Vec<(&'n str, &'n Node, String)> {
        let Some(entries) = config.and_then(Node::as_map) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let path = join_key(config_path, &key.name);
            if allowed.contains(&key.name.as_str()) {
                out.push((key.name.as_str(), value, path));
            } else {
                self.diags.key_error(
                    &path,
                    format!(
                        "unknown field `{}` in `{kind}` config; expected one of: {}",
                        key.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
        out
    }

    /// A CEL expression written as a plain string (rule expressions, `bucket_key`).
    pub fn expr(&mut self, node: &Node, path: &str) -> Option<Expr> {
        let source = match &node.value {
            NodeValue::String(s) => s.clone(),
            NodeValue::Bool(b) => b.to_string(),
            _ => {
                self.error(
                    path,
                    format!("expected a CEL expression string, found {}", node.kind()),
                );
                return None;
            }
        };
        self.expr_source(&source, path)
    }

    pub fn expr_source(&mut self, source: &str, path: &str) -> Option<Expr> {
        let compiled = self.cel.compile(source, self.scope, self.host);
        self.flush_warnings(path);
        match compiled {
            Ok(e) => Some(e),
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }

    /// A string that may hold `${…}`. Numbers and booleans are taken as their text.
    pub fn template(&mut self, node: &Node, path: &str) -> Option<Template> {
        let text = match &node.value {
            NodeValue::String(s) => s.clone(),
            NodeValue::Int(i) => i.to_string(),
            NodeValue::Float(f) => f.to_string(),
            NodeValue::Bool(b) => b.to_string(),
            _ => {
                self.error(path, format!("expected a string, found {}", node.kind()));
                return None;
            }
        };
        self.template_text(&text, path)
    }

    pub fn template_text(&mut self, text: &str, path: &str) -> Option<Template> {
        let compiled = self.cel.compile_template(text, self.scope, self.host);
        self.flush_warnings(path);
        match compiled {
            Ok(t) => Some(t),
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }

    /// Any YAML value whose strings may hold `${…}`.
    pub fn value_template(&mut self, node: &Node, path: &str) -> Option<ValueTemplate> {
        Some(match &node.value {
            NodeValue::Null => ValueTemplate::Constant(Value::Null),
            NodeValue::Bool(b) => ValueTemplate::Constant(Value::Bool(*b)),
            NodeValue::Int(i) => ValueTemplate::Constant(Value::Int(*i)),
            NodeValue::Float(f) => ValueTemplate::Constant(Value::Float(*f)),
            NodeValue::String(s) => ValueTemplate::Str(self.template_text(s, path)?),
            NodeValue::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.value_template(item, &format!("{path}[{i}]")) {
                        Some(t) => out.push(t),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                ValueTemplate::List(out)
            }
            NodeValue::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                let mut ok = true;
                for (key, value) in entries {
                    match self.value_template(value, &join_key(path, &key.name)) {
                        Some(t) => out.push((key.name.clone(), t)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                ValueTemplate::Map(out)
            }
        })
    }

    pub fn int(&mut self, node: &Node, path: &str, range: RangeInclusive<i64>) -> Option<i64> {
        match node.value {
            NodeValue::Int(i) if range.contains(&i) => Some(i),
            NodeValue::Int(i) => {
                self.error(
                    path,
                    format!("{i} is out of range ({}..={})", range.start(), range.end()),
                );
                None
            }
            _ => {
                self.error(path, format!("expected an integer, found {}", node.kind()));
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        if let NodeValue::Bool(b) = node.value {
            Some(b)
        } else {
            self.error(
                path,
                format!("expected true or false, found {}", node.kind()),
            );
            None
        }
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        if let Some(s) = node.as_str() {
            Some(s.to_string())
        } else {
            self.error(path, format!("expected a string, found {}", node.kind()));
            None
        }
    }

    /// A humantime duration such as `60s`, `5m` or `1h 30m`, within `range`.
    pub fn duration(
        &mut self,
        node: &Node,
        path: &str,
        range: RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let text = self.string(node, path)?;
        match humantime::parse_duration(text.trim()) {
            Ok(d) if range.contains(&d) => Some(d),
            Ok(_) => {
                self.error(
                    path,
                    format!(
                        "duration `{text}` is out of range ({}..={})",
                        humantime::format_duration(*range.start()),
                        humantime::format_duration(*range.end())
                    ),
                );
                None
            }
            Err(e) => {
                self.error(
                    path,
                    format!("invalid duration `{text}`: {e} (write e.g. `60s`, `5m`, `1h`)"),
                );
                None
            }
        }
    }

    /// A list node's items with their paths; anything else is reported.
    pub fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<Vec<(&'n Node, String)>> {
        match node.as_seq() {
            Some(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| (item, format!("{path}[{i}]")))
                    .collect(),
            ),
            None => {
                self.error(path, format!("expected a list, found {}", node.kind()));
                None
            }
        }
    }

    /// Reports a required field that is absent.
    pub fn require<T>(
        &mut self,
        value: Option<T>,
        config_path: &str,
        field: &str,
        kind: &str,
    ) -> Option<T> {
        if value.is_none() {
            self.error(config_path, format!("`{kind}` requires `config.{field}`"));
        }
        value
    }

    fn flush_warnings(&mut self, path: &str) {
        for w in self.cel.take_warnings() {
            self.warning(path, w);
        }
    }
}
