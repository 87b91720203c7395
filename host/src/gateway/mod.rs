//! The ai-gateway attempt loop: runs a plan from the plugin against providers.
//!
//! The plugin decides which providers, models and keys to try and in what order (a
//! [`Plan`](crate::wit::types::Plan)); this module moves the bytes:
//!
//! - [`upstream_client`]: the pooled HTTPS clients, one per TLS profile ([`tls_profile`]);
//!   [`client_builder`] builds one (rustls + ring, HTTP/2, extra CA), with
//!   [`insecure_verifier`] for `insecure_skip_verify`; [`tls_cause`] names why a
//!   certificate was refused.
//! - [`internal_hosts`]: `NAME.internal` → address resolution, falling back to DNS.
//! - [`attempt_loop`]: [`execute_plan`], the loop with its timeouts, cap and Retry-After.
//! - [`attempt`]: one call: request, deadline, head; commits on a 2xx (non-stream).
//! - [`answer_body`]: a non-stream answer's body, read (bounded) before the commit.
//! - [`stream_commit`]: a stream's commit point, its first content event.
//! - [`stream_cursor`], [`sse_framer`], [`sse_parse`]: where a stream's events end and
//!   whether its closing event arrived.
//! - [`excerpt`]: the bounded start of a failed answer's body, for the attempt record.
//! - [`failover_classifier`]: the hook through which the loop asks the plugin what to do
//!   after each failed attempt; [`attempt_step`]: the names of the steps it takes.
//! - [`relay_body`]: the pass-through body with its idle and duration caps and SSE error
//!   ending; [`break_report`]: counting and logging a break.
//! - [`sse_events`]: what each event is (keep-alive, preamble, content, closing, error) and
//!   the error events a broken stream ends with.
//! - [`redaction`]: keeps the attempt's credentials out of failure records.
//! - [`provider_gate`]: the per-provider concurrency caps and their queues.
//!
//! # What the loop does
//!
//! After every failed attempt the loop asks the plugin (through [`FailoverClassifier`]) what
//! to do; the rules are the plugin's (`plugin/src/ai_gateway/failover.rs`, the table in
//! docs/ai-gateway.md, "Failover"). The loop parses `Retry-After` once (into the attempt's
//! `retry_after_ms`), tells the plugin whether it could honour a retry of the same attempt
//! now, and carries the answer out within its own limits:
//!
//! | the plugin answers | the loop | recorded `step` |
//! |---|---|---|
//! | (the attempt committed: 2xx; for streams a healthy first event) | serve it, stop | `succeeded` |
//! | `retry-same`, and the wait fits `max_retry_after_ms`, the total time, the attempt cap and the 2-retry cap | wait, same attempt again | `retry-same` |
//! | `retry-same` when it does not | as `next-key` | `next-key` |
//! | `next-key` | the next attempt in the plan | `next-key` |
//! | `next-model` | skip the rest of this model group | `next-model` |
//! | `drop-key` | skip every remaining attempt sending this key to this provider | `drop-key` |
//! | `stop` | stop | `fail-fast` |
//! | (the total timeout ran out) | stop, `timed_out` | `total-timeout` |
//! | go on, with nothing left to try | stop | `exhausted` |
//! | go on, with attempts left but `max_attempts` calls made | stop | `attempt-cap` |
//!
//! A provider/model/key is never called twice except by `retry-same`. The total timeout
//! bounds the loop, Retry-After waits included, not a response already committed: a
//! committed stream runs as long as the provider keeps sending data events (up to
//! `stream_max_duration_ms` when set), and ends with an SSE error event in the plan's format
//! if the provider breaks it, ends it without its closing event, or sends no data event for
//! `stream_idle_timeout_ms`. When nothing served, the outcome carries the last failed
//! answer (status, content type, body up to 64 KiB, redacted) so the plugin can pass a
//! provider's rejection through.
//!
//! The served response carries the provider's headers (minus hop-by-hop ones and
//! `alt-svc`), the plan's `response_headers`, and `x-aigw-attempts` (upstream calls made,
//! retries included), `x-aigw-provider`, `x-aigw-model`.

pub(crate) mod answer_body;
pub(crate) mod attempt;
pub(crate) mod attempt_body;
pub(crate) mod attempt_error;
pub(crate) mod attempt_loop;
pub(crate) mod attempt_step;
pub(crate) mod break_report;
pub(crate) mod client_builder;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod defaults;
pub(crate) mod excerpt;
pub(crate) mod failover_classifier;
pub(crate) mod insecure_verifier;
pub(crate) mod internal_hosts;
pub(crate) mod plan_result;
pub(crate) mod provider_gate;
pub(crate) mod redaction;
pub(crate) mod relay_body;
pub(crate) mod response_headers;
pub(crate) mod retry_after;
pub(crate) mod sse_events;
pub(crate) mod sse_framer;
pub(crate) mod sse_parse;
pub(crate) mod stream_commit;
pub(crate) mod stream_cursor;
pub(crate) mod tls_cause;
pub(crate) mod tls_profile;
pub(crate) mod upstream_client;

pub use attempt_loop::execute_plan;
pub use attempt_step::step_label;
pub use client_builder::ClientBuildError;
pub use config::GatewayConfig;
pub use context::GatewayContext;
pub use failover_classifier::FailoverClassifier;
pub use internal_hosts::InternalHosts;
pub use plan_result::PlanResult;
pub use response_headers::{REQUEST_ID_HEADER, stamp_request_id};
