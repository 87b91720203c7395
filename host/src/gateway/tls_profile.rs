//! Which trust a provider connection is verified against: the plan's `tls-trust` per
//! attempt (docs/ai-gateway.md, "Provider TLS"), as the key of the upstream client pool:
//! one pooled client per distinct profile, so connections made with one trust are never
//! reused for an attempt that asked for another.

use crate::wit::types::TlsTrust;

/// A TLS profile: the edge-wide roots, those plus a provider's own CA, or no verification.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TlsProfile {
    /// Bundled and system roots plus `--provider-ca`.
    Default,
    /// The default roots plus these CA certificates (PEM text).
    ExtraCa(String),
    /// `insecure_skip_verify`: no certificate verification.
    Insecure,
}

impl From<&TlsTrust> for TlsProfile {
    fn from(trust: &TlsTrust) -> Self {
        match trust {
            TlsTrust::DefaultRoots => TlsProfile::Default,
            TlsTrust::CaPem(pem) => TlsProfile::ExtraCa(pem.clone()),
            TlsTrust::Insecure => TlsProfile::Insecure,
        }
    }
}
