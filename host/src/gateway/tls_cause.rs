//! Why a provider's TLS handshake failed, in words that name the cause (docs/ai-gateway.md,
//! "Provider TLS"): rustls reports a refused certificate as a `CertificateError` whose own
//! text is terse (`UnknownIssuer`); an operator reading the attempt's failure or the
//! all-failed error body needs to know whether to fix trust, the certificate's dates, or
//! the URL's name.

use rustls::{CertificateError, Error as TlsError};

/// The cause of `err`, leading with the words an operator searches for.
pub(crate) fn describe(err: &TlsError) -> String {
    match err {
        TlsError::InvalidCertificate(cert) => describe_certificate(cert),
        other => other.to_string(),
    }
}

fn describe_certificate(err: &CertificateError) -> String {
    match err {
        CertificateError::UnknownIssuer => "unknown issuer: the provider's certificate is not \
             signed by a trusted CA (trust its CA with the provider's ca_cert_pem or \
             --provider-ca)"
            .to_owned(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("expired certificate: {err}")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("certificate not valid yet: {err}")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("wrong name: {err}")
        }
        CertificateError::Revoked => "revoked certificate".to_owned(),
        other => format!("certificate refused: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_certificate_cause_is_named() {
        let cases = [
            (CertificateError::UnknownIssuer, "unknown issuer"),
            (CertificateError::Expired, "expired certificate"),
            (CertificateError::NotValidForName, "wrong name"),
            (CertificateError::NotValidYet, "certificate not valid yet"),
            (CertificateError::BadSignature, "certificate refused"),
        ];
        for (cert, words) in cases {
            let text = describe(&TlsError::InvalidCertificate(cert));
            assert!(text.starts_with(words), "{text}");
        }
    }
}
