//! What went wrong in a call through reqwest, in words fit for an error body, an attempt
//! record or a log line. Used by every path that calls out: the attempt loop (provider
//! calls), the relay of a committed body, and the endpoint's own `--upstream`.

use std::error::Error as StdError;

/// The innermost cause of `err`: the most specific message, and free of the URL that
/// reqwest puts in its own top-level message (query strings can carry keys). When reqwest
/// gives no cause, a short phrase for the kind of failure.
pub fn describe(err: &reqwest::Error) -> String {
    let mut last: &dyn StdError = err;
    while let Some(next) = last.source() {
        last = next;
    }
    if std::ptr::addr_eq(last, err as &dyn StdError) {
        return describe_kind(err).to_owned();
    }
    last.to_string()
}

fn describe_kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "broken response body"
    } else if err.is_request() {
        "could not send the request"
    } else {
        "upstream error"
    }
}

/// Whether any error in the chain of `err` matches `pred`.
pub fn any_in_chain(
    err: &reqwest::Error,
    pred: impl Fn(&(dyn StdError + 'static)) -> bool,
) -> bool {
    find_in_chain(err, pred).is_some()
}

/// The first error in the chain of `err` that matches `pred`, looking inside `io::Error`
/// wrappers too (tokio-rustls and hyper nest the real cause as `io::Error`'s payload, which
/// `source()` skips).
pub fn find_in_chain<'e>(
    err: &'e reqwest::Error,
    pred: impl Fn(&(dyn StdError + 'static)) -> bool,
) -> Option<&'e (dyn StdError + 'static)> {
    let mut next: Option<&(dyn StdError + 'static)> = err.source();
    // Chains are a handful of links; the bound only guards against a cyclic source().
    for _ in 0..32 {
        let e = next?;
        if pred(e) {
            return Some(e);
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}
