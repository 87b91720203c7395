//! `AiGateway::plan`: one request in, an immediate answer or the ordered attempts out.
//!
//! Order of work (cheapest rejection first): path and method → body (top level only) →
//! input-token estimate → model names → strategies → keys → one attempt per model/key
//! pair (keys before models, at most `MAX_ATTEMPTS`). A candidate for which no key can be
//! chosen is skipped (recorded in `models_tried`); the request fails only when no
//! candidate is left.

use std::time::Instant;

use serde_json::{Value as Json, json};

use super::attempt_sends::AttemptSends;
use super::body::{BodyEdits, ClientBody, upstream_body};
use super::continuation::{AttemptInfo, ClientInfo, Continuation};
use super::credentials::{AttemptKey, CREDENTIAL_HEADERS, client_credential, key_hint};
use super::errors::GatewayError;
use super::key_auth::KeyAuth;
use super::key_order::candidate_keys;
use super::models_list::models_list;
use super::output_limit::added_limit_field;
use super::request_types::RequestType;
use super::resolve::{Cand, resolve};
use super::selection_record::SelectionRecord;
use super::skipped::SkippedCandidate;
use super::stream_protocol::stream_protocol;
use super::surface::{Surface, format_name};
use super::upstream::upstream_url;
use super::{
    AiGateway, Finish, GatewayStep, MAX_ATTEMPTS, MAX_RETRY_AFTER_MS, REQUEST_ID_HEADER, RequestEnv,
};
use crate::host_api::HostApi;
use crate::model::{ApiFormat, Attempt, Headers, Plan, Request};

pub(super) fn plan(
    gw: &AiGateway,
    req: &Request,
    env: &dyn RequestEnv,
    host: &dyn HostApi,
) -> GatewayStep {
    let started = Instant::now();
    let id_header: Headers = vec![(REQUEST_ID_HEADER.to_owned(), req.id.clone())];
    let mut ctx = ErrCtx {
        gw,
        format: Surface::format_for_path(&req.path),
        client: ClientInfo::default(),
        have_client: false,
        req,
        records: Vec::new(),
        skipped: Vec::new(),
        id_header: &id_header,
    };

    let Some(surface) = Surface::from_path(&req.path) else {
        return ctx.fail(GatewayError::UnsupportedPath(format!("{} is not an AI gateway path; use /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/messages or /v1/models", req.path)));
    };
    let format = surface.format();
    if surface == Surface::Models {
        if req.method != "GET" {
            return ctx.fail(GatewayError::MethodNotAllowed(req.method.clone()));
        }
        return match models_list(gw, req, &id_header) {
            Ok(response) => GatewayStep::Respond(Finish {
                response,
                results: json!({"status": "success"}),
                on_error_continue: false,
            }),
            Err(e) => ctx.fail(e),
        };
    }
    if req.method != "POST" {
        return ctx.fail(GatewayError::MethodNotAllowed(req.method.clone()));
    }
    let body = match ClientBody::parse(&req.body) {
        Ok(b) => b,
        Err(e) => return ctx.fail(e),
    };
    ctx.client = client_record(req, Some(&body));
    ctx.have_client = true;
    let input_tokens = body.estimated_input_tokens();
    if let Some(max) = gw.settings.max_input_tokens
        && input_tokens > max
    {
        return ctx.fail(GatewayError::InputTooLarge {
            tokens: input_tokens,
            max,
        });
    }

    let names: Vec<String> = body
        .model
        .iter()
        .cloned()
        .chain(body.models.iter().cloned())
        .collect();
    let resolved = resolve(
        &gw.universe,
        format,
        &names,
        gw.settings.only_allow_configured_models,
    );
    ctx.client.rejected_models = resolved.rejected.clone();
    if let Some(empty) = &resolved.empty_model {
        return ctx.fail(GatewayError::InvalidBody(empty.to_string()));
    }
    if resolved.requested && resolved.candidates.is_empty() {
        let reasons: Vec<String> = resolved
            .rejected
            .iter()
            .map(|(m, r)| format!("{m}: {r}"))
            .collect();
        return ctx.fail(
            if resolved.wrong_format
                && resolved
                    .rejected
                    .iter()
                    .all(|(_, r)| r.contains("API format"))
            {
                GatewayError::FormatUnsupported(format_name(format))
            } else {
                GatewayError::NoMatchingModels(reasons.join("; "))
            },
        );
    }
    if !resolved.requested && gw.universe.allowed(format).is_empty() {
        return ctx.fail(GatewayError::FormatUnsupported(format_name(format)));
    }

    let request_type = RequestType::of(surface, body.stream);
    let selection = match gw.select_models(format, &resolved, request_type, env, host) {
        Ok(mut s) => {
            ctx.records = std::mem::take(&mut s.records);
            s
        }
        Err((e, records)) => {
            ctx.records = records;
            return ctx.fail(e);
        }
    };

    // Per-request renders of the config templates.
    let config_headers: Result<Vec<(String, String)>, String> = gw
        .headers
        .iter()
        .map(|(k, t)| t.render_string(env).map(|v| (k.clone(), v)))
        .collect();
    let query: Result<Vec<(String, String)>, String> = gw
        .query_params
        .iter()
        .map(|(k, t)| t.render_string(env).map(|v| (k.clone(), v)))
        .collect();
    let merge = gw.body.render(env);
    let (config_headers, query, merge) = match (config_headers, query, merge) {
        (Ok(h), Ok(q), Ok(m)) => (h, q, m),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return ctx.fail(GatewayError::Interpolation(e));
        }
    };
    let shared = AttemptSends::new(
        &req.headers,
        &config_headers,
        query.clone(),
        &gw.forward_headers,
        format,
    );
    let client_credential = client_credential(&req.headers, format);

    let mut attempts = Vec::new();
    let mut infos = Vec::new();
    let mut key_records = Vec::new();
    // Why the first candidate without an attempt had none: the error when none has one.
    let mut first_failure: Option<GatewayError> = None;
    for (group, cand) in selection.models.iter().enumerate() {
        if attempts.len() >= MAX_ATTEMPTS as usize {
            break;
        }
        let pi = gw.cand_provider(*cand, &resolved);
        let Some(provider) = gw.universe.providers.get(pi) else {
            continue;
        };
        let (_, model_id) = gw.cand_parts(*cand, &resolved);
        let (author, deny) = match cand {
            Cand::Known(i) => gw
                .universe
                .models
                .get(*i)
                .map(|m| (m.author_id.clone(), m.unsupported_params.clone()))
                .unwrap_or_default(),
            Cand::Pass(_) => (String::new(), Vec::new()),
        };
        let own = match provider.extras.render_over(&config_headers, &query, env) {
            Ok(own) => own
                .map(|(h, q)| AttemptSends::new(&req.headers, &h, q, &gw.forward_headers, format)),
            Err(e) => return ctx.fail(GatewayError::Interpolation(e)),
        };
        let sends = own.as_ref().unwrap_or(&shared);
        let auth = provider
            .extras
            .auth
            .clone()
            .unwrap_or_else(|| KeyAuth::default_for(format));
        let names: Vec<&str> = match cand {
            Cand::Known(i) => gw.universe.models.get(*i).map_or_else(Vec::new, |m| {
                std::iter::once(m.id.as_str())
                    .chain(m.id_aliases.iter().map(String::as_str))
                    .collect()
            }),
            Cand::Pass(_) => vec![model_id.as_str()],
        };
        let (keys, record) = match candidate_keys(gw, provider, &names, &req.id, env, host) {
            Ok(k) => k,
            Err((e, records)) => {
                // No key for this candidate: skip it, keep the others.
                ctx.skipped.push(SkippedCandidate {
                    group: group as u32,
                    provider: provider.id.clone(),
                    model: model_id.clone(),
                    author,
                    api_key_selection: records,
                    error: e.to_string(),
                });
                first_failure.get_or_insert(e);
                continue;
            }
        };
        let creds: Vec<Credential<'_>> = if provider.keys.is_empty() {
            match &client_credential {
                Some(k) => vec![Credential {
                    value: AttemptKey::Client(k),
                    key_id: String::new(),
                    shown: key_hint(&k.key),
                }],
                None if provider.custom => vec![Credential::default()],
                None => {
                    first_failure.get_or_insert(GatewayError::NoApiKey(provider.id.clone()));
                    continue;
                }
            }
        } else {
            keys.iter()
                .map(|k| Credential {
                    value: AttemptKey::Configured(k.value.as_str()),
                    key_id: k.id.clone(),
                    shown: k.id.clone(),
                })
                .collect()
        };
        if !record.is_empty() {
            key_records.push((group as u32, Json::Array(record)));
        }
        let allow = provider
            .param_allowlists
            .iter()
            .find(|(f, s, _)| *f == format && s == surface.name())
            .map(|(_, _, a)| a.as_slice());
        let body_bytes = upstream_body(
            &body,
            &BodyEdits {
                model: &model_id,
                merge: &merge,
                max_output_tokens: gw.settings.max_output_tokens,
                limit_field: added_limit_field(surface, provider),
                allow,
                deny: &deny,
            },
        );
        let url = upstream_url(
            &provider.base_url,
            surface,
            &req.path,
            &req.query,
            &provider.path_overrides,
            &sends.query,
        );
        for cred in creds {
            if attempts.len() >= MAX_ATTEMPTS as usize {
                break;
            }
            infos.push(AttemptInfo {
                url: url.clone(),
                provider: provider.id.clone(),
                model: model_id.clone(),
                author: author.clone(),
                api_key: cred.shown,
                group: group as u32,
            });
            attempts.push(Attempt {
                url: url.clone(),
                method: "POST".to_owned(),
                headers: sends.headers.for_attempt(cred.value, &auth),
                body: body_bytes.clone(),
                provider: provider.id.clone(),
                model: model_id.clone(),
                key_id: cred.key_id,
                model_group: group as u32,
                timeout_ms: provider
                    .per_request_timeout_ms
                    .unwrap_or(gw.settings.per_request_timeout_ms),
                redact: sends.secrets.for_attempt(cred.value),
                tls: provider.tls.clone(),
                concurrency: provider.concurrency,
            });
        }
    }
    if attempts.is_empty() {
        return ctx.fail(first_failure.unwrap_or_else(|| GatewayError::NoApiKey(String::new())));
    }

    let continuation = Continuation {
        format: format_name(format).to_owned(),
        request_id: req.id.clone(),
        on_error_continue: gw.settings.on_error_continue,
        total_timeout_ms: gw.settings.total_timeout_ms,
        client: std::mem::take(&mut ctx.client),
        input_tokens,
        gateway_latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(0),
        model_selection: std::mem::take(&mut ctx.records),
        attempts: infos,
        key_selection: key_records,
        skipped: std::mem::take(&mut ctx.skipped),
    };
    GatewayStep::Forward(Plan {
        attempts,
        format,
        stream: body.stream,
        total_timeout_ms: gw.settings.total_timeout_ms,
        max_attempts: MAX_ATTEMPTS,
        stream_idle_timeout_ms: gw.settings.stream_idle_timeout_ms,
        stream_protocol: stream_protocol(surface),
        stream_max_duration_ms: gw.settings.stream_max_duration_ms,
        max_retry_after_ms: MAX_RETRY_AFTER_MS,
        response_headers: id_header.clone(),
        continuation: continuation.encode(),
    })
}

/// The credential one attempt sends: a configured key, the client's own key, or none (a
/// custom provider that takes no key).
#[derive(Default)]
struct Credential<'k> {
    /// The key this attempt sends.
    value: AttemptKey<'k>,
    /// The configured key's id (logs, metrics, failover); empty for the client's key.
    key_id: String,
    /// What result variables show: the key id, or the client's key redacted.
    shown: String,
}

/// What an early error needs to build its answer and result variables.
struct ErrCtx<'a> {
    gw: &'a AiGateway,
    req: &'a Request,
    format: ApiFormat,
    client: ClientInfo,
    /// `client` was filled from the parsed body.
    have_client: bool,
    records: Vec<SelectionRecord>,
    /// Candidates skipped so far (no key could be chosen).
    skipped: Vec<SkippedCandidate>,
    id_header: &'a Headers,
}

impl ErrCtx<'_> {
    fn fail(&self, e: GatewayError) -> GatewayStep {
        let client = if self.have_client {
            self.client.to_json()
        } else {
            client_record(self.req, None).to_json()
        };
        let records = self.gw.selection_json(&self.records, self.format);
        let results = json!({
            "status": "error",
            "error": {"code": e.code(), "ngrok_code": e.ngrok_code(), "message": e.to_string()},
            "client": client,
            "model_selection": records,
            "models_tried": self.skipped.iter().map(SkippedCandidate::to_json).collect::<Vec<_>>(),
        });
        GatewayStep::Respond(Finish {
            response: e.response(self.format, self.id_header),
            results,
            on_error_continue: self.gw.settings.on_error_continue,
        })
    }
}

/// `actions.ngrok.ai_gateway.client`: what the client asked, credentials redacted.
fn client_record(req: &Request, body: Option<&ClientBody<'_>>) -> ClientInfo {
    let request_headers = req
        .headers
        .iter()
        .map(|(k, v)| {
            let shown = if CREDENTIAL_HEADERS.contains(&k.as_str()) {
                "[redacted]"
            } else {
                v.as_str()
            };
            (k.clone(), shown.to_owned())
        })
        .collect();
    let user_agent = req
        .headers
        .iter()
        .find(|(k, _)| k == "user-agent")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    ClientInfo {
        method: req.method.clone(),
        path: req.path.clone(),
        request_headers,
        user_agent,
        model: body.and_then(|b| b.model.clone()).unwrap_or_default(),
        models: body.map(|b| b.models.clone()).unwrap_or_default(),
        api_key_hash: client_credential(&req.headers, Surface::format_for_path(&req.path))
            .map(|k| key_hint(&k.key))
            .unwrap_or_default(),
        rejected_models: Vec::new(),
    }
}
