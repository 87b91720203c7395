//! YAML text to a [`PolicyDoc`], reporting every structural problem (wrong types, unknown
//! fields, missing `type`/`actions`) with its position. Action configs are checked later,
//! by the action that owns them.

use super::diagnostics::Diagnostics;
use super::document::{ActionDoc, ExprDoc, Phase, PolicyDoc, RuleDoc};
use super::index::{PathIndex, join_key};
use super::yaml_tree::{self, Node, NodeValue};

/// The parsed document and the position index of the YAML it came from.
pub struct Parsed {
    pub doc: PolicyDoc,
    pub index: PathIndex,
}

const PHASES: &[(&str, Phase)] = &[
    ("on_http_request", Phase::Request),
    ("on_http_response", Phase::Response),
];

/// Parses `text`. A YAML syntax error ends parsing (nothing else can be located); any other
/// problem is recorded in `diags` and parsing goes on, so a load reports them all.
pub fn parse(text: &str, diags: &mut Diagnostics) -> Option<Parsed> {
    let root = match yaml_tree::parse(text) {
        Ok(root) => root,
        Err(err) => {
            diags.error_at(
                err.pos,
                format!("policy is not valid YAML: {}", err.message),
            );
            return None;
        }
    };
    let index = PathIndex::build(&root);
    let mut doc = PolicyDoc::default();
    match &root.value {
        NodeValue::Map(entries) => {
            for (key, value) in entries {
                let path = key.name.clone();
                match PHASES.iter().find(|(name, _)| *name == key.name) {
                    Some((_, phase)) => {
                        let rules = parse_phase(value, &path, diags);
                        match phase {
                            Phase::Request => doc.on_http_request = rules,
                            Phase::Response => doc.on_http_response = rules,
                        }
                    }
                    None if key.name == "on_tcp_connect" => diags.key_error(
                        &path,
                        "phase `on_tcp_connect` is not supported: this edge serves HTTP endpoints",
                    ),
                    None => diags.key_error(
                        &path,
                        format!(
                            "unknown field `{}`; expected `on_http_request` or `on_http_response`",
                            key.name
                        ),
                    ),
                }
            }
        }
        NodeValue::Null => {}
        _ => diags.error(
            "",
            format!("a policy must be a map of phases, found {}", root.kind()),
        ),
    }
    Some(Parsed { doc, index })
}

fn parse_phase(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<RuleDoc> {
    let items = match &node.value {
        NodeValue::Seq(items) => items,
        NodeValue::Null => return Vec::new(),
        _ => {
            diags.error(
                path,
                format!("`{path}` must be a list of rules, found {}", node.kind()),
            );
            return Vec::new();
        }
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_rule(item, &format!("{path}[{i}]"), diags))
        .collect()
}

fn parse_rule(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<RuleDoc> {
    let Some(entries) = node.as_map() else {
        diags.error(path, format!("a rule must be a map, found {}", node.kind()));
        return None;
    };
    // Compact form: an action written straight into the phase list. It may carry the
    // rule's `name` and `expressions` too.
    if node.get("type").is_some() && node.get("actions").is_none() {
        let name = node.get("name").and_then(Node::as_str).map(str::to_string);
        let expressions = node
            .get("expressions")
            .map(|e| parse_expressions(e, &join_key(path, "expressions"), diags))
            .unwrap_or_default();
        let action = parse_action(node, path, diags, true)?;
        return Some(RuleDoc {
            name,
            path: path.to_string(),
            expressions,
            actions: vec![action],
        });
    }
    let mut rule = RuleDoc {
        name: None,
        path: path.to_string(),
        expressions: Vec::new(),
        actions: Vec::new(),
    };
    let mut saw_actions = false;
    for (key, value) in entries {
        let field = join_key(path, &key.name);
        match key.name.as_str() {
            "name" => match &value.value {
                NodeValue::String(s) => rule.name = Some(s.clone()),
                NodeValue::Null => {}
                _ => diags.error(
                    &field,
                    format!("`name` must be a string, found {}", value.kind()),
                ),
            },
            "expressions" => rule.expressions = parse_expressions(value, &field, diags),
            "actions" => {
                saw_actions = true;
                if value.as_seq().is_some_and(<[Node]>::is_empty) {
                    diags.error(&field, "a rule must define at least one action");
                }
                rule.actions = parse_actions(value, &field, diags);
            }
            other => diags.key_error(
                &field,
                format!(
                    "unknown field `{other}` in rule; expected `name`, `expressions` or `actions`"
                ),
            ),
        }
    }
    if !saw_actions {
        diags.error(
            path,
            "a rule must have `actions` (a list with at least one action)",
        );
    }
    Some(rule)
}

fn parse_expressions(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<ExprDoc> {
    let items = match &node.value {
        NodeValue::Seq(items) => items,
        NodeValue::Null => return Vec::new(),
        _ => {
            diags.error(
                path,
                format!(
                    "`expressions` must be a list of CEL strings, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        match &item.value {
            NodeValue::String(s) => out.push(ExprDoc {
                source: s.clone(),
                path: item_path,
            }),
            // `- true` is a YAML boolean; accept it as the CEL literal it spells.
            NodeValue::Bool(b) => out.push(ExprDoc {
                source: b.to_string(),
                path: item_path,
            }),
            _ => diags.error(
                &item_path,
                format!("an expression must be a string, found {} (quote expressions that start with `!` or contain `: `)", item.kind()),
            ),
        }
    }
    out
}

fn parse_actions(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<ActionDoc> {
    let items = match &node.value {
        NodeValue::Seq(items) => items,
        _ => {
            diags.error(
                path,
                format!("`actions` must be a list, found {}", node.kind()),
            );
            return Vec::new();
        }
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_action(item, &format!("{path}[{i}]"), diags, false))
        .collect()
}

/// `compact`: the action is also its rule, so the rule's `name` and `expressions` are
/// accepted beside `type` and `config` (and parsed by the caller).
fn parse_action(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
    compact: bool,
) -> Option<ActionDoc> {
    let Some(entries) = node.as_map() else {
        diags.error(
            path,
            format!("an action must be a map with `type`, found {}", node.kind()),
        );
        return None;
    };
    let mut kind = None;
    let mut config = None;
    for (key, value) in entries {
        let field = join_key(path, &key.name);
        match key.name.as_str() {
            "type" => match value.as_str() {
                Some(s) => kind = Some(s.to_string()),
                None => diags.error(
                    &field,
                    format!("`type` must be a string, found {}", value.kind()),
                ),
            },
            "config" => match &value.value {
                NodeValue::Map(_) => config = Some(value.clone()),
                NodeValue::Null => {}
                _ => diags.error(
                    &field,
                    format!("`config` must be a map, found {}", value.kind()),
                ),
            },
            "name" | "expressions" if compact => {}
            other => diags.key_error(
                &field,
                format!("unknown field `{other}` in action; expected `type` or `config`"),
            ),
        }
    }
    let Some(kind) = kind else {
        if node.get("type").is_none() {
            diags.error(path, "an action must have a `type`");
        }
        return None;
    };
    Some(ActionDoc {
        kind,
        path: path.to_string(),
        config,
    })
}
