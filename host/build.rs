//! Builds the gateway plugin (`plugin/`) for wasm32-wasip2 as part of the ordinary host
//! build and hands its path to `include_bytes!` through `GATEWAY_PLUGIN_WASM`.
//! Reruns whenever `plugin/`, `wit/` or the lock file change.

fn main() {
    let root = build_support::workspace_root();
    build_support::rerun_if_changed(&root, &["plugin", "wit", "Cargo.lock"]);
    let wasm = build_support::build_component(&root, "gateway-plugin");
    println!("cargo:rustc-env=GATEWAY_PLUGIN_WASM={}", wasm.display());
}
