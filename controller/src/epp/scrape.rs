//! One `GET /metrics` of an endpoint picker over plain HTTP/1.1 with a bearer token, bounded
//! in time and size.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;
use wva_collector::error_chain;

/// The longest a scrape may take, connection included (the source's default).
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The largest body read (16 MiB); a larger one fails the scrape.
pub const BODY_LIMIT: usize = 16 << 20;

/// Why a scrape failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeFailure {
    /// No connection, or it broke.
    #[error("{0}")]
    Transport(String),
    /// No full answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The body exceeds [`BODY_LIMIT`].
    #[error("the answer is larger than {BODY_LIMIT} bytes")]
    TooLarge,
    /// 401 or 403: the token is missing the permission.
    #[error(
        "HTTP {0}: the endpoint picker refused the token; grant the controller's ServiceAccount `get` on the nonResourceURL /metrics (a ClusterRole rule `nonResourceURLs: [\"/metrics\"], verbs: [\"get\"]`), or point SCALE_FROM_ZERO_EPP_TOKEN_PATH at a token that has it"
    )]
    Denied(u16),
    /// Any other answer than 2xx.
    #[error("HTTP {0}")]
    Status(u16),
}

/// The URL [`get_metrics`] reads.
pub fn metrics_url(host: &str, port: u16) -> String {
    format!("http://{host}:{port}/metrics")
}

/// The body of `GET http://host:port/metrics` sent with `authorization`, as text (invalid
/// UTF-8 replaced), within `timeout`.
pub async fn get_metrics(
    host: &str,
    port: u16,
    authorization: &HeaderValue,
    timeout: Duration,
) -> Result<String, ScrapeFailure> {
    tokio::time::timeout(timeout, exchange(host, port, authorization))
        .await
        .unwrap_or(Err(ScrapeFailure::Timeout(timeout)))
}

async fn exchange(
    host: &str,
    port: u16,
    authorization: &HeaderValue,
) -> Result<String, ScrapeFailure> {
    let transport = |e: &dyn std::error::Error| ScrapeFailure::Transport(error_chain(e));
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| transport(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| transport(&e))?;
    let request = hyper::Request::get("/metrics")
        .header(HOST, format!("{host}:{port}"))
        .header(AUTHORIZATION, authorization.clone())
        .header(ACCEPT, "text/plain;version=0.0.4")
        .body(Empty::<Bytes>::new())
        .map_err(|e| transport(&e))?;
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            401 | 403 => return Err(ScrapeFailure::Denied(status)),
            _ => return Err(ScrapeFailure::Status(status)),
        }
        let body = Limited::new(response.into_body(), BODY_LIMIT)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ScrapeFailure::TooLarge
                } else {
                    ScrapeFailure::Transport(error_chain(e.as_ref()))
                }
            })?;
        Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
    };
    // The connection is driven here, next to the request, so nothing outlives the scrape.
    let mut connection = std::pin::pin!(connection);
    let mut answer = std::pin::pin!(answer);
    tokio::select! {
        result = &mut answer => result,
        closed = &mut connection => match closed {
            Ok(()) => answer.await,
            Err(e) => Err(transport(&e)),
        },
    }
}
