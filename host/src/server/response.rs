//! Between WIT responses/header lists and hyper responses.

use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use super::errors::EdgeError;
use super::hop_by_hop;
use crate::body::{ResponseBody, full};
use crate::plugin_runtime::bindings::types::{self, ResponseHead};

/// A response the plugin produced (deny, custom-response, gateway errors).
pub fn from_wit(r: types::Response) -> Result<Response<ResponseBody>, EdgeError> {
    let status = StatusCode::from_u16(r.status).map_err(|_| EdgeError::Plugin {
        code: "plugin_invalid_response",
        message: format!("the policy produced an invalid status code {}", r.status),
    })?;
    let mut res = Response::new(full(r.body));
    *res.status_mut() = status;
    *res.headers_mut() = header_map(&r.headers);
    Ok(res)
}

/// A header list from the plugin as a map. Hop-by-hop headers and content-length (hyper
/// derives it from the body) are dropped; invalid names or values are skipped with a
/// warning rather than failing the request.
pub fn header_map(list: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(list.len());
    for (name, value) in list {
        if hop_by_hop::is_hop_by_hop(name) || name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                map.append(n, v);
            }
            _ => tracing::warn!(header = %name, "policy produced an invalid header; skipped"),
        }
    }
    map
}

/// Replaces the headers of a streamed response with the list the response phase returned,
/// keeping the framing header the body relies on.
pub fn replace_headers(res: &mut Response<ResponseBody>, list: &[(String, String)]) {
    let content_length = res.headers().get(http::header::CONTENT_LENGTH).cloned();
    let mut map = header_map(list);
    if let Some(cl) = content_length {
        map.insert(http::header::CONTENT_LENGTH, cl);
    }
    *res.headers_mut() = map;
}

/// The head the response phase sees: status and lower-cased headers, no body.
pub fn head_of(res: &Response<ResponseBody>) -> ResponseHead {
    ResponseHead {
        status: res.status().as_u16(),
        headers: res
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_response_keeps_repeats_and_drops_framing() {
        let r = types::Response {
            status: 403,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-a".into(), "1".into()),
                ("x-a".into(), "2".into()),
                ("transfer-encoding".into(), "chunked".into()),
                ("bad name".into(), "v".into()),
            ],
            body: b"{}".to_vec(),
        };
        let res = from_wit(r).unwrap();
        assert_eq!(res.status(), 403);
        assert_eq!(res.headers().get_all("x-a").iter().count(), 2);
        assert!(!res.headers().contains_key("transfer-encoding"));
        assert_eq!(res.headers().len(), 3);
    }

    #[test]
    fn invalid_status_is_a_plugin_error() {
        let r = types::Response {
            status: 1000,
            headers: vec![],
            body: vec![],
        };
        assert_eq!(from_wit(r).unwrap_err().code(), "plugin_invalid_response");
    }
}
