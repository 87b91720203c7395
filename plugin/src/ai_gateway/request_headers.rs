//! Which client headers reach a provider (docs/ai-gateway.md, "Header forwarding"): an
//! allowlist, never a denylist, so a header a client meant for the gateway (a gateway
//! token, a cookie, another vendor's key) cannot slip through.
//!
//! At load, [`compile_forward_headers`] checks the policy's `forward_headers`; per request,
//! [`RequestHeaders::new`] keeps the allowed client headers once, and
//! [`RequestHeaders::for_attempt`] adds each attempt's credential.

use crate::model::{ApiFormat, Headers};
use crate::policy::Diagnostics;

use super::credentials::{AttemptKey, CREDENTIAL_HEADERS};
use super::key_auth::KeyAuth;
use super::validate;

/// Client headers forwarded to every provider: content negotiation, the SDKs' own headers
/// (`x-stainless-*` are the OpenAI and Anthropic SDKs' platform and retry headers), API
/// versions and betas, idempotency and W3C trace context. A trailing `*` matches a prefix.
pub const DEFAULT_FORWARDED: &[&str] = &[
    "accept",
    "accept-language",
    "accept-charset",
    "user-agent",
    "anthropic-version",
    "anthropic-beta",
    "openai-beta",
    "x-stainless-*",
    "idempotency-key",
    "traceparent",
    "tracestate",
];

/// Client headers that name the account a key belongs to: forwarded only next to the
/// client's own key, never next to a key of the gateway's.
pub const ACCOUNT_HEADERS: &[&str] = &["openai-organization", "openai-project"];

/// Headers the gateway writes itself, which `forward_headers` may not name:
/// `content-type` (always JSON) and `accept-encoding` (the edge reads the first SSE event,
/// so provider bodies must arrive uncompressed). `host`, `content-length`,
/// `transfer-encoding` and `connection` are refused by [`validate::header_name`].
const GATEWAY_WRITTEN: &[&str] = &["content-type", "accept-encoding"];

/// Default `anthropic-version` when an Anthropic-format client sent none.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// One allowlist entry: a lower-cased name, or a prefix when written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderPattern {
    Exact(String),
    Prefix(String),
}

impl HeaderPattern {
    fn parse(text: &str) -> HeaderPattern {
        let lower = text.to_ascii_lowercase();
        match lower.strip_suffix('*') {
            Some(prefix) => HeaderPattern::Prefix(prefix.to_owned()),
            None => HeaderPattern::Exact(lower),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            HeaderPattern::Exact(n) => n == name,
            HeaderPattern::Prefix(p) => name.starts_with(p.as_str()),
        }
    }
}

/// Why a `forward_headers` entry was refused; its text is the diagnostic.
#[derive(Debug, thiserror::Error)]
pub enum BadForwardHeader {
    #[error(transparent)]
    Invalid(#[from] validate::InvalidValue),
    #[error("a pattern needs a name before its trailing '*'")]
    BarePattern,
    #[error(
        "'{0}' carries credentials and is never forwarded; a client's own key is passed \
         through on its own when a provider has no api_keys"
    )]
    Credential(String),
    #[error("header '{0}' is written by the gateway and cannot be forwarded")]
    GatewayWritten(String),
}

/// Checks one `forward_headers` entry.
fn forward_header(text: &str) -> Result<HeaderPattern, BadForwardHeader> {
    let name = text.strip_suffix('*').unwrap_or(text);
    if name.is_empty() {
        return Err(BadForwardHeader::BarePattern);
    }
    validate::header_name(name)?;
    let lower = name.to_ascii_lowercase();
    if text.ends_with('*') {
        // A prefix may cover a credential (`x-*`): those stay excluded when matching.
        return Ok(HeaderPattern::Prefix(lower));
    }
    if CREDENTIAL_HEADERS.contains(&lower.as_str()) {
        return Err(BadForwardHeader::Credential(text.to_owned()));
    }
    if GATEWAY_WRITTEN.contains(&lower.as_str()) {
        return Err(BadForwardHeader::GatewayWritten(text.to_owned()));
    }
    Ok(HeaderPattern::Exact(lower))
}

/// The policy's `forward_headers`, checked at load: every bad entry is reported at its
/// index and left out.
pub fn compile_forward_headers(list: &[String], d: &mut Diagnostics) -> Vec<HeaderPattern> {
    let mut out = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        match forward_header(text) {
            Ok(p) => out.push(p),
            Err(e) => d.error(&format!("forward_headers[{i}]"), e.to_string()),
        }
    }
    out
}

/// True when a client header may reach a provider: named by the default set or the
/// policy, and never a credential or cookie.
fn forwarded(name: &str, policy: &[HeaderPattern]) -> bool {
    if CREDENTIAL_HEADERS.contains(&name) || GATEWAY_WRITTEN.contains(&name) {
        return false;
    }
    DEFAULT_FORWARDED
        .iter()
        .any(|d| HeaderPattern::parse(d).matches(name))
        || policy.iter().any(|p| p.matches(name))
}

/// The headers of a request's attempts, built once per request.
#[derive(Debug, Clone)]
pub struct RequestHeaders {
    /// Sent on every attempt: content type, allowed client headers, config `headers`.
    shared: Headers,
    /// The client's account headers, sent only with the client's own key.
    account: Headers,
    /// The names of the config `headers` among `shared`.
    config_names: Vec<String>,
}

impl RequestHeaders {
    /// `client` is the request's lower-cased headers; `config` the rendered config
    /// `headers`, which win over client headers of the same name.
    pub fn new(
        client: &Headers,
        config: &[(String, String)],
        policy: &[HeaderPattern],
        format: ApiFormat,
    ) -> RequestHeaders {
        let set_by_config = |k: &str| config.iter().any(|(c, _)| c == k);
        let mut shared: Headers = Vec::with_capacity(config.len() + 8);
        shared.push(("content-type".to_owned(), "application/json".to_owned()));
        shared.extend(
            client
                .iter()
                .filter(|(k, _)| forwarded(k, policy) && !set_by_config(k))
                .cloned(),
        );
        if format == ApiFormat::Anthropic && !shared.iter().any(|(k, _)| k == "anthropic-version") {
            shared.push(("anthropic-version".to_owned(), ANTHROPIC_VERSION.to_owned()));
        }
        shared.extend(config.iter().cloned());
        let account = client
            .iter()
            .filter(|(k, _)| {
                ACCOUNT_HEADERS.contains(&k.as_str()) && !shared.iter().any(|(s, _)| s == k)
            })
            .cloned()
            .collect();
        RequestHeaders {
            shared,
            account,
            config_names: config.iter().map(|(k, _)| k.clone()).collect(),
        }
    }

    /// Every header of one attempt: the shared ones plus its credential, a configured key
    /// sent the provider's way (`auth`), and, with the client's own key, the client's
    /// account headers. A config header of the credential's name (e.g. a custom
    /// `authorization`) wins and no key is added; a forwarded client header of that name
    /// (possible for an `auth` header of a provider's own) gives way to the key.
    pub fn for_attempt(&self, key: AttemptKey<'_>, auth: &KeyAuth) -> Headers {
        let mut headers = self.shared.clone();
        if let Some((name, value)) = key.header(auth)
            && !self.config_names.contains(&name)
        {
            headers.retain(|(k, _)| *k != name);
            headers.push((name, value));
        }
        if matches!(key, AttemptKey::Client(_)) {
            headers.extend(self.account.iter().cloned());
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai_gateway::credentials::client_credential;

    fn client() -> Headers {
        [
            ("authorization", "Bearer gateway-token"),
            ("x-gateway-token", "gw"),
            ("x-goog-api-key", "goog"),
            ("cookie", "session=1"),
            ("openai-organization", "org-client"),
            ("user-agent", "sdk/1"),
            ("x-stainless-os", "Linux"),
            ("anthropic-beta", "tools-1"),
            ("idempotency-key", "i-1"),
            ("traceparent", "00-ab-cd-01"),
            ("accept-encoding", "gzip"),
            ("x-team-id", "t1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    fn names(h: &Headers) -> Vec<&str> {
        h.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn only_the_allowlist_reaches_a_keyed_provider() {
        let h = RequestHeaders::new(&client(), &[], &[], ApiFormat::OpenAi).for_attempt(
            AttemptKey::Configured("sk-gw"),
            &KeyAuth::default_for(ApiFormat::OpenAi),
        );
        assert_eq!(
            names(&h),
            [
                "content-type",
                "user-agent",
                "x-stainless-os",
                "anthropic-beta",
                "idempotency-key",
                "traceparent",
                "authorization"
            ]
        );
        assert!(h.contains(&("authorization".into(), "Bearer sk-gw".into())));
    }

    #[test]
    fn the_clients_key_brings_its_account_headers() {
        let c = client();
        let cred = client_credential(&c, ApiFormat::OpenAi).unwrap();
        let h = RequestHeaders::new(&c, &[], &[], ApiFormat::OpenAi).for_attempt(
            AttemptKey::Client(&cred),
            &KeyAuth::default_for(ApiFormat::OpenAi),
        );
        assert!(h.contains(&("authorization".into(), "Bearer gateway-token".into())));
        assert!(h.contains(&("openai-organization".into(), "org-client".into())));
        assert!(!names(&h).contains(&"x-goog-api-key"));
    }

    #[test]
    fn policy_names_and_config_headers() {
        let mut d = Diagnostics::default();
        let policy = compile_forward_headers(
            &["X-Team-*".to_owned(), "x-gateway-token".to_owned()],
            &mut d,
        );
        assert!(!d.has_errors());
        let config = vec![("user-agent".to_owned(), "edge".to_owned())];
        let h = RequestHeaders::new(&client(), &config, &policy, ApiFormat::Anthropic).for_attempt(
            AttemptKey::None,
            &KeyAuth::default_for(ApiFormat::Anthropic),
        );
        assert!(h.contains(&("x-team-id".into(), "t1".into())));
        assert!(h.contains(&("x-gateway-token".into(), "gw".into())));
        assert!(h.contains(&("anthropic-version".into(), "2023-06-01".into())));
        assert_eq!(
            h.iter()
                .filter(|(k, _)| k == "user-agent")
                .collect::<Vec<_>>(),
            [&("user-agent".to_owned(), "edge".to_owned())],
            "config wins"
        );
    }

    #[test]
    fn bad_forward_headers_are_load_errors() {
        for bad in [
            "authorization",
            "Cookie",
            "x-api-key",
            "bad name",
            "*",
            "content-type",
            "host",
        ] {
            let mut d = Diagnostics::default();
            assert!(
                compile_forward_headers(&[bad.to_owned()], &mut d).is_empty(),
                "{bad}"
            );
            assert!(d.has_errors(), "{bad}");
        }
        // A prefix that covers a credential is fine: credentials stay excluded.
        let mut d = Diagnostics::default();
        let p = compile_forward_headers(&["x-*".to_owned()], &mut d);
        assert!(!forwarded("x-api-key", &p) && forwarded("x-anything", &p));
    }
}
