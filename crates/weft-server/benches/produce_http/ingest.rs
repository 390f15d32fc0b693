//! `-- ingest`: issue 14's ingestion comparison, in one run. The same `WEFT_BENCH_EVENTS` (default 1M)
//! JSON events of 200 bytes, keyed, into a 4-partition topic:
//!
//! - (a) Weft on its embedded log, through the REST API (`POST /api/v1/topics/{topic}/records`, batches
//!   of `WEFT_BENCH_BATCH` over `WEFT_BENCH_CONNECTIONS` keep-alive connections, as the topic rows above);
//! - (b) Weft on a Kafka-protocol broker (tansu, started for the run, SQLite store) through the same API;
//! - (c) the same broker directly from librdkafka (`rdkafka`'s `BaseProducer`): the same keys and value
//!   bytes, with the guarantees Weft's producer asks for (`acks=all`, idempotence) and Kafka's
//!   murmur2 partitioner, done when every delivery report is in.
//!
//! Each row checks the topic holds every event afterwards. (b) and (c) need the `kafka` feature:
//! `cargo bench -p weft-server --features kafka --bench produce_http -- ingest`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{drive, env_or, start_server, Connection, Request};
use serde_json::{json, Value};

const TOPIC: &str = "bench.ingest";
const PARTITIONS: u32 = 4;
/// The size of each event's value as JSON text.
const EVENT_BYTES: usize = 200;

/// One row of the comparison.
struct Row {
    what: &'static str,
    per_second: f64,
    cpu_us: Option<f64>,
}

pub fn run(connections: usize, batch: usize) {
    let events = env_or("WEFT_BENCH_EVENTS", 1_000_000).clamp(1, 10_000_000) as usize;
    let batch = batch.min(events);
    let requests = events.div_ceil(batch);
    let bodies: Vec<Arc<[u8]>> =
        (0..requests).map(|r| request_body(r * batch, batch.min(events - r * batch))).collect();
    println!(
        "ingestion: {events} events of {EVENT_BYTES} bytes (JSON, keyed) into {PARTITIONS} partitions; REST: {batch} per \
         request over {connections} connections"
    );
    let mut rows = Vec::new();

    let (server, _dir) = start_server();
    rows.push(over_rest("(a) Weft, embedded log, REST", server.addr(), &bodies, connections, events));
    server.stop().expect("server stops");

    #[cfg(feature = "kafka")]
    kafka::rows(&mut rows, &bodies, connections, events);
    #[cfg(not(feature = "kafka"))]
    println!("  (b) and (c) run on a Kafka broker: build the bench with --features kafka");

    for row in &rows {
        let cpu = row.cpu_us.map_or_else(String::new, |us| format!(", CPU of this process {us:.1} µs/event"));
        println!("  {:<38} {:>9.0} events/s{cpu}", row.what, row.per_second);
    }
    if let [a, b, c] = rows.as_slice() {
        println!(
            "  ratios: (b)/(a) {:.2}, (b)/(c) {:.2}, (a)/(c) {:.2}",
            b.per_second / a.per_second,
            b.per_second / c.per_second,
            a.per_second / c.per_second
        );
    }
}

/// The key and value of event `i`: a value of exactly [`EVENT_BYTES`] bytes of JSON text.
pub fn event(i: usize) -> (String, Value) {
    let key = format!("event-{i:010}");
    let kind = ["page_view", "add_to_cart", "checkout"][i % 3];
    let mut value = json!({
        "event_id": key,
        "user": format!("user-{:06}", i % 100_000),
        "type": kind,
        "page": format!("/products/sku-{:05}", i % 20_000),
        "amount": (i % 997) as f64 * 1.25,
        "ts": 1_765_000_000_000_i64 + i as i64,
        "pad": "",
    });
    let short = EVENT_BYTES.saturating_sub(value.to_string().len());
    value["pad"] = Value::String("x".repeat(short));
    (key, value)
}

/// A produce request's body: events `first..first + n`.
fn request_body(first: usize, n: usize) -> Arc<[u8]> {
    let records: Vec<Value> = (first..first + n)
        .map(|i| {
            let (key, value) = event(i);
            json!({"key": key, "value": value})
        })
        .collect();
    serde_json::to_vec(&records).expect("JSON").into()
}

/// Every body once, spread over the connections, into a topic created first; then checks the count.
fn over_rest(what: &'static str, addr: SocketAddr, bodies: &[Arc<[u8]>], connections: usize, events: usize) -> Row {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    runtime.block_on(async move {
        let mut api = Connection::open(addr).await;
        let topic = json!({"name": TOPIC, "partitions": PARTITIONS}).to_string();
        api.post_json("/api/v1/topics", topic.as_bytes()).await;
        let per_connection = bodies.len().div_ceil(connections);
        let bodies: Arc<[Arc<[u8]>]> = bodies.into();
        let path = format!("/api/v1/topics/{TOPIC}/records");
        let count = bodies.len();
        // Connection c sends bodies c, c + connections, ...: each body exactly once.
        let load = drive(addr, connections, Duration::from_secs(3600), per_connection, move |c, i| {
            let index = (i * connections + c).min(count - 1);
            Request::PostJson(path.clone(), bodies[index].clone())
        })
        .await;
        let sent: usize = load.requests();
        // A new connection: the server closed the first one while it sat idle through the load.
        let mut api = Connection::open(addr).await;
        let (_, description) = api.get(&format!("/api/v1/topics/{TOPIC}")).await;
        let description: Value = serde_json::from_slice(&description).expect("a topic description");
        let stored: u64 = description["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .filter_map(|p| p["latest_offset"].as_u64())
            .sum();
        // The last connections may send the last body again when the bodies do not divide evenly.
        assert!(sent >= count && stored >= events as u64, "{what}: {stored} of {events} events stored");
        let per_event = events as f64 / load.elapsed_s;
        Row { what, per_second: per_event, cpu_us: load.cpu_s.map(|cpu| cpu * 1e6 / events as f64) }
    })
}

#[cfg(feature = "kafka")]
mod kafka {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
    use rdkafka::types::RDKafkaErrorCode;
    use rdkafka::{ClientConfig, ClientContext};
    use weft_kafka::testing::Broker;
    use weft_kafka::{KafkaLog, KafkaOptions};
    use weft_mesh::log::{EventLog, TopicConfig};
    use weft_server::{AuthMode, BackgroundServer, ServerConfig};

    use super::{event, over_rest, Row, PARTITIONS};

    /// (b) and (c), each on a broker of its own (tansu's store starts empty for both).
    pub fn rows(rows: &mut Vec<Row>, bodies: &[Arc<[u8]>], connections: usize, events: usize) {
        let broker = Broker::start();
        let log = KafkaLog::connect(KafkaOptions::new(broker.bootstrap())).expect("connect to the broker");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(dir.path());
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.auth = AuthMode::None;
        config.rate_limit = 0;
        let server = BackgroundServer::start_on(config, log).expect("server on the broker starts");
        rows.push(over_rest("(b) Weft, on the broker (tansu), REST", server.addr(), bodies, connections, events));
        server.stop().expect("server stops");
        drop(broker);

        let broker = Broker::start();
        rows.push(librdkafka(&broker.bootstrap(), events));
    }

    /// Counts failed deliveries (the bench fails on any).
    struct Deliveries {
        failed: AtomicU64,
    }

    impl ClientContext for Deliveries {}

    impl ProducerContext for Deliveries {
        type DeliveryOpaque = ();

        fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
            if result.is_err() {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn librdkafka(bootstrap: &str, events: usize) -> Row {
        let topic = "bench.direct";
        let log = KafkaLog::connect(KafkaOptions::new(bootstrap)).expect("connect to the broker");
        log.create_topic(topic, TopicConfig { partitions: PARTITIONS, ..TopicConfig::default() }).expect("topic");
        // Serialised before the clock starts, as Weft's rows get their bodies ready-made.
        let records: Vec<(String, Vec<u8>)> = (0..events)
            .map(|i| {
                let (key, value) = event(i);
                (key, serde_json::to_vec(&value).expect("JSON"))
            })
            .collect();
        let producer: BaseProducer<Deliveries> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .create_with_context(Deliveries { failed: AtomicU64::new(0) })
            .expect("a producer");
        let cpu_before = crate::common::process_cpu_seconds();
        let started = Instant::now();
        for (key, value) in &records {
            let mut record = BaseRecord::to(topic).key(key.as_str()).payload(value.as_slice());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((error, back)) if error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                        producer.poll(Duration::from_millis(10));
                        record = back;
                    }
                    Err((error, _)) => panic!("producing to the broker: {error}"),
                }
            }
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(600)).expect("every record delivered");
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = crate::common::process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
        assert_eq!(producer.context().failed.load(Ordering::Relaxed), 0, "deliveries failed");
        let stored: u64 = (0..PARTITIONS).map(|p| log.offsets(topic, p).expect("offsets").1).sum();
        assert_eq!(stored, events as u64, "(c): {stored} of {events} events stored");
        log.shutdown().expect("log closes");
        Row {
            what: "(c) librdkafka alone, to the broker",
            per_second: events as f64 / elapsed,
            cpu_us: cpu.map(|cpu| cpu * 1e6 / events as f64),
        }
    }
}
