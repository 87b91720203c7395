//! A provider's own TLS trust: `ca_cert_pem` and `insecure_skip_verify`
//! (docs/ai-gateway.md, "Provider TLS").

use serde_json::json;

use super::harness::{chat, diagnostics, load};
use crate::model::TlsTrust;

/// A self-signed CA certificate made with openssl for these tests.
const TEST_CA: &str = include_str!("fixtures/test_ca.pem");

/// A policy with provider `own` carrying `fields` (YAML lines at provider indentation)
/// and provider `plain` without any.
fn policy(fields: &str) -> String {
    format!(
        "providers:\n  - id: own\n    base_url: https://own.example/v1\n    models: [{{id: m}}]\n{fields}  - id: plain\n    base_url: https://plain.example/v1\n    models: [{{id: m}}]\n"
    )
}

/// `ca_cert_pem: |` followed by `pem`, indented as a block scalar.
fn pem_field(pem: &str) -> String {
    let mut out = String::from("    ca_cert_pem: |\n");
    for line in pem.lines() {
        out.push_str("      ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn trusts(yaml: &str) -> Vec<(String, TlsTrust)> {
    load(yaml)
        .forward(&chat(json!({"models": ["own/m", "plain/m"]})))
        .attempts
        .into_iter()
        .map(|a| (a.provider, a.tls))
        .collect()
}

#[test]
fn a_providers_ca_goes_with_its_attempts_only() {
    let got = trusts(&policy(&pem_field(TEST_CA)));
    assert_eq!(
        got,
        [
            (
                "own".to_owned(),
                TlsTrust::CaPem(format!("{}\n", TEST_CA.trim_end()))
            ),
            ("plain".to_owned(), TlsTrust::Default),
        ]
    );
}

#[test]
fn insecure_skip_verify_goes_with_its_attempts_and_is_warned_about() {
    let yaml = policy("    insecure_skip_verify: true\n");
    let got = trusts(&yaml);
    assert_eq!(
        got,
        [
            ("own".to_owned(), TlsTrust::Insecure),
            ("plain".to_owned(), TlsTrust::Default),
        ]
    );
    let warnings = load(&yaml).warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.path == "providers[0].insecure_skip_verify"
                && w.message.contains("without certificate verification")),
        "{warnings:#?}"
    );
}

#[test]
fn both_fields_together_are_a_load_error_naming_both() {
    let fields = format!("{}    insecure_skip_verify: true\n", pem_field(TEST_CA));
    let d = diagnostics(&policy(&fields));
    assert!(
        d.iter()
            .any(|(p, m)| p == "providers[0].insecure_skip_verify"
                && m.contains("ca_cert_pem and insecure_skip_verify cannot both be set")),
        "{d:#?}"
    );
}

#[test]
fn an_unparsable_pem_is_a_load_error_at_its_field() {
    let broken = TEST_CA.replacen("MII", "M!I", 1);
    let d = diagnostics(&policy(&pem_field(&broken)));
    assert!(
        d.iter()
            .any(|(p, m)| p == "providers[0].ca_cert_pem" && m.contains("not a PEM certificate")),
        "{d:#?}"
    );
}

#[test]
fn a_pem_without_a_certificate_is_a_load_error() {
    let d = diagnostics(&policy("    ca_cert_pem: just some text\n"));
    assert!(
        d.iter()
            .any(|(p, m)| p == "providers[0].ca_cert_pem" && m.contains("no CERTIFICATE block")),
        "{d:#?}"
    );
}
