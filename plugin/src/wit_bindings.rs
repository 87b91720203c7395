//! Binds the plugin's logic to the WIT world. Compiled for wasm32 only.
//!
//! Every export converts the generated WIT types to the plain-Rust mirror in `model`, calls
//! the engine, and converts back, field for field. The policy is loaded once per instance
//! (the host calls `load` on every fresh instance) and kept in a thread-local: a component
//! instance is single-threaded, and the host never calls two exports at once.

// The code wit-bindgen generates (export shims, canonical-ABI lifting) is `unsafe` by nature;
// nothing hand-written in this file is.
#![allow(unsafe_code)]

use std::cell::RefCell;

use crate::engine::{self, LoadedPolicy};
use crate::host_api::HostApi;
use crate::model as m;

wit_bindgen::generate!({ world: "gateway", path: "../wit" });

use aigw::gateway::host as wh;
use aigw::gateway::types as wt;

thread_local! {
    static POLICY: RefCell<Option<LoadedPolicy>> = const { RefCell::new(None) };
}

/// The host's imports, as the engine's [`HostApi`].
struct WitHost;

impl HostApi for WitHost {
    fn log(&self, level: m::LogLevel, message: &str, fields: &[(String, String)]) {
        let level = match level {
            m::LogLevel::Trace => wh::LogLevel::Trace,
            m::LogLevel::Debug => wh::LogLevel::Debug,
            m::LogLevel::Info => wh::LogLevel::Info,
            m::LogLevel::Warn => wh::LogLevel::Warn,
            m::LogLevel::Error => wh::LogLevel::Error,
        };
        wh::log(level, message, fields);
    }

    fn rate_limit_check(&self, bucket: &str, capacity: u64, window_ms: u64) -> m::RateLimitResult {
        let r = wh::rate_limit_check(bucket, capacity, window_ms);
        m::RateLimitResult {
            allowed: r.allowed,
            remaining: r.remaining,
            retry_after_ms: r.retry_after_ms,
        }
    }

    fn secret(&self, vault: &str, name: &str) -> Option<String> {
        wh::secret(vault, name)
    }

    fn metrics_snapshot(&self) -> Vec<m::TargetMetrics> {
        wh::metrics_snapshot()
            .into_iter()
            .map(|t| m::TargetMetrics {
                provider: t.provider,
                model: t.model,
                key_id: t.key_id,
                requests: t.requests,
                errors: t.errors,
                error_rate: t.error_rate,
                latency_p50_ms: t.latency_p50_ms,
                latency_p95_ms: t.latency_p95_ms,
                quota_remaining_requests: t.quota_remaining_requests,
                quota_remaining_tokens: t.quota_remaining_tokens,
            })
            .collect()
    }

    fn metrics_generation(&self) -> u64 {
        wh::metrics_generation()
    }
}

struct Plugin;

export!(Plugin);

/// Runs `f` with the loaded policy, or answers `fallback` when `load` never succeeded on
/// this instance (the host only calls request exports after a successful `load`).
fn with_policy<T>(fallback: impl FnOnce() -> T, f: impl FnOnce(&LoadedPolicy) -> T) -> T {
    POLICY.with(|p| match p.borrow().as_ref() {
        Some(policy) => f(policy),
        None => fallback(),
    })
}

fn not_loaded() -> m::Response {
    let body = br#"{"error":{"message":"the gateway plugin has no policy loaded","type":"server_error","code":"plugin_not_loaded"}}"#;
    m::Response {
        status: 500,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_vec(),
    }
}

impl Guest for Plugin {
    fn load(
        policy: String,
        options: wt::LoadOptions,
    ) -> Result<wt::LoadSummary, Vec<wt::Diagnostic>> {
        let options = m::LoadOptions {
            file_name: options.file_name,
            check_only: options.check_only,
            endpoint: m::EndpointInfo {
                id: options.endpoint.id,
                url: options.endpoint.url,
                host: options.endpoint.host,
                port: options.endpoint.port,
                protocol: options.endpoint.protocol,
            },
        };
        match engine::load(&policy, &options, &WitHost) {
            Ok(loaded) => {
                let s = loaded.summary().clone();
                POLICY.with(|p| *p.borrow_mut() = Some(loaded));
                Ok(wt::LoadSummary {
                    needs_body: s.needs_body,
                    has_response_rules: s.has_response_rules,
                    request_rules: s.request_rules,
                    response_rules: s.response_rules,
                    warnings: s.warnings.into_iter().map(diagnostic_out).collect(),
                    provider_urls: s
                        .provider_urls
                        .into_iter()
                        .map(|u| wt::ProviderUrl {
                            url: u.url,
                            line: u.line,
                            column: u.column,
                            path: u.path,
                        })
                        .collect(),
                })
            }
            Err(diags) => Err(diags.into_iter().map(diagnostic_out).collect()),
        }
    }

    fn on_http_request(req: wt::Request) -> wt::RequestOutcome {
        let req = request_in(req);
        let outcome = with_policy(
            || m::RequestOutcome {
                decision: m::Decision::Respond(not_loaded()),
                state: Vec::new(),
            },
            |p| p.on_http_request(&req, &WitHost),
        );
        outcome_out(outcome)
    }

    fn on_http_response(
        state: Vec<u8>,
        req: wt::Request,
        res: wt::ResponseHead,
        served: Option<wt::ServedPlan>,
    ) -> wt::ResponseDecision {
        let req = request_in(req);
        let head = m::ResponseHead {
            status: res.status,
            headers: res.headers,
        };
        let served = served.map(|s| m::ServedPlan {
            continuation: s.continuation,
            outcome: outcome_in(s.outcome),
        });
        let keep = head.headers.clone();
        let decision = with_policy(
            || m::ResponseDecision::Headers(keep),
            |p| p.on_http_response(&state, &req, &head, served.as_ref(), &WitHost),
        );
        match decision {
            m::ResponseDecision::Headers(h) => wt::ResponseDecision::Headers(h),
            m::ResponseDecision::Replace(r) => wt::ResponseDecision::Replace(response_out(r)),
        }
    }

    fn classify_failure(failed: wt::AttemptResult, can_retry_same: bool) -> wt::FailoverAction {
        let failed = attempt_result_in(failed);
        let action = with_policy(
            || m::FailoverAction::Stop,
            |p| p.classify_failure(&failed, can_retry_same),
        );
        match action {
            m::FailoverAction::NextKey => wt::FailoverAction::NextKey,
            m::FailoverAction::NextModel => wt::FailoverAction::NextModel,
            m::FailoverAction::DropKey => wt::FailoverAction::DropKey,
            m::FailoverAction::RetrySame => wt::FailoverAction::RetrySame,
            m::FailoverAction::Stop => wt::FailoverAction::Stop,
        }
    }

    fn resume(
        continuation: Vec<u8>,
        req: wt::Request,
        outcome: wt::GatewayOutcome,
    ) -> wt::RequestOutcome {
        let req = request_in(req);
        let outcome = outcome_in(outcome);
        let result = with_policy(
            || m::RequestOutcome {
                decision: m::Decision::Respond(not_loaded()),
                state: Vec::new(),
            },
            |p| p.resume(&continuation, &req, &outcome, &WitHost),
        );
        outcome_out(result)
    }
}

fn request_in(r: wt::Request) -> m::Request {
    m::Request {
        id: r.id,
        method: r.method,
        scheme: r.scheme,
        authority: r.authority,
        path: r.path,
        query: r.query,
        version: r.version,
        headers: r.headers,
        body: r.body,
        conn: m::Connection {
            client_ip: r.conn.client_ip,
            client_port: r.conn.client_port,
            server_ip: r.conn.server_ip,
            server_port: r.conn.server_port,
            tls: r.conn.tls.map(|t| m::TlsInfo {
                version: t.version,
                cipher_suite: t.cipher_suite,
                sni: t.sni,
                negotiated_alpn: t.negotiated_alpn,
            }),
        },
        received_at_ms: r.received_at_ms,
    }
}

fn outcome_in(o: wt::GatewayOutcome) -> m::GatewayOutcome {
    m::GatewayOutcome {
        served: o.served,
        attempts: o.attempts.into_iter().map(attempt_result_in).collect(),
        timed_out: o.timed_out,
        duration_ms: o.duration_ms,
        last_answer: o.last_answer.map(|a| m::ProviderAnswer {
            status: a.status,
            content_type: a.content_type,
            body: a.body,
            complete: a.complete,
        }),
    }
}

fn attempt_result_in(a: wt::AttemptResult) -> m::AttemptResult {
    m::AttemptResult {
        index: a.index,
        provider: a.provider,
        model: a.model,
        key_id: a.key_id,
        status: a.status,
        failure: a.failure.map(|f| match f {
            wt::FailureKind::Status => m::FailureKind::Status,
            wt::FailureKind::Connect => m::FailureKind::Connect,
            wt::FailureKind::Dns => m::FailureKind::Dns,
            wt::FailureKind::Tls => m::FailureKind::Tls,
            wt::FailureKind::Timeout => m::FailureKind::Timeout,
            wt::FailureKind::TotalTimeout => m::FailureKind::TotalTimeout,
            wt::FailureKind::StreamError => m::FailureKind::StreamError,
            wt::FailureKind::Protocol => m::FailureKind::Protocol,
            wt::FailureKind::Saturated => m::FailureKind::Saturated,
        }),
        message: a.message,
        headers: a.headers,
        body_excerpt: a.body_excerpt,
        duration_ms: a.duration_ms,
        retry_after_ms: a.retry_after_ms,
        step: match a.step {
            wt::AttemptStep::Succeeded => m::AttemptStep::Succeeded,
            wt::AttemptStep::NextKey => m::AttemptStep::NextKey,
            wt::AttemptStep::NextModel => m::AttemptStep::NextModel,
            wt::AttemptStep::DropKey => m::AttemptStep::DropKey,
            wt::AttemptStep::RetrySame => m::AttemptStep::RetrySame,
            wt::AttemptStep::FailFast => m::AttemptStep::FailFast,
            wt::AttemptStep::Exhausted => m::AttemptStep::Exhausted,
            wt::AttemptStep::AttemptCap => m::AttemptStep::AttemptCap,
            wt::AttemptStep::TotalTimeout => m::AttemptStep::TotalTimeout,
        },
    }
}

fn response_out(r: m::Response) -> wt::Response {
    wt::Response {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

fn outcome_out(o: m::RequestOutcome) -> wt::RequestOutcome {
    let decision = match o.decision {
        m::Decision::Respond(r) => wt::Decision::Respond(response_out(r)),
        m::Decision::Upstream(u) => wt::Decision::Upstream(wt::UpstreamRequest {
            method: u.method,
            path_and_query: u.path_and_query,
            headers: u.headers,
            body: u.body,
        }),
        m::Decision::Forward(p) => wt::Decision::Forward(wt::Plan {
            attempts: p
                .attempts
                .into_iter()
                .map(|a| wt::Attempt {
                    url: a.url,
                    method: a.method,
                    headers: a.headers,
                    body: a
                        .body
                        .into_iter()
                        .map(|p| match p {
                            m::BodyPiece::Bytes(b) => wt::BodyPiece::Bytes(b),
                            m::BodyPiece::Request { offset, len } => {
                                wt::BodyPiece::Request(wt::BodyRange { offset, len })
                            }
                        })
                        .collect(),
                    provider: a.provider,
                    model: a.model,
                    key_id: a.key_id,
                    model_group: a.model_group,
                    timeout_ms: a.timeout_ms,
                    redact: a.redact,
                    tls: match a.tls {
                        m::TlsTrust::Default => wt::TlsTrust::DefaultRoots,
                        m::TlsTrust::CaPem(pem) => wt::TlsTrust::CaPem(pem),
                        m::TlsTrust::Insecure => wt::TlsTrust::Insecure,
                    },
                    concurrency: a.concurrency.map(|c| wt::ConcurrencyLimit {
                        concurrency: c.concurrency,
                        buffer_size: c.buffer_size,
                    }),
                })
                .collect(),
            format: match p.format {
                m::ApiFormat::OpenAi => wt::ApiFormat::Openai,
                m::ApiFormat::Anthropic => wt::ApiFormat::Anthropic,
            },
            stream: p.stream,
            total_timeout_ms: p.total_timeout_ms,
            max_attempts: p.max_attempts,
            stream_idle_timeout_ms: p.stream_idle_timeout_ms,
            stream_protocol: match p.stream_protocol {
                m::StreamProtocol::DoneMarker => wt::StreamProtocol::DoneMarker,
                m::StreamProtocol::Messages => wt::StreamProtocol::Messages,
                m::StreamProtocol::Responses => wt::StreamProtocol::Responses,
                m::StreamProtocol::Unmarked => wt::StreamProtocol::Unmarked,
            },
            stream_max_duration_ms: p.stream_max_duration_ms,
            max_retry_after_ms: p.max_retry_after_ms,
            response_headers: p.response_headers,
            continuation: p.continuation,
        }),
    };
    wt::RequestOutcome {
        decision,
        state: o.state,
    }
}

fn diagnostic_out(d: m::Diagnostic) -> wt::Diagnostic {
    wt::Diagnostic {
        severity: match d.severity {
            m::Severity::Error => wt::Severity::Error,
            m::Severity::Warning => wt::Severity::Warning,
        },
        message: d.message,
        line: d.line,
        column: d.column,
        path: d.path,
    }
}
