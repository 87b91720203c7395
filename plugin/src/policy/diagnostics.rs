//! Collects every problem of a policy load, each placed at its line and column.
//!
//! Problems are reported by path alone (`on_http_request[0].actions[1].config.x`) while
//! the load runs, and placed in the document once at the end through its [`PathIndex`].
//! Code that knows only its own part of the document (the ai-gateway action reads its
//! `config` object) reports paths relative to that part inside [`Diagnostics::within`].

use super::index::{PathIndex, join_path};
use super::yaml_tree::Pos;
use crate::model::{Diagnostic, Severity};

/// Diagnostics of one load.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Pending>,
    /// Prefix of every path reported; set by [`Diagnostics::within`].
    base: String,
    /// Where the current [`Diagnostics::within`] scope's diagnostics start in `items`.
    scope_start: usize,
}

/// A diagnostic not yet placed in the document.
#[derive(Debug)]
struct Pending {
    severity: Severity,
    message: String,
    path: String,
    place: Place,
}

#[derive(Debug, Clone, Copy)]
enum Place {
    /// At the value the path names (or its nearest existing ancestor).
    Value,
    /// At the key that introduces the path (unknown fields).
    Key,
    /// Already placed (a YAML syntax error, which has no path).
    At(Pos),
}

impl Diagnostics {
    pub fn error(&mut self, path: &str, message: impl std::fmt::Display) {
        self.push(path, Severity::Error, message.to_string(), Place::Value);
    }

    pub fn warning(&mut self, path: &str, message: impl std::fmt::Display) {
        self.push(path, Severity::Warning, message.to_string(), Place::Value);
    }

    /// An error placed at the key of `path` rather than its value (unknown fields).
    pub fn key_error(&mut self, path: &str, message: impl std::fmt::Display) {
        self.push(path, Severity::Error, message.to_string(), Place::Key);
    }

    /// An error already placed in the text (a YAML syntax error).
    pub fn error_at(&mut self, pos: Pos, message: impl std::fmt::Display) {
        self.push("", Severity::Error, message.to_string(), Place::At(pos));
    }

    fn push(&mut self, path: &str, severity: Severity, message: String, place: Place) {
        self.items.push(Pending {
            severity,
            message,
            path: join_path(&self.base, path),
            place,
        });
    }

    /// Runs `report` with every path it reports taken relative to `base`, and with
    /// [`Diagnostics::has_errors`] answering for what it reports alone.
    pub fn within<R>(&mut self, base: &str, report: impl FnOnce(&mut Diagnostics) -> R) -> R {
        let inner_base = join_path(&self.base, base);
        let outer_base = std::mem::replace(&mut self.base, inner_base);
        let outer_start = std::mem::replace(&mut self.scope_start, self.items.len());
        let result = report(self);
        self.base = outer_base;
        self.scope_start = outer_start;
        result
    }

    /// Whether an error was reported in the current scope (the whole load, or the
    /// innermost [`Diagnostics::within`]).
    pub fn has_errors(&self) -> bool {
        self.items
            .get(self.scope_start..)
            .is_some_and(|items| items.iter().any(|d| d.severity == Severity::Error))
    }

    /// Every diagnostic placed through `index`, in document order.
    pub fn into_sorted(self, index: &PathIndex) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self
            .items
            .into_iter()
            .map(|d| {
                let pos = match d.place {
                    Place::Value => index.locate(&d.path),
                    Place::Key => index.locate_key(&d.path),
                    Place::At(pos) => pos,
                };
                Diagnostic {
                    severity: d.severity,
                    message: d.message,
                    line: pos.line,
                    column: pos.column,
                    path: d.path,
                }
            })
            .collect();
        out.sort_by_key(|d| (d.line, d.column));
        out
    }

    /// Splits into (errors, warnings), each in document order.
    pub fn split(self, index: &PathIndex) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        self.into_sorted(index)
            .into_iter()
            .partition(|d| d.severity == Severity::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_reports_relative_paths_and_scopes_has_errors() {
        let mut d = Diagnostics::default();
        d.error("outer", "first");
        let inner_errors = d.within("rules[0].config", |d| {
            assert!(!d.has_errors());
            d.warning("", "at the base");
            d.warning("[2]", "an index");
            d.error("field", "a field");
            d.has_errors()
        });
        assert!(inner_errors);
        let paths: Vec<String> = d
            .into_sorted(&PathIndex::default())
            .into_iter()
            .map(|d| d.path)
            .collect();
        assert_eq!(
            paths,
            [
                "outer",
                "rules[0].config",
                "rules[0].config[2]",
                "rules[0].config.field"
            ]
        );
    }
}
