//! Test harness: builders for loopback servers and the edge under test.
