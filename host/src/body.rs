//! Bodies: the one response-body type every path of the edge produces (buffered answers,
//! bodies proxied from the upstream, SSE streams relayed chunk by chunk), and the bounded
//! reading of client request bodies.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited, combinators::BoxBody};
use hyper::body::Incoming;

use crate::body_pace::{BodyTooSlow, PacedBody, too_slow_in};

/// A client's request body as the edge reads it: paced ([`crate::body_pace`]).
pub type PacedRequestBody = PacedBody<Incoming>;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ResponseBody = BoxBody<Bytes, BoxError>;

/// A body already fully in memory.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Why a request body could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    TooSlow(BodyTooSlow),
    #[error("the request body could not be read: {0}")]
    Read(#[source] BoxError),
}

/// True when the declared `content-length` already exceeds `limit`, so the edge can answer
/// 413 before reading anything.
pub fn declared_too_large(headers: &http::HeaderMap, limit: u64) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > limit)
}

/// Reads the whole body, failing with [`BodyError::TooLarge`] as soon as more than `limit`
/// bytes arrived. Called only when the policy reads bodies or a decision needs them.
pub async fn read_bounded(body: PacedRequestBody, limit: u64) -> Result<Bytes, BodyError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit_usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => Err(classify(err, limit)),
    }
}

/// The body as a stream for the upstream, still bounded by `limit` (the upstream call
/// fails, and the client gets 413, if the client sends more).
pub fn bounded_stream(body: PacedRequestBody, limit: u64) -> Limited<PacedRequestBody> {
    Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
}

/// True when `err` (or any error it wraps) is the body limit being hit.
pub fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cur = e.source();
    }
    false
}

fn classify(err: BoxError, limit: u64) -> BodyError {
    if is_length_limit(err.as_ref()) {
        BodyError::TooLarge { limit }
    } else if let Some(slow) = too_slow_in(err.as_ref()) {
        BodyError::TooSlow(slow)
    } else {
        BodyError::Read(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_length_over_limit_is_detected() {
        let mut h = http::HeaderMap::new();
        assert!(!declared_too_large(&h, 10));
        h.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("11"),
        );
        assert!(declared_too_large(&h, 10));
        assert!(!declared_too_large(&h, 11));
    }
}
