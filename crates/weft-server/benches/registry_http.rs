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

use std::time::Duration;

use common::{drive, env_or, start_server, Connection, Request};

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

        let load = drive(addr, connections, Duration::from_secs(seconds), MAX_REQUESTS_PER_CONNECTION, |c, i| {
            let id = (c + i) as u32 % SCHEMAS + 1;
            Request::Get(format!("/registry/schemas/ids/{id}"))
        })
        .await;
        println!(
            "GET /registry/schemas/ids/{{id}}: {} requests over {connections} keep-alive connections in {:.2} s",
            load.requests(),
            load.elapsed_s
        );
        println!(
            "  {:.0} requests/s, latency p50 {} µs, p99 {} µs, max {} µs",
            load.per_second(1),
            load.percentile_us(0.50),
            load.percentile_us(0.99),
            load.percentile_us(1.0)
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
