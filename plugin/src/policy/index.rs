//! Where each path of the document was written: `on_http_request[0].actions[1].config.x`
//! to a line and column, so any module (the ai-gateway action included) can report a
//! diagnostic by path alone.

use std::collections::HashMap;

use super::yaml_tree::{Node, NodeValue, Pos};

#[derive(Debug, Clone, Default)]
pub struct PathIndex {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl PathIndex {
    /// Indexes every node of `root`.
    pub fn build(root: &Node) -> PathIndex {
        let mut index = PathIndex::default();
        index.values.insert(String::new(), root.pos);
        index.walk(root, "");
        index
    }

    fn walk(&mut self, node: &Node, path: &str) {
        match &node.value {
            NodeValue::Map(entries) => {
                for (key, value) in entries {
                    let child = join_key(path, &key.name);
                    self.keys.insert(child.clone(), key.pos);
                    self.values.insert(child.clone(), value.pos);
                    self.walk(value, &child);
                }
            }
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    self.values.insert(child.clone(), item.pos);
                    self.walk(item, &child);
                }
            }
            _ => {}
        }
    }

    /// Position of the value at `path`; for a path that does not exist (a missing required
    /// field) the position of its nearest existing ancestor.
    pub fn locate(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match parent(p) {
                Some(up) => p = up,
                None => return Pos::default(),
            }
        }
    }

    /// Position of the key that introduces `path` (for "unknown field" diagnostics),
    /// falling back to the value's position.
    pub fn locate_key(&self, path: &str) -> Pos {
        self.keys
            .get(path)
            .copied()
            .unwrap_or_else(|| self.locate(path))
    }
}

/// `parent.key`, or `key` at the root.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `child` (a key, an `[i]` index, or empty for `parent` itself) under `parent`.
pub fn join_path(parent: &str, child: &str) -> String {
    if child.is_empty() {
        parent.to_string()
    } else if child.starts_with('[') {
        format!("{parent}{child}")
    } else {
        join_key(parent, child)
    }
}

/// The path one level up: `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> `` (root), `` -> none.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::yaml_tree::parse;

    #[test]
    fn paths_map_to_positions_and_missing_ones_to_their_parent() {
        let doc = parse("on_http_request:\n  - actions:\n      - type: deny\n        config:\n          status_code: 401\n").unwrap();
        let index = PathIndex::build(&doc);
        assert_eq!(
            index.locate("on_http_request[0].actions[0].config.status_code"),
            Pos {
                line: 5,
                column: 24
            }
        );
        assert_eq!(
            index.locate_key("on_http_request[0].actions[0].config.status_code"),
            Pos {
                line: 5,
                column: 11
            }
        );
        assert_eq!(
            index.locate("on_http_request[0].actions[0].config.missing"),
            Pos {
                line: 5,
                column: 11
            }
        );
    }
}
