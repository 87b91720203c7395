//! The action's knobs (token limits, timeouts, `on_error`, `only_allow_configured_models`)
//! checked at load, with the defaults of those a policy leaves out.

use super::config::ActionConfig;
use super::validate;
use crate::policy::Diagnostics;

/// How long one attempt may take when `per_request_timeout` is not set: long enough for a
/// slow completion of a large model.
const DEFAULT_PER_REQUEST_TIMEOUT_MS: u64 = 180_000;
/// How long the whole request may take when `total_timeout` is not set: two slow attempts.
const DEFAULT_TOTAL_TIMEOUT_MS: u64 = 360_000;
/// Longest silence between two stream chunks when `stream_idle_timeout` is not set.
const DEFAULT_STREAM_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Longest a committed stream may run when `stream_max_duration` is not set: no cap (0).
/// Long answers of reasoning models legitimately stream for many minutes, and the idle
/// timeout (which only data events reset) already ends a provider that stalls or only
/// pings; the cap is for operators who want a hard bound anyway.
const DEFAULT_STREAM_MAX_DURATION_MS: u64 = 0;

/// Knobs of the action after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub on_error_continue: bool,
    pub per_request_timeout_ms: u64,
    pub total_timeout_ms: u64,
    pub stream_idle_timeout_ms: u64,
    /// 0 = no cap.
    pub stream_max_duration_ms: u64,
    pub only_allow_configured_models: bool,
}

impl Settings {
    /// Runs at load; a bad value is reported and replaced by its default so the rest of
    /// the config is still checked.
    pub(super) fn from_config(cfg: &ActionConfig, d: &mut Diagnostics) -> Settings {
        let mut tokens = |name: &str, v: Option<i64>| {
            v.and_then(|n| validate::token_limit(n).map_err(|e| d.error(name, e)).ok())
        };
        let max_input_tokens = tokens("max_input_tokens", cfg.max_input_tokens);
        let max_output_tokens = tokens("max_output_tokens", cfg.max_output_tokens);
        let mut dur = |name: &str, v: &Option<String>, default: u64| -> u64 {
            match v {
                None => default,
                Some(text) => match validate::duration_ms(text) {
                    Ok(ms) => ms,
                    Err(e) => {
                        d.error(name, e);
                        default
                    }
                },
            }
        };
        let per_request_timeout_ms = dur(
            "per_request_timeout",
            &cfg.per_request_timeout,
            DEFAULT_PER_REQUEST_TIMEOUT_MS,
        );
        let total_timeout_ms = dur(
            "total_timeout",
            &cfg.total_timeout,
            DEFAULT_TOTAL_TIMEOUT_MS,
        );
        let stream_idle_timeout_ms = dur(
            "stream_idle_timeout",
            &cfg.stream_idle_timeout,
            DEFAULT_STREAM_IDLE_TIMEOUT_MS,
        );
        let stream_max_duration_ms = dur(
            "stream_max_duration",
            &cfg.stream_max_duration,
            DEFAULT_STREAM_MAX_DURATION_MS,
        );
        if per_request_timeout_ms > total_timeout_ms {
            d.warning("per_request_timeout", "per_request_timeout is longer than total_timeout; the total timeout will cut attempts short");
        }
        let on_error_continue = match cfg.on_error.as_deref() {
            None | Some("halt") => false,
            Some("continue") => true,
            Some(other) => {
                d.error(
                    "on_error",
                    format!("'{other}' is not valid: on_error must be 'halt' or 'continue'"),
                );
                false
            }
        };
        Settings {
            max_input_tokens,
            max_output_tokens,
            on_error_continue,
            per_request_timeout_ms,
            total_timeout_ms,
            stream_idle_timeout_ms,
            stream_max_duration_ms,
            only_allow_configured_models: cfg.only_allow_configured_models,
        }
    }
}
