//! Which kinds of request a provider may serve: `providers[].allowed_requests`, Bifrost's
//! field under Bifrost's names (docs/ai-gateway.md, "Request types").
//!
//! At load, [`AllowedRequests::from_config`] checks the map; per request, the plan asks
//! [`RequestType::of`] what the client's request is, and selection keeps only candidates
//! whose provider [`AllowedRequests::allows`] it.

use std::collections::BTreeMap;

use super::errors::GatewayError;
use super::surface::Surface;
use crate::policy::Diagnostics;

/// A kind of request, as `allowed_requests` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    ListModels,
    TextCompletion,
    TextCompletionStream,
    ChatCompletion,
    ChatCompletionStream,
    Responses,
    ResponsesStream,
    Embedding,
    Speech,
    SpeechStream,
    Transcription,
    TranscriptionStream,
}

impl RequestType {
    /// Every request type, in the order the docs list them.
    pub const ALL: [RequestType; 12] = [
        RequestType::ListModels,
        RequestType::TextCompletion,
        RequestType::TextCompletionStream,
        RequestType::ChatCompletion,
        RequestType::ChatCompletionStream,
        RequestType::Responses,
        RequestType::ResponsesStream,
        RequestType::Embedding,
        RequestType::Speech,
        RequestType::SpeechStream,
        RequestType::Transcription,
        RequestType::TranscriptionStream,
    ];

    /// The `allowed_requests` key.
    pub fn name(self) -> &'static str {
        match self {
            RequestType::ListModels => "list_models",
            RequestType::TextCompletion => "text_completion",
            RequestType::TextCompletionStream => "text_completion_stream",
            RequestType::ChatCompletion => "chat_completion",
            RequestType::ChatCompletionStream => "chat_completion_stream",
            RequestType::Responses => "responses",
            RequestType::ResponsesStream => "responses_stream",
            RequestType::Embedding => "embedding",
            RequestType::Speech => "speech",
            RequestType::SpeechStream => "speech_stream",
            RequestType::Transcription => "transcription",
            RequestType::TranscriptionStream => "transcription_stream",
        }
    }

    fn from_name(name: &str) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The type of a request to `surface`, streamed or not. Anthropic's messages are chat
    /// completions (as in Bifrost); embeddings never stream.
    pub fn of(surface: Surface, stream: bool) -> RequestType {
        match (surface, stream) {
            (Surface::ChatCompletions | Surface::Messages, false) => RequestType::ChatCompletion,
            (Surface::ChatCompletions | Surface::Messages, true) => {
                RequestType::ChatCompletionStream
            }
            (Surface::Completions, false) => RequestType::TextCompletion,
            (Surface::Completions, true) => RequestType::TextCompletionStream,
            (Surface::Responses, false) => RequestType::Responses,
            (Surface::Responses, true) => RequestType::ResponsesStream,
            (Surface::Embeddings, _) => RequestType::Embedding,
            (Surface::Models, _) => RequestType::ListModels,
        }
    }
}

/// The request types one provider may serve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedRequests(Option<Vec<RequestType>>);

impl AllowedRequests {
    /// Runs at load, for one provider. Omitted: every type. Written: only the keys set to
    /// `true` (`{}` allows nothing). An unknown key is an error at
    /// `allowed_requests.<key>` naming the keys there are, and is left out.
    pub(super) fn from_config(
        config: Option<&BTreeMap<String, bool>>,
        d: &mut Diagnostics,
    ) -> AllowedRequests {
        let Some(map) = config else {
            return AllowedRequests(None);
        };
        let mut allowed = Vec::new();
        for (key, &on) in map {
            match RequestType::from_name(key) {
                Some(t) if on => allowed.push(t),
                Some(_) => {}
                None => d.error(
                    &format!("allowed_requests.{key}"),
                    format!(
                        "'{key}' is not a request type: use one of {}",
                        RequestType::ALL.map(RequestType::name).join(", ")
                    ),
                ),
            }
        }
        AllowedRequests(Some(allowed))
    }

    /// May the provider serve a request of type `t`?
    pub fn allows(&self, t: RequestType) -> bool {
        self.0.as_ref().is_none_or(|list| list.contains(&t))
    }
}

/// The error when every candidate's provider refuses `t`: names the type and the
/// providers (ids only, never anything from their config).
pub(super) fn not_allowed(t: RequestType, providers: &[String]) -> GatewayError {
    GatewayError::RequestTypeNotAllowed {
        request_type: t.name(),
        providers: providers
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn omitted_allows_all_written_allows_only_true_keys() {
        let mut d = Diagnostics::default();
        let all = AllowedRequests::from_config(None, &mut d);
        assert!(RequestType::ALL.iter().all(|t| all.allows(*t)));
        let chat = AllowedRequests::from_config(
            Some(&map(&[("chat_completion", true), ("embedding", false)])),
            &mut d,
        );
        assert!(chat.allows(RequestType::ChatCompletion));
        assert!(!chat.allows(RequestType::ChatCompletionStream));
        assert!(!chat.allows(RequestType::Embedding));
        let none = AllowedRequests::from_config(Some(&map(&[])), &mut d);
        assert!(!RequestType::ALL.iter().any(|t| none.allows(*t)));
        assert!(!d.has_errors());
    }

    #[test]
    fn an_unknown_key_names_the_known_ones() {
        let mut d = Diagnostics::default();
        AllowedRequests::from_config(Some(&map(&[("chat", true)])), &mut d);
        assert!(d.has_errors());
    }

    #[test]
    fn each_surface_has_its_type() {
        assert_eq!(
            RequestType::of(Surface::Messages, true),
            RequestType::ChatCompletionStream
        );
        assert_eq!(
            RequestType::of(Surface::Completions, false),
            RequestType::TextCompletion
        );
        assert_eq!(
            RequestType::of(Surface::Embeddings, true),
            RequestType::Embedding
        );
        assert_eq!(
            RequestType::of(Surface::Models, false),
            RequestType::ListModels
        );
        for t in RequestType::ALL {
            assert_eq!(RequestType::from_name(t.name()), Some(t));
        }
    }
}
