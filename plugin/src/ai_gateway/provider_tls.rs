//! How the host verifies a provider's certificate: `providers[].ca_cert_pem` and
//! `providers[].insecure_skip_verify` (ours, Bifrost's names; docs/ai-gateway.md,
//! "Provider TLS"). Checked at load by [`TlsTrust::from_config`]; every attempt of the
//! provider carries the result, and the host keeps one pooled client per distinct value.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::config::ProviderConfig;
use crate::model::TlsTrust;
use crate::policy::Diagnostics;

/// Why a provider's TLS fields were refused; its text is the diagnostic.
#[derive(Debug, thiserror::Error)]
pub enum BadTls {
    #[error(
        "ca_cert_pem and insecure_skip_verify cannot both be set: trust the provider's CA \
         with ca_cert_pem, or (dangerous) skip verification with insecure_skip_verify"
    )]
    Both,
    #[error("ca_cert_pem is not a PEM certificate: {0}")]
    NotPem(String),
    #[error("ca_cert_pem holds no CERTIFICATE block")]
    NoCertificate,
}

impl TlsTrust {
    /// Runs at load inside `providers[i]`. A refused value is reported at its field and the
    /// default trust stands, which never weakens verification. `insecure_skip_verify` is
    /// warned about: it is valid, and dangerous.
    pub(super) fn from_config(pc: &ProviderConfig, d: &mut Diagnostics) -> TlsTrust {
        match parse(pc) {
            Ok(TlsTrust::Insecure) => {
                d.warning(
                    "insecure_skip_verify",
                    format!(
                        "provider '{}' is reached without certificate verification: anyone \
                         on the path can read its keys and answers",
                        pc.id
                    ),
                );
                TlsTrust::Insecure
            }
            Ok(trust) => trust,
            Err((field, e)) => {
                d.error(field, e.to_string());
                TlsTrust::Default
            }
        }
    }
}

/// The trust the fields ask for, or the field to report and why.
fn parse(pc: &ProviderConfig) -> Result<TlsTrust, (&'static str, BadTls)> {
    match (&pc.ca_cert_pem, pc.insecure_skip_verify) {
        (Some(_), true) => Err(("insecure_skip_verify", BadTls::Both)),
        (None, true) => Ok(TlsTrust::Insecure),
        (None, false) => Ok(TlsTrust::Default),
        (Some(pem), false) => check_pem(pem)
            .map(|()| TlsTrust::CaPem(pem.clone()))
            .map_err(|e| ("ca_cert_pem", e)),
    }
}

/// At least one CERTIFICATE block, every one of them readable PEM.
fn check_pem(pem: &str) -> Result<(), BadTls> {
    let mut found = false;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        cert.map_err(|e| BadTls::NotPem(e.to_string()))?;
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(BadTls::NoCertificate)
    }
}
