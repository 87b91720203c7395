//! The body of a non-stream 2xx answer, read before its head goes to the client, so an
//! answer whose body stalls or breaks is a failed attempt the loop can still fail over
//! from, and the per-attempt and total timeouts hold until the client has its answer
//! (docs/ai-gateway.md, "Streams: commit point and broken streams").
//!
//! Runs inside the attempt's deadline, once per non-stream attempt with a 2xx head.
//! Bounded in size by [`ANSWER_BUFFER_LIMIT`]: an answer larger than that (a big
//! embeddings batch) commits once that much has arrived, and the rest is relayed as it
//! comes, with the idle timeout, as before.

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout_at};

use super::attempt_error::AttemptError;
use super::defaults::ANSWER_BUFFER_LIMIT;
use super::excerpt::excerpt_of;

/// Why an answer's body failed before the commit, with its start.
pub(crate) struct BodyFailure {
    pub error: AttemptError,
    pub excerpt: Vec<u8>,
}

/// Reads `body` to its end, or to [`ANSWER_BUFFER_LIMIT`] bytes, by `deadline`; returns
/// the chunks read (the rest, if any, stays in `body`). `out_of_time` names the deadline
/// that ran out (the attempt's or the total one).
pub(crate) async fn read_answer(
    body: &mut reqwest::Body,
    deadline: Instant,
    out_of_time: impl Fn() -> AttemptError,
) -> Result<Vec<Bytes>, BodyFailure> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut read = 0usize;
    while read < ANSWER_BUFFER_LIMIT {
        let error = match timeout_at(deadline, body.frame()).await {
            Ok(None) => return Ok(chunks),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data()
                    && !data.is_empty()
                {
                    read += data.len();
                    chunks.push(data);
                }
                continue;
            }
            Ok(Some(Err(err))) => AttemptError::Protocol(format!(
                "the answer's body broke: {}",
                crate::reqwest_error::describe(&err)
            )),
            Err(_) => out_of_time(),
        };
        return Err(BodyFailure {
            error,
            excerpt: excerpt_of(&chunks),
        });
    }
    Ok(chunks)
}
