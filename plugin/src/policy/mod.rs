//! Policy document: YAML with source locations, rules, validation diagnostics.
