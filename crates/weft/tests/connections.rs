//! Connection hygiene and descriptor bounds of a real `weft serve` process: half-open connections do
//! not starve anyone and are closed after the header timeout, connections past the limit are refused
//! with a clear 503, and a 10,000-partition topic is written and read under `ulimit -n 1024`.
//!
//! Each test starts its own server process; the half-open test lifts this test process's own file
//! limit first (nextest runs every test in a process of its own).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A `weft serve` process; `nofile` lowers its open-file limit (soft and hard) before it starts.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(data_dir: &Path, args: &[&str], nofile: Option<u64>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--fsync", "1", "--auth", "none", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("WEFT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(limit) = nofile {
            // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let value = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &value) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().expect("weft serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = loop {
            let line = lines.next().expect("weft serve printed its address").expect("text");
            if let Some(rest) = line.strip_prefix("weft listening on http://") {
                break rest.split_whitespace().next().expect("an address").parse().expect("an address");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    /// One request on a fresh connection: the status and the body.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        // A merged read of 10,000 cold partitions opens each one's segment under the descriptor bound.
        stream.set_read_timeout(Some(Duration::from_secs(180))).expect("timeout");
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("answer");
        let text = String::from_utf8_lossy(&answer);
        let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// How long `GET /health` takes on a fresh connection.
    fn health(&self) -> Duration {
        let started = Instant::now();
        let (status, body) = self.request("GET", "/health", None);
        assert_eq!((status, &body["status"]), (200, &json!("ok")), "{body}");
        started.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises this test process's soft open-file limit to its hard limit (the half-open connections are
/// this process's descriptors too).
fn raise_own_file_limit() -> u64 {
    // SAFETY: plain struct in, plain struct out.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        limit.rlim_cur
    }
}

/// Opens a connection and sends half a request: headers that never end.
fn half_open(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: ").expect("send half a request");
    stream
}

#[test]
fn half_open_connections_starve_nobody_and_are_closed_after_the_header_timeout() {
    const HALF_OPEN: usize = 2000;
    let available = raise_own_file_limit();
    assert!(available >= 2 * HALF_OPEN as u64 + 100, "the hard open-file limit {available} is too low for this test");
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(dir.path(), &["--header-timeout-ms", "3000"], None);
    let first = server.health();

    let opened = Instant::now();
    let mut held: Vec<TcpStream> = (0..HALF_OPEN).map(|_| half_open(server.addr)).collect();
    // Normal traffic goes on while they are held: /health on fresh connections, and a produce.
    let (status, body) = server.request("POST", "/api/v1/topics", Some(&json!({"name": "busy"})));
    assert_eq!(status, 201, "{body}");
    let mut slowest = first;
    while opened.elapsed() < Duration::from_millis(2500) {
        slowest = slowest.max(server.health());
        let (status, body) =
            server.request("POST", "/api/v1/topics/busy/records", Some(&json!([{"key": "k", "value": 1}])));
        assert_eq!(status, 200, "{body}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(slowest < Duration::from_millis(100), "/health took {slowest:?} with {HALF_OPEN} half-open connections");

    // After the header timeout the server has closed every one of them (each timer starts when the
    // server accepts the connection, which for the last of 2,000 can be a little after it was opened).
    let deadline = opened + Duration::from_secs(3 + 10);
    let mut closed = 0;
    for stream in &mut held {
        let mut buffer = [0u8; 512];
        // A closed connection reads as end of file (hyper may first answer 408).
        loop {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(10));
            stream.set_read_timeout(Some(left)).expect("timeout");
            match stream.read(&mut buffer) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    assert_eq!(closed, HALF_OPEN, "half-open connections left open after the header timeout");
    assert!(server.health() < Duration::from_millis(100));
}

#[test]
fn connections_past_the_limit_are_refused_with_503() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(dir.path(), &["--max-connections", "20", "--header-timeout-ms", "60000"], None);
    let _held: Vec<TcpStream> = (0..20).map(|_| half_open(server.addr)).collect();
    // Give the server a moment to take them all.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    assert!(started.elapsed() < Duration::from_secs(2), "the refusal is immediate");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").expect("body").1).expect("JSON");
    assert_eq!(body["error_code"], 50302, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("max_connections")), "{body}");
}

#[test]
fn ten_thousand_partitions_are_written_and_read_under_a_1024_file_limit() {
    const PARTITIONS: u32 = 10_000;
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(dir.path(), &[], Some(1024));
    let (status, body) =
        server.request("POST", "/api/v1/topics", Some(&json!({"name": "wide", "partitions": PARTITIONS})));
    assert_eq!(status, 201, "{}", body.to_string().chars().take(300).collect::<String>());
    // One record per partition, in requests of 1,000, then read back partition by partition.
    for chunk in 0..PARTITIONS / 1000 {
        let records: Vec<Value> = (chunk * 1000..(chunk + 1) * 1000)
            .map(|p| json!({"partition": p, "key": format!("k{p}"), "value": {"p": p}}))
            .collect();
        let (status, body) = server.request("POST", "/api/v1/topics/wide/records", Some(&Value::Array(records)));
        assert_eq!(status, 200, "{}", body.to_string().chars().take(300).collect::<String>());
    }
    for p in (0..PARTITIONS).step_by(7).chain([PARTITIONS - 1]) {
        let (status, body) = server.request("GET", &format!("/api/v1/topics/wide/records?partition={p}"), None);
        assert_eq!(status, 200, "partition {p}: {body}");
        assert_eq!(body["records"][0]["value"], json!({"p": p}), "partition {p}");
    }
    // The whole topic, merged across partitions, in one read.
    let (status, body) = server.request("GET", "/api/v1/topics/wide/records?limit=10000", None);
    assert_eq!(status, 200);
    assert_eq!(body["records"].as_array().map(Vec::len), Some(PARTITIONS as usize));
    assert!(server.health() < Duration::from_secs(1));
}
