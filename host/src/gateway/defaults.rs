//! Limits the attempt loop applies when a plan leaves a field at zero, and the loop's own
//! fixed bounds. The plugin normally fills every plan field from the policy (defaults
//! 3m per attempt, 6m in total, 10 upstream calls: `docs/ai-gateway.md`, "Configuration"
//! and "Failover"); these keep a zero from meaning "forever".

use std::time::Duration;

/// Upstream calls per client request when `plan.max_attempts` is 0: the documented cap of
/// 10, retries included.
pub const DEFAULT_MAX_ATTEMPTS: usize = 10;
/// Per-attempt deadline when an attempt's `timeout_ms` is 0 (`per_request_timeout` default).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(180);
/// Whole-loop deadline when `plan.total_timeout_ms` is 0 (`total_timeout` default).
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(360);
/// Longest time without a data event (comments and pings do not count) when
/// `plan.stream_idle_timeout_ms` is 0. Models that "think" before answering can pause for a
/// long time, so this is generous.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Waits for `Retry-After` per client request: at most two, so a provider that keeps
/// answering "retry in 1 s" cannot hold the request for the whole total timeout.
pub const MAX_SAME_RETRIES: u32 = 2;
/// Bytes of a non-stream answer read before its head goes to the client. Chat answers are
/// far smaller; past this (large embeddings batches) the answer commits and the rest is
/// relayed as it arrives, so memory per request stays bounded.
pub const ANSWER_BUFFER_LIMIT: usize = 16 * 1024 * 1024;
/// Bytes of one unfinished SSE event the relay holds back before it passes them on anyway.
/// The largest real events (a Responses `response.completed` repeating a long answer) are
/// around a megabyte; this bounds the memory a provider that never ends an event can take.
pub const HELD_EVENT_LIMIT: usize = 8 * 1024 * 1024;
/// Bytes of a failed response body kept in the attempt record.
pub const EXCERPT_LIMIT: usize = 1024;
/// Bytes of a rejected request's body kept so the provider's own answer can reach the
/// client unchanged. Providers' error bodies are a few hundred bytes; one longer than this
/// is not passed on half, the gateway's own error quotes its start instead.
pub const REJECTION_BODY_LIMIT: usize = 64 * 1024;
/// Longest time spent reading a failed body; a failed provider that dribbles its error body
/// must not eat the next candidate's time.
pub const EXCERPT_READ_LIMIT: Duration = Duration::from_secs(2);

/// `ms` as a duration, or `default` when it is 0.
pub fn or_default(ms: u64, default: Duration) -> Duration {
    if ms == 0 {
        default
    } else {
        Duration::from_millis(ms)
    }
}
