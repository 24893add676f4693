//! A loopback HTTP/HTTPS server that records requests and answers with canned responses.

use crate::pki::CertifiedKey;
use crate::server::{RecordedRequest, ServerHandle, StubResponse};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::{Arc, Mutex};

/// TLS settings of a [`StubServer`].
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// The server certificate and key.
    pub server: CertifiedKey,
    /// When set, a client certificate signed by this CA (PEM) is required.
    pub client_ca_pem: Option<String>,
}

/// A recording server; stopped on drop.
pub struct StubServer {
    handle: ServerHandle,
    scheme: &'static str,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl StubServer {
    /// A plain-HTTP server answering every request with `handler`.
    pub fn start(
        handler: impl Fn(&RecordedRequest) -> StubResponse + Send + Sync + 'static,
    ) -> Self {
        Self::start_with(None, handler)
    }

    /// An HTTPS server answering every request with `handler`.
    pub fn start_tls(
        tls: TlsOptions,
        handler: impl Fn(&RecordedRequest) -> StubResponse + Send + Sync + 'static,
    ) -> Self {
        Self::start_with(Some(tls), handler)
    }

    fn start_with(
        tls: Option<TlsOptions>,
        handler: impl Fn(&RecordedRequest) -> StubResponse + Send + Sync + 'static,
    ) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let config = tls.map(|tls| Arc::new(server_config(&tls)));
        let handle = ServerHandle::spawn(
            "stub",
            config,
            Arc::new(move |request: &RecordedRequest| {
                log.lock().expect("request log").push(request.clone());
                handler(request)
            }),
        )
        .expect("start stub server");
        StubServer {
            handle,
            scheme,
            requests,
        }
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.handle.addr())
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.handle.addr().port()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().expect("request log").clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.requests.lock().expect("request log").len()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.requests.lock().expect("request log").clear();
    }
}

fn server_config(tls: &TlsOptions) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.server.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("server certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(tls.server.key_pem.as_bytes()).expect("server key PEM");
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let builder = match &tls.client_ca_pem {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(cert.expect("client CA PEM")).expect("client CA");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(certs, key)
        .expect("server certificate and key")
}
