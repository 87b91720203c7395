//! The wasm plugin runtime: one engine, compiled-component cache, instance pool.
pub mod bindings;
