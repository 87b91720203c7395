//! The start of a failed answer's body, kept in the attempt record (and handed to the
//! plugin) so an operator can see what the provider said. Bounded in size and in reading
//! time: a failed provider that dribbles its error body must not eat the next attempt's time.

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout_at};

use super::defaults::{EXCERPT_LIMIT, EXCERPT_READ_LIMIT};

/// Reads up to [`EXCERPT_LIMIT`] bytes of a failed response, by `deadline` and at most
/// [`EXCERPT_READ_LIMIT`] from now. Runs after a non-2xx head, or when a stream turns out
/// not to be SSE.
pub(crate) async fn read_excerpt(body: &mut reqwest::Body, deadline: Instant) -> Vec<u8> {
    let deadline = deadline.min(Instant::now() + EXCERPT_READ_LIMIT);
    let mut excerpt = Vec::new();
    while excerpt.len() < EXCERPT_LIMIT {
        match timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    let room = EXCERPT_LIMIT - excerpt.len();
                    excerpt.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    excerpt
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
    }
}
