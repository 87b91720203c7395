//! What is kept of a failed answer's body. The start of it (the excerpt) goes in the attempt
//! record and to the plugin, so an operator can see what the provider said; a rejected
//! request's whole body (bounded) is kept too, so the plugin can pass the provider's own
//! answer through to the client (docs/ai-gateway.md, "Errors"). Bounded in size and in
//! reading time: a failed provider that dribbles its error body must not eat the next
//! attempt's time.

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout_at};

use super::defaults::{EXCERPT_LIMIT, EXCERPT_READ_LIMIT, REJECTION_BODY_LIMIT};

/// A failed answer's body as far as it was read.
pub(crate) struct FailedBody {
    pub bytes: Vec<u8>,
    /// The body ended within the size and time bounds: `bytes` is all of it.
    pub complete: bool,
}

/// Reads a failed answer's body, up to [`REJECTION_BODY_LIMIT`] bytes, by `deadline` and
/// at most [`EXCERPT_READ_LIMIT`] from now. Runs after a non-2xx head.
pub(crate) async fn read_failed_body(body: &mut reqwest::Body, deadline: Instant) -> FailedBody {
    read_prefix(body, deadline, REJECTION_BODY_LIMIT).await
}

/// Reads up to [`EXCERPT_LIMIT`] bytes of a failed response, within the same bounds. Runs
/// when a stream turns out not to be SSE.
pub(crate) async fn read_excerpt(body: &mut reqwest::Body, deadline: Instant) -> Vec<u8> {
    read_prefix(body, deadline, EXCERPT_LIMIT).await.bytes
}

async fn read_prefix(body: &mut reqwest::Body, deadline: Instant, limit: usize) -> FailedBody {
    let deadline = deadline.min(Instant::now() + EXCERPT_READ_LIMIT);
    let mut bytes = Vec::new();
    loop {
        match timeout_at(deadline, body.frame()).await {
            Ok(None) => {
                return FailedBody {
                    bytes,
                    complete: true,
                };
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit - bytes.len();
                    let overflow = data.len() > room;
                    bytes.extend_from_slice(&data[..data.len().min(room)]);
                    if overflow {
                        return FailedBody {
                            bytes,
                            complete: false,
                        };
                    }
                }
            }
            // A body that broke or ran out of time is not whole.
            _ => {
                return FailedBody {
                    bytes,
                    complete: false,
                };
            }
        }
    }
}

/// The first [`EXCERPT_LIMIT`] bytes of a body.
pub(crate) fn excerpt_of_bytes(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(EXCERPT_LIMIT)].to_vec()
}

/// The first [`EXCERPT_LIMIT`] bytes of chunks already read (a stream that failed before
/// its commit point).
pub(crate) fn excerpt_of(chunks: &[Bytes]) -> Vec<u8> {
    let mut excerpt = Vec::new();
    for chunk in chunks {
        let room = EXCERPT_LIMIT - excerpt.len();
        excerpt.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if excerpt.len() >= EXCERPT_LIMIT {
            break;
        }
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_capped() {
        let big = Bytes::from(vec![b'x'; 700]);
        assert_eq!(excerpt_of(&[big.clone(), big]).len(), EXCERPT_LIMIT);
        assert_eq!(excerpt_of_bytes(&[b'y'; 4096]).len(), EXCERPT_LIMIT);
    }
}
