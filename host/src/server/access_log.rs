//! One structured log line per request (target `edge::access`), written when the response
//! head is ready. A committed stream that breaks later adds a `stream broken` line on the
//! same target (`gateway/break_report.rs`). JSON when `--log-format json`. Holds no secrets: no header values, no
//! bodies, and from attempts only provider, model and the key *id* (a short hash).

use std::fmt::Write as _;
use std::time::Duration;

use crate::gateway::step_label;
use crate::wit::types::GatewayOutcome;

/// What the request path learned about one request, filled in as it goes.
#[derive(Debug, Default)]
pub struct AccessRecord {
    pub id: String,
    pub method: String,
    pub path: String,
    pub client: String,
    /// "respond", "upstream", "forward" or "error".
    pub decision: &'static str,
    pub error_code: Option<&'static str>,
    /// Compact attempt record: `provider/model/key_id=status:action` joined by spaces.
    pub attempts: String,
    pub plugin_time: Duration,
}

impl AccessRecord {
    /// Adds the attempts of a plan's outcome (several plans can run via `resume`).
    pub fn add_attempts(&mut self, outcome: &GatewayOutcome) {
        for a in &outcome.attempts {
            if !self.attempts.is_empty() {
                self.attempts.push(' ');
            }
            let status = a.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
            let key = if a.key_id.is_empty() {
                "client"
            } else {
                a.key_id.as_str()
            };
            let _ = write!(
                self.attempts,
                "{}/{}/{}={}:{}",
                a.provider,
                a.model,
                key,
                status,
                step_label(a.step)
            );
        }
    }

    /// Writes the line.
    pub fn emit(&self, status: u16, elapsed: Duration) {
        tracing::info!(
            target: "edge::access",
            request_id = %self.id,
            method = %self.method,
            path = %self.path,
            client = %self.client,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            plugin_us = u64::try_from(self.plugin_time.as_micros()).unwrap_or(u64::MAX),
            decision = self.decision,
            error_code = self.error_code.unwrap_or(""),
            attempts = %self.attempts,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::types::{AttemptResult, AttemptStep, FailureKind};

    fn attempt(provider: &str, key: &str, status: Option<u16>, step: AttemptStep) -> AttemptResult {
        AttemptResult {
            index: 0,
            provider: provider.into(),
            model: "m".into(),
            key_id: key.into(),
            status,
            failure: status.filter(|s| *s >= 400).map(|_| FailureKind::Status),
            message: String::new(),
            headers: vec![("authorization".into(), "Bearer sk-secret".into())],
            body_excerpt: vec![],
            duration_ms: 1,
            retry_after_ms: None,
            step,
        }
    }

    #[test]
    fn attempt_record_names_key_ids_only() {
        let mut rec = AccessRecord::default();
        rec.add_attempts(&GatewayOutcome {
            served: Some(200),
            attempts: vec![
                attempt("openai", "k1a2", Some(429), AttemptStep::NextKey),
                attempt("openai", "", None, AttemptStep::Succeeded),
            ],
            timed_out: false,
            duration_ms: 3,
            last_answer: None,
        });
        assert_eq!(
            rec.attempts,
            "openai/m/k1a2=429:next_key openai/m/client=-:succeeded"
        );
        assert!(!rec.attempts.contains("sk-secret"));
    }
}
