//! What a key's `quota` reads as in strategies (`k.quota` of `ai.keys`,
//! `m.metrics.api_keys['k_…'].quota`), docs/ai-gateway.md "Strategies".
//!
//! Built per request from the host's metrics snapshot. Until a provider has answered a key's
//! request with `x-ratelimit-*` headers (every key, right after start) its quota is unknown.
//! Unknown reads as [`UNKNOWN_QUOTA`], a number larger than any real remaining quota, so the
//! documented threshold filter `ai.keys.filter(k, k.quota.remaining_requests > 100)` keeps
//! unknown keys instead of failing on a null; `k.quota.known` tells the two apart.

use serde_json::{Value as Json, json};

/// What an unknown quota number reads as: 2^31 − 1, above any provider's real remaining
/// requests or tokens, and small enough that strategy arithmetic on it cannot overflow.
pub const UNKNOWN_QUOTA: u64 = 2_147_483_647;

/// The `quota` map: remaining requests and tokens as last reported, `UNKNOWN_QUOTA` for what
/// was never reported (limits are never reported), and `known` = some number was reported.
pub fn quota_json(remaining_requests: Option<u64>, remaining_tokens: Option<u64>) -> Json {
    json!({
        "known": remaining_requests.is_some() || remaining_tokens.is_some(),
        "remaining_requests": remaining_requests.unwrap_or(UNKNOWN_QUOTA),
        "remaining_tokens": remaining_tokens.unwrap_or(UNKNOWN_QUOTA),
        "limit_requests": UNKNOWN_QUOTA,
        "limit_tokens": UNKNOWN_QUOTA,
    })
}
