//! An attempt's body, put together when the attempt is sent: the plugin describes it as
//! pieces, its own bytes and ranges of the client's request body (WIT `body-piece`), so a
//! large conversation crosses the WIT boundary once, with the request, and is copied only
//! for the attempts that actually run (usually one), not once per attempt of the plan.

use bytes::{Bytes, BytesMut};

use crate::wit::types::BodyPiece;

use super::attempt_error::AttemptError;

/// The bytes `pieces` describe. `request` is the client's body as handed to the plugin.
/// A range outside it is the plugin's error, reported as the attempt's protocol failure.
pub(crate) fn assemble(pieces: &[BodyPiece], request: &Bytes) -> Result<Bytes, AttemptError> {
    // The usual shape once values are large: bytes, one range, bytes. A body that is all
    // one range is sent without any copy.
    if let [BodyPiece::Request(r)] = pieces {
        return range(request, r.offset, r.len).map(|(start, end)| request.slice(start..end));
    }
    let mut len = 0usize;
    for p in pieces {
        len += match p {
            BodyPiece::Bytes(b) => b.len(),
            BodyPiece::Request(r) => {
                let (start, end) = range(request, r.offset, r.len)?;
                end - start
            }
        };
    }
    let mut out = BytesMut::with_capacity(len);
    for p in pieces {
        match p {
            BodyPiece::Bytes(b) => out.extend_from_slice(b),
            BodyPiece::Request(r) => {
                let (start, end) = range(request, r.offset, r.len)?;
                out.extend_from_slice(&request[start..end]);
            }
        }
    }
    Ok(out.freeze())
}

fn range(request: &Bytes, offset: u64, len: u64) -> Result<(usize, usize), AttemptError> {
    let outside = || {
        AttemptError::Protocol(format!(
            "the plan's body refers to bytes {offset}..+{len} of a {}-byte request body",
            request.len()
        ))
    };
    let start = usize::try_from(offset).map_err(|_| outside())?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e <= request.len())
        .ok_or_else(outside)?;
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::types::BodyRange;

    #[test]
    fn pieces_are_put_together_in_order() {
        let request = Bytes::from_static(br#"{"messages":[1,2,3]}"#);
        let pieces = vec![
            BodyPiece::Bytes(br#"{"model":"m","messages":"#.to_vec()),
            BodyPiece::Request(BodyRange { offset: 12, len: 7 }),
            BodyPiece::Bytes(b"}".to_vec()),
        ];
        assert_eq!(
            &assemble(&pieces, &request).unwrap()[..],
            br#"{"model":"m","messages":[1,2,3]}"#
        );
        let whole = vec![BodyPiece::Request(BodyRange { offset: 0, len: 20 })];
        assert_eq!(assemble(&whole, &request).unwrap(), request);
    }

    #[test]
    fn a_range_outside_the_request_is_an_error_not_a_panic() {
        let request = Bytes::from_static(b"{}");
        for (offset, len) in [(0, 3), (3, 0), (u64::MAX, 1), (1, u64::MAX)] {
            let pieces = vec![BodyPiece::Request(BodyRange { offset, len })];
            assert!(matches!(
                assemble(&pieces, &request),
                Err(AttemptError::Protocol(_))
            ));
        }
    }
}
