//! Policy document: YAML with source locations, rules, validation diagnostics.

pub mod yaml_tree;
