//! Policy document: YAML with source locations, rules, validation diagnostics.
//!
//! `parse` turns the text into a [`PolicyDoc`] and a [`PathIndex`]; [`PathIndex::locate`]
//! answers "where was `on_http_request[0].actions[1].config.x` written" for any stage
//! that reports a diagnostic by path.

pub mod diagnostics;
pub mod document;
pub mod index;
pub mod parse;
pub mod yaml_tree;

pub use diagnostics::Diagnostics;
pub use document::{ActionDoc, ExprDoc, Phase, PolicyDoc, RuleDoc};
pub use index::PathIndex;
pub use parse::{Parsed, parse};

/// Where `path` (e.g. `on_http_request[0].actions[1].config.status_code`) was written in
/// the policy `text`: 1-based (line, column), or the nearest existing ancestor's position
/// for a path that is not in the document. `None` when the text is not valid YAML.
pub fn locate(text: &str, path: &str) -> Option<(u32, u32)> {
    let root = yaml_tree::parse(text).ok()?;
    let pos = PathIndex::build(&root).locate(path);
    Some((pos.line, pos.column))
}

#[cfg(test)]
mod tests {

    #[test]
    fn locate_finds_paths_in_policy_text() {
        let text = "on_http_request:\n  - type: deny\n    config:\n      status_code: 401\n";
        assert_eq!(
            super::locate(text, "on_http_request[0].config.status_code"),
            Some((4, 20))
        );
        assert_eq!(
            super::locate(text, "on_http_request[0].config.nope"),
            Some((4, 7))
        );
        assert_eq!(super::locate("a: [", "a"), None);
    }
}
