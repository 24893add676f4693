//! The metrics endpoint on `METRICS_BIND_ADDRESS`, where Prometheus scrapes `wva_*`.
//!
//! With `METRICS_SECURE` (the default) it serves HTTPS, with the certificate from
//! `METRICS_CERT_PATH` (`METRICS_CERT_NAME`, `METRICS_CERT_KEY`) or a self-signed one, and
//! every request must carry a bearer token that a TokenReview authenticates (else 401) and
//! a SubjectAccessReview authorizes for `get` on the non-resource URL `/metrics` (else 403).
//! HTTP/2 is offered only with `ENABLE_HTTP2`.

use crate::error::Error;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};
use prometheus::{Encoder, Registry, TextEncoder};
use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// How long an authn/authz verdict for a token is reused, so scrapes cost no API calls.
const VERDICT_TTL: Duration = Duration::from_secs(60);

/// Who may read `/metrics`.
#[derive(Clone)]
pub enum Access {
    /// Anyone (plain HTTP, `METRICS_SECURE=false`).
    Open,
    /// Bearer tokens checked with TokenReview and SubjectAccessReview.
    Reviewed(Reviewer),
}

/// Checks tokens against the API server and remembers verdicts for a minute.
#[derive(Clone)]
pub struct Reviewer {
    client: Client,
    verdicts: Arc<Mutex<HashMap<String, (Instant, StatusCode)>>>,
}

impl Reviewer {
    /// A reviewer using `client`.
    pub fn new(client: Client) -> Self {
        Reviewer {
            client,
            verdicts: Arc::default(),
        }
    }

    /// 200 when the token's user may `get /metrics`, 401 when unauthenticated, 403 when not
    /// allowed, 500 when the API server could not answer.
    async fn verdict(&self, token: &str) -> StatusCode {
        let cached = self
            .verdicts
            .lock()
            .ok()
            .and_then(|v| v.get(token).copied());
        if let Some((at, status)) = cached
            && at.elapsed() < VERDICT_TTL
        {
            return status;
        }
        let status = match self.review(token).await {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%error, "Metrics request could not be reviewed");
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
        };
        if let Ok(mut verdicts) = self.verdicts.lock() {
            verdicts.retain(|_, (at, _)| at.elapsed() < VERDICT_TTL);
            verdicts.insert(token.to_string(), (Instant::now(), status));
        }
        status
    }

    async fn review(&self, token: &str) -> Result<StatusCode, kube::Error> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                ..TokenReviewSpec::default()
            },
            ..TokenReview::default()
        };
        let reviewed = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await?;
        let status = reviewed.status.unwrap_or_default();
        let Some(user) = status.user.filter(|_| status.authenticated == Some(true)) else {
            return Ok(StatusCode::UNAUTHORIZED);
        };
        let access = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username,
                groups: user.groups,
                uid: user.uid,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some("/metrics".into()),
                    verb: Some("get".into()),
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let decided = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &access)
            .await?;
        Ok(if decided.status.is_some_and(|s| s.allowed) {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        })
    }
}

/// TLS settings of the endpoint: a certificate and whether HTTP/2 is offered.
pub fn tls_config(
    cert_dir: Option<&str>,
    cert_name: &str,
    key_name: &str,
    http2: bool,
) -> Result<Arc<ServerConfig>, Error> {
    let (certs, key) = match cert_dir {
        Some(dir) => {
            let cert_path = Path::new(dir).join(cert_name);
            let key_path = Path::new(dir).join(key_name);
            let certs = CertificateDer::pem_file_iter(&cert_path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|source| Error::ReadMetricsCertificate {
                    keys: "METRICS_CERT_PATH/METRICS_CERT_NAME",
                    path: cert_path,
                    source,
                })?;
            let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|source| {
                Error::ReadMetricsCertificate {
                    keys: "METRICS_CERT_PATH/METRICS_CERT_KEY",
                    path: key_path,
                    source,
                }
            })?;
            (certs, key)
        }
        None => self_signed()?,
    };
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| Error::MetricsCertificate { source })?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(|source| Error::SelfSignedCertificate { source })?;
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|reason| Error::SelfSignedKey { reason })?;
    Ok((vec![certified.cert.der().clone()], key))
}

/// Serves `registry` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    access: Access,
    registry: Registry,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let (access, registry, acceptor) = (access.clone(), registry.clone(), acceptor.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (access, registry) = (access.clone(), registry.clone());
                async move { Ok::<_, Infallible>(respond(request, &access, &registry).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Connection errors (a scraper going away, a TLS handshake failing) end only that
            // connection.
            match acceptor {
                Some(acceptor) => {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        drop(builder.serve_connection(TokioIo::new(tls), service).await);
                    }
                }
                None => drop(
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await,
                ),
            }
        });
    }
}

async fn respond<B>(
    request: Request<B>,
    access: &Access,
    registry: &Registry,
) -> Response<Full<Bytes>> {
    if request.uri().path() != "/metrics" {
        return text(
            StatusCode::NOT_FOUND,
            "not found: metrics are served on /metrics",
        );
    }
    if let Access::Reviewed(reviewer) = access {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return text(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: send a bearer token",
            );
        };
        match reviewer.verdict(token).await {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return text(StatusCode::UNAUTHORIZED, "Unauthorized"),
            StatusCode::FORBIDDEN => {
                return text(
                    StatusCode::FORBIDDEN,
                    "Forbidden: the user may not get /metrics",
                );
            }
            other => return text(other, "the API server could not review the token"),
        }
    }
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(error) = encoder.encode(&registry.gather(), &mut body) {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode metrics: {error}"),
        );
    }
    let mut response = Response::new(Full::new(Bytes::from(body)));
    if let Ok(value) = header::HeaderValue::from_str(encoder.format_type()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wva_api::metrics::{MetricSet, WvaMetrics};

    #[tokio::test]
    async fn open_endpoint_serves_the_registered_metrics() {
        let registry = Registry::new();
        let metrics = WvaMetrics::register(&registry, Some("prod")).expect("registers");
        metrics
            .wva_desired_replicas
            .with_label_values(&["llama-8b", "llm-d", "H100"])
            .set(3.0);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, None, Access::Open, registry, stopped));
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("writes");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("reads");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(
            r#"wva_desired_replicas{accelerator_type="H100",controller_instance="prod",namespace="llm-d",variant_name="llama-8b"} 3"#
        ), "{response}");
        stop.send_replace(true);
        server.await.expect("stops");
    }

    #[test]
    fn self_signed_config_offers_http2_only_when_enabled() {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        assert_eq!(
            tls_config(None, "tls.crt", "tls.key", false)
                .expect("tls")
                .alpn_protocols,
            [b"http/1.1".to_vec()]
        );
        assert_eq!(
            tls_config(None, "tls.crt", "tls.key", true)
                .expect("tls")
                .alpn_protocols[0],
            b"h2".to_vec()
        );
        let missing =
            tls_config(Some("/nonexistent"), "tls.crt", "tls.key", false).expect_err("missing");
        assert!(
            missing.to_string().starts_with(
                "cannot read METRICS_CERT_PATH/METRICS_CERT_NAME /nonexistent/tls.crt"
            ),
            "{missing}"
        );
    }
}
