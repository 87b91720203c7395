//! Collects every problem of a policy load, each placed at its line and column.

use super::index::PathIndex;
use crate::model::{Diagnostic, Severity};

/// Diagnostics of one load, located through the document's [`PathIndex`].
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, index: &PathIndex, path: &str, message: impl Into<String>) {
        self.push(index, path, Severity::Error, message.into(), false);
    }

    pub fn warning(&mut self, index: &PathIndex, path: &str, message: impl Into<String>) {
        self.push(index, path, Severity::Warning, message.into(), false);
    }

    /// An error placed at the key of `path` rather than its value (unknown fields).
    pub fn key_error(&mut self, index: &PathIndex, path: &str, message: impl Into<String>) {
        self.push(index, path, Severity::Error, message.into(), true);
    }

    /// Adds an already-built diagnostic (a YAML syntax error).
    pub fn push_raw(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    fn push(
        &mut self,
        index: &PathIndex,
        path: &str,
        severity: Severity,
        message: String,
        at_key: bool,
    ) {
        let pos = if at_key {
            index.locate_key(path)
        } else {
            index.locate(path)
        };
        self.items.push(Diagnostic {
            severity,
            message,
            line: pos.line,
            column: pos.column,
            path: path.to_string(),
        });
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Every diagnostic, in document order.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| (d.line, d.column));
        self.items
    }

    /// Splits into (errors, warnings), each in document order.
    pub fn split(self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        self.into_sorted()
            .into_iter()
            .partition(|d| d.severity == Severity::Error)
    }
}
