//! The REST client the commands share: JSON in, JSON out, the server's error message on failure.

use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// The largest response body the CLI reads (a read of 10,000 large records).
const MAX_RESPONSE_BYTES: u64 = 512 * 1024 * 1024;

pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// `Bearer <token>`, sent with every request when a token is given (`--token`, `WEFT_TOKEN`).
    authorization: Option<String>,
    /// Whom to act as on a server without authentication (`--actor`, `WEFT_ACTOR`), sent as
    /// `X-Weft-Actor` with every request; a server that authenticates ignores it.
    actor: Option<String>,
}

impl Client {
    pub fn new(url: &str) -> Client {
        Client::with_token(url, None)
    }

    /// A client that signs in with an API token (or an OpenID Connect JWT).
    pub fn with_token(url: &str, token: Option<&str>) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        let authorization = token.map(str::trim).filter(|t| !t.is_empty()).map(|t| format!("Bearer {t}"));
        Client { base: url.trim_end_matches('/').to_string(), agent, authorization, actor: None }
    }

    /// This client acting as `actor` on a server without authentication.
    pub fn acting_as(mut self, actor: &str) -> Client {
        self.actor = Some(actor.to_string());
        self
    }

    fn auth<B>(&self, mut request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        if let Some(actor) = &self.actor {
            request = request.header("x-weft-actor", actor);
        }
        match &self.authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.finish(path, self.auth(self.agent.get(self.url(path))).call())
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(path, self.auth(self.agent.post(self.url(path))).send_json(body))
    }

    /// Posts a body that is already JSON text.
    pub fn post_raw(&self, path: &str, json: &[u8]) -> Result<Value> {
        self.finish(
            path,
            self.auth(self.agent.post(self.url(path))).header("content-type", "application/json").send(json),
        )
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        self.finish(path, self.auth(self.agent.delete(self.url(path))).call())
    }

    /// Any request with a body of the given media type, made as `actor` (the `X-Weft-Actor` header the
    /// catalog records in its history).
    pub fn send(&self, method: &str, path: &str, actor: &str, body: Option<(&str, &[u8])>) -> Result<Value> {
        let mut request =
            ureq::http::Request::builder().method(method).uri(self.url(path)).header("x-weft-actor", actor);
        if let Some(value) = &self.authorization {
            request = request.header("authorization", value);
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header("content-type", content_type);
                bytes.to_vec()
            }
            None => Vec::new(),
        };
        let request = request.body(bytes).with_context(|| format!("building the request to {path}"))?;
        self.finish(path, self.agent.run(request))
    }

    /// Copies a response body (an export) to `out` as it arrives; returns the bytes copied.
    pub fn download(&self, path: &str, out: &mut impl std::io::Write) -> Result<u64> {
        let mut response = self.auth(self.agent.get(self.url(path))).call().map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            return Err(server_error(status, &text));
        }
        let mut body = response.into_body().into_reader();
        std::io::copy(&mut body, out)
            .with_context(|| format!("downloading {path} (the server may have failed mid-way)"))
    }

    /// Opens a long-lived response (server-sent events) and returns its body as a reader.
    pub fn stream(&self, path: &str) -> Result<impl Read> {
        let response = self.auth(self.agent.get(self.url(path))).header("accept", "text/event-stream").call();
        let mut response = response.map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            return Err(server_error(status, &text));
        }
        Ok(response.into_body().into_reader())
    }

    /// Posts JSON and returns the (long-lived, chunked) response body as a reader.
    pub fn post_stream(&self, path: &str, body: &Value) -> Result<impl Read> {
        let response = self.auth(self.agent.post(self.url(path))).send_json(body);
        let mut response = response.map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            return Err(server_error(status, &text));
        }
        Ok(response.into_body().into_reader())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(&self, path: &str, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value> {
        let mut response = response.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .with_context(|| format!("reading the response to {path}"))?;
        if !(200..300).contains(&status) {
            return Err(server_error(status, &text));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("the server's answer to {path} is not JSON"))
    }

    fn unreachable(&self, error: ureq::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the Weft server at {}: {error} (is `weft serve` running? set --url or WEFT_URL)",
            self.base
        )
    }
}

/// A refusal of the server in its one JSON error shape, kept whole so that a command can say which
/// of its flags a refused field came from.
#[derive(Debug)]
pub struct ServerError {
    pub status: u16,
    /// The whole error body (`error_code`, `message`, and `field`, `gaps`... when the code has them).
    pub body: Value,
}

impl ServerError {
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    /// The request field the refusal is about (`freshnessObjective`, `tags[1]`), when the server names one.
    pub fn field(&self) -> Option<&str> {
        self.body["field"].as_str()
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (error {}, HTTP {})", self.message(), self.body["error_code"], self.status)
    }
}

impl std::error::Error for ServerError {}

/// The server's `{"error_code", "message"}` as a [`ServerError`], or the raw body when it is not that shape.
fn server_error(status: u16, body: &str) -> anyhow::Error {
    match serde_json::from_str::<Value>(body) {
        Ok(error) if error["message"].is_string() => anyhow::Error::new(ServerError { status, body: error }),
        _ => anyhow!("HTTP {status}: {}", body.trim()),
    }
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved characters stay as they are).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The array `field` of a server answer.
pub fn array<'a>(value: &'a Value, field: &str) -> Result<&'a Vec<Value>> {
    match value[field].as_array() {
        Some(array) => Ok(array),
        None => bail!("the server's answer has no '{field}' array: {value}"),
    }
}
