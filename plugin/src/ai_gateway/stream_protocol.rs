//! Which preamble and closing events a client surface's streams use, handed to the host in
//! the plan so the relay knows when a stream ended cleanly (docs/ai-gateway.md, "Streams:
//! commit point and broken streams"). Runs once per plan.

use super::surface::Surface;
use crate::model::StreamProtocol;

/// The stream protocol of `surface`. Surfaces that never stream are `Unmarked`.
pub fn stream_protocol(surface: Surface) -> StreamProtocol {
    match surface {
        Surface::ChatCompletions | Surface::Completions => StreamProtocol::DoneMarker,
        Surface::Messages => StreamProtocol::Messages,
        Surface::Responses => StreamProtocol::Responses,
        Surface::Embeddings | Surface::Models => StreamProtocol::Unmarked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_streaming_surface_has_its_closing_event() {
        let of = |path| stream_protocol(Surface::from_path(path).unwrap());
        assert_eq!(of("/v1/chat/completions"), StreamProtocol::DoneMarker);
        assert_eq!(of("/v1/completions"), StreamProtocol::DoneMarker);
        assert_eq!(of("/v1/messages"), StreamProtocol::Messages);
        assert_eq!(of("/v1/responses"), StreamProtocol::Responses);
        assert_eq!(of("/v1/embeddings"), StreamProtocol::Unmarked);
    }
}
