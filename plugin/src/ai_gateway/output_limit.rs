//! Which body field carries `max_output_tokens` to a provider (docs/ai-gateway.md, "Body
//! handling"). Read once per candidate while a plan is written, only when the client sent no
//! output limit of its own (one it sent is capped under its own name).
//!
//! OpenAI's own chat API (the built-in `openai` provider, wherever its `base_url` points, or
//! any provider at `api.openai.com`) takes `max_completion_tokens`, and its reasoning models
//! (o-series, gpt-5) reject `max_tokens` with a 400, which does not fail over; every other
//! OpenAI-compatible provider, the legacy completions API and Anthropic's messages API take
//! `max_tokens`; the responses API takes `max_output_tokens`.

use super::surface::Surface;
use super::universe::Provider;

/// Body keys that limit output length; every one the client or the config `body` sets is
/// capped by `max_output_tokens`.
pub const OUTPUT_LIMIT_FIELDS: &[&str] =
    &["max_tokens", "max_completion_tokens", "max_output_tokens"];

/// Host of OpenAI's own API; its regional hosts (`eu.api.openai.com`) are subdomains.
const OPENAI_API_HOST: &str = "api.openai.com";
/// The catalog id of OpenAI's built-in provider.
const OPENAI_ID: &str = "openai";

/// The field added when the client sent no limit, for `surface` on `provider`; `None` when
/// the surface has no output limit (embeddings).
pub fn added_limit_field(surface: Surface, provider: &Provider) -> Option<&'static str> {
    let openai =
        provider.builtin.as_deref() == Some(OPENAI_ID) || is_openai_api(&provider.base_url);
    limit_field(surface, openai)
}

fn limit_field(surface: Surface, openai: bool) -> Option<&'static str> {
    match surface {
        Surface::ChatCompletions if openai => Some("max_completion_tokens"),
        Surface::ChatCompletions | Surface::Completions | Surface::Messages => Some("max_tokens"),
        Surface::Responses => Some("max_output_tokens"),
        Surface::Embeddings | Surface::Models => None,
    }
}

fn is_openai_api(base_url: &url::Url) -> bool {
    base_url.host_str().is_some_and(|h| {
        let h = h.trim_end_matches('.').to_ascii_lowercase();
        h == OPENAI_API_HOST || h.ends_with(&format!(".{OPENAI_API_HOST}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(surface: Surface, url: &str) -> Option<&'static str> {
        limit_field(surface, is_openai_api(&url::Url::parse(url).unwrap()))
    }

    #[test]
    fn openai_chat_gets_max_completion_tokens_others_max_tokens() {
        let openai = "https://api.openai.com/v1/";
        assert_eq!(
            field(Surface::ChatCompletions, openai),
            Some("max_completion_tokens")
        );
        assert_eq!(
            field(Surface::ChatCompletions, "https://eu.api.openai.com/v1"),
            Some("max_completion_tokens")
        );
        assert_eq!(field(Surface::Completions, openai), Some("max_tokens"));
        assert_eq!(field(Surface::Responses, openai), Some("max_output_tokens"));
        assert_eq!(field(Surface::Embeddings, openai), None);
        assert_eq!(
            field(Surface::ChatCompletions, "https://api.groq.com/openai/v1"),
            Some("max_tokens")
        );
        assert_eq!(
            field(
                Surface::ChatCompletions,
                "https://notapi.openai.com.evil/v1"
            ),
            Some("max_tokens")
        );
        assert_eq!(
            field(Surface::Messages, "https://api.anthropic.com/v1/"),
            Some("max_tokens")
        );
    }
}
