//! A tiny stand-in for the engine (`LoadEnv`, `RequestEnv`) and the host (`HostApi`).
//! Templates support `${KEY}` substitution from a per-request map, and
//! `${secrets.get('vault','name')}` from a secrets map: enough to exercise the action.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Value as Json, json};

use crate::ai_gateway::{AiGateway, GatewayStep, LoadEnv, RequestEnv, TemplateId};
use crate::host_api::HostApi;
use crate::model::{Diagnostic, LogLevel, Plan, RateLimitResult, Request, Response, TargetMetrics};
use crate::policy::{Diagnostics, PathIndex};

#[derive(Default)]
pub struct TestHost {
    pub metrics: RefCell<Vec<TargetMetrics>>,
    pub generation: RefCell<u64>,
    /// The edge's environment, as the reserved `edge.env` vault reads it.
    pub vars: HashMap<String, String>,
}

impl HostApi for TestHost {
    fn log(&self, _: LogLevel, _: &str, _: &[(String, String)]) {}
    fn rate_limit_check(&self, _: &str, _: u64, _: u64) -> RateLimitResult {
        RateLimitResult {
            allowed: true,
            remaining: 1,
            retry_after_ms: 0,
        }
    }
    fn secret(&self, vault: &str, name: &str) -> Option<String> {
        (vault == crate::ai_gateway::provider_keys::ENV_VAULT)
            .then(|| self.vars.get(name).cloned())
            .flatten()
    }
    fn metrics_snapshot(&self) -> Vec<TargetMetrics> {
        self.metrics.borrow().clone()
    }
    fn metrics_generation(&self) -> u64 {
        *self.generation.borrow()
    }
}

pub struct TestLoad<'a> {
    pub templates: Rc<RefCell<Vec<String>>>,
    pub secrets: HashMap<(String, String), String>,
    pub check: bool,
    pub host: &'a TestHost,
}

impl LoadEnv for TestLoad<'_> {
    fn compile_template(&mut self, text: &str) -> Result<TemplateId, String> {
        if text.matches("${").count() != text.matches('}').count() {
            return Err(format!("unterminated interpolation in '{text}'"));
        }
        let mut t = self.templates.borrow_mut();
        t.push(text.to_owned());
        Ok(TemplateId(u32::try_from(t.len() - 1).unwrap()))
    }
    fn eval_static(&mut self, text: &str) -> Result<String, String> {
        let re = regex::Regex::new(r#"^\$\{secrets\.get\('([^']*)',\s*'([^']*)'\)\}$"#).unwrap();
        let caps = re
            .captures(text.trim())
            .ok_or_else(|| format!("not a secret reference: {text}"))?;
        self.secrets
            .get(&(caps[1].to_owned(), caps[2].to_owned()))
            .cloned()
            .ok_or_else(|| format!("secret '{}/{}' not found", &caps[1], &caps[2]))
    }
    fn host(&self) -> &dyn HostApi {
        self.host
    }
    fn check_only(&self) -> bool {
        self.check
    }
}

pub struct TestReq {
    pub templates: Rc<RefCell<Vec<String>>>,
    pub values: HashMap<String, String>,
    pub vars: HashMap<String, cel::Value>,
}

impl RequestEnv for TestReq {
    fn render(&self, id: TemplateId) -> Result<Json, String> {
        let t = self.templates.borrow();
        let mut text = t.get(id.0 as usize).cloned().ok_or("no such template")?;
        for (k, v) in &self.values {
            text = text.replace(&format!("${{{k}}}"), v);
        }
        if text.contains("${") {
            return Err(format!("cannot render '{text}'"));
        }
        Ok(Json::String(text))
    }
    fn variable(&self, name: &str) -> Option<cel::Value> {
        self.vars.get(name).cloned()
    }
}

/// A loaded action with its engine and host stand-ins.
pub struct Loaded {
    pub gw: AiGateway,
    /// The load's warnings (paths relative to the action's config).
    pub warnings: Vec<Diagnostic>,
    pub templates: Rc<RefCell<Vec<String>>>,
    pub host: TestHost,
}

pub fn secrets() -> HashMap<(String, String), String> {
    let mut s = HashMap::new();
    s.insert(
        ("openai".into(), "primary".into()),
        "sk-openai-primary-0001".into(),
    );
    s.insert(
        ("openai".into(), "backup".into()),
        "sk-openai-backup-0002".into(),
    );
    s.insert(("anthropic".into(), "key".into()), "sk-ant-key-0003".into());
    s
}

pub fn try_load_with(yaml: &str, check: bool) -> Result<Loaded, Vec<Diagnostic>> {
    try_load_in_env(yaml, check, &[])
}

/// Loads with these environment variables on the host.
pub fn try_load_in_env(
    yaml: &str,
    check: bool,
    vars: &[(&str, &str)],
) -> Result<Loaded, Vec<Diagnostic>> {
    let config: Json = serde_saphyr::from_str(yaml).unwrap();
    let host = TestHost {
        vars: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..TestHost::default()
    };
    let templates = Rc::new(RefCell::new(Vec::new()));
    let mut diags = Diagnostics::default();
    let compiled = {
        let mut env = TestLoad {
            templates: templates.clone(),
            secrets: secrets(),
            check,
            host: &host,
        };
        AiGateway::compile(&config, &mut env, &mut diags)
    };
    // No document to place them in: every diagnostic keeps line and column 0.
    let diags = diags.into_sorted(&PathIndex::default());
    let Some(gw) = compiled else {
        return Err(diags);
    };
    Ok(Loaded {
        gw,
        warnings: diags,
        templates,
        host,
    })
}

pub fn load(yaml: &str) -> Loaded {
    match try_load_with(yaml, false) {
        Ok(l) => l,
        Err(d) => panic!("load failed: {d:#?}"),
    }
}

pub fn diagnostics(yaml: &str) -> Vec<(String, String)> {
    match try_load_with(yaml, false) {
        Ok(_) => panic!("expected diagnostics for:\n{yaml}"),
        Err(d) => d.into_iter().map(|d| (d.path, d.message)).collect(),
    }
}

pub fn request(method: &str, path: &str, body: Json) -> Request {
    Request {
        id: "req-1".into(),
        method: method.into(),
        scheme: "https".into(),
        authority: "gw.example".into(),
        path: path.into(),
        query: String::new(),
        version: "HTTP/1.1".into(),
        headers: vec![
            (
                "authorization".into(),
                "Bearer client-gateway-token-1234".into(),
            ),
            ("user-agent".into(), "test-sdk/1.0".into()),
            ("content-type".into(), "application/json".into()),
            ("accept-encoding".into(), "gzip".into()),
        ],
        body: if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        },
        ..Request::default()
    }
}

pub fn chat(body: Json) -> Request {
    request("POST", "/v1/chat/completions", body)
}

impl Loaded {
    pub fn req_env(&self) -> TestReq {
        let mut values = HashMap::new();
        values.insert("req.id".to_owned(), "req-1".to_owned());
        TestReq {
            templates: self.templates.clone(),
            values,
            vars: HashMap::new(),
        }
    }

    pub fn plan(&self, req: &Request) -> GatewayStep {
        self.gw.plan(req, &self.req_env(), &self.host)
    }

    pub fn plan_with(&self, req: &Request, env: &TestReq) -> GatewayStep {
        self.gw.plan(req, env, &self.host)
    }

    pub fn forward(&self, req: &Request) -> Plan {
        match self.plan(req) {
            GatewayStep::Forward(p) => p,
            GatewayStep::Respond(f) => panic!(
                "expected a plan, got {} {}",
                f.response.status,
                String::from_utf8_lossy(&f.response.body)
            ),
        }
    }

    pub fn respond(&self, req: &Request) -> crate::ai_gateway::Finish {
        match self.plan(req) {
            GatewayStep::Respond(f) => f,
            GatewayStep::Forward(p) => panic!(
                "expected an answer, got a plan of {} attempts",
                p.attempts.len()
            ),
        }
    }

    /// `provider:model` of every attempt, with the key id when there is one.
    pub fn attempt_order(&self, req: &Request) -> Vec<String> {
        self.forward(req)
            .attempts
            .iter()
            .map(|a| {
                if a.key_id.is_empty() {
                    format!("{}:{}", a.provider, a.model)
                } else {
                    format!("{}:{}#{}", a.provider, a.model, a.key_id)
                }
            })
            .collect()
    }
}

/// An attempt's body, for test bodies small enough that every piece is the plugin's own
/// bytes (values of 256 bytes and more are sent as ranges of the client's body).
pub fn body_bytes(a: &crate::model::Attempt) -> Vec<u8> {
    crate::model::assemble_body(&a.body, &[])
        .unwrap_or_else(|| panic!("the body refers to the client's: {:?}", a.body))
}

/// A plan as readable JSON for golden tests (bodies decoded, continuation omitted).
pub fn plan_json(p: &Plan) -> Json {
    json!({
        "format": format!("{:?}", p.format),
        "stream": p.stream,
        "total_timeout_ms": p.total_timeout_ms,
        "max_attempts": p.max_attempts,
        "stream_idle_timeout_ms": p.stream_idle_timeout_ms,
        "max_retry_after_ms": p.max_retry_after_ms,
        "response_headers": p.response_headers,
        "attempts": p.attempts.iter().map(|a| json!({
            "url": a.url,
            "method": a.method,
            "headers": a.headers,
            "body": serde_json::from_slice::<Json>(&body_bytes(a)).unwrap(),
            "provider": a.provider,
            "model": a.model,
            "key_id": a.key_id,
            "model_group": a.model_group,
            "timeout_ms": a.timeout_ms,
            "redact": a.redact,
        })).collect::<Vec<_>>(),
    })
}

pub fn response_json(r: &Response) -> Json {
    json!({
        "status": r.status,
        "headers": r.headers,
        "body": serde_json::from_slice::<Json>(&r.body).unwrap_or(Json::Null),
    })
}
