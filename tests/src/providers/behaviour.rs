//! One scripted answer of a mock provider: what it sends for one request.

use serde_json::Value;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub status: u16,
    pub retry_after: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Replaces the default error body for non-2xx answers.
    pub error_body: Option<Value>,
    /// Wait this long before sending the response head.
    pub delay_ms: u64,
    /// Number of content chunks in a stream (before the terminator).
    pub chunks: usize,
    pub chunk_delay_ms: u64,
    /// After this many chunks, send nothing more but keep the connection open.
    pub stall_after: Option<usize>,
    /// After this many chunks, break the connection (no terminator).
    pub drop_after: Option<usize>,
    /// The first SSE event is an error event (status stays 200).
    pub first_event_error: bool,
    /// 200 + SSE head, then the connection breaks before any body byte.
    pub fail_before_first_byte: bool,
    /// Exactly this body, whatever the request (for byte-exact pass-through checks).
    pub body: Option<String>,
    /// Exactly these SSE events as the body, streamed whatever the request asked for; the
    /// `stall_after`/`drop_after`/`chunk_delay_ms` knobs apply to them.
    pub events: Option<Vec<String>>,
    /// Request headers whose values a non-2xx error message quotes, as a provider that
    /// echoes a rejected credential does (`name=value`, in this order).
    pub echo_headers: Vec<String>,
    /// A non-2xx error message also quotes the request's query string.
    pub echo_query: bool,
    /// After this many events, send the first half of the next one (cut inside its JSON),
    /// then break the connection.
    pub cut_inside_event: Option<usize>,
    /// The stream ends cleanly without its closing event (`[DONE]`, `message_stop`).
    pub no_closing_event: bool,
    /// After this many events, send only keep-alives, one every `ping_every_ms`, forever:
    /// `: keep-alive` comments (OpenAI) or `ping` events (Anthropic).
    pub pings_after: Option<usize>,
    pub ping_every_ms: u64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            status: 200,
            retry_after: None,
            headers: Vec::new(),
            error_body: None,
            delay_ms: 0,
            chunks: 3,
            chunk_delay_ms: 0,
            stall_after: None,
            drop_after: None,
            first_event_error: false,
            fail_before_first_byte: false,
            body: None,
            events: None,
            echo_headers: Vec::new(),
            echo_query: false,
            cut_inside_event: None,
            no_closing_event: false,
            pings_after: None,
            ping_every_ms: 100,
        }
    }
}
