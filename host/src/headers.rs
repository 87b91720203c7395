//! Headers as the host moves them between the wire and the plugin: the one hop-by-hop rule
//! and the one conversion each way between a WIT header list and an `http::HeaderMap`.
//!
//! The host is the single authority on hop-by-hop headers: every header list the plugin
//! hands over (its own responses, the edited request for the endpoint's upstream, the
//! headers of each attempt of a plan, a plan's response headers, the response phase's
//! headers) becomes a `HeaderMap` through [`from_wit`], which drops them; every response
//! from an upstream or a provider goes through [`strip_hop_by_hop`] before the client sees
//! it. The plugin does not need to filter them itself.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Connection-level headers (RFC 9110 §7.6.1): they describe one hop, never the message, and
/// a proxy must not pass them on in either direction.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes every hop-by-hop header, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// A WIT header list (from the plugin) as a map, order and repeats kept, hop-by-hop headers
/// removed.
///
/// The rule for invalid pairs: a pair whose name or value is not valid HTTP is dropped and
/// logged with its name (never its value, which may be a credential); the rest of the list
/// is used. The plugin validates what it produces, so this only keeps one bad pair from
/// failing a whole request or response.
pub fn from_wit(pairs: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => tracing::warn!(header = %name, "the policy produced an invalid header; dropped"),
        }
    }
    strip_hop_by_hop(&mut map);
    map
}

/// A header map as a WIT header list for the plugin: names lower-case (as `http` keeps
/// them), order and repeats kept; a value that is not UTF-8 is passed on with its invalid
/// bytes replaced by U+FFFD rather than dropped, so the plugin sees every header that
/// arrived.
pub fn to_wit(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_standard_and_connection_listed_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", "close, x-private".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("content-type"));
    }

    #[test]
    fn from_wit_keeps_repeats_and_drops_invalid_and_hop_by_hop_pairs() {
        let pairs = vec![
            ("x-a".to_owned(), "1".to_owned()),
            ("connection".to_owned(), "Keep-Alive, X-Foo".to_owned()),
            ("x-foo".to_owned(), "hop".to_owned()),
            ("bad name".to_owned(), "v".to_owned()),
            ("x-b".to_owned(), "line\nbreak".to_owned()),
            ("x-a".to_owned(), "2".to_owned()),
        ];
        let map = from_wit(&pairs);
        assert_eq!(map.len(), 2);
        let xa: Vec<_> = map.get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
    }

    #[test]
    fn to_wit_keeps_every_header() {
        let mut h = HeaderMap::new();
        h.append("x-a", "1".parse().unwrap());
        h.append("x-a", "2".parse().unwrap());
        h.append("x-bin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let pairs = to_wit(&h);
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[2], ("x-bin".to_owned(), "caf\u{fffd}".to_owned()));
    }
}
