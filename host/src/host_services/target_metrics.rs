//! Rolling per-target statistics (provider, model, key id) that model and key selection read
//! through the `metrics-snapshot` import.
//!
//! The attempt loop calls [`TargetMetrics::record`] after every upstream attempt. Each target
//! keeps the attempts of the last [`TargetMetricsConfig::window`] (at most
//! [`TargetMetricsConfig::max_samples`] of them); a snapshot reports request and error counts,
//! error rate and latency p50/p95 over those, plus the last quota the provider announced in
//! `x-ratelimit-remaining-requests` / `-tokens`.
//!
//! Snapshots are cached: the plugin may ask on every request, and recomputing percentiles
//! each time would be wasted work. [`TargetMetrics::generation`] changes whenever the
//! snapshot would differ (a record, or samples ageing out), so the plugin can also cache what
//! it derived from one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Identity of one upstream target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    pub provider: String,
    pub model: String,
    /// Short hash naming the API key ("" for the client's own key); never the key itself.
    pub key_id: String,
}

impl TargetKey {
    /// The borrowed form the metrics sink takes.
    pub fn as_ref(&self) -> TargetRef<'_> {
        TargetRef {
            provider: &self.provider,
            model: &self.model,
            key_id: &self.key_id,
        }
    }
}

/// A [`TargetKey`] borrowed from the record that names it (an attempt of a plan), so
/// reporting an attempt allocates nothing until the metrics store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetRef<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    /// Short hash naming the API key ("" for the client's own key); never the key itself.
    pub key_id: &'a str,
}

impl TargetRef<'_> {
    pub fn to_key(self) -> TargetKey {
        TargetKey {
            provider: self.provider.to_owned(),
            model: self.model.to_owned(),
            key_id: self.key_id.to_owned(),
        }
    }
}

/// What one attempt contributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptSample {
    /// True when the attempt failed (any failure the attempt loop saw: status, timeout, …).
    pub error: bool,
    pub latency: Duration,
    /// Quota the provider reported in this attempt's response headers, if any.
    pub quota: Quota,
}

/// Remaining quota a provider reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub remaining_requests: Option<u64>,
    pub remaining_tokens: Option<u64>,
}

impl Quota {
    /// Reads `x-ratelimit-remaining-requests` and `x-ratelimit-remaining-tokens` (names
    /// compared case-insensitively; unparsable values are ignored).
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut q = Quota::default();
        for (name, value) in headers {
            let parsed = value.trim().parse::<u64>().ok();
            if name.eq_ignore_ascii_case("x-ratelimit-remaining-requests") {
                q.remaining_requests = parsed.or(q.remaining_requests);
            } else if name.eq_ignore_ascii_case("x-ratelimit-remaining-tokens") {
                q.remaining_tokens = parsed.or(q.remaining_tokens);
            }
        }
        q
    }
}

/// One target's statistics in a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStats {
    pub key: TargetKey,
    pub requests: u64,
    pub errors: u64,
    /// errors / requests; 0 when there were no requests.
    pub error_rate: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub quota: Quota,
}

/// Window and size limits.
#[derive(Debug, Clone, Copy)]
pub struct TargetMetricsConfig {
    /// How far back a snapshot looks. Five minutes smooths single slow calls while still
    /// reacting to a provider that degrades.
    pub window: Duration,
    /// Most samples kept per target (oldest dropped first), bounding memory and the sort
    /// done per snapshot even for a target that serves thousands of requests a second.
    pub max_samples: usize,
    /// Most targets kept; the least recently recorded one is dropped beyond this. Targets
    /// come from policy (providers × models × keys), so this only guards against a policy
    /// that generates keys from request data.
    pub max_targets: usize,
}

impl Default for TargetMetricsConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(300),
            max_samples: 1024,
            max_targets: 4096,
        }
    }
}

#[derive(Debug)]
struct Series {
    /// (time, latency ms, error)
    samples: VecDeque<(Instant, f64, bool)>,
    quota: Quota,
    last_record: Instant,
}

#[derive(Debug)]
struct Cached {
    snapshot: Arc<Vec<TargetStats>>,
    /// `generation` the snapshot was computed at.
    generation: u64,
    /// The snapshot stays valid until the oldest sample ages out.
    valid_until: Option<Instant>,
}

#[derive(Debug)]
struct Inner {
    series: HashMap<TargetKey, Series>,
    generation: u64,
    cached: Option<Cached>,
}

/// The host's rolling metrics. Safe to share across threads.
#[derive(Debug)]
pub struct TargetMetrics {
    cfg: TargetMetricsConfig,
    inner: Mutex<Inner>,
}

impl Default for TargetMetrics {
    fn default() -> Self {
        Self::new(TargetMetricsConfig::default())
    }
}

impl TargetMetrics {
    pub fn new(cfg: TargetMetricsConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new(Inner {
                series: HashMap::new(),
                generation: 0,
                cached: None,
            }),
        }
    }

    /// Records one attempt against `key`. Called by the attempt loop after every attempt.
    pub fn record(&self, key: &TargetKey, sample: AttemptSample) {
        self.record_at(key, sample, Instant::now());
    }

    /// [`Self::record`] at an explicit time (tests).
    pub fn record_at(&self, key: &TargetKey, sample: AttemptSample, now: Instant) {
        let mut inner = self.lock();
        if !inner.series.contains_key(key) && inner.series.len() >= self.cfg.max_targets {
            let oldest = inner
                .series
                .iter()
                .min_by_key(|(_, s)| s.last_record)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                inner.series.remove(&k);
            }
        }
        let series = inner.series.entry(key.clone()).or_insert_with(|| Series {
            samples: VecDeque::new(),
            quota: Quota::default(),
            last_record: now,
        });
        if series.samples.len() >= self.cfg.max_samples {
            series.samples.pop_front();
        }
        series
            .samples
            .push_back((now, sample.latency.as_secs_f64() * 1000.0, sample.error));
        series.last_record = now;
        if sample.quota.remaining_requests.is_some() {
            series.quota.remaining_requests = sample.quota.remaining_requests;
        }
        if sample.quota.remaining_tokens.is_some() {
            series.quota.remaining_tokens = sample.quota.remaining_tokens;
        }
        inner.generation += 1;
    }

    /// Counts a response that had committed to the client (and was recorded as a success)
    /// but then broke. The window keeps counts, not identities, so the most recent success
    /// sample of the target becomes an error: the totals are exact as long as the broken
    /// attempt is still inside the window, which it nearly always is (streams are shorter
    /// than the window). Nothing happens for a target with no success in the window.
    pub fn record_broken_stream(&self, key: &TargetKey) {
        let mut inner = self.lock();
        let Some(series) = inner.series.get_mut(key) else {
            return;
        };
        let Some(sample) = series
            .samples
            .iter_mut()
            .rev()
            .find(|(_, _, error)| !*error)
        else {
            return;
        };
        sample.2 = true;
        inner.generation += 1;
    }

    /// Statistics of every target seen, sorted by (provider, model, key id).
    pub fn snapshot(&self) -> Arc<Vec<TargetStats>> {
        self.snapshot_at(Instant::now()).0
    }

    /// Changes whenever [`Self::snapshot`] would return something different.
    pub fn generation(&self) -> u64 {
        self.snapshot_at(Instant::now()).1
    }

    /// Snapshot and its generation at `now` (tests pass their own clock).
    pub fn snapshot_at(&self, now: Instant) -> (Arc<Vec<TargetStats>>, u64) {
        let mut inner = self.lock();
        if let Some(c) = &inner.cached {
            let fresh = c.generation == inner.generation && c.valid_until.is_none_or(|t| now < t);
            if fresh {
                return (c.snapshot.clone(), inner.generation);
            }
        }
        let window = self.cfg.window;
        let mut expired_any = false;
        let mut valid_until: Option<Instant> = None;
        let mut stats = Vec::with_capacity(inner.series.len());
        for (key, series) in inner.series.iter_mut() {
            while series
                .samples
                .front()
                .is_some_and(|(t, _, _)| now.saturating_duration_since(*t) >= window)
            {
                series.samples.pop_front();
                expired_any = true;
            }
            if let Some((t, _, _)) = series.samples.front() {
                let expiry = *t + window;
                valid_until = Some(valid_until.map_or(expiry, |v| v.min(expiry)));
            }
            stats.push(compute(key, series));
        }
        stats.sort_by(|a, b| a.key.cmp(&b.key));
        if expired_any {
            inner.generation += 1;
        }
        let snapshot = Arc::new(stats);
        inner.cached = Some(Cached {
            snapshot: snapshot.clone(),
            generation: inner.generation,
            valid_until,
        });
        (snapshot, inner.generation)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain counters; a panic elsewhere leaves them usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn compute(key: &TargetKey, series: &Series) -> TargetStats {
    let requests = series.samples.len() as u64;
    let errors = series.samples.iter().filter(|(_, _, e)| *e).count() as u64;
    let mut lat: Vec<f64> = series.samples.iter().map(|(_, l, _)| *l).collect();
    lat.sort_by(f64::total_cmp);
    TargetStats {
        key: key.clone(),
        requests,
        errors,
        error_rate: if requests == 0 {
            0.0
        } else {
            errors as f64 / requests as f64
        },
        latency_p50_ms: percentile(&lat, 50),
        latency_p95_ms: percentile(&lat, 95),
        quota: series.quota,
    }
}

/// Nearest-rank percentile of sorted values; 0 for none.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(m: &str) -> TargetKey {
        TargetKey {
            provider: "openai".into(),
            model: m.into(),
            key_id: "k1".into(),
        }
    }

    fn sample(ms: u64, error: bool) -> AttemptSample {
        AttemptSample {
            error,
            latency: Duration::from_millis(ms),
            quota: Quota::default(),
        }
    }

    #[test]
    fn p50_p95_and_error_rate() {
        let m = TargetMetrics::default();
        let t0 = Instant::now();
        // Latencies 1..=100 ms; every 10th fails.
        for i in 1..=100u64 {
            m.record_at(&key("gpt"), sample(i, i % 10 == 0), t0);
        }
        let (snap, _) = m.snapshot_at(t0);
        let s = &snap[0];
        assert_eq!(s.requests, 100);
        assert_eq!(s.errors, 10);
        assert!((s.error_rate - 0.1).abs() < 1e-9);
        assert!(
            (s.latency_p50_ms - 50.0).abs() < 1e-9,
            "{}",
            s.latency_p50_ms
        );
        assert!(
            (s.latency_p95_ms - 95.0).abs() < 1e-9,
            "{}",
            s.latency_p95_ms
        );
    }

    #[test]
    fn percentiles_of_small_sets() {
        assert_eq!(percentile(&[], 50), 0.0);
        assert_eq!(percentile(&[7.0], 95), 7.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 50), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 95), 3.0);
    }

    #[test]
    fn samples_age_out_and_bump_the_generation() {
        let m = TargetMetrics::new(TargetMetricsConfig {
            window: Duration::from_secs(10),
            ..TargetMetricsConfig::default()
        });
        let t0 = Instant::now();
        m.record_at(&key("a"), sample(100, true), t0);
        m.record_at(&key("a"), sample(10, false), t0 + Duration::from_secs(5));
        let (s1, g1) = m.snapshot_at(t0 + Duration::from_secs(6));
        assert_eq!(s1[0].requests, 2);
        // Unchanged: same generation, same (cached) snapshot.
        let (s1b, g1b) = m.snapshot_at(t0 + Duration::from_secs(7));
        assert_eq!(g1, g1b);
        assert!(Arc::ptr_eq(&s1, &s1b));
        // The first sample leaves the window.
        let (s2, g2) = m.snapshot_at(t0 + Duration::from_secs(11));
        assert_ne!(g1, g2);
        assert_eq!(s2[0].requests, 1);
        assert_eq!(s2[0].errors, 0);
        assert_eq!(s2[0].latency_p95_ms, 10.0);
        // A record bumps it too.
        m.record_at(&key("b"), sample(1, false), t0 + Duration::from_secs(12));
        let (s3, g3) = m.snapshot_at(t0 + Duration::from_secs(12));
        assert_ne!(g2, g3);
        assert_eq!(s3.len(), 2);
        assert_eq!(s3[1].key.model, "b");
    }

    #[test]
    fn sample_and_target_counts_are_bounded() {
        let m = TargetMetrics::new(TargetMetricsConfig {
            window: Duration::from_secs(60),
            max_samples: 10,
            max_targets: 3,
        });
        let t0 = Instant::now();
        for i in 0..50u64 {
            m.record_at(&key("a"), sample(i, false), t0);
        }
        for (i, name) in ["b", "c", "d"].into_iter().enumerate() {
            m.record_at(
                &key(name),
                sample(1, false),
                t0 + Duration::from_millis(i as u64 + 1),
            );
        }
        let (snap, _) = m.snapshot_at(t0 + Duration::from_millis(10));
        assert_eq!(snap.len(), 3);
        assert!(
            snap.iter().all(|s| s.key.model != "a"),
            "least recently recorded target dropped"
        );
        let m2 = TargetMetrics::new(TargetMetricsConfig {
            max_samples: 10,
            ..TargetMetricsConfig::default()
        });
        for i in 0..50u64 {
            m2.record_at(&key("a"), sample(i, false), t0);
        }
        let (snap, _) = m2.snapshot_at(t0);
        assert_eq!(snap[0].requests, 10);
        assert_eq!(snap[0].latency_p50_ms, 44.0);
    }

    #[test]
    fn a_broken_stream_turns_one_success_into_an_error() {
        let m = TargetMetrics::default();
        let t0 = Instant::now();
        m.record_at(&key("a"), sample(10, false), t0);
        m.record_at(&key("a"), sample(20, true), t0);
        let (_, g1) = m.snapshot_at(t0);
        m.record_broken_stream(&key("a"));
        let (snap, g2) = m.snapshot_at(t0);
        assert_ne!(g1, g2);
        assert_eq!((snap[0].requests, snap[0].errors), (2, 2));
        // No success left to flip, and unknown targets, change nothing.
        m.record_broken_stream(&key("a"));
        m.record_broken_stream(&key("unknown"));
        let (snap, g3) = m.snapshot_at(t0);
        assert_eq!(g2, g3);
        assert_eq!(snap.len(), 1);
    }

    #[test]
    fn quota_keeps_the_last_reported_value() {
        let q = Quota::from_headers([
            ("X-RateLimit-Remaining-Requests", "42"),
            ("x-ratelimit-remaining-tokens", " 9000 "),
            ("x-other", "1"),
        ]);
        assert_eq!(q.remaining_requests, Some(42));
        assert_eq!(q.remaining_tokens, Some(9000));
        let m = TargetMetrics::default();
        let t0 = Instant::now();
        m.record_at(
            &key("a"),
            AttemptSample {
                quota: q,
                ..sample(5, false)
            },
            t0,
        );
        // A later attempt without quota headers keeps the earlier numbers.
        m.record_at(&key("a"), sample(5, false), t0);
        m.record_at(
            &key("a"),
            AttemptSample {
                quota: Quota {
                    remaining_requests: Some(41),
                    remaining_tokens: None,
                },
                ..sample(5, false)
            },
            t0,
        );
        let (snap, _) = m.snapshot_at(t0);
        assert_eq!(snap[0].quota.remaining_requests, Some(41));
        assert_eq!(snap[0].quota.remaining_tokens, Some(9000));
    }
}
