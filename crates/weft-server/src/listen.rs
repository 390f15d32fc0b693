//! Connections: accepting them, bounding them, timing them out, and ending them gracefully.
//!
//! Connection hygiene as Kafka's brokers keep it: a client that opens a connection and never finishes
//! its request headers (or sits idle between requests) is disconnected after the header timeout, so
//! half-open connections cannot pile up until the process runs out of descriptors; past the maximum
//! number of connections a new one gets an immediate `503` saying so and is closed, rather than
//! waiting in the accept queue; a failed `accept` (out of descriptors) pauses accepting briefly instead
//! of spinning. On shutdown the listener closes, connections finish their requests in flight, and
//! endless responses (live tails) end through [`crate::AppState::begin_shutdown`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How connections are bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long a connection may sit idle
    /// between requests.
    pub header_timeout: Duration,
}

/// The answer to a connection past the limit: written without reading the request, then closed.
fn too_many_connections(max: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "error_code": crate::ErrorCode::TooManyConnections as u32,
        "message": format!("the server is at its limit of {max} connections (max_connections): retry later"),
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for the connections' requests in
/// flight to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let service = TowerToHyperService::new(app);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, most likely: wait for some to be released instead of spinning.
                tracing::warn!(error = %error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(peer = %peer, max = limits.max_connections, "refused a connection: at max_connections");
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = stream.write_all(&too_many_connections(limits.max_connections)).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        match &tls {
            None => {
                let watched = graceful.watch(builder.serve_connection(TokioIo::new(stream), service.clone()));
                tokio::spawn(async move {
                    if let Err(error) = watched.await {
                        // Clients that go away or time out end here; nothing for the operator to act on.
                        tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
            Some(acceptor) => {
                // The handshake runs on the connection's own task, bounded like a request's headers.
                let (acceptor, builder, service) = (acceptor.clone(), builder.clone(), service.clone());
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await;
                    let stream = match handshake {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(peer = %peer, error = %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    if let Err(error) = watcher.watch(connection).await {
                        tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_http_response_in_the_error_shape() {
        let text = String::from_utf8(too_many_connections(7)).expect("UTF-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error_code"], 50302);
        assert!(json["message"].as_str().is_some_and(|m| m.contains("7 connections")), "{json}");
    }
}
