//! Runs the phases of a loaded policy against a request.

pub mod memory_host;
