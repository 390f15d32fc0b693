//! Producing over real HTTP: `POST /api/v1/topics/{topic}/records` with batches of JSON records, the way a
//! service without a Kafka client writes to Weft. Five topics show what the one write path costs per
//! record: a bare topic (records stored as sent, no product: nothing profiled), the same behind a JSON
//! port without a schema (stored as sent, and taken into the product's live profile: the difference
//! between the two is the profile's cost), a topic behind a JSON Schema port (each value checked against
//! the port's schema, and profiled), a topic behind an Avro port (each value checked and encoded as
//! Confluent-framed Avro), and the same Avro port with a data contract of ten rules attached (issue 12's
//! goal: within 1.5x of the same ingestion without a contract, i.e. the Avro port).
//!
//! The server runs in-process on 127.0.0.1:0 (its usual 2-worker runtime, group-commit fsync, a temporary
//! data directory); a minimal HTTP/1.1 client on one thread sends `WEFT_BENCH_BATCH` (default 1000) records
//! of about 200 bytes per request over `WEFT_BENCH_CONNECTIONS` (default 4) keep-alive connections for
//! `WEFT_BENCH_SECONDS` (default 5) per topic, and reports records/s, request latency percentiles, and the
//! CPU time of the process per record (server and client together; on a busy machine the one to compare).
//! Loopback only; bounded in time and in requests.
//!
//! `cargo bench -p weft-server --bench produce_http`
//!
//! `-- ingest` runs issue 14's ingestion comparison instead (see `produce_http/ingest.rs`): the same 1M
//! events into Weft's embedded log and into Weft on a Kafka broker through this API, and into the
//! broker from librdkafka alone (`--features kafka` for the broker rows); its first row can also
//! target the `weft` binary (`WEFT_BENCH_SERVE`, `WEFT_BENCH_URL`).
//!
//! This bench runs on glibc's malloc; `produce_http_mimalloc` is the same on mimalloc, the `weft`
//! binary's allocator, so the two compare in one sitting.

mod common;
#[path = "produce_http/ingest.rs"]
mod ingest;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{drive, env_or, start_server, Connection, Request};
use serde_json::json;

/// A hard bound on requests per connection, whatever the duration.
const MAX_REQUESTS_PER_CONNECTION: usize = 100_000;
const PARTITIONS: u32 = 4;

const ORDER_AVRO: &str = r#"{"type":"record","name":"Order","namespace":"bench","fields":[
    {"name":"order_id","type":"string"},
    {"name":"customer","type":"string"},
    {"name":"amount","type":"double"},
    {"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD","GBP"]}},
    {"name":"channel","type":"string"},
    {"name":"coupon","type":["null","string"],"default":null},
    {"name":"lines","type":{"type":"array","items":"long"}}]}"#;

const ORDER_JSON_SCHEMA: &str = r#"{"type":"object","required":["order_id","customer","amount","currency"],
    "properties":{"order_id":{"type":"string","minLength":1},"customer":{"type":"string"},
    "amount":{"type":"number","minimum":0},"currency":{"enum":["EUR","USD","GBP"]},
    "channel":{"type":"string"},"coupon":{"type":["string","null"]},
    "lines":{"type":"array","items":{"type":"integer"}}}}"#;

pub fn main() {
    let connections = env_or("WEFT_BENCH_CONNECTIONS", 4).clamp(1, 256) as usize;
    let seconds = env_or("WEFT_BENCH_SECONDS", 5).clamp(1, 120);
    let batch = env_or("WEFT_BENCH_BATCH", 1000).clamp(1, 10_000) as usize;
    if std::env::args().skip(1).any(|arg| arg == "ingest") {
        ingest::run(connections, batch);
        return;
    }
    let (server, _dir) = start_server();
    let addr = server.addr();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    runtime.block_on(async move {
        set_up(addr).await;
        let body = batch_body(batch);
        println!(
            "POST /api/v1/topics/{{topic}}/records: {batch} records of ~{} bytes per request, {connections} connections, {PARTITIONS} partitions",
            body.len() / batch
        );
        for (topic, what) in [
            ("bench.bare", "bare topic"),
            ("bench.profiled", "JSON port, profiled"),
            ("bench.json", "JSON Schema port"),
            ("bench.avro", "Avro port"),
            ("bench.checked", "Avro + contract"),
        ] {
            run(addr, topic, what, &body, batch, connections, Duration::from_secs(seconds)).await;
        }
    });
    server.stop().expect("server stops");
}

async fn run(
    addr: SocketAddr,
    topic: &'static str,
    what: &str,
    body: &[u8],
    batch: usize,
    connections: usize,
    duration: Duration,
) {
    let path = format!("/api/v1/topics/{topic}/records");
    // Warm up: a few requests, so the first measured ones do not open segment files.
    let mut warm = Connection::open(addr).await;
    for _ in 0..3 {
        warm.post_json(&path, body).await;
    }
    let body: Arc<[u8]> = body.into();
    let load = drive(addr, connections, duration, MAX_REQUESTS_PER_CONNECTION, move |_, _| {
        Request::PostJson(path.clone(), body.clone())
    })
    .await;
    let ms = |p: f64| load.percentile_us(p) as f64 / 1000.0;
    let cpu = load.cpu_us_per(batch).map_or_else(String::new, |us| format!(", CPU {us:.1} µs/record"));
    println!(
        "  {what:<19} {:>9.0} records/s ({} requests in {:.2} s), request p50 {:.1} ms, p99 {:.1} ms{cpu}",
        load.per_second(batch),
        load.requests(),
        load.elapsed_s,
        ms(0.50),
        ms(0.99),
    );
}

/// One request body: `batch` orders, each keyed by its id, each a little over 200 bytes of JSON.
fn batch_body(batch: usize) -> Vec<u8> {
    let records: Vec<_> = (0..batch)
        .map(|i| {
            let order_id = format!("order-{i:08}");
            let currency = ["EUR", "USD", "GBP"][i % 3];
            json!({
                "key": order_id,
                "value": {
                    "order_id": order_id,
                    "customer": format!("customer-{:05}", i % 5000),
                    "amount": (i % 997) as f64 * 1.25,
                    "currency": currency,
                    "channel": if i % 2 == 0 { "web" } else { "store" },
                    "coupon": if i % 5 == 0 { json!("SPRING") } else { json!(null) },
                    "lines": [i % 7, i % 11, i % 13, 4, 5, 6, 7, 8, 9, 10],
                },
            })
        })
        .collect();
    serde_json::to_vec(&records).expect("JSON")
}

/// Four topics; a domain with a product whose ports declare the schemaless JSON, the JSON Schema and the
/// Avro topics.
async fn set_up(addr: SocketAddr) {
    let mut api = Connection::open(addr).await;
    for topic in ["bench.bare", "bench.profiled", "bench.json", "bench.avro", "bench.checked"] {
        api.post_json("/api/v1/topics", json!({"name": topic, "partitions": PARTITIONS}).to_string().as_bytes()).await;
    }
    let register = |schema: &str, kind: &str| {
        let mut body = json!({ "schema": schema });
        if kind != "AVRO" {
            body["schemaType"] = json!(kind);
        }
        body.to_string()
    };
    api.post("/registry/subjects/bench.json-value/versions", &register(ORDER_JSON_SCHEMA, "JSON")).await;
    api.post("/registry/subjects/bench.avro-value/versions", &register(ORDER_AVRO, "AVRO")).await;
    api.post("/registry/subjects/bench.checked-value/versions", &register(ORDER_AVRO, "AVRO")).await;
    let domain = json!({"name": "bench", "description": "Benchmarks", "owningTeam": "team-bench",
                        "members": [{"user": "alice", "role": "owner"}]});
    api.post_json("/api/v1/domains", domain.to_string().as_bytes()).await;
    let product = json!({
        "id": "bench.orders", "name": "Orders", "owner": "alice", "description": "Orders.", "qualityTier": "curated",
        "outputPorts": [
            {"name": "json", "version": "1.0.0", "topic": "bench.json", "schemaSubject": "bench.json-value", "format": "json"},
            {"name": "avro", "version": "1.0.0", "topic": "bench.avro", "schemaSubject": "bench.avro-value", "format": "avro"},
            // No schema registered: records are stored as sent, as on the bare topic.
            {"name": "plain", "version": "1.0.0", "topic": "bench.profiled", "schemaSubject": "bench.profiled-value", "format": "json"},
        ],
    });
    api.post_json("/api/v1/products", product.to_string().as_bytes()).await;
    let checked = json!({
        "id": "bench.checked", "name": "Checked orders", "owner": "alice", "description": "Orders under a contract.",
        "outputPorts": [{"name": "avro", "version": "1.0.0", "topic": "bench.checked", "schemaSubject": "bench.checked-value", "format": "avro"}],
    });
    api.post_json("/api/v1/products", checked.to_string().as_bytes()).await;
    api.send("POST", "/api/v1/contracts", "application/yaml", CONTRACT.as_bytes()).await;
    let attach = json!({"id": "bench-orders"}).to_string();
    api.send("PUT", "/api/v1/products/bench.checked/contract", "application/json", attach.as_bytes()).await;
}

/// Ten rules every record of the bench passes: required fields, a pattern, bounds, allowed values, an
/// array size and a SQL condition.
const CONTRACT: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: bench-orders
version: 1.0.0
status: active
schema:
  - name: orders
    properties:
      - name: order_id
        logicalType: string
        required: true
        logicalTypeOptions:
          pattern: "^order-[0-9]{8}$"
      - name: customer
        logicalType: string
        required: true
        logicalTypeOptions:
          maxLength: 32
      - name: amount
        logicalType: number
        required: true
        logicalTypeOptions:
          minimum: 0
          maximum: 100000
      - name: currency
        logicalType: string
        quality:
          - id: known_currency
            metric: invalidValues
            arguments:
              validValues: [EUR, USD, GBP]
            mustBe: 0
      - name: lines
        logicalType: array
        logicalTypeOptions:
          minItems: 1
    quality:
      - id: large_orders_in_euros
        type: custom
        engine: weft
        implementation: "amount < 2000 OR currency = 'EUR'"
"#;
