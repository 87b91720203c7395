//! An in-memory [`HostApi`] for native tests and tools (`edge check` style validation).
//!
//! Rate limits use a sliding log per bucket against a clock the caller sets, so tests are
//! deterministic; log lines are kept for assertions.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

use crate::host_api::HostApi;
use crate::model::{LogLevel, RateLimitResult, TargetMetrics};

/// One recorded `log` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Default)]
pub struct MemoryHost {
    secrets: HashMap<(String, String), String>,
    logs: RefCell<Vec<LogLine>>,
    buckets: RefCell<HashMap<String, VecDeque<u64>>>,
    now_ms: Cell<u64>,
    metrics: Vec<TargetMetrics>,
}

impl MemoryHost {
    pub fn new() -> MemoryHost {
        MemoryHost::default()
    }

    /// Adds a secret `secrets.get(vault, name)` resolves to.
    pub fn with_secret(mut self, vault: &str, name: &str, value: &str) -> MemoryHost {
        self.secrets
            .insert((vault.to_string(), name.to_string()), value.to_string());
        self
    }

    pub fn with_metrics(mut self, metrics: Vec<TargetMetrics>) -> MemoryHost {
        self.metrics = metrics;
        self
    }

    /// Sets the clock rate limits count against.
    pub fn set_now_ms(&self, now: u64) {
        self.now_ms.set(now);
    }

    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.borrow().clone()
    }
}

impl HostApi for MemoryHost {
    fn log(&self, level: LogLevel, message: &str, fields: &[(String, String)]) {
        self.logs.borrow_mut().push(LogLine {
            level,
            message: message.to_string(),
            fields: fields.to_vec(),
        });
    }

    fn rate_limit_check(&self, bucket: &str, capacity: u64, window_ms: u64) -> RateLimitResult {
        let now = self.now_ms.get();
        let mut buckets = self.buckets.borrow_mut();
        let hits = buckets.entry(bucket.to_string()).or_default();
        while hits
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= window_ms)
        {
            hits.pop_front();
        }
        let used = hits.len() as u64;
        if used < capacity {
            hits.push_back(now);
            RateLimitResult {
                allowed: true,
                remaining: capacity - used - 1,
                retry_after_ms: 0,
            }
        } else {
            let oldest = hits.front().copied().unwrap_or(now);
            RateLimitResult {
                allowed: false,
                remaining: 0,
                retry_after_ms: (oldest + window_ms).saturating_sub(now),
            }
        }
    }

    fn secret(&self, vault: &str, name: &str) -> Option<String> {
        self.secrets
            .get(&(vault.to_string(), name.to_string()))
            .cloned()
    }

    fn metrics_snapshot(&self) -> Vec<TargetMetrics> {
        self.metrics.clone()
    }

    fn metrics_generation(&self) -> u64 {
        0
    }
}
