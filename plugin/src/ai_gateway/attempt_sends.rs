//! What the attempts to one provider send beyond the client's request, built per request
//! while the plan is written: the headers (the client's allowed ones, the config
//! `headers`), the config query parameters, and the values those must never show again
//! (docs/ai-gateway.md, "Secrets"). Providers without headers or query parameters of their
//! own share one of these; a provider with some gets its own (`provider_extras.rs`).

use super::attempt_secrets::AttemptSecrets;
use super::request_headers::{HeaderPattern, RequestHeaders};
use crate::model::{ApiFormat, Headers};

/// The headers, query and redaction list of one provider's attempts.
pub struct AttemptSends {
    pub headers: RequestHeaders,
    pub query: Vec<(String, String)>,
    pub secrets: AttemptSecrets,
}

impl AttemptSends {
    /// `config_headers` and `query` are the rendered config values (the action's, with a
    /// provider's over them).
    pub fn new(
        client: &Headers,
        config_headers: &[(String, String)],
        query: Vec<(String, String)>,
        forward: &[HeaderPattern],
        format: ApiFormat,
    ) -> AttemptSends {
        AttemptSends {
            headers: RequestHeaders::new(client, config_headers, forward, format),
            secrets: AttemptSecrets::new(config_headers, &query),
            query,
        }
    }
}
