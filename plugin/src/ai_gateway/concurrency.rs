//! A provider's `concurrency_and_buffer_size` (Bifrost's name and shape), checked at load:
//! how many of its attempts the host lets run at once and how many may wait for a slot
//! (docs/ai-gateway.md, "Provider concurrency"). The host enforces it; the plugin only
//! validates it and writes it on each attempt of the provider.

use super::config::ConcurrencyConfig;
use crate::model::ConcurrencyLimit;
use crate::policy::Diagnostics;

/// The largest cap or queue a policy may write: far above any real box, low enough that a
/// typo (an extra zero or two) is caught.
const MAX_LIMIT: i64 = 100_000;

/// Why a written value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConcurrencyError {
    #[error("concurrency must be between 1 and {MAX_LIMIT}, got {0}")]
    Concurrency(i64),
    #[error("buffer_size must be between 0 and {MAX_LIMIT}, got {0}")]
    BufferSize(i64),
}

/// The checked limit of `providers[i].concurrency_and_buffer_size`, reported under it;
/// `None` when it is not written (uncapped) or is invalid (reported).
pub(super) fn concurrency_limit(
    written: Option<&ConcurrencyConfig>,
    d: &mut Diagnostics,
) -> Option<ConcurrencyLimit> {
    let written = written?;
    let field = "concurrency_and_buffer_size";
    let concurrency = checked(written.concurrency, 1, ConcurrencyError::Concurrency)
        .map_err(|e| d.error(&format!("{field}.concurrency"), e))
        .ok();
    let buffer_size = checked(written.buffer_size, 0, ConcurrencyError::BufferSize)
        .map_err(|e| d.error(&format!("{field}.buffer_size"), e))
        .ok();
    Some(ConcurrencyLimit {
        concurrency: concurrency?,
        buffer_size: buffer_size?,
    })
}

fn checked(n: i64, min: i64, error: fn(i64) -> ConcurrencyError) -> Result<u32, ConcurrencyError> {
    if !(min..=MAX_LIMIT).contains(&n) {
        return Err(error(n));
    }
    u32::try_from(n).map_err(|_| error(n))
}
