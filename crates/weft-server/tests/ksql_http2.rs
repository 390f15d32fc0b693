//! ksqlDB's streaming endpoints over HTTP/2, as ksqlDB's own clients speak them: cleartext with prior
//! knowledge (h2c) on the same port as HTTP/1.1, and over TLS where ALPN agrees on `h2`. The client
//! is hyper's HTTP/2 client; `/inserts-stream` is driven one row at a time, each acknowledgement
//! read before the next row is sent, which only a full-duplex server can answer.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use common::{certificate, test_config, TestServer};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::sync::mpsc;

type Body = UnsyncBoxBody<Bytes, Infallible>;

const DDL: &str = "CREATE STREAM S (ID STRING, V INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);";
const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// An HTTP/2 connection over `io`, its driver running on the runtime.
async fn http2<I>(io: I) -> SendRequest<Body>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io)).await.expect("HTTP/2 handshake");
    tokio::spawn(connection);
    sender
}

/// An h2c connection: HTTP/2 with prior knowledge, no TLS, no Upgrade.
async fn h2c(addr: SocketAddr) -> SendRequest<Body> {
    http2(tokio::net::TcpStream::connect(addr).await.expect("connect")).await
}

fn post(authority: &str, path: &str, body: Body) -> Request<Body> {
    Request::post(format!("http://{authority}{path}"))
        .header("content-type", "application/vnd.ksql.v1+json")
        .body(body)
        .expect("request")
}

fn full(value: &Value) -> Body {
    Full::new(Bytes::from(value.to_string())).boxed_unsync()
}

/// A request body sent piece by piece: each string sent on the channel is one data frame; dropping
/// the sender ends the body.
fn channel_body() -> (mpsc::Sender<String>, Body) {
    let (sender, receiver) = mpsc::channel::<String>(4);
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let piece = receiver.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(piece))), receiver))
    });
    (sender, StreamBody::new(stream).boxed_unsync())
}

/// The lines of a response body as they arrive.
struct Lines {
    body: Incoming,
    buffer: String,
}

impl Lines {
    fn new(response: Response<Incoming>) -> Lines {
        Lines { body: response.into_body(), buffer: String::new() }
    }

    /// The next non-blank line as JSON; `None` when the body ends.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find('\n') {
                let line: String = self.buffer.drain(..=end).collect();
                if line.trim().is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(line.trim()).expect("a JSON line"));
            }
            let frame = tokio::time::timeout(Duration::from_secs(20), self.body.frame())
                .await
                .expect("the server answers within 20 s")?
                .expect("a frame");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).expect("UTF-8"));
            }
        }
    }

    async fn rest(mut self) -> Vec<Value> {
        let mut lines = Vec::new();
        while let Some(line) = self.next().await {
            lines.push(line);
        }
        lines
    }
}

fn content_type(response: &Response<Incoming>) -> &str {
    response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Runs `text` through `/ksql` over HTTP/1.1 (the same port), asserting success.
fn ksql(server: &TestServer, text: &str) {
    let (status, body) = server.api.post("/ksql", &json!({"ksql": text}));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn push_and_pull_queries_stream_over_h2c_beside_http1() {
    let server = TestServer::start();
    ksql(&server, DDL);
    ksql(&server, "INSERT INTO S (ID, V) VALUES ('a', 1); INSERT INTO S (ID, V) VALUES ('b', 2);");
    let addr = server.server.as_ref().expect("running").addr();
    let authority = format!("localhost:{}", addr.port());
    runtime().block_on(async {
        let mut client = h2c(addr).await;
        // ksqlDB's full property name starts the query at the rows written before it.
        let push = json!({
            "sql": "SELECT ID, V FROM S EMIT CHANGES LIMIT 3;",
            "properties": {"ksql.streams.auto.offset.reset": "earliest"},
        });
        let response = client.send_request(post(&authority, "/query-stream", full(&push))).await.expect("answer");
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), DELIMITED);
        let mut lines = Lines::new(response);
        let metadata = lines.next().await.expect("metadata");
        assert!(metadata["queryId"].as_str().is_some_and(|id| !id.is_empty()), "{metadata}");
        assert_eq!(metadata["columnNames"], json!(["ID", "V"]));
        assert_eq!(lines.next().await, Some(json!(["a", 1])));
        assert_eq!(lines.next().await, Some(json!(["b", 2])));
        // A row written while the query streams arrives on the same HTTP/2 stream; LIMIT 3 ends it.
        let (status, _) = server.api.post("/ksql", &json!({"ksql": "INSERT INTO S (ID, V) VALUES ('c', 3);"}));
        assert_eq!(status, 200);
        assert_eq!(lines.rest().await, vec![json!(["c", 3])]);

        // A pull query on the same connection, as one JSON array when asked for.
        // `/ksql` reads ksqlDB's full property name too: the table starts from the earliest rows.
        let (status, body) = server.api.post(
            "/ksql",
            &json!({
                "ksql": "CREATE TABLE T AS SELECT ID, SUM(V) AS TOTAL FROM S GROUP BY ID;",
                "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"},
            }),
        );
        assert_eq!(status, 200, "{body}");
        let pull = json!({"sql": "SELECT ID, TOTAL FROM T WHERE ID = 'c';"});
        let mut answer = Value::Null;
        for _ in 0..100 {
            let mut request = post(&authority, "/query-stream", full(&pull));
            request.headers_mut().insert("accept", "application/json".parse().expect("header"));
            let response = client.send_request(request).await.expect("answer");
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await.expect("body").to_bytes();
            answer = serde_json::from_slice(&body).expect("JSON");
            if answer.as_array().is_some_and(|items| items.len() == 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(answer, json!([{"columnNames": ["ID", "TOTAL"], "columnTypes": ["STRING", "INTEGER"]}, ["c", 3]]));
    });
}

#[test]
fn inserts_stream_acknowledges_each_row_while_the_request_is_still_open() {
    let server = TestServer::start();
    ksql(&server, DDL);
    let addr = server.server.as_ref().expect("running").addr();
    let authority = format!("localhost:{}", addr.port());
    runtime().block_on(async {
        let mut client = h2c(addr).await;
        let (rows, body) = channel_body();
        rows.send("{\"target\": \"S\"}\n".into()).await.expect("header line");
        let response = client.send_request(post(&authority, "/inserts-stream", body)).await.expect("answer");
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), StatusCode::OK);
        let mut acks = Lines::new(response);
        // Each row's acknowledgement arrives before the next row is sent: the request is still open
        // (its body not ended) throughout. A row split across two frames is one row; a bad row is
        // refused alone.
        rows.send("{\"ID\": \"a\", \"V\": 1}\n".into()).await.expect("row");
        assert_eq!(acks.next().await, Some(json!({"status": "ok", "seq": 0})));
        rows.send("{\"ID\": \"b\", ".into()).await.expect("half a row");
        rows.send("\"V\": 2}\n".into()).await.expect("its other half");
        assert_eq!(acks.next().await, Some(json!({"status": "ok", "seq": 1})));
        rows.send("{\"ID\": \"x\", \"V\": \"not a number\"}\n".into()).await.expect("row");
        let refused = acks.next().await.expect("an acknowledgement");
        assert_eq!((refused["status"].as_str(), refused["seq"].as_u64()), (Some("error"), Some(2)), "{refused}");
        assert!(refused["error_code"].is_u64() && refused["message"].is_string(), "{refused}");
        // The last row needs no newline; ending the body ends the answer.
        rows.send("{\"ID\": \"c\", \"V\": 3}".into()).await.expect("row");
        drop(rows);
        assert_eq!(acks.rest().await, vec![json!({"status": "ok", "seq": 3})]);

        // Exactly the acknowledged rows were written, in order.
        let pull = json!({
            "sql": "SELECT ID, V FROM S EMIT CHANGES LIMIT 3;",
            "properties": {"auto.offset.reset": "earliest"},
        });
        let response = client.send_request(post(&authority, "/query-stream", full(&pull))).await.expect("answer");
        let items = Lines::new(response).rest().await;
        assert_eq!(items[1..], [json!(["a", 1]), json!(["b", 2]), json!(["c", 3])], "{items:?}");

        // A header line that names no target is refused with a status, before any row.
        let response =
            client.send_request(post(&authority, "/inserts-stream", full(&json!({"nope": 1})))).await.expect("answer");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = response.into_body().collect().await.expect("body").to_bytes();
        let error: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(error["error_code"], 40000, "{error}");
    });
}

#[test]
fn http2_requests_are_held_to_the_allowed_host_names_by_their_authority() {
    let server = TestServer::start();
    let addr = server.server.as_ref().expect("running").addr();
    runtime().block_on(async {
        let mut client = h2c(addr).await;
        let info = |authority: &str| {
            Request::get(format!("http://{authority}/info")).body(Empty::new().boxed_unsync()).expect("request")
        };
        // HTTP/2 carries the host in `:authority`, not in a Host header: it is what is checked.
        let response = client.send_request(info("evil.example:80")).await.expect("answer");
        assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
        let body = response.into_body().collect().await.expect("body").to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("evil.example"), "{}", String::from_utf8_lossy(&body));
        let response = client.send_request(info(&format!("127.0.0.1:{}", addr.port()))).await.expect("answer");
        assert_eq!(response.status(), StatusCode::OK);
        // A Host header that disagrees with an allowed authority is refused too.
        let mut request = info(&format!("localhost:{}", addr.port()));
        request.headers_mut().insert("host", "evil.example".parse().expect("header"));
        let response = client.send_request(request).await.expect("answer");
        assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
    });
}

/// A TLS connection to `addr` trusting only `cert`, offering `alpn`; the protocol ALPN agreed on.
async fn tls(
    addr: SocketAddr,
    cert: &Path,
    alpn: &[&[u8]],
) -> (tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Option<Vec<u8>>) {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for der in rustls::pki_types::CertificateDer::pem_file_iter(cert).expect("cert file") {
        roots.add(der.expect("a certificate")).expect("a root");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let stream = connector.connect(name, socket).await.expect("TLS handshake");
    let agreed = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    (stream, agreed)
}

#[test]
fn over_tls_alpn_chooses_http2_and_http1_still_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path());
    let mut config = test_config(&dir.path().join("data"));
    config.tls = Some(weft_server::config::TlsFiles { cert: cert.clone(), key });
    let server = weft_server::BackgroundServer::start(config).expect("server starts");
    let addr = server.addr();
    let authority = format!("localhost:{}", addr.port());
    runtime().block_on(async {
        let (stream, agreed) = tls(addr, &cert, &[b"h2", b"http/1.1"]).await;
        assert_eq!(agreed.as_deref(), Some(&b"h2"[..]));
        let mut client = http2(stream).await;
        let request = |sql: &str| {
            Request::post(format!("https://{authority}/ksql"))
                .header("content-type", "application/json")
                .body(full(&json!({"ksql": sql})))
                .expect("request")
        };
        let response = client.send_request(request(DDL)).await.expect("answer");
        assert_eq!((response.version(), response.status()), (Version::HTTP_2, StatusCode::OK));
        let (rows, body) = channel_body();
        rows.send("{\"target\": \"S\"}\n{\"ID\": \"a\", \"V\": 1}\n".into()).await.expect("rows");
        let mut request = post(&authority, "/inserts-stream", body);
        *request.uri_mut() = format!("https://{authority}/inserts-stream").parse().expect("uri");
        let response = client.send_request(request).await.expect("answer");
        let mut acks = Lines::new(response);
        assert_eq!(acks.next().await, Some(json!({"status": "ok", "seq": 0})));
        drop(rows);
        assert_eq!(acks.rest().await, Vec::<Value>::new());

        // A client offering only HTTP/1.1 gets HTTP/1.1.
        let (mut stream, agreed) = tls(addr, &cert, &[b"http/1.1"]).await;
        assert_eq!(agreed.as_deref(), Some(&b"http/1.1"[..]));
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    });
    server.stop().expect("clean shutdown");
}
