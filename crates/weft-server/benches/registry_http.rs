//! Schema lookups by id over real HTTP: `GET /registry/schemas/ids/{id}`, the call every Confluent
//! deserializer makes for a schema id it has not cached (goal: 50k requests/s on 2 cores; the Confluent
//! registry does about 4.5k/s on 2 CPUs).
//!
//! The server runs in-process on 127.0.0.1:0 (its usual 2-worker runtime, a temporary data directory);
//! a minimal HTTP/1.1 client on one thread drives it with `WEFT_BENCH_CONNECTIONS` (default 32)
//! keep-alive connections for `WEFT_BENCH_SECONDS` (default 5) and reports requests/s and latency
//! percentiles. Loopback only; bounded in time and in requests.
//!
//! `cargo bench -p weft-server --bench registry_http`

mod common;

use std::time::{Duration, Instant};

use common::{env_or, start_server, Connection};

/// Distinct schemas registered, and looked up round-robin.
const SCHEMAS: u32 = 100;
/// A hard bound on requests per connection, whatever the duration.
const MAX_REQUESTS_PER_CONNECTION: usize = 2_000_000;

fn main() {
    let connections = env_or("WEFT_BENCH_CONNECTIONS", 32).clamp(1, 1024) as usize;
    let seconds = env_or("WEFT_BENCH_SECONDS", 5).clamp(1, 120);
    let (server, _dir) = start_server();
    let addr = server.addr();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    runtime.block_on(async move {
        register_schemas(addr).await;
        // Warm up: every id once, so the first measured requests are not parses.
        let mut warm = Connection::open(addr).await;
        for id in 1..=SCHEMAS {
            warm.get(&format!("/registry/schemas/ids/{id}")).await;
        }

        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|c| {
                tokio::spawn(async move {
                    let mut connection = Connection::open(addr).await;
                    let mut latencies = Vec::with_capacity(64 * 1024);
                    let mut id = (c as u32 % SCHEMAS) + 1;
                    while Instant::now() < deadline && latencies.len() < MAX_REQUESTS_PER_CONNECTION {
                        let sent = Instant::now();
                        connection.get(&format!("/registry/schemas/ids/{id}")).await;
                        latencies.push(sent.elapsed().as_micros() as u32);
                        id = id % SCHEMAS + 1;
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("client task"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
        println!(
            "GET /registry/schemas/ids/{{id}}: {} requests over {connections} keep-alive connections in {elapsed:.2} s",
            latencies.len()
        );
        println!(
            "  {:.0} requests/s, latency p50 {} µs, p99 {} µs, max {} µs",
            latencies.len() as f64 / elapsed,
            percentile(0.50),
            percentile(0.99),
            latencies.last().copied().unwrap_or(0)
        );
    });
    server.stop().expect("server stops");
}

async fn register_schemas(addr: std::net::SocketAddr) {
    let mut connection = Connection::open(addr).await;
    for i in 1..=SCHEMAS {
        let schema = format!(
            r#"{{"type":"record","name":"Event{i}","namespace":"bench","fields":[{{"name":"id","type":"long"}},{{"name":"payload","type":"string"}},{{"name":"amount","type":["null","double"],"default":null}}]}}"#
        );
        let body = serde_json::json!({ "schema": schema }).to_string();
        let (status, answer) = connection.post(&format!("/registry/subjects/bench-{i}-value/versions"), &body).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }
}
