// Each bench compiles this module on its own and uses only some of the client's calls.
#![allow(dead_code)]

//! A minimal HTTP/1.1 client for the benchmarks: keep-alive connections, one request at a time, no
//! allocation beyond the buffers, so the client costs little of the 2 cores it shares with the server.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_server::{BackgroundServer, FsyncPolicy, ServerConfig};

/// A bench knob from the environment, or its default.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The server in-process on 127.0.0.1:0, with its usual 2-worker runtime, 1 ms group commit and a temporary
/// data directory (kept alive by the returned guard).
pub fn start_server() -> (BackgroundServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.fsync = FsyncPolicy::GroupCommit { interval_ms: 1 };
    (BackgroundServer::start(config).expect("server starts"), dir)
}

/// One keep-alive HTTP/1.1 connection: a request, then its whole response, then the next.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: std::net::SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection { stream, buffer: Vec::with_capacity(16 * 1024) }
    }

    pub async fn get(&mut self, path: &str) -> (u16, Vec<u8>) {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: application/vnd.schemaregistry.v1+json\r\n\r\n");
        self.exchange(request.as_bytes()).await
    }

    pub async fn post(&mut self, path: &str, body: &str) -> (u16, Vec<u8>) {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.exchange(request.as_bytes()).await
    }

    /// A POST of a JSON body.
    pub async fn post_json(&mut self, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.exchange(&request).await
    }

    async fn exchange(&mut self, request: &[u8]) -> (u16, Vec<u8>) {
        self.stream.write_all(request).await.expect("send");
        loop {
            if let Some((status, head, length)) = parse_head(&self.buffer) {
                if self.buffer.len() >= head + length {
                    let body = self.buffer[head..head + length].to_vec();
                    self.buffer.drain(..head + length);
                    assert!((200..300).contains(&status), "HTTP {status}: {}", String::from_utf8_lossy(&body));
                    return (status, body);
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).await.expect("receive");
            assert!(n > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The status, the length of the head (through the blank line) and the Content-Length, once the whole
/// head has arrived.
pub fn parse_head(buffer: &[u8]) -> Option<(u16, usize, usize)> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..end]).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    Some((status, end, length))
}
