//! Hostile inputs through the real HTTP server: each is answered with an error naming the limit it
//! broke, memory stays bounded, and `/health` answers throughout.
//!
//! The server runs in this process (as in the other tests), so a stack overflow would abort the
//! test and memory is this process's: peak RSS (`VmHWM`) is reset before each YAML case
//! (`/proc/self/clear_refs`) and read after it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Api, TestServer};
use serde_json::{json, Value};
use weft_mesh::weft_sql::parser::MAX_EXPR_DEPTH;

const KSQL: &str = "application/vnd.ksql.v1+json";

/// Polls `/health` from its own connection until dropped, counting failures and the slowest answer.
struct HealthWatch {
    stop: Arc<AtomicBool>,
    failures: Arc<AtomicU64>,
    answers: Arc<AtomicU64>,
    slowest_ms: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HealthWatch {
    fn start(base: &str) -> HealthWatch {
        let (stop, failures, answers, slowest_ms) = Default::default();
        let (s, f, a, m): (Arc<AtomicBool>, Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>) =
            (Arc::clone(&stop), Arc::clone(&failures), Arc::clone(&answers), Arc::clone(&slowest_ms));
        let api = Api::new(base);
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let start = Instant::now();
                let reply = api.send("GET", "/health", &[], None);
                if reply.status == 200 {
                    a.fetch_add(1, Ordering::Relaxed);
                } else {
                    f.fetch_add(1, Ordering::Relaxed);
                }
                m.fetch_max(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        HealthWatch { stop, failures, answers, slowest_ms, thread: Some(thread) }
    }

    /// Stops polling and checks that every poll was answered, within a second.
    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the health poller ends");
        }
        assert_eq!(self.failures.load(Ordering::Relaxed), 0, "/health failed while bad input was handled");
        assert!(self.answers.load(Ordering::Relaxed) > 0, "/health never answered");
        let slowest = self.slowest_ms.load(Ordering::Relaxed);
        assert!(slowest < 1000, "/health took {slowest} ms");
        eprintln!("/health: {} answers, slowest {slowest} ms", self.answers.load(Ordering::Relaxed));
    }
}

fn health_ok(api: &Api) {
    let reply = api.send("GET", "/health", &[], None);
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn ksql(api: &Api, text: &str) -> (u16, Value) {
    let body = json!({"ksql": text, "streamsProperties": {}}).to_string();
    let reply = api.send("POST", "/ksql", &[("content-type", KSQL), ("accept", KSQL)], Some(body.as_bytes()));
    let value = serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()));
    (reply.status, value)
}

/// The SQL texts of the issue (about 2 KB each, and far longer), with what their error must say.
fn deep_sql() -> Vec<(String, &'static str)> {
    let chain = |term: &str, op: &str, n: usize| vec![term; n].join(op);
    let too_deep = "nests deeper than 512 levels";
    vec![
        (format!("SELECT {} AS X FROM S;", chain("1", "+", 1030)), too_deep),
        (format!("SELECT * FROM S WHERE {};", chain("A=1", " OR ", 1030)), too_deep),
        (format!("SELECT B{} AS X FROM S;", "->F".repeat(1030)), too_deep),
        (format!("SELECT {}A FROM S;", "NOT ".repeat(1030)), too_deep),
        (format!("SELECT {}1{} FROM S;", "ABS(".repeat(1030), ")".repeat(1030)), "nested more than 64 levels"),
        (format!("SELECT {} AS X FROM S;", chain("1", "+", 50_000)), too_deep),
    ]
}

#[test]
fn deep_sql_is_refused_on_ksql_and_validate() {
    assert_eq!(MAX_EXPR_DEPTH, 512, "the messages below name the limit");
    let server = TestServer::start();
    let api = &server.api;
    let (status, body) = ksql(
        api,
        "CREATE STREAM S (K STRING KEY, A INT, B STRUCT<F INT>) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
    );
    assert_eq!(status, 200, "{body}");
    let health = HealthWatch::start(&api.base);
    for (text, expected) in deep_sql() {
        let (status, body) = ksql(api, &text);
        assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected) && message.starts_with("line 1:"), "{message}");

        // The editor's validation answers 200 with the problem located (its contract for syntax
        // errors), rather than an HTTP error.
        let (status, body) = api.post("/api/v1/sql/validate", &json!({"sql": text}));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["valid"], false, "{body}");
        let problem = &body["errors"][0];
        assert!(problem["message"].as_str().unwrap_or_default().contains(expected), "{problem}");
        assert_eq!(problem["line"], 1, "{problem}");
        assert!(problem["column"].as_u64().unwrap_or_default() > 1, "{problem}");
        health_ok(api);
    }
    // At the limit the statement works, through both endpoints.
    let fits = format!("SELECT {} AS X FROM S EMIT CHANGES;", vec!["A"; MAX_EXPR_DEPTH].join(" + "));
    let (status, body) = api.post("/api/v1/sql/validate", &json!({"sql": fits}));
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");
    let (status, body) =
        ksql(api, &format!("CREATE STREAM T AS {}", fits.replace("SELECT", "SELECT K,").replace(" EMIT CHANGES", "")));
    assert_eq!(status, 200, "{body}");
    health.finish();
    health_ok(api);
}

/// Peak RSS of this process since the last reset, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn current_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Resets the peak RSS to the current RSS (Linux: "5" to clear_refs).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

fn laughs(levels: usize, width: usize) -> String {
    let mut yaml = String::from("apiVersion: v1.0.0\nkind: DataProduct\nid: orders.bomb\n");
    yaml.push_str(&format!("l0: &l0 [{}]\n", vec!["\"lol\""; width].join(", ")));
    for level in 1..levels {
        let prev = format!("*l{}", level - 1);
        yaml.push_str(&format!("l{level}: &l{level} [{}]\n", vec![prev.as_str(); width].join(", ")));
    }
    yaml
}

#[test]
fn hostile_yaml_is_refused_with_bounded_memory() {
    let server = TestServer::start();
    let api = &server.api;
    let head = "apiVersion: v1.0.0\nkind: DataProduct\nid: orders.deep\n";
    let wide_anchors = format!(
        "{head}x: &x [{}]\n{}",
        vec!["\"lol\""; 500].join(", "),
        (0..1000).map(|i| format!("y{i}: [*x, *x, *x, *x, *x, *x, *x, *x]\n")).collect::<String>()
    );
    let cases = [
        ("billion laughs", laughs(4, 300), "more than 200000 nodes"),
        ("wide anchors", wide_anchors, "more than 200000 nodes"),
        (
            "long scalar repeated",
            format!("{head}t: &t \"{}\"\nc: [{}]\n", "x".repeat(200_000), vec!["*t"; 60].join(", ")),
            "bytes of text",
        ),
        (
            "200 KB of [",
            format!("{head}x: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            "nest deeper than 32 levels",
        ),
        ("200 KB of - ", format!("{head}x:\n{}1\n", "- ".repeat(100_000)), "nest deeper than 32 levels"),
    ];
    let health = HealthWatch::start(&api.base);
    let yaml = [("content-type", "application/yaml")];
    let mut worst_kib = 0;
    for (name, document, expected) in cases {
        assert!(document.len() <= 256 * 1024, "{name} fits the body limit");
        reset_peak_rss();
        let before = current_rss_kib();
        let start = Instant::now();
        let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(document.as_bytes()));
        let elapsed = start.elapsed();
        let grew = peak_rss_kib().saturating_sub(before);
        worst_kib = worst_kib.max(grew);
        eprintln!("{name}: {} bytes, {} in {elapsed:?}, peak RSS +{grew} KiB", document.len(), reply.status);
        assert_eq!(reply.code(), (422, Some(42206)), "{name}: {}", reply.text());
        let message = reply.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains(expected) && message.contains("line "), "{name}: {message}");
        assert!(elapsed < Duration::from_secs(5), "{name} took {elapsed:?}");
        health_ok(api);
    }
    // The largest expansion the bounds let through is parsed in full, then refused for its kind:
    // what any document can cost.
    let largest = format!(
        "apiVersion: v1.0.0\nkind: NotAProduct\nid: orders.big\nstatus: draft\nx: &x [{}]\ny: [{}]\n",
        vec!["\"0123456789012345678901234567890123456789\""; 1000].join(", "),
        vec!["*x"; 190].join(", ")
    );
    reset_peak_rss();
    let before = current_rss_kib();
    let reply = api.send("POST", "/api/v1/products:apply", &yaml, Some(largest.as_bytes()));
    let grew = peak_rss_kib().saturating_sub(before);
    eprintln!("largest accepted expansion: {} bytes, peak RSS +{grew} KiB", largest.len());
    assert_eq!(reply.code(), (422, Some(42206)), "{}", reply.text());
    assert!(
        reply.text().contains("line 2: kind: \\\"NotAProduct\\\" is not one of the allowed values"),
        "{}",
        reply.text()
    );
    worst_kib = worst_kib.max(grew);
    // Before, one 8 KB document took the process past 3 GB.
    assert!(worst_kib < 256 * 1024, "peak RSS grew by {worst_kib} KiB");
    health.finish();
    health_ok(api);
    // Nothing was recorded.
    assert_eq!(api.get("/api/v1/products/orders.bomb").0, 404);
}

#[test]
fn deep_json_bodies_are_refused() {
    let server = TestServer::start();
    let api = &server.api;
    let health = HealthWatch::start(&api.base);
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(40_000), "}".repeat(40_000));
    for body in [deep_array, deep_object] {
        for path in ["/api/v1/topics", "/api/v1/sql/validate", "/api/v1/domains"] {
            let (status, error) = api.post_raw(path, body.as_bytes());
            assert!((400..500).contains(&status), "{path}: {status} {error}");
        }
        let reply = api.send("POST", "/ksql", &[("content-type", KSQL)], Some(body.as_bytes()));
        assert!((400..500).contains(&reply.status), "/ksql: {} {}", reply.status, reply.text());
        health_ok(api);
    }
    health.finish();
}

/// A pull query's answer is capped (`max_pull_rows`): past the cap it fails naming the setting, instead
/// of the server building an answer of any size in memory; LIMIT and WHERE keep it under the cap.
#[test]
fn pull_query_answers_are_capped() {
    let server = TestServer::start_with(|config| config.max_pull_rows = 50);
    let api = &server.api;
    api.create_topic("many", 2);
    let records: Vec<Value> = (0..120).map(|i| json!({"key": format!("k{i}"), "value": {"N": i}})).collect();
    api.produce("many", Value::Array(records));
    let ksql = |text: &str| -> (u16, Value) {
        let body = json!({"ksql": text, "streamsProperties": {"auto.offset.reset": "earliest"}}).to_string();
        let reply = api.send("POST", "/ksql", &[("content-type", KSQL)], Some(body.as_bytes()));
        (reply.status, serde_json::from_slice(&reply.body).expect("JSON"))
    };
    let (status, body) = ksql(
        "CREATE STREAM MANY (K STRING KEY, N INT) WITH (KAFKA_TOPIC='many', VALUE_FORMAT='JSON');
         CREATE TABLE LATEST (K STRING PRIMARY KEY, N INT) WITH (KAFKA_TOPIC='many', VALUE_FORMAT='JSON');",
    );
    assert_eq!(status, 200, "{body}");
    for query in ["SELECT * FROM MANY;", "SELECT * FROM LATEST;"] {
        let (status, body) = ksql(query);
        assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{query}: {body}");
        assert!(body["message"].as_str().unwrap_or_default().contains("max_pull_rows"), "{query}: {body}");
    }
    let (status, body) = ksql("SELECT * FROM MANY LIMIT 10;");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["rows"].as_array().map(Vec::len), Some(10));
    let (status, body) = ksql("SELECT * FROM LATEST WHERE N < 30;");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["rows"].as_array().map(Vec::len), Some(30));
}

/// A pull query's answer is capped in bytes too (`max_pull_bytes`): a few wide rows fail naming the
/// setting, and the same rows with fewer columns answer.
#[test]
fn pull_query_answers_are_capped_in_bytes() {
    let server = TestServer::start_with(|config| config.max_pull_bytes = 8_192);
    let api = &server.api;
    api.create_topic("wide", 1);
    let text = "x".repeat(1_000);
    let records: Vec<Value> =
        (0..20).map(|i| json!({"key": format!("k{i}"), "value": {"N": i, "TEXT": text}})).collect();
    api.produce("wide", Value::Array(records));
    let ksql = |text: &str| -> (u16, Value) {
        let body = json!({"ksql": text, "streamsProperties": {"auto.offset.reset": "earliest"}}).to_string();
        let reply = api.send("POST", "/ksql", &[("content-type", KSQL)], Some(body.as_bytes()));
        (reply.status, serde_json::from_slice(&reply.body).expect("JSON"))
    };
    let (status, body) =
        ksql("CREATE STREAM WIDE (K STRING KEY, N INT, TEXT STRING) WITH (KAFKA_TOPIC='wide', VALUE_FORMAT='JSON');");
    assert_eq!(status, 200, "{body}");
    let (status, body) = ksql("SELECT * FROM WIDE;");
    assert_eq!((status, body["error_code"].as_u64()), (400, Some(40001)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("max_pull_bytes"), "{body}");
    let (status, body) = ksql("SELECT K, N FROM WIDE;");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["rows"].as_array().map(Vec::len), Some(20));
    health_ok(api);
}

/// Registers `schema` under `subject` through Confluent's API, returning status and body.
fn register(api: &Api, subject: &str, schema: &Value) -> (u16, Value) {
    let body = json!({"schema": schema.to_string()}).to_string();
    let reply = api.send(
        "POST",
        &format!("/registry/subjects/{subject}/versions"),
        &[("content-type", "application/vnd.schemaregistry.v1+json")],
        Some(body.as_bytes()),
    );
    (reply.status, serde_json::from_slice(&reply.body).expect("JSON"))
}

/// Hostile schemas through the registry's HTTP API: linear in size, bounded in depth, defaults checked
/// as the Avro specification says; the server stays up.
#[test]
fn hostile_schemas_are_answered_quickly_and_precisely() {
    let server = TestServer::start_with(|config| config.max_body_bytes = 8 * 1024 * 1024);
    let api = &server.api;
    let watch = HealthWatch::start(&api.base);

    // 100,000 enum symbols (7.8 s before symbols were checked by hash): registered, in well under a second.
    let symbols: Vec<String> = (0..100_000).map(|i| format!("S{i}")).collect();
    let started = Instant::now();
    let (status, body) = register(api, "wide-value", &json!({"type": "enum", "name": "Wide", "symbols": symbols}));
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());

    // A union's default must match its first branch (Avro spec: "Unions").
    let bad_default = json!({"type": "record", "name": "R", "fields": [
        {"name": "n", "type": ["null", "int"], "default": 5}]});
    let (status, body) = register(api, "defaults-value", &bad_default);
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains('n'), "names the field: {body}");

    // Nesting past the bound is refused naming it, whatever the format. (The schemas are built as text:
    // a 10,000-deep serde_json::Value would overflow this test's own stack when dropped.)
    let deep = format!("{}\"int\"{}", "{\"type\":\"array\",\"items\":".repeat(10_000), "}".repeat(10_000));
    let body = json!({"schema": deep}).to_string();
    let reply = api.send(
        "POST",
        "/registry/subjects/deep-value/versions",
        &[("content-type", "application/vnd.schemaregistry.v1+json")],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 422, "{}", reply.text().chars().take(300).collect::<String>());
    assert!(reply.text().contains("limit"), "names the limit: {}", reply.text().chars().take(300).collect::<String>());
    let deep_json = format!(
        "{}{{\"type\":\"string\"}}{}",
        "{\"type\":\"object\",\"properties\":{\"x\":".repeat(10_000),
        "}}".repeat(10_000)
    );
    let body = json!({"schemaType": "JSON", "schema": deep_json}).to_string();
    let reply = api.send(
        "POST",
        "/registry/subjects/deep-json-value/versions",
        &[("content-type", "application/vnd.schemaregistry.v1+json")],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 422, "{}", reply.text().chars().take(300).collect::<String>());
    watch.finish();
    health_ok(api);
}

/// A topic that published products serve cannot be deleted (as SQL's DROP of its source cannot):
/// the catalog would still say published while every read failed.
#[test]
fn a_topic_serving_a_published_product_cannot_be_deleted() {
    let server = TestServer::start();
    let api = &server.api;
    let domain = json!({"name": "shop", "description": "Shop", "owningTeam": "t",
                        "members": [{"user": "alice", "role": "owner"}]});
    assert_eq!(api.post("/api/v1/domains", &domain).0, 201);
    api.create_topic("shop.orders", 1);
    let (status, body) = register(
        api,
        "shop.orders-value",
        &json!({"type": "record", "name": "O", "fields": [
        {"name": "id", "type": "string"}]}),
    );
    assert_eq!(status, 200, "{body}");
    let spec = json!({"id": "shop.orders", "name": "Orders", "owner": "alice", "description": "Orders.",
        "qualityTier": "curated", "outputPorts": [{"name": "events", "version": "1.0.0", "topic": "shop.orders",
        "schemaSubject": "shop.orders-value", "format": "avro"}]});
    assert_eq!(api.post("/api/v1/products", &spec).0, 201);
    // A draft's topic may go.
    assert_eq!(api.post("/api/v1/products/shop.orders/publish", &json!({})).0, 200);
    let (status, body) = api.delete("/api/v1/topics/shop.orders");
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40903)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("shop.orders"), "{body}");
    assert_eq!(api.get("/api/v1/topics/shop.orders").0, 200, "the topic is still there");
}
