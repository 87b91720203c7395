//! Builds the hostile plugin fixture (`tests/fixtures/hostile-plugin`) for wasm32-wasip2 as
//! part of the ordinary test build and exports its path as `HOSTILE_PLUGIN_WASM`, read by
//! `paths::hostile_plugin()`: the one place the fixture is built, for every test that loads
//! it. Reruns when the fixture or the WIT contract change.

fn main() {
    let root = build_support::workspace_root();
    build_support::rerun_if_changed(
        &root,
        &["tests/fixtures/hostile-plugin", "wit", "Cargo.lock"],
    );
    let wasm = build_support::build_component(&root, "hostile-plugin");
    println!("cargo:rustc-env=HOSTILE_PLUGIN_WASM={}", wasm.display());
}
