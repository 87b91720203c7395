//! The ai-gateway attempt loop: runs a plan from the plugin against providers.
//!
//! The plugin decides which providers, models and keys to try and in what order (a
//! [`Plan`](crate::wit::types::Plan)); this module moves the bytes:
//!
//! - [`upstream_client`]: the pooled HTTPS client (rustls + ring, HTTP/2, extra CA).
//! - [`internal_hosts`]: `NAME.internal` → address resolution, falling back to DNS.
//! - [`attempt_loop`]: [`execute_plan`], the loop with its timeouts, cap and Retry-After.
//! - [`attempt`]: one call: request, deadline, head; commits on a 2xx (non-stream).
//! - [`answer_body`]: a non-stream answer's body, read (bounded) before the commit.
//! - [`stream_commit`]: a stream's commit point, its first content event.
//! - [`stream_cursor`], [`sse_framer`], [`sse_parse`]: where a stream's events end and
//!   whether its closing event arrived.
//! - [`excerpt`]: the bounded start of a failed answer's body, for the attempt record.
//! - [`failover_rules`]: the default rules and the [`FailoverClassifier`] hook.
//! - [`relay_body`]: the pass-through body with its idle and duration caps and SSE error
//!   ending; [`break_report`]: counting and logging a break.
//! - [`sse_events`]: what each event is (keep-alive, preamble, content, closing, error) and
//!   the error events a broken stream ends with.
//! - [`redaction`]: keeps the attempt's credentials out of failure records.
//!
//! # What the loop does
//!
//! | after an attempt that…                       | default rule (no `custom_failover`) | `retry_action` |
//! |----------------------------------------------|-------------------------------------|----------------|
//! | committed (2xx; for streams a healthy first event) | serve it, stop                | `succeeded`    |
//! | got 429 or 503 with `Retry-After` ≤ `max_retry_after_ms` that fits in the total time (at most 2 waits per request) | wait, same attempt again | `retry_same` |
//! | got 401, 403 or 429                          | next attempt (the next key; the next model once the keys run out) | `next_key` |
//! | got 408 or 5xx, or failed to connect/resolve/handshake, timed out, spoke broken HTTP, or a stream failed before its first event (incl. an error event first, or a non-SSE answer) | skip the rest of this model group | `next_model` |
//! | got any other status (400, 404, 422, 3xx…)   | stop                                | `fail_fast`    |
//! | ran out of the total timeout                 | stop, `timed_out`                   | `exhausted`    |
//! | failed with nothing left to try, or hit `max_attempts` | stop                      | `exhausted`    |
//!
//! A provider/model/key is never called twice except by `retry_same`. With
//! `custom_failover`, the plugin's classifier replaces the rules (a `retry_same` it asks for
//! obeys the same wait limits, else it becomes `next_key`). The total timeout bounds the
//! loop, Retry-After waits included, not a response already committed: a committed stream
//! runs as long as the provider keeps sending data events (up to `stream_max_duration_ms`
//! when set), and ends with an SSE error event in the plan's format if the provider breaks
//! it, ends it without its closing event, or sends no data event for
//! `stream_idle_timeout_ms`.
//!
//! The served response carries the provider's headers (minus hop-by-hop ones and
//! `alt-svc`), the plan's `response_headers`, and `x-aigw-attempts` (upstream calls made,
//! retries included), `x-aigw-provider`, `x-aigw-model`.

pub(crate) mod answer_body;
pub(crate) mod attempt;
pub(crate) mod attempt_error;
pub(crate) mod attempt_loop;
pub(crate) mod break_report;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod defaults;
pub(crate) mod excerpt;
pub(crate) mod failover_rules;
pub(crate) mod internal_hosts;
pub(crate) mod plan_result;
pub(crate) mod redaction;
pub(crate) mod relay_body;
pub(crate) mod response_headers;
pub(crate) mod retry_after;
pub(crate) mod sse_events;
pub(crate) mod sse_framer;
pub(crate) mod sse_parse;
pub(crate) mod stream_commit;
pub(crate) mod stream_cursor;
pub(crate) mod upstream_client;

pub use attempt_loop::execute_plan;
pub use config::GatewayConfig;
pub use context::GatewayContext;
pub use failover_rules::{DefaultFailover, FailoverClassifier};
pub use internal_hosts::InternalHosts;
pub use plan_result::PlanResult;
pub use response_headers::{REQUEST_ID_HEADER, stamp_request_id};
pub use upstream_client::ClientBuildError;
