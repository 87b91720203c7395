//! How a configured key is sent: `providers[].auth` (ours; docs/ai-gateway.md, "Provider
//! headers, query parameters and auth"). `Authorization: Bearer <key>` is the OpenAI
//! format's default, `x-api-key: <key>` the Anthropic format's; Azure OpenAI wants
//! `api-key: <key>`, and some services a header of their own with a prefix.
//!
//! Checked at load by [`KeyAuth::from_config`]; per attempt, [`KeyAuth::header`] writes
//! the header. The client's own key (passthrough) is never rewritten: it goes in the header
//! the client sent it in (`credentials.rs`).

use serde_json::Value as Json;

use super::validate;
use crate::model::ApiFormat;
use crate::policy::Diagnostics;

/// The styles `auth` may name by a word.
const STYLES: &str = "'bearer', 'x-api-key', 'api-key', or {header: <name>, prefix: <text>}";

/// The header a configured key goes in, and what is written before the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAuth {
    /// Lower-cased header name.
    pub header: String,
    pub prefix: String,
}

/// Why an `auth` value was refused; its text is the diagnostic.
#[derive(Debug, thiserror::Error)]
pub enum BadAuth {
    #[error("'{0}' is not an auth style: use {STYLES}")]
    UnknownStyle(String),
    #[error("auth must be a word or a map: use {STYLES}")]
    WrongType,
    #[error("auth needs a 'header'")]
    NoHeader,
    #[error("'{0}' is not a field of auth: use 'header' and 'prefix'")]
    UnknownField(String),
    #[error("auth.{0} must be a string")]
    NotAString(&'static str),
    #[error("auth.prefix must not contain control characters")]
    BadPrefix,
    #[error(transparent)]
    Header(#[from] validate::InvalidValue),
    #[error("header '{0}' is written by the gateway and cannot carry a key")]
    GatewayWritten(String),
}

impl KeyAuth {
    /// The format's own way: `Authorization: Bearer` for OpenAI, `x-api-key` for Anthropic.
    pub fn default_for(format: ApiFormat) -> KeyAuth {
        match format {
            ApiFormat::OpenAi => KeyAuth::bearer(),
            ApiFormat::Anthropic => KeyAuth::plain("x-api-key"),
        }
    }

    fn bearer() -> KeyAuth {
        KeyAuth {
            header: "authorization".to_owned(),
            prefix: "Bearer ".to_owned(),
        }
    }

    fn plain(header: &str) -> KeyAuth {
        KeyAuth {
            header: header.to_owned(),
            prefix: String::new(),
        }
    }

    /// Runs at load for one provider's `auth`; problems are reported at `auth` and the
    /// format's default stands (`None`).
    pub(super) fn from_config(config: Option<&Json>, d: &mut Diagnostics) -> Option<KeyAuth> {
        match KeyAuth::parse(config?) {
            Ok(auth) => Some(auth),
            Err(e) => {
                d.error("auth", e.to_string());
                None
            }
        }
    }

    fn parse(config: &Json) -> Result<KeyAuth, BadAuth> {
        let map = match config {
            Json::String(style) => {
                return match style.to_ascii_lowercase().as_str() {
                    "bearer" => Ok(KeyAuth::bearer()),
                    "x-api-key" => Ok(KeyAuth::plain("x-api-key")),
                    "api-key" => Ok(KeyAuth::plain("api-key")),
                    _ => Err(BadAuth::UnknownStyle(style.clone())),
                };
            }
            Json::Object(map) => map,
            _ => return Err(BadAuth::WrongType),
        };
        if let Some(other) = map.keys().find(|k| *k != "header" && *k != "prefix") {
            return Err(BadAuth::UnknownField(other.clone()));
        }
        let text = |field: &'static str| match map.get(field) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(BadAuth::NotAString(field)),
        };
        let header = text("header")?.ok_or(BadAuth::NoHeader)?;
        validate::header_name(&header)?;
        let header = header.to_ascii_lowercase();
        if ["content-type", "accept-encoding"].contains(&header.as_str()) {
            return Err(BadAuth::GatewayWritten(header));
        }
        let prefix = text("prefix")?.unwrap_or_default();
        if prefix.chars().any(char::is_control) {
            return Err(BadAuth::BadPrefix);
        }
        Ok(KeyAuth { header, prefix })
    }

    /// The header that carries `key`.
    pub fn header(&self, key: &str) -> (String, String) {
        (self.header.clone(), format!("{}{key}", self.prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(v: Json) -> Result<KeyAuth, String> {
        KeyAuth::parse(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn styles_and_named_headers() {
        assert_eq!(
            parsed(json!("api-key")).unwrap().header("k1"),
            ("api-key".to_owned(), "k1".to_owned())
        );
        assert_eq!(
            parsed(json!("Bearer")).unwrap().header("k1"),
            ("authorization".to_owned(), "Bearer k1".to_owned())
        );
        assert_eq!(
            parsed(json!({"header": "X-Token", "prefix": "Token "}))
                .unwrap()
                .header("k1"),
            ("x-token".to_owned(), "Token k1".to_owned())
        );
        assert_eq!(
            KeyAuth::default_for(ApiFormat::Anthropic).header("k1"),
            ("x-api-key".to_owned(), "k1".to_owned())
        );
    }

    #[test]
    fn bad_auth_says_what_is_allowed() {
        for (bad, needle) in [
            (json!("basic"), "not an auth style"),
            (json!(5), "a word or a map"),
            (json!({"prefix": "x"}), "needs a 'header'"),
            (
                json!({"header": "x", "sufix": "y"}),
                "'sufix' is not a field",
            ),
            (json!({"header": "bad name"}), "not a valid header name"),
            (json!({"header": "host"}), "managed by the gateway"),
            (json!({"header": "content-type"}), "written by the gateway"),
            (
                json!({"header": "x", "prefix": "a\nb"}),
                "control characters",
            ),
        ] {
            let e = parsed(bad.clone()).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
