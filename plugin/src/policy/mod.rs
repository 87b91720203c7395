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
pub use document::{ActionDoc, Phase, RuleDoc};
pub use index::PathIndex;
pub use parse::parse;
