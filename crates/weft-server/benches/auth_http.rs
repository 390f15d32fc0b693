//! What authentication and authorization cost a request, end to end over real HTTP: the same reads
//! and writes on a server without authentication (`auth = none`) and on one with it, where a consumer
//! holding a grant reads a product's data (token check, grant check in the read path) and a domain
//! member produces to its topic (token check, domain check in the write path).
//!
//! Per workload: requests/s over `WEFT_BENCH_CONNECTIONS` (default 4) keep-alive connections for
//! `WEFT_BENCH_SECONDS` (default 4), the process's CPU µs per request (server and client; the figure to
//! compare on a busy machine), and the ratio of the two servers in the same run.
//!
//! `cargo bench -p weft-server --bench auth_http`

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{drive_as, env_or, start_server_with, Connection, Load, Request};
use serde_json::{json, Value};

const MAX_REQUESTS_PER_CONNECTION: usize = 200_000;

fn main() {
    let connections = env_or("WEFT_BENCH_CONNECTIONS", 4).clamp(1, 64) as usize;
    let seconds = env_or("WEFT_BENCH_SECONDS", 4).clamp(1, 60);
    let duration = Duration::from_secs(seconds);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    println!("{connections} connections, {seconds} s per workload; CPU is the whole process's per request");
    let mut results = Vec::new();
    for auth in [weft_server::AuthMode::None, weft_server::AuthMode::Tokens] {
        let (server, _dir) = start_server_with(|config| config.auth = auth);
        let addr = server.addr();
        let admin = server.bootstrap_token().map(str::to_string);
        let loads = runtime.block_on(async move {
            let (reader, writer) = set_up(addr, admin.as_deref()).await;
            let read = drive_as(addr, reader, connections, duration, MAX_REQUESTS_PER_CONNECTION, |_, _| {
                Request::Get("/api/v1/products/bench.orders/records?limit=10".to_string())
            })
            .await;
            let body: Arc<[u8]> = json!([{"key": "k", "value": {"id": 1}}]).to_string().into_bytes().into();
            let write = drive_as(addr, writer, connections, duration, MAX_REQUESTS_PER_CONNECTION, move |_, _| {
                Request::PostJson("/api/v1/topics/bench.orders/records".to_string(), body.clone())
            })
            .await;
            (read, write)
        });
        server.stop().expect("server stops");
        results.push((auth, loads));
    }
    let line = |what: &str, load: &Load| {
        let cpu = load.cpu_us_per(1).map_or_else(String::new, |us| format!(", CPU {us:.0} µs/request"));
        println!(
            "  {what:<40} {:>8.0} requests/s, p50 {:.2} ms{cpu}",
            load.per_second(1),
            load.percentile_us(0.5) as f64 / 1000.0
        );
    };
    for (auth, (read, write)) in &results {
        line(&format!("read a product's records (auth {auth})"), read);
        line(&format!("produce one record (auth {auth})"), write);
    }
    if let [(_, (read_off, write_off)), (_, (read_on, write_on))] = results.as_slice() {
        println!(
            "  tokens / none: reads {:.2}x requests/s, writes {:.2}x requests/s",
            read_on.per_second(1) / read_off.per_second(1),
            write_on.per_second(1) / write_off.per_second(1)
        );
    }
}

/// A domain, a product on a topic with a few records, and (with authentication) a consumer granted
/// access and a member of the domain: their tokens, for the reads and the writes.
async fn set_up(addr: SocketAddr, admin: Option<&str>) -> (Option<Arc<str>>, Option<Arc<str>>) {
    let mut api = Connection::open(addr).await;
    if let Some(admin) = admin {
        api.sign_in(admin);
    }
    let post = |body: Value| body.to_string().into_bytes();
    api.post_json("/api/v1/topics", &post(json!({"name": "bench.orders", "partitions": 1}))).await;
    let domain = json!({"name": "bench", "owningTeam": "team-bench", "members": [{"user": "mia", "role": "owner"}]});
    api.post_json("/api/v1/domains", &post(domain)).await;
    let Some(_) = admin else {
        let product = json!({"id": "bench.orders", "name": "Orders", "owner": "mia",
            "outputPorts": [{"name": "orders", "version": "1.0.0", "topic": "bench.orders", "schemaSubject": "bench.orders-value", "format": "json"}]});
        api.post_json("/api/v1/products", &post(product)).await;
        api.post_json("/api/v1/topics/bench.orders/records", &post(json!([{"value": {"id": 0}}]))).await;
        return (None, None);
    };
    let mut tokens = Vec::new();
    for name in ["mia", "cal"] {
        api.send("PUT", &format!("/api/v1/users/{name}"), "application/json", &post(json!({"name": name}))).await;
        let (_, body) = api.post_json("/api/v1/tokens", &post(json!({"principal": name}))).await;
        let created: Value = serde_json::from_slice(&body).expect("a token");
        tokens.push(created["token"].as_str().expect("token").to_string());
    }
    let (mia, cal) = (tokens[0].clone(), tokens[1].clone());
    let mut as_mia = Connection::open(addr).await;
    as_mia.sign_in(&mia);
    let product = json!({"id": "bench.orders", "name": "Orders", "owner": "mia",
        "outputPorts": [{"name": "orders", "version": "1.0.0", "topic": "bench.orders", "schemaSubject": "bench.orders-value", "format": "json"}]});
    as_mia.post_json("/api/v1/products", &post(product)).await;
    as_mia.post_json("/api/v1/topics/bench.orders/records", &post(json!([{"value": {"id": 0}}]))).await;
    let mut as_cal = Connection::open(addr).await;
    as_cal.sign_in(&cal);
    let (_, body) =
        as_cal.post_json("/api/v1/products/bench.orders/access-requests", &post(json!({"purpose": "bench"}))).await;
    let request: Value = serde_json::from_slice(&body).expect("a request");
    let id = request["id"].as_str().expect("id");
    as_mia.post_json(&format!("/api/v1/access-requests/{id}/approve"), b"{}").await;
    (Some(cal.into()), Some(mia.into()))
}
