//! Every load-time diagnostic: the path it points at and what it says.

use super::harness::{diagnostics, try_load_with};
use crate::model::Severity;

fn has(d: &[(String, String)], path: &str, needle: &str) -> bool {
    d.iter().any(|(p, m)| p == path && m.contains(needle))
}

#[track_caller]
fn expect(yaml: &str, path: &str, needle: &str) {
    let d = diagnostics(yaml);
    assert!(
        has(&d, path, needle),
        "expected '{needle}' at '{path}', got {d:#?}"
    );
}

#[test]
fn base_url_rules() {
    expect(
        "providers: [{id: mine, base_url: 'http://example.com/v1'}]",
        "providers[0].base_url",
        "only allowed for hosts ending in .internal",
    );
    expect(
        "providers: [{id: mine, base_url: 'ftp://x.internal'}]",
        "providers[0].base_url",
        "scheme 'ftp'",
    );
    expect(
        "providers: [{id: mine, base_url: 'nope'}]",
        "providers[0].base_url",
        "not a URL",
    );
    expect(
        "providers: [{id: mine}]",
        "providers[0].base_url",
        "required for custom provider 'mine'",
    );
}

#[test]
fn duplicate_ids_and_aliases() {
    expect(
        "providers: [{id: a, base_url: 'https://a.example'}, {id: A, base_url: 'https://b.example'}]",
        "providers[1].id",
        "already used",
    );
    expect(
        "providers: [{id: a, base_url: 'https://a.example'}, {id: b, id_aliases: [a], base_url: 'https://b.example'}]",
        "providers[1].id_aliases[0]",
        "already used",
    );
    expect(
        "providers: [{id: a, base_url: 'https://a.example', models: [{id: m1}, {id: M1}]}]",
        "providers[0].models[1].id",
        "already used",
    );
    expect(
        "providers: [{id: a, base_url: 'https://a.example', models: [{id: m1, id_aliases: [x]}, {id: m2, id_aliases: [x]}]}]",
        "providers[0].models[1].id_aliases[0]",
        "already used",
    );
    expect(
        "providers: [{id: a, base_url: 'https://a.example', models: [{id: m1, id_aliases: [x]}]}, {id: b, base_url: 'https://b.example', models: [{id: m2, id_aliases: [x]}]}]",
        "providers[1].models[0].id_aliases",
        "alias 'x' is already used by model 'm1'",
    );
}

#[test]
fn durations_numbers_and_enums() {
    expect("total_timeout: soon", "total_timeout", "not a duration");
    expect(
        "per_request_timeout: 2h",
        "per_request_timeout",
        "out of range",
    );
    expect(
        "stream_idle_timeout: 1ms",
        "stream_idle_timeout",
        "out of range",
    );
    expect("max_input_tokens: 0", "max_input_tokens", "out of range");
    expect(
        "max_output_tokens: 500001",
        "max_output_tokens",
        "out of range",
    );
    expect("on_error: retry", "on_error", "'halt' or 'continue'");
    expect("max_input_tokens: lots", "max_input_tokens", "invalid type");
}

#[test]
fn unknown_fields_are_rejected_with_their_path() {
    expect("providerz: []", "providerz", "unknown field `providerz`");
    expect(
        "providers: [{id: openai, api_key: x}]",
        "providers[0].api_key",
        "unknown field `api_key`",
    );
}

#[test]
fn surfaces_params_and_overrides() {
    expect(
        "providers: [{id: a, base_url: 'https://a.example', supported_api_surfaces: [{format: grpc}]}]",
        "providers[0].supported_api_surfaces[0].format",
        "not a format",
    );
    expect(
        "providers: [{id: a, base_url: 'https://a.example', supported_api_surfaces: [{format: openai, surface: chat}]}]",
        "providers[0].supported_api_surfaces[0].surface",
        "not a surface",
    );
    expect(
        "providers: [{id: a, base_url: 'https://a.example', supported_api_surfaces: [{format: openai, supported_params: [{name: model}]}]}]",
        "providers[0].supported_api_surfaces[0].supported_params",
        "needs a surface",
    );
    expect(
        "providers: [{id: a, base_url: 'https://a.example', request_path_overrides: {chat-completions: 'chat'}}]",
        "providers[0].request_path_overrides.chat-completions",
        "must start with '/'",
    );
}

#[test]
fn strategies_with_unknown_names_fail_to_load() {
    expect(
        "model_selection: {strategy: ['ai.models.bogus()']}",
        "model_selection.strategy[0]",
        "unknown function 'bogus'",
    );
    expect(
        "model_selection: {strategy: ['foo.models']}",
        "model_selection.strategy[0]",
        "undeclared variable 'foo'",
    );
    expect(
        "model_selection: {strategy: ['ai.models.filter(m, ']}",
        "model_selection.strategy[0]",
        "invalid strategy",
    );
    expect(
        "api_key_selection: {strategy: ['ai.keys.nope()']}",
        "api_key_selection.strategy[0]",
        "unknown function 'nope'",
    );
    expect(
        "failover: {rule: 'req.method'}",
        "failover.rule",
        "reads only",
    );
    expect(
        "failover: {rule: 'attempt.status =='}",
        "failover.rule",
        "invalid CEL",
    );
}

#[test]
fn headers_body_and_interpolation() {
    expect(
        "headers: {'bad header': x}",
        "headers.bad header",
        "not a valid header name",
    );
    expect(
        "headers: {host: x}",
        "headers.host",
        "managed by the gateway",
    );
    expect(
        "headers: {x-a: '${req.id'}",
        "headers.x-a",
        "invalid interpolation",
    );
    expect("body: {model: x}", "body.model", "decided per attempt");
    expect(
        "body: {meta: {user: '${oops'}}",
        "body.meta.user",
        "unterminated",
    );
}

#[test]
fn missing_secrets_fail_serve_but_only_warn_in_check() {
    let yaml =
        "providers: [{id: openai, api_keys: [{value: \"${secrets.get('openai','missing')}\"}]}]";
    expect(yaml, "providers[0].api_keys[0].value", "not found");
    let l = try_load_with(yaml, true).unwrap();
    let w = &l.warnings;
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].severity, Severity::Warning);
    assert_eq!(w[0].path, "providers[0].api_keys[0].value");
    assert!(!w[0].message.contains("sk-"), "{}", w[0].message);
}

#[test]
fn every_problem_is_reported_at_once() {
    let d = diagnostics(
        "total_timeout: soon\nper_request_timeout: later\nproviders: [{id: a, base_url: 'http://a.com'}]",
    );
    assert!(d.len() >= 3, "{d:#?}");
}

#[test]
fn a_repeated_key_is_a_warning_and_tried_once() {
    let l = try_load_with(
        "providers: [{id: openai, api_keys: [{value: same-key-123}, {value: same-key-123}]}]",
        false,
    )
    .unwrap();
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(l.warnings[0].path, "providers[0].api_keys[1].value");
    assert_eq!(l.gw.universe.providers[0].keys.len(), 1);
}
