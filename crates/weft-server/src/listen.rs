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
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
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

/// The connection preface every HTTP/2 client sends first (RFC 9113 §3.4); an HTTP/2 client that
/// speaks cleartext "with prior knowledge" (ksqlDB's clients, `curl --http2-prior-knowledge`) starts
/// with it instead of an HTTP/1.1 request line.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The HTTP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// Which protocol the first bytes of a cleartext connection announce: `None` while they could still
/// be either (a prefix of the HTTP/2 preface).
fn protocol_of(first_bytes: &[u8]) -> Option<Protocol> {
    let shared = first_bytes.len().min(HTTP2_PREFACE.len());
    if first_bytes[..shared] != HTTP2_PREFACE[..shared] {
        Some(Protocol::Http1)
    } else if shared == HTTP2_PREFACE.len() {
        Some(Protocol::Http2)
    } else {
        None
    }
}

/// Waits for a cleartext connection's first bytes without consuming them; `None` when the client sends
/// nothing usable within `timeout` or goes away.
async fn sniff(stream: &tokio::net::TcpStream, timeout: Duration) -> Option<Protocol> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buffer = [0u8; HTTP2_PREFACE.len()];
    loop {
        let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut buffer)).await.ok()?.ok()?;
        if peeked == 0 {
            return None;
        }
        if let Some(protocol) = protocol_of(&buffer[..peeked]) {
            return Some(protocol);
        }
        // Part of the preface has arrived: `peek` would answer at once with the same bytes, so wait a
        // little for the rest rather than spin.
        tokio::time::sleep_until((tokio::time::Instant::now() + Duration::from_millis(5)).min(deadline)).await;
    }
}

/// The HTTP/1.1 and HTTP/2 connection settings.
#[derive(Clone)]
struct Builders {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

impl Builders {
    fn new(limits: ConnectionLimits) -> Self {
        let mut http1 = http1::Builder::new();
        http1.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        // HTTP/2 has no header read timeout in hyper: a peer that stops answering pings is dropped
        // instead, so a vanished client does not keep its connection (and its permit).
        http2
            .timer(TokioTimer::new())
            .keep_alive_interval(limits.header_timeout)
            .keep_alive_timeout(limits.header_timeout);
        Builders { http1, http2 }
    }

    /// Serves one connection in `protocol` until it ends, or until graceful shutdown has let its
    /// requests in flight finish.
    async fn serve<I>(&self, io: I, protocol: Protocol, service: Service, watcher: Watcher) -> Result<(), hyper::Error>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        match protocol {
            Protocol::Http1 => watcher.watch(self.http1.serve_connection(io, service)).await,
            Protocol::Http2 => watcher.watch(self.http2.serve_connection(io, service)).await,
        }
    }
}

type Service = TowerToHyperService<Router>;

/// Serves `app` on `listener` until `shutdown` completes, then waits for the connections' requests in
/// flight to finish. Each connection speaks HTTP/1.1 or HTTP/2: in cleartext HTTP/2 by prior
/// knowledge (its preface), behind TLS as ALPN agreed (`h2`, else `http/1.1`). hyper has no server
/// side of HTTP/1.1's `Upgrade: h2c`: such a request is answered in HTTP/1.1, as RFC 9113 allows.
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
    let builders = Builders::new(limits);
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
        // The protocol is chosen (and the TLS handshake made) on the connection's own task, bounded
        // like a request's headers.
        let (tls, builders, service) = (tls.clone(), builders.clone(), service.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    let Some(protocol) = sniff(&stream, limits.header_timeout).await else { return };
                    builders.serve(TokioIo::new(stream), protocol, service, watcher).await
                }
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await;
                    let stream = match handshake {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(peer = %peer, error = %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let protocol = match stream.get_ref().1.alpn_protocol() {
                        Some(b"h2") => Protocol::Http2,
                        _ => Protocol::Http1,
                    };
                    builders.serve(TokioIo::new(stream), protocol, service, watcher).await
                }
            };
            if let Err(error) = served {
                // Clients that go away or time out end here; nothing for the operator to act on.
                tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_chooses_http2_and_anything_else_http1() {
        assert_eq!(protocol_of(HTTP2_PREFACE), Some(Protocol::Http2));
        assert_eq!(protocol_of(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x12\x04"), Some(Protocol::Http2));
        assert_eq!(protocol_of(b"PRI * HTTP/2"), None, "a prefix of the preface waits for more");
        assert_eq!(protocol_of(b"P"), None);
        assert_eq!(protocol_of(b"POST /query-stream HTTP/1.1\r\n"), Some(Protocol::Http1));
        assert_eq!(protocol_of(b"GET / HTTP/1.1\r\n"), Some(Protocol::Http1));
        assert_eq!(
            protocol_of(b"\x16\x03\x01"),
            Some(Protocol::Http1),
            "TLS to a cleartext port is HTTP/1's to refuse"
        );
    }

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
