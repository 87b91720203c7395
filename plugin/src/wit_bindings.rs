//! Binds the plugin's logic to the WIT world. Compiled for wasm32 only.
//!
//! The loaded policy lives in a per-instance global: the host calls `load` once on each
//! fresh instance, then the request exports any number of times. WIT types are converted
//! to and from `model.rs` types field by field; nothing here may panic (a trap would cost
//! the host the instance and the request a 500).

// The code wit-bindgen generates for the canonical ABI (exported `extern "C"` entry points,
// raw pointer lifting/lowering) is unsafe by nature; none is written by hand here.
#![allow(unsafe_code)]

use std::cell::RefCell;

use crate::engine::{self, LoadedPolicy};
use crate::host_api::HostApi;
use crate::model;

wit_bindgen::generate!({ world: "gateway", path: "../wit" });

use aigw::gateway::host as wit_host;
use aigw::gateway::types as wit;

thread_local! {
    /// The policy of this instance; `None` until `load` succeeds. Wasm instances are
    /// single-threaded, so a thread-local is the instance's global.
    static POLICY: RefCell<Option<LoadedPolicy>> = const { RefCell::new(None) };
}

/// [`HostApi`] over the WIT imports.
struct WitHost;

impl HostApi for WitHost {
    fn log(&self, level: model::LogLevel, message: &str, fields: &[(String, String)]) {
        let level = match level {
            model::LogLevel::Trace => wit_host::LogLevel::Trace,
            model::LogLevel::Debug => wit_host::LogLevel::Debug,
            model::LogLevel::Info => wit_host::LogLevel::Info,
            model::LogLevel::Warn => wit_host::LogLevel::Warn,
            model::LogLevel::Error => wit_host::LogLevel::Error,
        };
        wit_host::log(level, message, fields);
    }

    fn rate_limit_check(&self, bucket: &str, capacity: u64, window_ms: u64) -> model::RateLimitResult {
        let r = wit_host::rate_limit_check(bucket, capacity, window_ms);
        model::RateLimitResult {
            allowed: r.allowed,
            remaining: r.remaining,
            retry_after_ms: r.retry_after_ms,
        }
    }

    fn secret(&self, vault: &str, name: &str) -> Option<String> {
        wit_host::secret(vault, name)
    }

    fn metrics_snapshot(&self) -> Vec<model::TargetMetrics> {
        wit_host::metrics_snapshot()
            .into_iter()
            .map(|m| model::TargetMetrics {
                provider: m.provider,
                model: m.model,
                key_id: m.key_id,
                requests: m.requests,
                errors: m.errors,
                error_rate: m.error_rate,
                latency_p50_ms: m.latency_p50_ms,
                latency_p95_ms: m.latency_p95_ms,
                quota_remaining_requests: m.quota_remaining_requests,
                quota_remaining_tokens: m.quota_remaining_tokens,
            })
            .collect()
    }

    fn metrics_generation(&self) -> u64 {
        wit_host::metrics_generation()
    }
}

struct Component;

impl Guest for Component {
    fn load(policy: String, options: wit::LoadOptions) -> Result<wit::LoadSummary, Vec<wit::Diagnostic>> {
        let options = model::LoadOptions {
            file_name: options.file_name,
            check_only: options.check_only,
            endpoint: model::EndpointInfo {
                id: options.endpoint.id,
                url: options.endpoint.url,
                host: options.endpoint.host,
                port: options.endpoint.port,
                protocol: options.endpoint.protocol,
            },
        };
        match engine::load(&policy, &options, &WitHost) {
            Ok(loaded) => {
                let summary = summary_to_wit(loaded.summary());
                POLICY.with(|p| *p.borrow_mut() = Some(loaded));
                Ok(summary)
            }
            Err(diags) => Err(diags.into_iter().map(diagnostic_to_wit).collect()),
        }
    }

    fn on_http_request(req: wit::Request) -> wit::RequestOutcome {
        let req = request_from_wit(req);
        let outcome = POLICY.with(|p| match p.borrow().as_ref() {
            Some(policy) => policy.on_http_request(&req, &WitHost),
            None => not_loaded(),
        });
        outcome_to_wit(outcome)
    }

    fn on_http_response(state: Vec<u8>, req: wit::Request, res: wit::ResponseHead) -> wit::ResponseDecision {
        let req = request_from_wit(req);
        let head = model::ResponseHead {
            status: res.status,
            headers: res.headers,
        };
        let decision = POLICY.with(|p| match p.borrow().as_ref() {
            Some(policy) => policy.on_http_response(&state, &req, &head, &WitHost),
            None => model::ResponseDecision::Headers(head.headers.clone()),
        });
        match decision {
            model::ResponseDecision::Headers(h) => wit::ResponseDecision::Headers(h),
            model::ResponseDecision::Replace(r) => wit::ResponseDecision::Replace(response_to_wit(r)),
        }
    }

    fn classify_failure(continuation: Vec<u8>, failed: wit::AttemptResult) -> wit::FailoverAction {
        let failed = attempt_result_from_wit(failed);
        let action = POLICY.with(|p| match p.borrow().as_ref() {
            Some(policy) => policy.classify_failure(&continuation, &failed),
            None => model::FailoverAction::Stop,
        });
        failover_to_wit(action)
    }

    fn resume(continuation: Vec<u8>, req: wit::Request, outcome: wit::GatewayOutcome) -> wit::RequestOutcome {
        let req = request_from_wit(req);
        let outcome = model::GatewayOutcome {
            served: outcome.served,
            attempts: outcome.attempts.into_iter().map(attempt_result_from_wit).collect(),
            timed_out: outcome.timed_out,
            duration_ms: outcome.duration_ms,
        };
        let result = POLICY.with(|p| match p.borrow().as_ref() {
            Some(policy) => policy.resume(&continuation, &req, &outcome, &WitHost),
            None => not_loaded(),
        });
        outcome_to_wit(result)
    }
}

export!(Component);

/// A request reached an instance whose `load` never succeeded (a host bug).
fn not_loaded() -> model::RequestOutcome {
    model::RequestOutcome {
        decision: model::Decision::Respond(engine::failure::policy_failure(
            "(none)",
            "no policy is loaded in this plugin instance",
            &[],
        )),
        state: Vec::new(),
    }
}

fn request_from_wit(r: wit::Request) -> model::Request {
    model::Request {
        id: r.id,
        method: r.method,
        scheme: r.scheme,
        authority: r.authority,
        path: r.path,
        query: r.query,
        version: r.version,
        headers: r.headers,
        body: r.body,
        conn: model::Connection {
            client_ip: r.conn.client_ip,
            client_port: r.conn.client_port,
            server_ip: r.conn.server_ip,
            server_port: r.conn.server_port,
            tls: r.conn.tls.map(|t| model::TlsInfo {
                version: t.version,
                cipher_suite: t.cipher_suite,
                sni: t.sni,
                negotiated_alpn: t.negotiated_alpn,
            }),
        },
        received_at_ms: r.received_at_ms,
    }
}

fn response_to_wit(r: model::Response) -> wit::Response {
    wit::Response {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

fn outcome_to_wit(o: model::RequestOutcome) -> wit::RequestOutcome {
    let decision = match o.decision {
        model::Decision::Respond(r) => wit::Decision::Respond(response_to_wit(r)),
        model::Decision::Upstream(u) => wit::Decision::Upstream(wit::UpstreamRequest {
            method: u.method,
            path_and_query: u.path_and_query,
            headers: u.headers,
            body: u.body,
        }),
        model::Decision::Forward(plan) => wit::Decision::Forward(plan_to_wit(plan)),
    };
    wit::RequestOutcome {
        decision,
        state: o.state,
    }
}

fn plan_to_wit(p: model::Plan) -> wit::Plan {
    wit::Plan {
        attempts: p
            .attempts
            .into_iter()
            .map(|a| wit::Attempt {
                url: a.url,
                method: a.method,
                headers: a.headers,
                body: a.body,
                provider: a.provider,
                model: a.model,
                key_id: a.key_id,
                model_group: a.model_group,
                timeout_ms: a.timeout_ms,
            })
            .collect(),
        format: match p.format {
            model::ApiFormat::OpenAi => wit::ApiFormat::Openai,
            model::ApiFormat::Anthropic => wit::ApiFormat::Anthropic,
        },
        stream: p.stream,
        total_timeout_ms: p.total_timeout_ms,
        max_attempts: p.max_attempts,
        stream_idle_timeout_ms: p.stream_idle_timeout_ms,
        max_retry_after_ms: p.max_retry_after_ms,
        custom_failover: p.custom_failover,
        response_headers: p.response_headers,
        continuation: p.continuation,
    }
}

fn attempt_result_from_wit(a: wit::AttemptResult) -> model::AttemptResult {
    model::AttemptResult {
        index: a.index,
        provider: a.provider,
        model: a.model,
        key_id: a.key_id,
        status: a.status,
        failure: a.failure.map(|f| match f {
            wit::FailureKind::Status => model::FailureKind::Status,
            wit::FailureKind::Connect => model::FailureKind::Connect,
            wit::FailureKind::Dns => model::FailureKind::Dns,
            wit::FailureKind::Tls => model::FailureKind::Tls,
            wit::FailureKind::Timeout => model::FailureKind::Timeout,
            wit::FailureKind::TotalTimeout => model::FailureKind::TotalTimeout,
            wit::FailureKind::StreamError => model::FailureKind::StreamError,
            wit::FailureKind::Protocol => model::FailureKind::Protocol,
        }),
        message: a.message,
        headers: a.headers,
        body_excerpt: a.body_excerpt,
        duration_ms: a.duration_ms,
        retry_action: a.retry_action,
    }
}

fn failover_to_wit(a: model::FailoverAction) -> wit::FailoverAction {
    match a {
        model::FailoverAction::NextKey => wit::FailoverAction::NextKey,
        model::FailoverAction::NextModel => wit::FailoverAction::NextModel,
        model::FailoverAction::RetrySame => wit::FailoverAction::RetrySame,
        model::FailoverAction::Stop => wit::FailoverAction::Stop,
    }
}

fn diagnostic_to_wit(d: model::Diagnostic) -> wit::Diagnostic {
    wit::Diagnostic {
        severity: match d.severity {
            model::Severity::Error => wit::Severity::Error,
            model::Severity::Warning => wit::Severity::Warning,
        },
        message: d.message,
        line: d.line,
        column: d.column,
        path: d.path,
    }
}

fn summary_to_wit(s: &model::LoadSummary) -> wit::LoadSummary {
    wit::LoadSummary {
        needs_body: s.needs_body,
        has_response_rules: s.has_response_rules,
        request_rules: s.request_rules,
        response_rules: s.response_rules,
        warnings: s.warnings.iter().cloned().map(diagnostic_to_wit).collect(),
    }
}
