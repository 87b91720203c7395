//! Binds the plugin's logic to the WIT world. Compiled for wasm32 only.

wit_bindgen::generate!({ world: "gateway", path: "../wit" });
