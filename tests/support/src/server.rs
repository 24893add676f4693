//! The loopback HTTP(S) server every helper runs on: one thread, one current-thread runtime,
//! stopped when its handle is dropped.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// One request as a server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The raw query string (empty when none).
    pub query: String,
    /// Every header as received, names lower-case, in order (repeated headers repeat).
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// True when the client presented a TLS client certificate.
    pub client_certificate: bool,
}

impl RecordedRequest {
    /// All values of header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of form field `name` in an `application/x-www-form-urlencoded` body or in
    /// the query string, decoded.
    pub fn form_value(&self, name: &str) -> Option<String> {
        [self.body.as_str(), self.query.as_str()]
            .into_iter()
            .flat_map(|text| text.split('&'))
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| crate::http::percent_decode(value))
    }
}

/// A canned answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StubResponse {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: String,
    /// The body.
    pub body: String,
    /// Wait this long before answering (to exercise client timeouts).
    pub delay: Duration,
}

impl StubResponse {
    /// `200 OK` with a JSON body.
    pub fn json(body: impl Into<String>) -> Self {
        StubResponse {
            status: 200,
            content_type: "application/json".to_string(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// `200 OK` with a Prometheus text-format body.
    pub fn text(body: impl Into<String>) -> Self {
        StubResponse {
            content_type: "text/plain; version=0.0.4; charset=utf-8".to_string(),
            ..Self::json(body)
        }
    }

    /// The same response with another status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same response, sent after `delay`.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

pub(crate) type Handler = Arc<dyn Fn(&RecordedRequest) -> StubResponse + Send + Sync>;

/// A running server; dropping it stops the server and joins its thread.
pub(crate) struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Binds `127.0.0.1:0` and serves `handler` (over TLS when `tls` is set).
    pub(crate) fn spawn(
        name: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: Handler,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || runtime.block_on(serve(listener, tls, handler, shutdown_rx)))?;
        Ok(ServerHandle {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Handler,
    mut shutdown: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let handler = handler.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    // A failed handshake (wrong CA, missing client certificate) just closes.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let presented = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|certs| !certs.is_empty());
                    connection(TokioIo::new(stream), handler, presented).await;
                }
                None => connection(TokioIo::new(stream), handler, false).await,
            }
        });
    }
}

async fn connection<I>(io: I, handler: Handler, client_certificate: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
            let recorded = RecordedRequest {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or_default().to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
                client_certificate,
            };
            let answer = handler(&recorded);
            if !answer.delay.is_zero() {
                tokio::time::sleep(answer.delay).await;
            }
            hyper::Response::builder()
                .status(answer.status)
                .header("content-type", answer.content_type)
                .body(Full::new(Bytes::from(answer.body)))
        }
    });
    let _ = http1::Builder::new().serve_connection(io, service).await;
}
