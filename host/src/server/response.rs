//! Between WIT responses/header lists and hyper responses.

use http::{HeaderMap, Response, StatusCode};

use super::errors::EdgeError;
use crate::body::{ResponseBody, full};
use crate::headers;
use crate::wit::types::{self, ResponseHead};

/// A response the plugin produced (deny, custom-response, gateway errors).
pub fn from_wit(r: types::Response) -> Result<Response<ResponseBody>, EdgeError> {
    let status =
        StatusCode::from_u16(r.status).map_err(|_| EdgeError::InvalidPluginStatus(r.status))?;
    let mut res = Response::new(full(r.body));
    *res.status_mut() = status;
    *res.headers_mut() = header_map(&r.headers);
    Ok(res)
}

/// A header list from the plugin as a response's headers ([`headers::from_wit`]), without
/// content-length: hyper derives it from the body.
fn header_map(list: &[(String, String)]) -> HeaderMap {
    let mut map = headers::from_wit(list);
    map.remove(http::header::CONTENT_LENGTH);
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
        headers: headers::to_wit(res.headers()),
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
