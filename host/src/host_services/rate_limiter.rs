//! Sliding-window rate limiter shared by every plugin instance (the `rate-limit-check` import).
//!
//! Each bucket keeps two fixed windows, the current one and the one before it, and estimates
//! the requests of the sliding window ending now as
//! `previous × (share of the previous window still inside the sliding window) + current`.
//! This is the "sliding window counter" used by Cloudflare and nginx-style limiters: O(1)
//! memory per bucket whatever the capacity, and at most a small over-admission at window
//! boundaries compared with an exact log of timestamps.
//!
//! Buckets live in a fixed number of shards, each behind its own mutex, so concurrent
//! requests for different buckets rarely contend. Memory is bounded: a shard that reaches
//! its share of [`RateLimiterConfig::max_buckets`] first drops idle buckets (nothing counted
//! for two windows, so they would read as empty anyway), then the least recently used ones.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

/// Number of independently locked shards. 16 keeps contention low on machines with a few
/// dozen cores while keeping the per-shard eviction scan short.
const SHARDS: usize = 16;

/// Limits of the limiter itself.
#[derive(Debug, Clone, Copy)]
pub struct RateLimiterConfig {
    /// Most buckets kept at once across all shards. A bucket costs about 100 bytes plus its
    /// key, so the default of 100 000 bounds the limiter near 15 MiB even under a key flood.
    pub max_buckets: usize,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        Self {
            max_buckets: 100_000,
        }
    }
}

/// The verdict for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDecision {
    pub allowed: bool,
    /// Requests left in the sliding window after this one (0 when denied).
    pub remaining: u64,
    /// When denied: milliseconds until a request would be allowed; 0 when allowed.
    pub retry_after_ms: u64,
}

#[derive(Debug)]
struct Bucket {
    window_ms: u64,
    /// Start of the current fixed window, in ms since the limiter's epoch.
    window_start: u64,
    current: u64,
    previous: u64,
    last_seen: u64,
}

impl Bucket {
    fn new(window_ms: u64, now: u64) -> Self {
        Self {
            window_ms,
            window_start: now - now % window_ms,
            current: 0,
            previous: 0,
            last_seen: now,
        }
    }

    /// Moves the fixed windows forward so that `now` falls in the current one.
    fn advance(&mut self, now: u64) {
        let start = now - now % self.window_ms;
        if start == self.window_start {
            return;
        }
        self.previous = if start - self.window_start == self.window_ms {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.window_start = start;
    }

    fn is_idle(&self, now: u64) -> bool {
        now.saturating_sub(self.window_start) >= 2 * self.window_ms
    }

    /// Weight of the previous window in the sliding estimate, as (numerator, denominator).
    fn previous_weight(&self, now: u64) -> (u64, u64) {
        let elapsed = now - self.window_start;
        (self.window_ms - elapsed, self.window_ms)
    }

    /// Sliding-window estimate of the requests counted so far, rounded up.
    fn estimate(&self, now: u64) -> u64 {
        let (num, den) = self.previous_weight(now);
        (self.previous * num).div_ceil(den) + self.current
    }

    /// How long until the estimate drops to `capacity - 1` or below (so one more request fits).
    fn retry_after(&self, now: u64, capacity: u64) -> u64 {
        let elapsed = now - self.window_start;
        let w = self.window_ms;
        let room = capacity.saturating_sub(1);
        if self.current <= room {
            // Wait inside this window until previous*(w-t)/w + current <= room:
            // t >= w - (room-current)*w/previous.
            if self.previous == 0 {
                return 1;
            }
            let keep = (room - self.current) * w / self.previous;
            let t = w.saturating_sub(keep);
            return t.saturating_sub(elapsed).max(1);
        }
        // The current window alone is over: wait for the next window, in which this one
        // becomes "previous" and must decay until current*(w-t')/w <= room.
        let keep = room * w / self.current.max(1);
        (w - elapsed) + w.saturating_sub(keep)
    }
}

#[derive(Debug, Default)]
struct Shard {
    buckets: HashMap<String, Bucket>,
}

/// The shared limiter. Cheap to call; safe from any thread.
#[derive(Debug)]
pub struct RateLimiter {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    per_shard_cap: usize,
    epoch: Instant,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(RateLimiterConfig::default())
    }
}

impl RateLimiter {
    pub fn new(cfg: RateLimiterConfig) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            per_shard_cap: cfg.max_buckets.div_ceil(SHARDS).max(1),
            epoch: Instant::now(),
        }
    }

    /// Counts one request against `bucket`, allowing at most `capacity` per `window_ms`.
    /// A denied request is not counted. A zero window or capacity denies everything.
    pub fn check(&self, bucket: &str, capacity: u64, window_ms: u64) -> RateLimitDecision {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.check_at(bucket, capacity, window_ms, now)
    }

    /// [`Self::check`] at an explicit time (ms since the limiter started); used by tests.
    pub fn check_at(
        &self,
        bucket: &str,
        capacity: u64,
        window_ms: u64,
        now: u64,
    ) -> RateLimitDecision {
        if capacity == 0 || window_ms == 0 {
            return RateLimitDecision {
                allowed: false,
                remaining: 0,
                retry_after_ms: window_ms.max(1),
            };
        }
        let idx = (self.hasher.hash_one(bucket) as usize) % self.shards.len();
        let Some(shard) = self.shards.get(idx) else {
            return RateLimitDecision {
                allowed: true,
                remaining: 0,
                retry_after_ms: 0,
            };
        };
        // A poisoned lock only means another thread panicked mid-update of plain counters;
        // the data is still usable.
        let mut shard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !shard.buckets.contains_key(bucket) && shard.buckets.len() >= self.per_shard_cap {
            evict(&mut shard, self.per_shard_cap, now);
        }
        let b = shard
            .buckets
            .entry(bucket.to_owned())
            .or_insert_with(|| Bucket::new(window_ms, now));
        if b.window_ms != window_ms {
            // The policy changed this bucket's window (a reload); start it afresh.
            *b = Bucket::new(window_ms, now);
        }
        b.advance(now);
        b.last_seen = now;
        let used = b.estimate(now);
        if used < capacity {
            b.current += 1;
            RateLimitDecision {
                allowed: true,
                remaining: capacity - used - 1,
                retry_after_ms: 0,
            }
        } else {
            RateLimitDecision {
                allowed: false,
                remaining: 0,
                retry_after_ms: b.retry_after(now, capacity),
            }
        }
    }

    /// Buckets currently kept (all shards).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .buckets
                    .len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room in a full shard: idle buckets go first; if none, the least recently used
/// eighth of the shard goes (a batch, so a key flood does not scan the shard per request).
fn evict(shard: &mut Shard, cap: usize, now: u64) {
    shard.buckets.retain(|_, b| !b.is_idle(now));
    if shard.buckets.len() < cap {
        return;
    }
    let mut ages: Vec<u64> = shard.buckets.values().map(|b| b.last_seen).collect();
    let drop_n = (cap / 8).max(1);
    ages.sort_unstable();
    let cutoff = ages.get(drop_n - 1).copied().unwrap_or(u64::MAX);
    let mut dropped = 0;
    shard.buckets.retain(|_, b| {
        if dropped < drop_n && b.last_seen <= cutoff {
            dropped += 1;
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_capacity_then_denies_within_one_window() {
        let rl = RateLimiter::default();
        for i in 0..3 {
            let d = rl.check_at("k", 3, 1000, 10);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 2 - i);
        }
        let d = rl.check_at("k", 3, 1000, 20);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(d.retry_after_ms > 0);
        // Other buckets are independent.
        assert!(rl.check_at("other", 3, 1000, 20).allowed);
    }

    #[test]
    fn previous_window_decays_across_the_boundary() {
        let rl = RateLimiter::default();
        for _ in 0..10 {
            assert!(rl.check_at("k", 10, 1000, 900).allowed);
        }
        // Just after the boundary almost all of the previous window still counts.
        assert!(!rl.check_at("k", 10, 1000, 1001).allowed);
        // Half-way through the next window half of it counts: 5 more fit.
        let mut allowed = 0;
        for _ in 0..10 {
            if rl.check_at("k", 10, 1000, 1500).allowed {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5);
        // Two windows later everything has expired.
        assert_eq!(rl.check_at("k", 10, 1000, 3100).remaining, 9);
    }

    #[test]
    fn retry_after_points_at_when_a_request_fits_again() {
        let rl = RateLimiter::default();
        for _ in 0..4 {
            assert!(rl.check_at("k", 4, 1000, 0).allowed);
        }
        let d = rl.check_at("k", 4, 1000, 200);
        assert!(!d.allowed);
        // The current window is full, so the earliest point is in the next window once a
        // quarter of the previous one has slid out: 800 + 250.
        assert_eq!(d.retry_after_ms, 1050);
        assert!(
            !rl.check_at("k", 4, 1000, 200 + d.retry_after_ms - 10)
                .allowed
        );
        assert!(rl.check_at("k", 4, 1000, 200 + d.retry_after_ms).allowed);
    }

    #[test]
    fn denied_requests_are_not_counted() {
        let rl = RateLimiter::default();
        assert!(rl.check_at("k", 1, 100, 0).allowed);
        for t in 1..50 {
            assert!(!rl.check_at("k", 1, 100, t).allowed);
        }
        assert!(rl.check_at("k", 1, 100, 200).allowed);
    }

    #[test]
    fn zero_capacity_denies() {
        let rl = RateLimiter::default();
        assert!(!rl.check_at("k", 0, 1000, 0).allowed);
    }

    #[test]
    fn bucket_count_stays_bounded_under_a_key_flood() {
        let rl = RateLimiter::new(RateLimiterConfig { max_buckets: 160 });
        for i in 0..10_000u64 {
            rl.check_at(&format!("key-{i}"), 5, 60_000, i);
        }
        assert!(rl.len() <= 160, "kept {}", rl.len());
        // A bucket in active use survives the flood of new keys.
        let rl = RateLimiter::new(RateLimiterConfig { max_buckets: 160 });
        for i in 0..2_000u64 {
            rl.check_at("hot", 1_000_000, 60_000, i * 2);
            rl.check_at(&format!("key-{i}"), 5, 60_000, i * 2 + 1);
        }
        assert_eq!(
            rl.check_at("hot", 1_000_000, 60_000, 4_001).remaining,
            1_000_000 - 2_001
        );
    }

    #[test]
    fn idle_buckets_are_evicted_first() {
        let rl = RateLimiter::new(RateLimiterConfig { max_buckets: 16 });
        for i in 0..16u64 {
            rl.check_at(&format!("old-{i}"), 5, 10, 0);
        }
        // Much later every old bucket is idle; new keys replace them.
        for i in 0..16u64 {
            rl.check_at(&format!("new-{i}"), 5, 10, 1000);
        }
        assert!(rl.len() <= 16);
    }

    #[test]
    fn shared_across_threads() {
        let rl = std::sync::Arc::new(RateLimiter::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let rl = rl.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|_| rl.check_at("k", 150, 60_000, 5).allowed)
                        .count()
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 150);
    }
}
