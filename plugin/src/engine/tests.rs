//! Loading (diagnostics with exact positions) and running phases.

use super::memory_host::MemoryHost;
use super::*;
use crate::model::{
    Connection, Decision, Diagnostic, LoadOptions, Request, ResponseDecision, ResponseHead,
    Severity,
};

fn options() -> LoadOptions {
    LoadOptions {
        file_name: "policy.yaml".into(),
        check_only: false,
        endpoint: EndpointInfo {
            id: "ep".into(),
            url: "http://localhost:8080".into(),
            host: "localhost".into(),
            port: 8080,
            protocol: "http".into(),
        },
    }
}

fn load_ok(yaml: &str) -> LoadedPolicy {
    match load(yaml, &options(), &MemoryHost::new()) {
        Ok(p) => p,
        Err(d) => panic!("unexpected diagnostics: {d:#?}"),
    }
}

fn load_err(yaml: &str) -> Vec<Diagnostic> {
    match load(yaml, &options(), &MemoryHost::new()) {
        Ok(_) => panic!("policy loaded but should not"),
        Err(d) => d,
    }
}

/// `line:col: message` of every diagnostic, for compact assertions.
fn brief(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| format!("{}:{} {} | {}", d.line, d.column, d.path, d.message))
        .collect()
}

pub fn request(method: &str, path: &str) -> Request {
    Request {
        id: "r1".into(),
        method: method.into(),
        scheme: "http".into(),
        authority: "localhost:8080".into(),
        path: path.into(),
        query: String::new(),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("host".into(), "localhost:8080".into()),
            ("x-user".into(), "alice".into()),
        ],
        body: Vec::new(),
        conn: Connection {
            client_ip: "192.168.1.20".into(),
            client_port: 40000,
            server_ip: "127.0.0.1".into(),
            server_port: 8080,
            tls: None,
        },
        received_at_ms: 0,
    }
}

fn respond(outcome: &crate::model::RequestOutcome) -> &crate::model::Response {
    match &outcome.decision {
        Decision::Respond(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn upstream(outcome: &crate::model::RequestOutcome) -> &crate::model::UpstreamRequest {
    match &outcome.decision {
        Decision::Upstream(u) => u,
        other => panic!("expected upstream, got {other:?}"),
    }
}

#[test]
fn compact_form_is_a_rule_with_one_action() {
    let p = load_ok("on_http_request:\n  - type: deny\n    config:\n      status_code: 401\n");
    let out = p.on_http_request(&request("GET", "/"), &MemoryHost::new());
    assert_eq!(respond(&out).status, 401);
    assert_eq!(p.summary().request_rules, 1);
}

#[test]
fn rules_run_in_order_and_expressions_select() {
    let yaml = r#"
on_http_request:
  - name: admin only
    expressions:
      - req.url.path.startsWith('/admin')
      - "!(req.headers['x-user'][0] == 'root')"
    actions:
      - type: deny
  - actions:
      - type: add-headers
        config:
          headers:
            x-seen-by: "edge ${req.method}"
"#;
    let p = load_ok(yaml);
    let host = MemoryHost::new();
    assert_eq!(
        respond(&p.on_http_request(&request("GET", "/admin/x"), &host)).status,
        403
    );
    let out = p.on_http_request(&request("GET", "/public"), &host);
    let up = upstream(&out);
    assert_eq!(up.path_and_query, "/public");
    assert!(
        up.headers
            .contains(&("x-seen-by".into(), "edge GET".into()))
    );
    assert_eq!(up.body, None);
}

#[test]
fn terminating_action_ends_the_phase() {
    let yaml = r#"
on_http_request:
  - expressions: ["req.method == 'POST'"]
    actions:
      - type: custom-response
        config:
          status_code: 418
          body: '{"path": "${req.url.path}"}'
  - actions:
      - type: deny
"#;
    let p = load_ok(yaml);
    let out = p.on_http_request(&request("POST", "/tea"), &MemoryHost::new());
    let r = respond(&out);
    assert_eq!(r.status, 418);
    assert_eq!(String::from_utf8_lossy(&r.body), r#"{"path": "/tea"}"#);
    assert!(
        r.headers
            .contains(&("content-type".into(), "application/json".into()))
    );
    assert_eq!(
        respond(&p.on_http_request(&request("GET", "/"), &MemoryHost::new())).status,
        403
    );
}

#[test]
fn set_vars_feed_later_rules_and_whole_interpolation_keeps_type() {
    let yaml = r#"
on_http_request:
  - actions:
      - type: set-vars
        config:
          vars:
            - allowed: ["alice", "bob"]
            - who: "${req.headers['x-user'][0]}"
            - ok: "${vars.who in vars.allowed}"
  - expressions: ["vars.ok"]
    actions:
      - type: custom-response
        config:
          body: "${vars.allowed}"
"#;
    let p = load_ok(yaml);
    let out = p.on_http_request(&request("GET", "/"), &MemoryHost::new());
    assert_eq!(
        String::from_utf8_lossy(&respond(&out).body),
        r#"["alice","bob"]"#
    );
}

#[test]
fn remove_headers_and_response_phase_edits() {
    let yaml = r#"
on_http_request:
  - actions:
      - type: remove-headers
        config:
          headers: [X-User]
on_http_response:
  - expressions: ["res.status_code >= 500"]
    actions:
      - type: custom-response
        config:
          status_code: 503
          body: upstream failed
  - actions:
      - type: add-headers
        config:
          headers:
            x-status: "${res.status_code}"
      - type: remove-headers
        config:
          headers: [server]
"#;
    let p = load_ok(yaml);
    assert!(p.summary().has_response_rules);
    let host = MemoryHost::new();
    let req = request("GET", "/");
    let out = p.on_http_request(&req, &host);
    assert!(!upstream(&out).headers.iter().any(|(k, _)| k == "x-user"));

    let head = ResponseHead {
        status: 200,
        headers: vec![
            ("server".into(), "x".into()),
            ("content-type".into(), "text/plain".into()),
        ],
    };
    match p.on_http_response(&out.state, &req, &head, None, &host) {
        ResponseDecision::Headers(h) => {
            assert_eq!(
                h,
                vec![
                    ("content-type".into(), "text/plain".into()),
                    ("x-status".into(), "200".into())
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    let bad = ResponseHead {
        status: 502,
        headers: vec![],
    };
    match p.on_http_response(&out.state, &req, &bad, None, &host) {
        ResponseDecision::Replace(r) => {
            assert_eq!(r.status, 503);
            assert_eq!(r.body, b"upstream failed");
            assert!(
                r.headers
                    .contains(&("content-type".into(), "text/plain; charset=utf-8".into()))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn action_results_reach_the_response_phase() {
    let yaml = r#"
on_http_request:
  - actions:
      - type: rate-limit
        config:
          capacity: 5
          rate: 60s
          bucket_key: [conn.client_ip]
on_http_response:
  - actions:
      - type: add-headers
        config:
          headers:
            x-limited: "${actions.ngrok.rate_limit.limited}"
"#;
    let p = load_ok(yaml);
    let host = MemoryHost::new();
    let req = request("GET", "/");
    let out = p.on_http_request(&req, &host);
    let head = ResponseHead {
        status: 200,
        headers: vec![],
    };
    assert_eq!(
        p.on_http_response(&out.state, &req, &head, None, &host),
        ResponseDecision::Headers(vec![("x-limited".into(), "false".into())])
    );
}

#[test]
fn runtime_errors_answer_500_naming_the_rule() {
    let yaml = r#"
on_http_request:
  - name: picky
    expressions: ["req.headers['x-missing'][0] == 'y'"]
    actions:
      - type: deny
"#;
    let p = load_ok(yaml);
    let out = p.on_http_request(&request("GET", "/"), &MemoryHost::new());
    let r = respond(&out);
    assert_eq!(r.status, 500);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("rule `picky` failed"), "{msg}");
}

#[test]
fn secrets_never_appear_in_error_bodies() {
    let yaml = r#"
on_http_request:
  - name: leaky
    expressions: ["int(secrets.get('v', 'k') + req.method) > 1"]
    actions:
      - type: deny
"#;
    let host = MemoryHost::new().with_secret("v", "k", "hunter2");
    let p = load(yaml, &options(), &host).unwrap();
    let out = p.on_http_request(&request("GET", "/"), &host);
    let body = String::from_utf8_lossy(&respond(&out).body).into_owned();
    assert!(!body.contains("hunter2"), "{body}");
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let yaml = r#"on_http_request:
  - name: one
    expresions: ["true"]
    actions:
      - type: denyy
      - type: rate-limit
        config:
          capacity: 0
          rate: 10 parsecs
  - expressions:
      - "req.method =="
      - "nosuch(req.method)"
    actions:
      - type: deny
      - type: log
        config:
          metadata: {a: b}
on_http_response:
  - actions:
      - type: deny
      - type: custom-response
        config:
          status_code: 200
          bogus: 1
"#;
    let diags = load_err(yaml);
    assert!(diags.iter().all(|d| d.severity == Severity::Error));
    assert_eq!(
        brief(&diags),
        vec![
            "3:5 on_http_request[0].expresions | unknown field `expresions` in rule; expected `name`, `expressions` or `actions`",
            "5:15 on_http_request[0].actions[0].type | unknown action type `denyy`; known types: deny, custom-response, add-headers, remove-headers, set-vars, log, restrict-ips, rate-limit, ai-gateway",
            "8:21 on_http_request[0].actions[1].config.capacity | 0 is out of range (1..=2000000000)",
            "9:17 on_http_request[0].actions[1].config.rate | invalid duration `10 parsecs`: unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations) (write e.g. `60s`, `5m`, `1h`)",
            "11:9 on_http_request[1].expressions[0] | invalid CEL expression `req.method ==`: syntax error at column 14: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
            "12:9 on_http_request[1].expressions[1] | in `nosuch(req.method)`: unknown function `nosuch`",
            "15:15 on_http_request[1].actions[1].type | action `log` is unreachable: `deny` before it always ends the phase",
            "20:15 on_http_response[0].actions[0].type | action `deny` cannot run in `on_http_response`; it runs in: on_http_request",
            "24:11 on_http_response[0].actions[1].config.bogus | unknown field `bogus` in `custom-response` config; expected one of: status_code, body, content, headers",
        ]
    );
}

#[test]
fn rules_after_an_unconditional_terminating_rule_are_unreachable() {
    let diags = load_err(
        "on_http_request:\n  - type: deny\n  - type: log\n    config:\n      metadata: {a: 1}\n",
    );
    assert_eq!(
        brief(&diags),
        vec![
            "3:11 on_http_request[1].type | action `log` is unreachable: `deny` at on_http_request[0] always ends the phase before this rule"
        ]
    );
}

#[test]
fn yaml_syntax_errors_are_located() {
    let diags = load_err("on_http_request:\n  - type: deny\n    config: {status_code: 401\n");
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0].message.starts_with("policy is not valid YAML"),
        "{:?}",
        diags[0]
    );
    assert!(diags[0].line >= 3, "{:?}", diags[0]);
}

#[test]
fn unknown_top_level_fields_and_missing_actions() {
    let diags = load_err("on_http_requests:\n  - type: deny\non_http_request:\n  - name: x\n");
    assert_eq!(
        brief(&diags),
        vec![
            "1:1 on_http_requests | unknown field `on_http_requests`; expected `on_http_request` or `on_http_response`",
            "4:5 on_http_request[0] | a rule must have `actions` (a list with at least one action)",
        ]
    );
}

#[test]
fn body_reading_policies_ask_for_bodies() {
    let p = load_ok(
        "on_http_request:\n  - expressions: [\"req.body.contains('x')\"]\n    actions: [{type: deny}]\n",
    );
    assert!(p.summary().needs_body);
    let p = load_ok(
        "on_http_request:\n  - expressions: [\"req.method == 'GET'\"]\n    actions: [{type: deny}]\n",
    );
    assert!(!p.summary().needs_body);
    assert!(!p.summary().has_response_rules);
}

#[test]
fn check_only_turns_missing_secrets_into_warnings() {
    let yaml = "on_http_request:\n  - actions:\n      - type: add-headers\n        config:\n          headers:\n            authorization: \"Bearer ${secrets.get('vault', 'key')}\"\n";
    let errs = load_err(yaml);
    assert_eq!(
        brief(&errs),
        vec![
            "6:28 on_http_request[0].actions[0].config.headers.authorization | secret `vault/key` not found"
        ]
    );
    let mut opts = options();
    opts.check_only = true;
    let p = load(yaml, &opts, &MemoryHost::new()).unwrap();
    assert_eq!(p.summary().warnings.len(), 1);
    assert_eq!(p.summary().warnings[0].severity, Severity::Warning);
}

#[test]
fn compact_form_may_carry_name_and_expressions() {
    let yaml = "on_http_request:\n  - name: block posts\n    expressions: [\"req.method == 'POST'\"]\n    type: deny\n  - type: custom-response\n    config: {status_code: 200, body: ok}\n";
    let p = load_ok(yaml);
    let host = MemoryHost::new();
    assert_eq!(
        respond(&p.on_http_request(&request("POST", "/"), &host)).status,
        403
    );
    assert_eq!(
        respond(&p.on_http_request(&request("GET", "/"), &host)).status,
        200
    );
    let diags = load_err("on_http_request:\n  - type: deny\n    nmae: x\n");
    assert_eq!(
        brief(&diags),
        vec![
            "3:5 on_http_request[0].nmae | unknown field `nmae` in action; expected `type` or `config`"
        ]
    );
}

#[test]
fn constant_rule_expressions_must_be_booleans() {
    let diags =
        load_err("on_http_request:\n  - expressions: [\"'yes'\"]\n    actions: [{type: deny}]\n");
    assert_eq!(
        brief(&diags),
        vec![
            "2:19 on_http_request[0].expressions[0] | expression `'yes'` produces String(\"yes\"), not a boolean"
        ]
    );
}
