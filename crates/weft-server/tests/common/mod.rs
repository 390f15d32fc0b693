//! Test helpers: a real server on 127.0.0.1:0 over a temporary data directory, and a small HTTP client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use weft_server::{BackgroundServer, FsyncPolicy, ServerConfig};

/// `tests/python/SCRIPT` under the venv's Python, which `scripts/test` builds in `target/pyenv` from the
/// pinned `tests/python/requirements.txt`; arguments and output are the caller's.
pub fn python_script(script: &str) -> std::process::Command {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the repository root holds crates/weft-server");
    let python = root.join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test (it builds the Python venv the tests need)",
        python.display()
    );
    let mut command = std::process::Command::new(python);
    command.arg(root.join("tests/python").join(script));
    command
}

/// A self-signed server certificate for localhost and 127.0.0.1, and its key, in `dir` (made with
/// openssl, which `scripts/test` installs).
pub fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A server's certificate, not a CA's (the client's verifier refuses a CA as end entity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    (cert, key)
}

/// The configuration tests use: a free port, fast group commit, small limits that tests can exceed.
pub fn test_config(data_dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(data_dir);
    config.listen = "127.0.0.1:0".parse().expect("valid address");
    config.fsync = FsyncPolicy::GroupCommit { interval_ms: 1 };
    config.max_body_bytes = 256 * 1024;
    config.max_records_per_request = 1000;
    // The tests of everything but security act as whoever they name; tests/security.rs turns
    // authentication on.
    config.auth = weft_server::AuthMode::None;
    // Tests that hammer the server measure other things; tests/security.rs checks the limit.
    config.rate_limit = 0;
    config
}

/// A server with its own data directory, stopped on drop.
pub struct TestServer {
    pub server: Option<BackgroundServer>,
    pub dir: tempfile::TempDir,
    pub api: Api,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    pub fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let server = BackgroundServer::start(config).expect("server starts");
        let api = Api::new(&server.url());
        TestServer { server: Some(server), dir, api }
    }

    /// Stops the server gracefully (the log is shut down), keeping the data directory.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().expect("clean shutdown");
        }
    }

    /// Starts a new server on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        let server = BackgroundServer::start(test_config(self.dir.path())).expect("server restarts");
        self.api = Api::new(&server.url());
        self.server = Some(server);
    }
}

/// A JSON client that checks the API's error shape on every error response.
pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(base: &str) -> Api {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Api { base: base.to_string(), agent: config.into() }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        Self::finish(self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn get_text(&self, path: &str) -> (u16, String) {
        let mut response = self.agent.get(format!("{}{path}", self.base)).call().expect("request");
        let text = response.body_mut().read_to_string().expect("body");
        (response.status().as_u16(), text)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        Self::finish(self.agent.post(format!("{}{path}", self.base)).send_json(body))
    }

    pub fn post_raw(&self, path: &str, body: &[u8]) -> (u16, Value) {
        Self::finish(
            self.agent.post(format!("{}{path}", self.base)).header("content-type", "application/json").send(body),
        )
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        Self::finish(self.agent.delete(format!("{}{path}", self.base)).call())
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        Self::finish(self.agent.put(format!("{}{path}", self.base)).send_json(body))
    }

    /// Any request, with extra headers and a raw body; the answer keeps its headers and bytes.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
        let uri = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.map(<[u8]>::to_vec).unwrap_or_default()).expect("request");
        let mut response = self.agent.run(request).expect("HTTP exchange");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = response.body_mut().with_config().limit(64 * 1024 * 1024).read_to_vec().expect("body");
        Reply { status, headers, body }
    }

    fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
        let mut response = response.expect("HTTP exchange");
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().expect("body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
        if status >= 400 {
            let code = body["error_code"].as_u64().unwrap_or_else(|| panic!("no error_code in {body}"));
            assert_eq!(code / 100, u64::from(status), "error_code {code} does not carry status {status}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {body}");
            // The one error shape: a code and a message, the offending field of a 42201 when the server
            // knows it, the gaps of a refused publish (42207), the broken records of a refused write (42204).
            for key in body.as_object().into_iter().flat_map(|o| o.keys()) {
                let allowed = match key.as_str() {
                    "error_code" | "message" => true,
                    "field" => code == 42201,
                    "gaps" => code == 42207,
                    "records" => code == 42204,
                    "problems" => code == 42211,
                    "mismatches" => code == 42212,
                    _ => false,
                };
                assert!(allowed, "extra field {key} in error {body}");
            }
        }
        (status, body)
    }

    /// Creates a topic, asserting success.
    pub fn create_topic(&self, name: &str, partitions: u32) -> Value {
        let (status, body) = self.post("/api/v1/topics", &serde_json::json!({"name": name, "partitions": partitions}));
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Produces records, asserting success, and returns the `offsets` array.
    pub fn produce(&self, topic: &str, records: Value) -> Vec<Value> {
        let (status, body) = self.post(&format!("/api/v1/topics/{topic}/records"), &records);
        assert_eq!(status, 200, "{body}");
        body["offsets"].as_array().expect("offsets").clone()
    }

    /// The high watermark of every partition of a topic.
    pub fn latest_offsets(&self, topic: &str) -> Vec<u64> {
        let (status, body) = self.get(&format!("/api/v1/topics/{topic}"));
        assert_eq!(status, 200, "{body}");
        body["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .map(|p| p["latest_offset"].as_u64().expect("latest_offset"))
            .collect()
    }

    /// Opens a server-sent events stream; each `(id, data)` event arrives on the returned channel.
    pub fn sse(&self, path: &str) -> mpsc::Receiver<(Option<String>, Value)> {
        self.sse_with_headers(path, &[])
    }

    /// Like [`Api::sse`], sending extra request headers (e.g. `Last-Event-ID`).
    pub fn sse_with_headers(&self, path: &str, headers: &[(&str, &str)]) -> mpsc::Receiver<(Option<String>, Value)> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut request = agent.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.call().expect("stream request");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let reader = BufReader::new(response.into_body().into_reader());
            let mut id = None;
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Some(rest) = line.strip_prefix("id:") {
                    id = Some(rest.trim().to_string());
                } else if let Some(data) = line.strip_prefix("data:") {
                    let value = serde_json::from_str(data.trim()).expect("event data is JSON");
                    if sender.send((id.take(), value)).is_err() {
                        return;
                    }
                }
            }
        });
        receiver
    }
}

/// Receives `n` events or fails after a generous timeout.
pub fn receive(events: &mpsc::Receiver<(Option<String>, Value)>, n: usize) -> Vec<(Option<String>, Value)> {
    (0..n)
        .map(|i| events.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| panic!("event {i} of {n}: {e}")))
        .collect()
}

/// An answer with its headers and raw body (see [`Api::send`]).
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A response header (names are lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    /// The body as JSON, checking the error shape of error answers as [`Api::get`] does.
    pub fn json(&self) -> Value {
        let body: Value =
            serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()));
        if self.status >= 400 {
            let code = body["error_code"].as_u64().unwrap_or_else(|| panic!("no error_code in {body}"));
            assert_eq!(code / 100, u64::from(self.status), "error_code {code} does not carry status {}", self.status);
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {body}");
        }
        body
    }

    /// `(status, error_code)` of an answer.
    pub fn code(&self) -> (u16, Option<u64>) {
        (self.status, self.json()["error_code"].as_u64())
    }
}

/// A draft product `shop.orders` (domain `shop`, owner alice) whose one output port declares Avro with
/// `schema` on topic `shop.orders` (`partitions` partitions), the schema registered under
/// `shop.orders-value`.
#[allow(dead_code)] // Each test crate compiles this module and uses some of it.
pub fn shop_orders_avro_product(api: &Api, schema: &str, partitions: u32) {
    let domain = serde_json::json!({"name": "shop", "description": "The shop domain", "owningTeam": "team-shop",
                                    "members": [{"user": "alice", "role": "owner"}]});
    let (status, body) = api.post("/api/v1/domains", &domain);
    assert_eq!(status, 201, "{body}");
    api.create_topic("shop.orders", partitions);
    let (status, body) =
        api.post("/registry/subjects/shop.orders-value/versions", &serde_json::json!({"schema": schema}));
    assert_eq!(status, 200, "{body}");
    let spec = serde_json::json!({
        "id": "shop.orders", "name": "Orders", "owner": "alice", "description": "Orders.", "qualityTier": "curated",
        "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "shop.orders",
                         "schemaSubject": "shop.orders-value", "format": "avro"}],
    });
    let (status, body) = api.post("/api/v1/products", &spec);
    assert_eq!(status, 201, "{body}");
}
