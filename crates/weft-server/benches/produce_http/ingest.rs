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
//!
//! Row (a) measures the server in this process, on this bench's allocator (glibc malloc here, mimalloc
//! in `produce_http_mimalloc`, the `weft` binary's). What users run is the `weft` binary, so (a) can
//! also target it, with the same client and requests:
//!
//! - `WEFT_BENCH_SERVE=path/to/weft`: the bench starts `weft serve` on a free loopback port with a
//!   temporary data directory, `--auth none --rate-limit 0 --fsync 1` (the in-process server's
//!   settings; `WEFT_BENCH_SERVE_ARGS`, whitespace-separated, replaces those three), and stops it
//!   after the row. The CPU figure then counts the server process's CPU and this one's (the client).
//! - `WEFT_BENCH_URL=http://127.0.0.1:PORT`: a server already running (on the loopback, without
//!   authentication); `WEFT_BENCH_SERVER_PID` adds that process's CPU to the figure.
//!
//! Against another process the topic is `bench.ingest-<epoch ms>`, created through the API as in
//! process, so that a server reused between runs starts each row on an empty topic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::common::{drive, env_or, start_server, usage_of, Connection, Request, Usage};
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
    /// Whose CPU `cpu_us` counts.
    cpu_of: &'static str,
    /// Minor page faults per REST request (the server's and the client's): fresh memory touched.
    faults_per_request: Option<f64>,
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

    match external::Server::from_env() {
        Some(server) => {
            let what = if server.spawned() {
                "(a) `weft serve`, embedded log, REST"
            } else {
                "(a) Weft at WEFT_BENCH_URL, REST"
            };
            let topic = format!("{TOPIC}-{}", std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_millis()));
            let pid = server.pid();
            rows.push(over_rest(what, server.addr(), &topic, pid, &bodies, connections, events));
        }
        None => {
            let (server, _dir) = start_server();
            rows.push(over_rest(
                "(a) Weft, embedded log, REST",
                server.addr(),
                TOPIC,
                None,
                &bodies,
                connections,
                events,
            ));
            server.stop().expect("server stops");
        }
    }

    #[cfg(feature = "kafka")]
    kafka::rows(&mut rows, &bodies, connections, events);
    #[cfg(not(feature = "kafka"))]
    println!("  (b) and (c) run on a Kafka broker: build the bench with --features kafka");

    for row in &rows {
        let cpu = row.cpu_us.map_or_else(String::new, |us| format!(", CPU of {} {us:.2} µs/event", row.cpu_of));
        let faults = row.faults_per_request.map_or_else(String::new, |f| format!(", {f:.1} page faults/request"));
        println!("  {:<38} {:>9.0} events/s{cpu}{faults}", row.what, row.per_second);
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

/// Every body once, spread over the connections, into `topic` created first; then checks the count.
/// The CPU figure is this process's, plus that of `server_pid` when the server runs in another.
fn over_rest(
    what: &'static str,
    addr: SocketAddr,
    topic: &str,
    server_pid: Option<u32>,
    bodies: &[Arc<[u8]>],
    connections: usize,
    events: usize,
) -> Row {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    runtime.block_on(async move {
        let mut api = Connection::open(addr).await;
        let create = json!({"name": topic, "partitions": PARTITIONS}).to_string();
        api.post_json("/api/v1/topics", create.as_bytes()).await;
        let per_connection = bodies.len().div_ceil(connections);
        let bodies: Arc<[Arc<[u8]>]> = bodies.into();
        let path = format!("/api/v1/topics/{topic}/records");
        let count = bodies.len();
        // This process (the client, and the server when it runs here) and the server's process.
        let usage = || {
            let own = usage_of("/proc/self/stat")?;
            let Some(pid) = server_pid else { return Some(own) };
            let server = usage_of(&format!("/proc/{pid}/stat"))?;
            Some(Usage { cpu_s: own.cpu_s + server.cpu_s, minor_faults: own.minor_faults + server.minor_faults })
        };
        let before = usage();
        // Connection c sends bodies c, c + connections, ...: each body exactly once.
        let load = drive(addr, connections, Duration::from_secs(3600), per_connection, move |c, i| {
            let index = (i * connections + c).min(count - 1);
            Request::PostJson(path.clone(), bodies[index].clone())
        })
        .await;
        let used = usage().zip(before).map(|(after, before)| after.since(before));
        let sent: usize = load.requests();
        // A new connection: the server closed the first one while it sat idle through the load.
        let mut api = Connection::open(addr).await;
        let (_, description) = api.get(&format!("/api/v1/topics/{topic}")).await;
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
        Row {
            what,
            per_second: per_event,
            cpu_us: used.map(|used| used.cpu_s * 1e6 / events as f64),
            cpu_of: if server_pid.is_some() { "the server and this process" } else { "this process" },
            faults_per_request: used.map(|used| used.minor_faults as f64 / sent as f64),
        }
    })
}

/// Row (a) against a server in another process: the `weft` binary started for the row, or one
/// already running.
mod external {
    use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// How long `weft serve` may take to answer its first connection.
    const START_TIMEOUT: Duration = Duration::from_secs(60);

    pub struct Server {
        addr: SocketAddr,
        pid: Option<u32>,
        /// The `weft serve` this bench started, and its data directory.
        child: Option<(Child, tempfile::TempDir)>,
    }

    impl Server {
        /// The server `WEFT_BENCH_SERVE` or `WEFT_BENCH_URL` names, started or reached; `None` when
        /// neither is set.
        pub fn from_env() -> Option<Server> {
            if let Some(binary) = std::env::var_os("WEFT_BENCH_SERVE") {
                return Some(Server::spawn(binary));
            }
            let url = std::env::var("WEFT_BENCH_URL").ok()?;
            let authority = url.strip_prefix("http://").unwrap_or_else(|| {
                panic!("WEFT_BENCH_URL={url}: the bench speaks plain HTTP/1.1, give http://HOST:PORT")
            });
            let addr = authority
                .trim_end_matches('/')
                .to_socket_addrs()
                .ok()
                .and_then(|mut addrs| addrs.next())
                .unwrap_or_else(|| panic!("WEFT_BENCH_URL={url}: not HOST:PORT"));
            let pid = std::env::var("WEFT_BENCH_SERVER_PID")
                .ok()
                .map(|pid| pid.parse().unwrap_or_else(|_| panic!("WEFT_BENCH_SERVER_PID={pid}: not a process id")));
            Some(Server { addr, pid, child: None })
        }

        fn spawn(binary: std::ffi::OsString) -> Server {
            // A free port: the OS picks one, which the server then binds (nothing else here binds ports).
            let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
            let dir = tempfile::tempdir().expect("temp dir");
            let settings = std::env::var("WEFT_BENCH_SERVE_ARGS")
                .unwrap_or_else(|_| "--auth none --rate-limit 0 --fsync 1".to_string());
            let child = Command::new(&binary)
                .arg("serve")
                .arg("--data-dir")
                .arg(dir.path())
                .arg("--listen")
                .arg(addr.to_string())
                .args(settings.split_whitespace())
                .env("WEFT_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.to_string_lossy()));
            let pid = child.id();
            let mut server = Server { addr, pid: Some(pid), child: Some((child, dir)) };
            let started = Instant::now();
            while TcpStream::connect(addr).is_err() {
                if let Some((child, _)) = &mut server.child {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("`weft serve` exited before it listened: {status}");
                    }
                }
                assert!(started.elapsed() < START_TIMEOUT, "`weft serve` did not listen on {addr}");
                std::thread::sleep(Duration::from_millis(50));
            }
            println!("  `{} serve` (pid {pid}) on {addr}, {settings}", binary.to_string_lossy());
            server
        }

        pub fn addr(&self) -> SocketAddr {
            self.addr
        }

        pub fn pid(&self) -> Option<u32> {
            self.pid
        }

        pub fn spawned(&self) -> bool {
            self.child.is_some()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            // Only the process this bench started, by its handle.
            if let Some((child, _dir)) = &mut self.child {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
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
        rows.push(over_rest(
            "(b) Weft, on the broker (tansu), REST",
            server.addr(),
            super::TOPIC,
            None,
            bodies,
            connections,
            events,
        ));
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
        let cpu_before = super::super::common::process_cpu_seconds();
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
        let cpu = super::super::common::process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
        assert_eq!(producer.context().failed.load(Ordering::Relaxed), 0, "deliveries failed");
        let stored: u64 = (0..PARTITIONS).map(|p| log.offsets(topic, p).expect("offsets").1).sum();
        assert_eq!(stored, events as u64, "(c): {stored} of {events} events stored");
        log.shutdown().expect("log closes");
        Row {
            what: "(c) librdkafka alone, to the broker",
            per_second: events as f64 / elapsed,
            cpu_us: cpu.map(|cpu| cpu * 1e6 / events as f64),
            cpu_of: "this process",
            faults_per_request: None,
        }
    }
}
