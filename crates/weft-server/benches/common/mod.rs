// Each bench compiles this module on its own and uses only some of the client's calls.
#![allow(dead_code)]

//! A minimal HTTP/1.1 client for the benchmarks: keep-alive connections, one request at a time, no
//! allocation beyond the buffers, so the client costs little of the 2 cores it shares with the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    start_server_with(|_| {})
}

/// [`start_server`], its configuration adjusted by `adjust` (e.g. authentication on).
pub fn start_server_with(adjust: impl FnOnce(&mut ServerConfig)) -> (BackgroundServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.fsync = FsyncPolicy::GroupCommit { interval_ms: 1 };
    config.auth = weft_server::AuthMode::None;
    // Benchmarks measure throughput, not the per-principal limit.
    config.rate_limit = 0;
    adjust(&mut config);
    (BackgroundServer::start(config).expect("server starts"), dir)
}

/// One keep-alive HTTP/1.1 connection: a request, then its whole response, then the next.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// Extra header lines sent with every request (`Authorization: Bearer ...\r\n`).
    extra: String,
    /// The length of the body of the response [`Connection::response`] read last.
    last_body_len: usize,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection { stream, buffer: Vec::with_capacity(64 * 1024), extra: String::new(), last_body_len: 0 }
    }

    /// Sends `Authorization: Bearer token` with every request from now on.
    pub fn sign_in(&mut self, token: &str) {
        self.extra = format!("Authorization: Bearer {token}\r\n");
    }

    pub async fn get(&mut self, path: &str) -> (u16, Vec<u8>) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\n{}Accept: application/vnd.schemaregistry.v1+json\r\n\r\n",
            self.extra
        );
        self.exchange(request.as_bytes()).await
    }

    pub async fn post(&mut self, path: &str, body: &str) -> (u16, Vec<u8>) {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\n{}Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
            self.extra,
            body.len()
        );
        self.exchange(request.as_bytes()).await
    }

    /// A POST of a JSON body.
    pub async fn post_json(&mut self, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        self.send("POST", path, "application/json", body).await
    }

    /// [`Connection::post_json`] for load: the body is sent from where it is and the response's body
    /// is checked for success and dropped, not copied out (a produce request's body is hundreds of
    /// kilobytes, its response tens).
    pub async fn post_json_for_load(&mut self, path: &str, body: &[u8]) -> u16 {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.extra,
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await.expect("send");
        self.stream.write_all(body).await.expect("send");
        let (status, end) = self.response().await;
        self.buffer.drain(..end);
        status
    }

    /// Any request with a body of `content_type`.
    pub async fn send(&mut self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.extra,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.exchange(&request).await
    }

    async fn exchange(&mut self, request: &[u8]) -> (u16, Vec<u8>) {
        self.stream.write_all(request).await.expect("send");
        let (status, end) = self.response().await;
        let body = self.buffer[end - self.last_body_len..end].to_vec();
        self.buffer.drain(..end);
        (status, body)
    }

    /// Reads one whole response into the buffer, checks it is a success, and says its status and
    /// where it ends (its body is the `last_body_len` bytes before).
    async fn response(&mut self) -> (u16, usize) {
        loop {
            if let Some((status, head, length)) = parse_head(&self.buffer) {
                if self.buffer.len() >= head + length {
                    let body = &self.buffer[head..head + length];
                    assert!((200..300).contains(&status), "HTTP {status}: {}", String::from_utf8_lossy(body));
                    self.last_body_len = length;
                    return (status, head + length);
                }
            }
            // Straight into the buffer, without a chunk copied in between.
            self.buffer.reserve(64 * 1024);
            let n = self.stream.read_buf(&mut self.buffer).await.expect("receive");
            assert!(n > 0, "the server closed the connection");
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

/// One request a load connection sends.
pub enum Request {
    Get(String),
    PostJson(String, Arc<[u8]>),
}

/// Every request's latency from a load run, sorted, and how long the run took.
pub struct Load {
    pub latencies_us: Vec<u32>,
    pub elapsed_s: f64,
    /// CPU time the whole process (server and client) used meanwhile, when the OS says (Linux).
    pub cpu_s: Option<f64>,
}

impl Load {
    pub fn requests(&self) -> usize {
        self.latencies_us.len()
    }

    pub fn per_second(&self, items_per_request: usize) -> f64 {
        (self.requests() * items_per_request) as f64 / self.elapsed_s
    }

    /// CPU µs the process spent per item: unlike throughput, barely moved by other work on the machine,
    /// so runs on a busy machine still compare.
    pub fn cpu_us_per(&self, items_per_request: usize) -> Option<f64> {
        let items = (self.requests() * items_per_request).max(1) as f64;
        self.cpu_s.map(|cpu| cpu * 1e6 / items)
    }

    /// The latency at `p` (0 to 1) in µs.
    pub fn percentile_us(&self, p: f64) -> u32 {
        self.latencies_us.get(((self.requests().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(0)
    }
}

/// Drives `connections` keep-alive connections until `duration` has passed or each has sent
/// `max_per_connection` requests; connection `c` sends `next(c, i)` as its `i`th request.
pub async fn drive(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    max_per_connection: usize,
    next: impl Fn(usize, usize) -> Request + Send + Sync + 'static,
) -> Load {
    drive_as(addr, None, connections, duration, max_per_connection, next).await
}

/// [`drive`], every connection signed in with `token` when given.
pub async fn drive_as(
    addr: SocketAddr,
    token: Option<Arc<str>>,
    connections: usize,
    duration: Duration,
    max_per_connection: usize,
    next: impl Fn(usize, usize) -> Request + Send + Sync + 'static,
) -> Load {
    let next = Arc::new(next);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (next, token) = (next.clone(), token.clone());
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await;
                if let Some(token) = &token {
                    connection.sign_in(token);
                }
                let mut latencies = Vec::with_capacity(64 * 1024);
                while Instant::now() < deadline && latencies.len() < max_per_connection {
                    let request = next(c, latencies.len());
                    let sent = Instant::now();
                    match &request {
                        Request::Get(path) => {
                            connection.get(path).await;
                        }
                        Request::PostJson(path, body) => {
                            connection.post_json_for_load(path, body).await;
                        }
                    }
                    latencies.push(sent.elapsed().as_micros() as u32);
                }
                latencies
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.expect("client task"));
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu_s = process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    latencies_us.sort_unstable();
    Load { latencies_us, elapsed_s, cpu_s }
}

/// User and system CPU seconds of this process, all threads (`/proc/self/stat`, in clock ticks of
/// 10 ms: `CLK_TCK` is 100 on Linux).
pub fn process_cpu_seconds() -> Option<f64> {
    usage_of("/proc/self/stat").map(|usage| usage.cpu_s)
}

/// What a process has used so far, all threads.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// User and system CPU seconds.
    pub cpu_s: f64,
    /// Page faults served without I/O: each fresh page of memory the process touched (the kernel
    /// zeroes it first), e.g. after an allocator returned memory to the OS and took it back.
    pub minor_faults: u64,
}

impl Usage {
    /// What was used between `before` and `self`.
    pub fn since(self, before: Usage) -> Usage {
        Usage { cpu_s: self.cpu_s - before.cpu_s, minor_faults: self.minor_faults.saturating_sub(before.minor_faults) }
    }
}

/// [`Usage`] of the process whose `/proc/PID/stat` is at `path` (Linux; `None` elsewhere).
pub fn usage_of(path: &str) -> Option<Usage> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let minor_faults: u64 = fields.get(7)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Usage { cpu_s: (utime + stime) / 100.0, minor_faults })
}
