//! Host-side bindings generated from `wit/gateway.wit`. Both sides of the contract come from
//! that one file.

wasmtime::component::bindgen!({
    world: "gateway",
    path: "../wit",
});

pub use aigw::gateway::host;
pub use aigw::gateway::types;
