//! Plain-Rust mirror of the types in `wit/gateway.wit`.
//!
//! The plugin's logic works on these so it builds and is tested natively; `wit_bindings`
//! converts between them and the generated WIT types at the boundary (field for field).

/// Header list; names lower-cased, order and repeats kept.
pub type Headers = Vec<(String, String)>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    pub version: String,
    pub cipher_suite: String,
    pub sni: Option<String>,
    pub negotiated_alpn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub tls: Option<TlsInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub method: String,
    pub scheme: String,
    pub authority: String,
    pub path: String,
    pub query: String,
    pub version: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    pub conn: Connection,
    pub received_at_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Headers,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamRequest {
    pub method: String,
    pub path_and_query: String,
    pub headers: Headers,
    pub body: Option<Vec<u8>>,
}

/// How a plan's streams mark their preamble and their clean end (WIT `stream-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamProtocol {
    DoneMarker,
    Messages,
    Responses,
    Unmarked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFormat {
    OpenAi,
    Anthropic,
}

/// One piece of an attempt's body (WIT `body-piece`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyPiece {
    Bytes(Vec<u8>),
    /// `len` bytes at `offset` of the client's request body.
    Request {
        offset: u64,
        len: u64,
    },
}

/// The body an attempt's pieces describe, given the client's request body; `None` when a
/// range lies outside it. The host assembles bodies the same way
/// (`host/src/gateway/attempt_body.rs`); this one serves the plugin's tests.
#[cfg(test)]
pub fn assemble_body(pieces: &[BodyPiece], request: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            BodyPiece::Bytes(b) => out.extend_from_slice(b),
            BodyPiece::Request { offset, len } => {
                let start = usize::try_from(*offset).ok()?;
                let end = start.checked_add(usize::try_from(*len).ok()?)?;
                out.extend_from_slice(request.get(start..end)?);
            }
        }
    }
    Some(out)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    pub url: String,
    pub method: String,
    pub headers: Headers,
    pub body: Vec<BodyPiece>,
    pub provider: String,
    pub model: String,
    pub key_id: String,
    pub model_group: u32,
    pub timeout_ms: u64,
    /// Values the host must blot out of whatever it shows of this attempt.
    pub redact: Vec<String>,
    /// How the host verifies the provider's certificate (WIT `tls-trust`).
    pub tls: TlsTrust,
    /// The provider's concurrency cap and queue (WIT `concurrency-limit`); `None`: uncapped.
    pub concurrency: Option<ConcurrencyLimit>,
}

/// How an attempt's TLS certificate is verified (WIT `tls-trust`; docs/ai-gateway.md,
/// "Provider TLS").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TlsTrust {
    /// The edge-wide roots (bundled, system, `--provider-ca`).
    #[default]
    Default,
    /// The edge-wide roots plus this provider's own CA (PEM text).
    CaPem(String),
    /// No verification (`insecure_skip_verify`).
    Insecure,
}

/// A provider's `concurrency_and_buffer_size` (docs/ai-gateway.md, "Provider concurrency"):
/// the host lets at most `concurrency` of its attempts run at once and `buffer_size` wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcurrencyLimit {
    pub concurrency: u32,
    pub buffer_size: u32,
}

/// The next step after a failed attempt (WIT `failover-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverAction {
    NextKey,
    NextModel,
    /// Skip every remaining attempt sending this key to this provider, then go on.
    DropKey,
    RetrySame,
    Stop,
}

/// The step the host took after an attempt (WIT `attempt-step`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AttemptStep {
    Succeeded,
    NextKey,
    NextModel,
    DropKey,
    RetrySame,
    FailFast,
    #[default]
    Exhausted,
    AttemptCap,
    TotalTimeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub attempts: Vec<Attempt>,
    pub format: ApiFormat,
    pub stream: bool,
    pub total_timeout_ms: u64,
    pub max_attempts: u32,
    pub stream_idle_timeout_ms: u64,
    pub stream_protocol: StreamProtocol,
    pub stream_max_duration_ms: u64,
    pub max_retry_after_ms: u64,
    pub response_headers: Headers,
    pub continuation: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Status,
    Connect,
    Dns,
    Tls,
    Timeout,
    TotalTimeout,
    StreamError,
    Protocol,
    /// The provider's concurrency cap and queue were full, or the wait outlasted the
    /// attempt's deadline; nothing was sent.
    Saturated,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptResult {
    pub index: u32,
    pub provider: String,
    pub model: String,
    pub key_id: String,
    pub status: Option<u16>,
    pub failure: Option<FailureKind>,
    pub message: String,
    pub headers: Headers,
    pub body_excerpt: Vec<u8>,
    pub duration_ms: u64,
    /// The upstream's Retry-After in milliseconds, parsed by the host.
    pub retry_after_ms: Option<u64>,
    pub step: AttemptStep,
}

/// The last failed attempt's answer (WIT `provider-answer`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub complete: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayOutcome {
    pub served: Option<u16>,
    pub attempts: Vec<AttemptResult>,
    pub timed_out: bool,
    pub duration_ms: u64,
    pub last_answer: Option<ProviderAnswer>,
}

/// A plan that served the client, for the response phase (WIT `served-plan`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedPlan {
    pub continuation: Vec<u8>,
    pub outcome: GatewayOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Respond(Response),
    Forward(Plan),
    Upstream(UpstreamRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOutcome {
    pub decision: Decision,
    pub state: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseDecision {
    Headers(Headers),
    Replace(Response),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// 1-based; 0 when unknown.
    pub line: u32,
    pub column: u32,
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointInfo {
    pub id: String,
    pub url: String,
    pub host: String,
    pub port: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    pub file_name: String,
    pub check_only: bool,
    pub endpoint: EndpointInfo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub needs_body: bool,
    pub has_response_rules: bool,
    pub request_rules: u32,
    pub response_rules: u32,
    pub warnings: Vec<Diagnostic>,
    /// Every `providers[].base_url` the `ai-gateway` action writes.
    pub provider_urls: Vec<ProviderUrl>,
}

/// A provider `base_url` as written in the policy, with its position (for `edge check`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderUrl {
    pub url: String,
    pub line: u32,
    pub column: u32,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitResult {
    pub allowed: bool,
    pub remaining: u64,
    pub retry_after_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetMetrics {
    pub provider: String,
    pub model: String,
    pub key_id: String,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub quota_remaining_requests: Option<u64>,
    pub quota_remaining_tokens: Option<u64>,
}
