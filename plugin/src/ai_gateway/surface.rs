//! Which API a client path speaks (docs/ai-gateway.md, "Formats and paths"): the path
//! decides the format, and the format
//! decides which providers are candidates and the shape of error bodies.

use crate::model::ApiFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    ChatCompletions,
    Completions,
    Embeddings,
    Responses,
    Messages,
    /// `GET /v1/models`, answered by the gateway itself.
    Models,
}

impl Surface {
    /// The surface of a client path (trailing `/` ignored); `None` for any other path.
    pub fn from_path(path: &str) -> Option<Surface> {
        let path = path.strip_suffix('/').unwrap_or(path);
        Some(match path {
            "/v1/chat/completions" => Surface::ChatCompletions,
            "/v1/completions" => Surface::Completions,
            "/v1/embeddings" => Surface::Embeddings,
            "/v1/responses" => Surface::Responses,
            "/v1/messages" => Surface::Messages,
            "/v1/models" => Surface::Models,
            _ => return None,
        })
    }

    /// The error-body format for a path, even one we do not serve.
    pub fn format_for_path(path: &str) -> ApiFormat {
        if path.starts_with("/v1/messages") {
            ApiFormat::Anthropic
        } else {
            ApiFormat::OpenAi
        }
    }

    pub fn format(self) -> ApiFormat {
        match self {
            Surface::Messages => ApiFormat::Anthropic,
            _ => ApiFormat::OpenAi,
        }
    }

    /// The name used by `supported_api_surfaces[].surface` and `request_path_overrides`.
    pub fn name(self) -> &'static str {
        match self {
            Surface::ChatCompletions => "chat-completions",
            Surface::Completions => "completions",
            Surface::Embeddings => "embeddings",
            Surface::Responses => "responses",
            Surface::Messages => "messages",
            Surface::Models => "models",
        }
    }
}

pub fn format_name(f: ApiFormat) -> &'static str {
    match f {
        ApiFormat::OpenAi => "openai",
        ApiFormat::Anthropic => "anthropic",
    }
}
