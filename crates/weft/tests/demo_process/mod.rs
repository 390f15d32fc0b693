//! `weft demo` as a child process on a free loopback port: what the demo and browser tests start.
#![allow(dead_code)] // each test file uses a different part of it

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a start may take (the first one builds the whole mesh).
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Demo {
    child: Child,
    pub url: String,
    /// Everything the process printed so far (both streams), for failure messages.
    output: mpsc::Receiver<String>,
    pub log: Vec<String>,
    /// The people's API tokens the demo wrote (`demo-tokens.json`), by name; empty with `--auth none`.
    pub tokens: std::collections::BTreeMap<String, String>,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Demo {
    /// Starts `weft demo` on `data_dir` and returns once it printed that the mesh is ready.
    pub fn start(data_dir: &Path, port: u16) -> Demo {
        Self::start_with(data_dir, port, "tokens")
    }

    /// Starts `weft demo --auth none` (people act by name; the browser flows' actor menu).
    pub fn start_without_auth(data_dir: &Path, port: u16) -> Demo {
        Self::start_with(data_dir, port, "none")
    }

    fn start_with(data_dir: &Path, port: u16, auth: &str) -> Demo {
        Self::start_with_args(data_dir, port, auth, &[])
    }

    /// Starts `weft demo --auth AUTH ARGS` (e.g. `--kafka BOOTSTRAP`).
    pub fn start_with_args(data_dir: &Path, port: u16, auth: &str, args: &[&str]) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["demo", "--auth", auth, "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft demo starts");
        let (tx, output) = mpsc::channel();
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut demo = Demo {
            child,
            url: format!("http://127.0.0.1:{port}"),
            output,
            log: Vec::new(),
            tokens: Default::default(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if demo.log.iter().any(|line| line.contains("demo mesh ready")) {
                if let Ok(text) = std::fs::read_to_string(data_dir.join("demo-tokens.json")) {
                    demo.tokens = serde_json::from_str(&text).expect("demo-tokens.json is a JSON object");
                }
                return demo;
            }
            if let Ok(Some(status)) = demo.child.try_wait() {
                demo.drain();
                panic!("weft demo exited with {status} before it was ready:\n{}", demo.log.join("\n"));
            }
            if Instant::now() > deadline {
                demo.drain();
                let _ = demo.child.kill();
                panic!("weft demo was not ready within {START_TIMEOUT:?}:\n{}", demo.log.join("\n"));
            }
            if let Ok(line) = demo.output.recv_timeout(Duration::from_millis(100)) {
                demo.log.push(line);
            }
        }
    }

    /// Collects what the process printed since the last call.
    pub fn drain(&mut self) {
        while let Ok(line) = self.output.try_recv() {
            self.log.push(line);
        }
    }

    /// Stops it the way Ctrl-C does and waits for it to exit.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
        assert!(sent.success(), "could not signal weft demo ({pid})");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                self.drain();
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                self.drain();
                panic!("weft demo did not stop within 20 s of SIGINT:\n{}", self.log.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET as the demo's admin.
    pub fn get(&self, path: &str) -> Value {
        get_with(&self.url, path, self.tokens.get("admin").map(String::as_str))
    }

    /// POST JSON as the demo's admin.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        let mut request = ureq::post(format!("{}{path}", self.url));
        if let Some(token) = self.tokens.get("admin") {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request.send_json(body).unwrap_or_else(|e| panic!("POST {path}: {e}"));
        response.body_mut().read_json().unwrap_or_else(|e| panic!("POST {path}: not JSON: {e}"))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GET `base + path` as JSON; panics with the server's answer on failure.
pub fn get(base: &str, path: &str) -> Value {
    get_with(base, path, None)
}

/// GET `base + path` as JSON with a bearer token.
pub fn get_with(base: &str, path: &str, token: Option<&str>) -> Value {
    let mut request = ureq::get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
    response.body_mut().read_json().unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
}

/// A fresh data directory under the system's temporary directory.
pub fn temp_data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("demo");
    (dir, data)
}
