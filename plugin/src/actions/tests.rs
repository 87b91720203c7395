//! Each action, run through a loaded policy against an in-memory host.

use crate::engine::memory_host::MemoryHost;
use crate::engine::{LoadedPolicy, load};
use crate::model::{
    Connection, Decision, LoadOptions, LogLevel, Request, RequestOutcome, Response,
};

fn policy(yaml: &str) -> LoadedPolicy {
    load(yaml, &LoadOptions::default(), &MemoryHost::new()).unwrap_or_else(|d| panic!("{d:#?}"))
}

fn errors(yaml: &str) -> Vec<String> {
    match load(yaml, &LoadOptions::default(), &MemoryHost::new()) {
        Ok(_) => panic!("loaded"),
        Err(d) => d
            .into_iter()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
            .collect(),
    }
}

fn req_from(ip: &str) -> Request {
    Request {
        method: "GET".into(),
        scheme: "http".into(),
        authority: "example.test".into(),
        path: "/x".into(),
        headers: vec![("x-api-key".into(), "k1".into())],
        conn: Connection {
            client_ip: ip.into(),
            ..Connection::default()
        },
        ..Request::default()
    }
}

fn response(out: &RequestOutcome) -> Option<&Response> {
    match &out.decision {
        Decision::Respond(r) => Some(r),
        _ => None,
    }
}

#[test]
fn deny_defaults_to_403_without_body() {
    let p = policy("on_http_request:\n  - type: deny\n");
    let out = p.on_http_request(&req_from("1.2.3.4"), &MemoryHost::new());
    let r = response(&out).unwrap();
    assert_eq!((r.status, r.body.len()), (403, 0));
}

#[test]
fn custom_response_renders_headers_and_keeps_explicit_content_type() {
    let p = policy(
        r#"
on_http_request:
  - type: custom-response
    config:
      status_code: 201
      headers:
        Content-Type: text/csv
        X-Client: "${conn.client_ip}"
      content: "a,b"
"#,
    );
    let out = p.on_http_request(&req_from("9.9.9.9"), &MemoryHost::new());
    let r = response(&out).unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(
        r.headers,
        vec![
            ("content-type".into(), "text/csv".into()),
            ("x-client".into(), "9.9.9.9".into())
        ]
    );
    assert_eq!(r.body, b"a,b");
}

#[test]
fn restrict_ips_allow_and_deny_lists() {
    let p = policy(
        r#"
on_http_request:
  - type: restrict-ips
    config:
      allow: ["10.0.0.0/8", "192.168.0.0/16"]
      deny: ["10.6.6.0/24"]
  - type: custom-response
    config:
      body: "${actions.ngrok.restrict_ips.action} ${actions.ngrok.restrict_ips.matched_cidr}"
"#,
    );
    let host = MemoryHost::new();
    let ok = p.on_http_request(&req_from("10.1.1.1"), &host);
    assert_eq!(response(&ok).unwrap().body, b"allow 10.0.0.0/8");
    let denied = p.on_http_request(&req_from("10.6.6.6"), &host);
    assert_eq!(response(&denied).unwrap().status, 403);
    let outside = p.on_http_request(&req_from("8.8.8.8"), &host);
    assert_eq!(response(&outside).unwrap().status, 403);
}

#[test]
fn restrict_ips_without_enforce_only_records() {
    let p = policy(
        r#"
on_http_request:
  - type: restrict-ips
    config:
      enforce: false
      deny: ["${'8.8.8.0/24'}"]
  - type: custom-response
    config:
      body: "${actions.ngrok.restrict_ips.action}"
"#,
    );
    let out = p.on_http_request(&req_from("8.8.8.8"), &MemoryHost::new());
    assert_eq!(response(&out).unwrap().body, b"deny");
}

#[test]
fn restrict_ips_rejects_bad_cidrs_at_load() {
    assert_eq!(
        errors(
            "on_http_request:\n  - type: restrict-ips\n    config:\n      allow: [\"10.0.0.0/33\"]\n"
        ),
        vec!["4:15 `10.0.0.0/33` is not a CIDR range (e.g. 10.0.0.0/8)"]
    );
}

#[test]
fn rate_limit_counts_per_bucket_and_answers_429_with_retry_after() {
    let p = policy(
        r#"
on_http_request:
  - type: rate-limit
    config:
      name: per-key
      algorithm: sliding_window
      capacity: 2
      rate: 60s
      bucket_key:
        - getReqHeader('x-api-key')[0]
"#,
    );
    let host = MemoryHost::new();
    host.set_now_ms(1_000);
    let req = req_from("1.1.1.1");
    assert!(response(&p.on_http_request(&req, &host)).is_none());
    assert!(response(&p.on_http_request(&req, &host)).is_none());
    host.set_now_ms(31_000);
    let limited = p.on_http_request(&req, &host);
    let r = response(&limited).unwrap();
    assert_eq!(r.status, 429);
    assert!(
        r.headers.contains(&("retry-after".into(), "30".into())),
        "{:?}",
        r.headers
    );

    // Another key has its own bucket.
    let mut other = req_from("1.1.1.1");
    other.headers = vec![("x-api-key".into(), "k2".into())];
    assert!(response(&p.on_http_request(&other, &host)).is_none());

    // The window slides: the first hits expire after 60 s.
    host.set_now_ms(61_001);
    assert!(response(&p.on_http_request(&req, &host)).is_none());
}

#[test]
fn rate_limit_requires_capacity_and_rate() {
    assert_eq!(
        errors("on_http_request:\n  - type: rate-limit\n    config:\n      capacity: 10\n"),
        vec!["4:7 `rate-limit` requires `config.rate` (a duration such as `60s`)"]
    );
}

#[test]
fn log_writes_interpolated_metadata_and_sets_results() {
    let p = policy(
        r#"
on_http_request:
  - type: log
    config:
      metadata:
        path: "${req.url.path}"
        n: 3
  - type: custom-response
    config:
      body: "${actions.ngrok.log.metadata.path}"
"#,
    );
    let host = MemoryHost::new();
    let out = p.on_http_request(&req_from("1.1.1.1"), &host);
    assert_eq!(response(&out).unwrap().body, b"/x");
    let logs = host.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].level, LogLevel::Info);
    assert_eq!(
        logs[0].fields,
        vec![("path".into(), "/x".into()), ("n".into(), "3".into())]
    );
}

#[test]
fn set_vars_entries_must_have_one_key() {
    assert_eq!(
        errors(
            "on_http_request:\n  - type: set-vars\n    config:\n      vars:\n        - {a: 1, b: 2}\n"
        ),
        vec!["5:11 each entry of `vars` must be a map with exactly one key"]
    );
}
