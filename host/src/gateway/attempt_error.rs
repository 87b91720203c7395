//! Why one upstream attempt failed, as a typed error that knows its failure kind, the
//! upstream status (if one arrived) and whether another target could do better. The
//! failover rules read these, never message strings.

use std::error::Error as StdError;
use std::time::Duration;

use crate::plugin_runtime::bindings::types::FailureKind;

use super::internal_hosts::ResolveError;

/// One failed attempt. Messages never contain URLs (query strings can carry keys) or
/// header values.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AttemptError {
    /// The provider answered with a status that is not a success.
    #[error("provider answered HTTP {status}")]
    Status { status: u16 },
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("name resolution failed: {0}")]
    Dns(String),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The per-attempt deadline (connect, head, first stream event) passed.
    #[error("no answer within the per-attempt timeout of {0} ms")]
    Timeout(u64),
    /// The plan's total deadline passed during this attempt.
    #[error("the total timeout ran out during this attempt")]
    TotalTimeout,
    /// A streaming answer failed before its first event, or its first event was an error.
    #[error("stream failed before its first event: {0}")]
    StreamError(String),
    /// The provider spoke broken HTTP, or the URL could not be used.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Plain `http://` to a host that is not `.internal` (the plugin should never plan this).
    #[error("plain http:// is only allowed for .internal hosts, not {host}")]
    PlainHttpRefused { host: String },
}

impl AttemptError {
    /// The WIT failure kind reported to the plugin and the access log.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Status { .. } => FailureKind::Status,
            Self::Connect(_) | Self::PlainHttpRefused { .. } => FailureKind::Connect,
            Self::Dns(_) => FailureKind::Dns,
            Self::Tls(_) => FailureKind::Tls,
            Self::Timeout(_) => FailureKind::Timeout,
            Self::TotalTimeout => FailureKind::TotalTimeout,
            Self::StreamError(_) => FailureKind::StreamError,
            Self::Protocol(_) => FailureKind::Protocol,
        }
    }

    /// The upstream status, when a response head arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying another key or model can help. Client errors (4xx other than
    /// 401/403/408/429) are the request's fault and fail the same way everywhere; the
    /// total timeout leaves no time for anything else.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status } => matches!(status, 401 | 403 | 408 | 429) || *status >= 500,
            Self::TotalTimeout => false,
            _ => true,
        }
    }
}

/// Maps a reqwest error from sending a request (or reading the head) to an attempt error.
/// `per_attempt_ms` names the deadline in the message if the client itself timed out.
pub fn from_reqwest(err: &reqwest::Error, per_attempt_ms: u64) -> AttemptError {
    let cause = root_cause(err);
    if any_in_chain(err, |e| e.is::<rustls::Error>()) {
        return AttemptError::Tls(cause);
    }
    if err.is_dns()
        || any_in_chain(err, |e| {
            e.is::<ResolveError>() || e.to_string() == "dns error"
        })
    {
        return AttemptError::Dns(cause);
    }
    if err.is_timeout() {
        return AttemptError::Timeout(per_attempt_ms);
    }
    if err.is_connect() {
        return AttemptError::Connect(cause);
    }
    AttemptError::Protocol(cause)
}

/// Maps an error while reading a body (stream before commit, failed-response excerpt).
pub fn body_error(err: &reqwest::Error) -> AttemptError {
    AttemptError::StreamError(root_cause(err))
}

/// The innermost error message: the most specific one, and free of the URL that reqwest
/// puts in its own top-level message.
pub fn root_cause(err: &reqwest::Error) -> String {
    let mut last: &dyn StdError = err;
    while let Some(next) = last.source() {
        last = next;
    }
    if std::ptr::addr_eq(last, err as &dyn StdError) {
        // No source: reqwest's own message, without the URL.
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

/// Whether any error in the chain of `err` matches `pred`, looking inside `io::Error`
/// wrappers too (tokio-rustls and hyper nest the real cause as `io::Error`'s payload, which
/// `source()` skips).
fn any_in_chain(err: &reqwest::Error, pred: impl Fn(&(dyn StdError + 'static)) -> bool) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = err.source();
    // Chains are a handful of links; the bound only guards against a cyclic source().
    for _ in 0..32 {
        let Some(e) = next else { return false };
        if pred(e) {
            return true;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    false
}

/// Milliseconds of a duration, saturating (for the WIT records).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
