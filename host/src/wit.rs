//! Host-side bindings generated from `wit/gateway.wit`, the contract between the host and
//! the gateway plugin. Both sides of the contract come from that one file; every module of
//! the host that speaks the contract's types (the server, the attempt loop, the plugin
//! runtime) imports them from here, so none of them has to go through another.

wasmtime::component::bindgen!({
    world: "gateway",
    path: "../wit",
});

pub use aigw::gateway::host;
pub use aigw::gateway::types;
