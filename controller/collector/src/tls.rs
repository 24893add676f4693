//! The rustls client configuration: trusted CAs, client certificate, server-name override,
//! insecure mode, TLS 1.2 minimum. Uses the ring provider explicitly.

use crate::error::CollectorError;
use crate::settings::CollectorSettings;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// Builds the client TLS configuration for `settings`.
pub(crate) fn client_config(settings: &CollectorSettings) -> Result<ClientConfig, CollectorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CollectorError::Tls(e.to_string()))?;
    let chain = if settings.insecure_skip_verify {
        None
    } else {
        let roots = Arc::new(trusted_roots(settings.ca_cert_path.as_deref())?);
        Some(
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| CollectorError::Tls(e.to_string()))?,
        )
    };
    let expected_name = match &settings.server_name {
        Some(name) => Some(
            ServerName::try_from(name.clone())
                .map_err(|_| CollectorError::InvalidServerName { name: name.clone() })?,
        ),
        None => None,
    };
    let verifier = Arc::new(PrometheusVerifier {
        chain,
        expected_name,
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&settings.client_cert_path, &settings.client_key_path) {
        (Some(cert), Some(key)) => {
            let certs = read_certificates("PROMETHEUS_CLIENT_CERT_PATH", cert)?;
            let key = read_key(key)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| CollectorError::Tls(format!("client certificate and key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(CollectorError::IncompleteClientCertificate {
                set: "PROMETHEUS_CLIENT_CERT_PATH",
            });
        }
        (None, Some(_)) => {
            return Err(CollectorError::IncompleteClientCertificate {
                set: "PROMETHEUS_CLIENT_KEY_PATH",
            });
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, CollectorError> {
    std::fs::read(path).map_err(|source| CollectorError::ReadFile {
        key,
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(key: &'static str, path: &Path, reason: impl ToString) -> CollectorError {
    CollectorError::Pem {
        key,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, CollectorError> {
    let bytes = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(key, path, e))?;
    if certs.is_empty() {
        return Err(pem_error(key, path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CollectorError> {
    let key = "PROMETHEUS_CLIENT_KEY_PATH";
    let bytes = read(key, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| pem_error(key, path, e))
}

/// The CAs of `ca_file`, or the system's, or Mozilla's when the system has none.
fn trusted_roots(ca_file: Option<&Path>) -> Result<RootCertStore, CollectorError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let key = "PROMETHEUS_CA_CERT_PATH";
            for cert in read_certificates(key, path)? {
                roots.add(cert).map_err(|e| {
                    pem_error(key, path, format!("not a usable CA certificate: {e}"))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
        }
    }
    Ok(roots)
}

/// Checks the server certificate: against the trusted CAs and the URL's host, or
/// `PROMETHEUS_SERVER_NAME` when set; with `PROMETHEUS_TLS_INSECURE_SKIP_VERIFY` (`chain` is
/// `None`) any certificate is accepted. The handshake signature is always checked, so the
/// peer holds the key of the certificate it sent.
#[derive(Debug)]
struct PrometheusVerifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    expected_name: Option<ServerName<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PrometheusVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        url_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        let name = self.expected_name.as_ref().unwrap_or(url_host);
        chain.verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The provider the collector uses; installed as the process default when none is.
pub(crate) fn install_default_provider() {
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
}
