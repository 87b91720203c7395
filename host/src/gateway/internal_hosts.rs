//! Name resolution for upstream calls: `NAME.internal` hosts map to addresses the operator
//! registered (`--internal NAME.internal=HOST:PORT`, the `--demo` provider), every other name
//! goes to the system resolver. Plain `http://` is allowed only to registered names
//! ([`InternalHosts::plain_http_refused`], checked before every attempt): an unregistered
//! `.internal` name would otherwise be resolved by whatever DNS the network offers.
//!
//! Runs inside the upstream client whenever it opens a new connection to a host name (IP
//! literals never reach it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::body::BoxError;

/// The suffix that marks an endpoint as private to this edge (ngrok's internal endpoints).
pub const INTERNAL_SUFFIX: &str = ".internal";

/// True when `host` is a `.internal` name (case-insensitive, a trailing dot allowed).
pub fn is_internal_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.len() > INTERNAL_SUFFIX.len()
        && host
            .get(host.len() - INTERNAL_SUFFIX.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(INTERNAL_SUFFIX))
}

/// Why a name could not be resolved. Surfaces as a DNS failure of the attempt.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("dns lookup of {host} failed: {source}")]
    Lookup {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("dns lookup of {host} returned no addresses")]
    NoAddresses { host: String },
}

/// The shared `.internal` table. Cloning is cheap and clones see the same table, so the
/// edge can register hosts (the demo provider, a reloaded config file) after the client
/// was built.
#[derive(Clone, Default)]
pub struct InternalHosts {
    table: Arc<RwLock<HashMap<String, Vec<SocketAddr>>>>,
}

impl InternalHosts {
    /// A table holding `entries`; several entries for one name become a list of addresses
    /// tried in order.
    pub fn new(entries: &[(String, SocketAddr)]) -> Self {
        let hosts = Self::default();
        for (name, addr) in entries {
            hosts.add(name, *addr);
        }
        hosts
    }

    /// Adds one address for `name` (lower-cased; a trailing dot is ignored).
    pub fn add(&self, name: &str, addr: SocketAddr) {
        let key = normalize(name);
        if let Ok(mut table) = self.table.write() {
            let addrs = table.entry(key).or_default();
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
    }

    /// Replaces every address of `name`.
    pub fn set(&self, name: &str, addrs: Vec<SocketAddr>) {
        if let Ok(mut table) = self.table.write() {
            table.insert(normalize(name), addrs);
        }
    }

    /// The host of `url` when it is plain `http://` to a name not in the table (the caller
    /// refuses it); `None` for https, other schemes and registered names. Pure: no I/O.
    /// The one rule for plain http, used before every attempt and by `edge check`.
    pub fn plain_http_refused(&self, url: &str) -> Option<String> {
        let url = reqwest::Url::parse(url).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let host = url.host_str().unwrap_or_default();
        match self.lookup(host) {
            Some(_) => None,
            None => Some(host.to_owned()),
        }
    }

    /// The registered addresses of `name`, if it is in the table.
    pub fn lookup(&self, name: &str) -> Option<Vec<SocketAddr>> {
        let table = self.table.read().ok()?;
        table.get(&normalize(name)).cloned()
    }
}

impl std::fmt::Debug for InternalHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.table.read() {
            Ok(table) => f.debug_map().entries(table.iter()).finish(),
            Err(_) => f.write_str("InternalHosts(<poisoned>)"),
        }
    }
}

fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Resolve for InternalHosts {
    fn resolve(&self, name: Name) -> Resolving {
        let registered = self.lookup(name.as_str());
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match registered {
                Some(addrs) => Ok::<Addrs, BoxError>(Box::new(addrs.into_iter())),
                None => system_lookup(host)
                    .await
                    .map_err(|e| Box::new(e) as BoxError),
            }
        })
    }
}

/// Ordinary DNS (getaddrinfo on tokio's blocking pool) for names not in the table.
async fn system_lookup(host: String) -> Result<Addrs, ResolveError> {
    // Port 0: the client puts the URL's port (or the scheme's default) in.
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
        .await
        .map_err(|source| ResolveError::Lookup {
            host: host.clone(),
            source,
        })?
        .collect();
    if found.is_empty() {
        return Err(ResolveError::NoAddresses { host });
    }
    Ok(Box::new(found.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_suffix_is_recognised() {
        assert!(is_internal_host("demo.internal"));
        assert!(is_internal_host("A.B.Internal."));
        assert!(!is_internal_host(".internal"));
        assert!(!is_internal_host("internal"));
        assert!(!is_internal_host("example.com"));
        assert!(!is_internal_host("evil-internal"));
    }

    #[test]
    fn plain_http_goes_only_to_registered_names() {
        let addr: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let hosts = InternalHosts::new(&[("gpu.internal".to_owned(), addr)]);
        assert_eq!(
            hosts.plain_http_refused("http://GPU.internal:8080/v1"),
            None
        );
        assert_eq!(
            hosts
                .plain_http_refused("http://ghost.internal/v1")
                .as_deref(),
            Some("ghost.internal")
        );
        assert_eq!(
            hosts.plain_http_refused("http://example.com/v1").as_deref(),
            Some("example.com")
        );
        assert_eq!(hosts.plain_http_refused("https://ghost.internal/v1"), None);
    }

    #[tokio::test]
    async fn registered_names_win_and_others_fall_back_to_dns() {
        let addr: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let hosts = InternalHosts::new(&[("Demo.Internal".to_owned(), addr)]);
        let got: Vec<_> = hosts
            .resolve("demo.internal".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(got, vec![addr]);
        let local: Vec<_> = hosts
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
        assert!(
            hosts
                .resolve("nothing-here.invalid".parse().unwrap())
                .await
                .is_err()
        );
    }
}
