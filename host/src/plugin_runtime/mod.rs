//! The wasm plugin runtime: one engine, a cache of compiled components, and pools of
//! reusable plugin instances with a deadline and a memory limit on every call.
//!
//! Start with [`PluginRuntime::new`] (once per process), then
//! [`PluginRuntime::load_policy`] for each policy load; the resulting [`LoadedPolicy`] is what
//! the server calls per request. Errors carry their HTTP status and a stable code
//! ([`PluginError`]).

mod cache;
mod child_compile;
mod config;
mod engine;
mod errors;
mod guest_io;
mod host_imports;
mod instance_state;
mod limits;
mod loaded_policy;
mod pool;
mod runtime;
mod shared;
mod warmer;

pub use cache::CacheOutcome;
pub use child_compile::{Compiler, PRECOMPILE_COMMAND, PrecompileError, precompile_to_file};
pub use config::{ArtifactCache, RuntimeConfig};
pub use errors::{LoadError, PluginError, SetupError};
pub use loaded_policy::LoadedPolicy;
pub use pool::PoolStats;
pub use runtime::PluginRuntime;

#[cfg(test)]
mod tests {
    /// The server shares these across tokio tasks and threads.
    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<super::PluginRuntime>();
        check::<super::LoadedPolicy>();
        check::<super::PluginError>();
        check::<crate::host_services::HostServices>();
    }
}
