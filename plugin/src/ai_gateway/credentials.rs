//! The credential each attempt sends (docs/ai-gateway.md, "Header forwarding"): a configured
//! key in the header the format expects, or the client's own key forwarded exactly as the
//! client sent it.
//!
//! [`client_credential`] is the one place that decides which client header is the
//! passthrough credential; the plan, the result variables and the redaction list all ask it.

use super::key_auth::KeyAuth;
use crate::model::{ApiFormat, Headers};

/// Client headers that carry credentials or cookies. None of them reaches a provider,
/// except the one [`client_credential`] picks, and only on an attempt that uses the
/// client's own key. A policy's `forward_headers` may not name them.
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
];

/// The header a client's key came in, which is also the header it is forwarded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialHeader {
    /// `Authorization: Bearer <key>`: the OpenAI SDKs, and the Anthropic SDK's `auth_token`.
    Bearer,
    /// `x-api-key: <key>`: the Anthropic SDK's `api_key`.
    XApiKey,
    /// `api-key: <key>`: the Azure OpenAI SDK.
    ApiKey,
}

impl CredentialHeader {
    /// The lower-cased header name.
    pub fn name(self) -> &'static str {
        match self {
            CredentialHeader::Bearer => "authorization",
            CredentialHeader::XApiKey => "x-api-key",
            CredentialHeader::ApiKey => "api-key",
        }
    }

    /// The forms a format's SDKs send, its own first. When a client sends several, the
    /// first one here is its key for the provider; the others are taken as meant for the
    /// gateway (e.g. a gateway token in `Authorization` next to an Anthropic `x-api-key`)
    /// and never forwarded.
    fn accepted(format: ApiFormat) -> &'static [CredentialHeader] {
        match format {
            ApiFormat::OpenAi => &[CredentialHeader::Bearer, CredentialHeader::ApiKey],
            ApiFormat::Anthropic => &[CredentialHeader::XApiKey, CredentialHeader::Bearer],
        }
    }
}

/// The client's own key: what passthrough forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredential {
    pub header: CredentialHeader,
    /// The header value exactly as the client sent it (`Bearer …` included).
    pub value: String,
    /// The bare key: for the result variables' hint and for redaction.
    pub key: String,
}

/// The client's passthrough credential for a request in `format`, if it sent one in a form
/// that format's SDKs use. Runs once per request, while the plan is built.
pub fn client_credential(headers: &Headers, format: ApiFormat) -> Option<ClientCredential> {
    CredentialHeader::accepted(format).iter().find_map(|&form| {
        let value = headers.iter().find(|(k, _)| k == form.name())?.1.trim();
        let key = match form {
            CredentialHeader::Bearer => {
                let (scheme, token) = value.split_once(' ')?;
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return None;
                }
                token.trim()
            }
            CredentialHeader::XApiKey | CredentialHeader::ApiKey => value,
        };
        (!key.is_empty()).then(|| ClientCredential {
            header: form,
            value: value.to_owned(),
            key: key.to_owned(),
        })
    })
}

/// What one attempt authenticates with.
#[derive(Debug, Clone, Copy, Default)]
pub enum AttemptKey<'k> {
    /// A configured `api_keys[].value`, sent in the header the format expects.
    Configured(&'k str),
    /// The client's own key, sent as the client sent it.
    Client(&'k ClientCredential),
    /// No key (a custom provider the client sent no key for).
    #[default]
    None,
}

impl AttemptKey<'_> {
    /// The header that carries this key: a configured key the provider's way (`auth`), the
    /// client's own key as the client sent it.
    pub fn header(&self, auth: &KeyAuth) -> Option<(String, String)> {
        match self {
            AttemptKey::Configured(key) => Some(auth.header(key)),
            AttemptKey::Client(c) => Some((c.header.name().to_owned(), c.value.clone())),
            AttemptKey::None => None,
        }
    }

    /// The key material, for the attempt's redaction list.
    pub fn secret(&self) -> Option<&str> {
        match self {
            AttemptKey::Configured(key) => Some(key),
            AttemptKey::Client(c) => Some(&c.key),
            AttemptKey::None => None,
        }
    }
}

/// Short, non-reversible hint of a client key for result variables: first 7 characters,
/// `...`, last 4, or `...` alone for short keys.
pub fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 16 {
        return "...".to_owned();
    }
    let head: String = chars.iter().take(7).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn each_form_is_forwarded_as_sent() {
        let bearer = headers(&[("authorization", "Bearer tok-1")]);
        for format in [ApiFormat::OpenAi, ApiFormat::Anthropic] {
            let c = client_credential(&bearer, format).unwrap();
            assert_eq!(c.header, CredentialHeader::Bearer);
            assert_eq!(
                AttemptKey::Client(&c).header(&KeyAuth::default_for(format)),
                Some(("authorization".to_owned(), "Bearer tok-1".to_owned()))
            );
            assert_eq!(c.key, "tok-1");
        }
        let x = headers(&[("x-api-key", "sk-ant-1")]);
        let c = client_credential(&x, ApiFormat::Anthropic).unwrap();
        assert_eq!(
            AttemptKey::Client(&c).header(&KeyAuth::default_for(ApiFormat::OpenAi)),
            Some(("x-api-key".to_owned(), "sk-ant-1".to_owned())),
            "the client's key stays in its own header whatever the provider's auth"
        );
        let azure = headers(&[("api-key", "az-1")]);
        let c = client_credential(&azure, ApiFormat::OpenAi).unwrap();
        assert_eq!(c.header, CredentialHeader::ApiKey);
    }

    #[test]
    fn the_formats_own_header_wins() {
        let both = headers(&[
            ("authorization", "Bearer gateway-token"),
            ("x-api-key", "sk-ant-real"),
        ]);
        let c = client_credential(&both, ApiFormat::Anthropic).unwrap();
        assert_eq!(
            (c.header, c.key.as_str()),
            (CredentialHeader::XApiKey, "sk-ant-real")
        );
        let c = client_credential(&both, ApiFormat::OpenAi).unwrap();
        assert_eq!(c.key, "gateway-token");
    }

    #[test]
    fn other_forms_are_not_credentials() {
        assert_eq!(
            client_credential(
                &headers(&[("authorization", "Basic abc")]),
                ApiFormat::OpenAi
            ),
            None
        );
        assert_eq!(
            client_credential(&headers(&[("x-goog-api-key", "g")]), ApiFormat::OpenAi),
            None
        );
        assert_eq!(
            client_credential(
                &headers(&[("authorization", "Bearer  ")]),
                ApiFormat::OpenAi
            ),
            None
        );
        assert_eq!(
            key_hint("sk-proj-abcdefghijklmnopqrstuvwxyz1234567890"),
            "sk-proj...7890"
        );
    }
}
