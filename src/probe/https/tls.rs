//! rustls client configuration from a [`TlsSpec`], and TLS handshake failures in
//! words an operator acts on ("certificate signed by an unknown CA").

use super::spec::TlsSpec;
use super::SetupError;
use crate::probe::failure::{Failure, FailureClass};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::Path;
use std::sync::Arc;

/// Builds the client configuration: roots (the system's, or `ca_file`), optional
/// client identity, HTTP/1.1 by ALPN.
pub(super) fn client_config(spec: &TlsSpec) -> Result<Arc<ClientConfig>, SetupError> {
    // An explicit provider, so no process-wide default has to be installed first.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(SetupError::Tls)?;
    let builder = if spec.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        builder.with_root_certificates(roots(spec.ca_file.as_deref())?)
    };
    let mut config = match client_identity(spec)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(SetupError::Tls)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The name the certificate is checked against: `server_name`, else the URL's host.
pub(super) fn server_name(spec: &TlsSpec, host: &str) -> Result<ServerName<'static>, SetupError> {
    let name = spec.server_name.as_deref().unwrap_or(host);
    // A bracketed IPv6 host from a URL is a plain address to rustls.
    let name = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(name.to_string()).map_err(|_| SetupError::BadServerName(name.to_string()))
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, SetupError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| SetupError::BadPem {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::warn!("system root certificates: {error}");
            }
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            tracing::debug!(added, ignored, "loaded the system's root certificates");
        }
    }
    Ok(roots)
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn client_identity(spec: &TlsSpec) -> Result<Option<Identity>, SetupError> {
    match (&spec.client_cert, &spec.client_key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some((read_certs(cert)?, read_key(key)?))),
        _ => Err(SetupError::HalfIdentity),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(path, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad_pem(path, "no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, SetupError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| bad_pem(path, e.to_string()))
}

fn read(path: &Path) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|source| SetupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn bad_pem(path: &Path, reason: String) -> SetupError {
    SetupError::BadPem {
        path: path.to_path_buf(),
        reason,
    }
}

/// A failed handshake as a `tls` failure. Certificate problems get fixed words so
/// they group in reports; anything else keeps rustls' own text.
pub(super) fn handshake_failure(e: &std::io::Error) -> Failure {
    let detail = match rustls_error(e) {
        Some(rustls::Error::InvalidCertificate(cert)) => certificate_reason(cert),
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)) => {
            "server requires a client certificate".into()
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("server refused the handshake ({alert:?})")
        }
        Some(other) => other.to_string(),
        None => format!("handshake: {}", crate::probe::io_reason(e)),
    };
    Failure::new(FailureClass::Tls, detail)
}

/// Whether an I/O error from a TLS stream is rustls' own (not the socket's).
pub(super) fn is_tls_error(e: &std::io::Error) -> bool {
    rustls_error(e).is_some()
}

fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn certificate_reason(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "certificate signed by an unknown CA".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "certificate name mismatch".into()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate not yet valid".into()
        }
        CertificateError::Revoked => "certificate revoked".into(),
        other => format!("invalid certificate: {other:?}"),
    }
}

/// `insecure: true`: any certificate is accepted, but handshake signatures are still
/// verified so the session is at least encrypted to whoever holds the key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl AcceptAnyCertificate {
    /// The provider's algorithms, which check every handshake signature.
    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.0.signature_verification_algorithms
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
