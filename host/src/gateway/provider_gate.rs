//! The per-provider concurrency cap with its bounded queue (`concurrency_and_buffer_size`,
//! docs/ai-gateway.md, "Provider concurrency"). The plan writes each attempt's limit; the
//! host keeps one gate per provider id and limit, shared by every request of the edge.
//!
//! An attempt to a capped provider takes a slot before it sends anything: at once when one
//! is free, else it waits in the queue (first come, first served) unless `buffer_size`
//! attempts already wait. Finding the queue full, or its deadline passing while it waits,
//! fails the attempt as `saturated`, so the plugin's rules fail over instead of piling on;
//! the total deadline passing in the queue is the total timeout, as anywhere else. The slot
//! is held by [`ProviderSlot`], which the attempt loop hands to the response body, so a
//! committed answer (a stream until its last event) keeps its slot until it is relayed.
//!
//! A reload that changes a provider's limit gets a new gate; attempts on the old one keep
//! their slots until they end, so for that while both limits count separately.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

use crate::provider_queue_metrics::ProviderQueueMetrics;
use crate::wit::types::ConcurrencyLimit;

use super::attempt_error::{AttemptError, millis};

/// One gate per provider id and limit.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct GateKey {
    provider: String,
    concurrency: u32,
    buffer_size: u32,
}

/// The slots of one provider and how many attempts wait for one.
struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    limit: ConcurrencyLimit,
}

impl Gate {
    fn new(limit: ConcurrencyLimit) -> Self {
        let slots = usize::try_from(limit.concurrency).unwrap_or(usize::MAX);
        Self {
            slots: Arc::new(Semaphore::new(slots.clamp(1, Semaphore::MAX_PERMITS))),
            waiting: AtomicUsize::new(0),
            limit,
        }
    }

    /// No attempt holds or waits for a slot.
    fn idle(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) == 0
            && u32::try_from(self.slots.available_permits())
                .is_ok_and(|n| n >= self.limit.concurrency)
    }
}

/// Every provider's gate, shared by the requests of the edge (a clone shares them).
#[derive(Clone, Default)]
pub(crate) struct ProviderGates {
    gates: Arc<Mutex<HashMap<GateKey, Arc<Gate>>>>,
    metrics: ProviderQueueMetrics,
}

/// A slot of a capped provider, given back when dropped.
pub(crate) struct ProviderSlot {
    _permit: OwnedSemaphorePermit,
    in_flight: Gauge,
}

impl Drop for ProviderSlot {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

/// A place in a provider's queue, left when dropped (also when the request is abandoned
/// while it waits).
struct QueueSeat<'a> {
    gate: &'a Gate,
    depth: Gauge,
}

impl Drop for QueueSeat<'_> {
    fn drop(&mut self) {
        self.gate.waiting.fetch_sub(1, Ordering::SeqCst);
        self.depth.dec();
    }
}

impl ProviderGates {
    /// The queue depth, wait time and saturation series these gates feed.
    pub(crate) fn metrics(&self) -> &ProviderQueueMetrics {
        &self.metrics
    }

    /// A slot of `provider` under `limit` (`None`: uncapped, no slot needed), waiting for
    /// one until `attempt_deadline` or `total_deadline`, whichever comes first.
    pub(crate) async fn admit(
        &self,
        provider: &str,
        limit: Option<ConcurrencyLimit>,
        attempt_deadline: Instant,
        total_deadline: Instant,
    ) -> Result<Option<ProviderSlot>, AttemptError> {
        let Some(limit) = limit else {
            return Ok(None);
        };
        let gate = self.gate(provider, limit);
        let started = Instant::now();
        let permit = match gate.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let seat = self.queue_seat(&gate, provider).ok_or_else(|| {
                    self.metrics.rejected(provider, "queue_full");
                    AttemptError::QueueFull {
                        concurrency: limit.concurrency,
                        buffer_size: limit.buffer_size,
                    }
                })?;
                let deadline = attempt_deadline.min(total_deadline);
                let waited = timeout_at(deadline, gate.slots.clone().acquire_owned()).await;
                drop(seat);
                match waited {
                    Ok(Ok(permit)) => permit,
                    // The total deadline ended the wait: the loop's own timeout, not the
                    // provider's fault.
                    _ if total_deadline <= attempt_deadline => {
                        return Err(AttemptError::TotalTimeout);
                    }
                    _ => {
                        self.metrics.rejected(provider, "wait_timeout");
                        return Err(AttemptError::QueueTimeout {
                            concurrency: limit.concurrency,
                            waited_ms: millis(started.elapsed()),
                        });
                    }
                }
            }
        };
        self.metrics.observe_wait(provider, started.elapsed());
        let in_flight = self.metrics.in_flight(provider);
        in_flight.inc();
        Ok(Some(ProviderSlot {
            _permit: permit,
            in_flight,
        }))
    }

    /// A place in `gate`'s queue, unless `buffer_size` attempts already wait.
    fn queue_seat<'a>(&self, gate: &'a Gate, provider: &str) -> Option<QueueSeat<'a>> {
        let buffer = usize::try_from(gate.limit.buffer_size).unwrap_or(usize::MAX);
        gate.waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                (w < buffer).then_some(w + 1)
            })
            .ok()?;
        let depth = self.metrics.queued(provider);
        depth.inc();
        Some(QueueSeat { gate, depth })
    }

    /// The gate of `provider` under `limit`, made on first use. Idle gates of the same
    /// provider under another limit (a reload changed it) are dropped then.
    fn gate(&self, provider: &str, limit: ConcurrencyLimit) -> Arc<Gate> {
        let key = GateKey {
            provider: provider.to_owned(),
            concurrency: limit.concurrency,
            buffer_size: limit.buffer_size,
        };
        // A poisoned lock only means another request panicked mid-insert; the map is
        // still usable.
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(gate) = gates.get(&key) {
            return gate.clone();
        }
        gates.retain(|k, g| k.provider != provider || !g.idle());
        let gate = Arc::new(Gate::new(limit));
        gates.insert(key, gate.clone());
        gate
    }
}

impl std::fmt::Debug for ProviderGates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderGates").finish_non_exhaustive()
    }
}
