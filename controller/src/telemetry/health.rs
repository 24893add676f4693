//! `/healthz` and `/readyz` on `HEALTH_PROBE_BIND_ADDRESS`.
//!
//! `/healthz` answers 200 while the process serves requests. `/readyz` answers 200 only once
//! the configuration is loaded and the caches are synced, and 503 with the reason before.

use crate::error::Error;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Readiness as the probe reports it: `Ok(())` when ready, else why not.
pub type Readiness = Result<(), String>;

/// Serves the probes on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    ready: watch::Receiver<Readiness>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let ready = ready.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let ready = ready.borrow().clone();
                async move { Ok::<_, Infallible>(respond(&request, ready)) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // A client that disconnects mid-request is not an error worth reporting.
            drop(
                builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await,
            );
        });
    }
}

/// Binds the probe address; the error names the address and the parameter.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen {
            key: "HEALTH_PROBE_BIND_ADDRESS",
            addr,
            source,
        })
}

fn respond<B>(request: &Request<B>, ready: Readiness) -> Response<Full<Bytes>> {
    let (status, body) = match (request.uri().path(), ready) {
        ("/healthz", _) | ("/readyz", Ok(())) => (StatusCode::OK, "ok".to_string()),
        ("/readyz", Err(why)) => (StatusCode::SERVICE_UNAVAILABLE, why),
        _ => (
            StatusCode::NOT_FOUND,
            "not found: use /healthz or /readyz".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("writes");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("reads");
        response
    }

    #[tokio::test]
    async fn readyz_fails_until_ready_and_healthz_always_answers() {
        let listener = bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("addr");
        let (ready_tx, ready_rx) = watch::channel(Err("caches not synced".to_string()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = tokio::spawn(serve(listener, ready_rx, stop_rx));
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        let not_ready = get(addr, "/readyz").await;
        assert!(
            not_ready.starts_with("HTTP/1.1 503") && not_ready.ends_with("caches not synced"),
            "{not_ready}"
        );
        ready_tx.send(Ok(())).expect("server holds the receiver");
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200"));
        stop_tx.send_replace(true);
        server.await.expect("stops");
    }
}
