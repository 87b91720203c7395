//! Why one upstream attempt failed, as a typed error that knows its failure kind and the
//! upstream status (if one arrived). The failover rules read these, never message strings.

use std::time::Duration;

use crate::reqwest_error::{any_in_chain, describe, find_in_chain};
use crate::wit::types::FailureKind;

use super::internal_hosts::ResolveError;
use super::tls_cause;

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
    /// Plain `http://` to a host that is not registered in the `.internal` table; refused
    /// before any I/O.
    #[error(
        "plain http:// to {host} is refused: http goes only to names registered with \
         --internal NAME.internal=HOST:PORT (or the --demo provider); register {host} or use https://"
    )]
    PlainHttpRefused { host: String },
    /// Every slot of the provider's concurrency cap was taken and its queue was full
    /// (`concurrency_and_buffer_size`); nothing was sent.
    #[error(
        "the provider is at its concurrency cap of {concurrency} with its queue of \
         {buffer_size} full; nothing was sent"
    )]
    QueueFull { concurrency: u32, buffer_size: u32 },
    /// The attempt's deadline passed while it waited in the provider's queue; nothing was
    /// sent.
    #[error(
        "no slot of the provider's concurrency cap of {concurrency} freed up within the \
         attempt's deadline (waited {waited_ms} ms); nothing was sent"
    )]
    QueueTimeout { concurrency: u32, waited_ms: u64 },
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
            Self::QueueFull { .. } | Self::QueueTimeout { .. } => FailureKind::Saturated,
        }
    }

    /// The upstream status, when a response head arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status } => Some(*status),
            _ => None,
        }
    }
}

/// Maps a reqwest error from sending a request (or reading the head) to an attempt error.
/// A connect timeout (the client's `connect_timeout`) is a connect failure: the provider
/// could not even accept a connection. `per_attempt_ms` names the deadline in the message
/// if the client timed out otherwise.
pub fn from_reqwest(err: &reqwest::Error, per_attempt_ms: u64) -> AttemptError {
    if let Some(tls) =
        find_in_chain(err, |e| e.is::<rustls::Error>()).and_then(|e| e.downcast_ref())
    {
        return AttemptError::Tls(tls_cause::describe(tls));
    }
    let cause = describe(err);
    if err.is_dns()
        || any_in_chain(err, |e| {
            e.is::<ResolveError>() || e.to_string() == "dns error"
        })
    {
        return AttemptError::Dns(cause);
    }
    if err.is_connect() {
        return AttemptError::Connect(cause);
    }
    if err.is_timeout() {
        return AttemptError::Timeout(per_attempt_ms);
    }
    AttemptError::Protocol(cause)
}

/// Maps an error while reading a body (stream before commit, failed-response excerpt).
pub fn body_error(err: &reqwest::Error) -> AttemptError {
    AttemptError::StreamError(describe(err))
}

/// Milliseconds of a duration, saturating (for the WIT records).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
