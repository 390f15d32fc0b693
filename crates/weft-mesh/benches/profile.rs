//! What a live profile costs per record, without HTTP: summarising batches of 1000 records shaped as
//! `weft-server`'s produce bench sends them (`Batch::add` and `seal`, outside any lock), merging the
//! summaries into a product's state (what the per-product lock is held for), and decoding Avro values
//! back to the JSON readers see (what an Avro port's records cost the profile on top).
//!
//! `cargo bench -p weft-mesh --bench profile` (`WEFT_BENCH_RECORDS`, default 200,000)

use std::time::Instant;

use serde_json::{json, Value};
use weft_mesh::profile::state::{Batch, ProfileState};
use weft_mesh::records::{Decoder, ValueEncoder};

const ORDER_AVRO: &str = r#"{"type":"record","name":"Order","namespace":"bench","fields":[
    {"name":"order_id","type":"string"},
    {"name":"customer","type":"string"},
    {"name":"amount","type":"double"},
    {"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD","GBP"]}},
    {"name":"channel","type":"string"},
    {"name":"coupon","type":["null","string"],"default":null},
    {"name":"lines","type":{"type":"array","items":"long"}}]}"#;

const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];

fn order(i: usize) -> Value {
    json!({
        "order_id": format!("order-{i:08}"),
        "customer": format!("customer-{:05}", i % 5000),
        "amount": (i % 997) as f64 * 1.25,
        "currency": CURRENCIES[i % 3],
        "channel": if i.is_multiple_of(2) { "web" } else { "store" },
        "coupon": if i.is_multiple_of(5) { json!("SPRING") } else { json!(null) },
        "lines": [i % 7, i % 11, i % 13, 4, 5, 6, 7, 8, 9, 10],
    })
}

fn main() {
    let n = std::env::var("WEFT_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000usize).max(1000);
    let dir = tempfile::tempdir().expect("dir");
    let log = weft_mesh::log::EmbeddedLog::open(weft_mesh::log::LogOptions::new(dir.path())).expect("log");
    let registry = weft_mesh::registry::Registry::open(log).expect("registry");
    let definition = weft_mesh::registry::SchemaDefinition::avro(ORDER_AVRO);
    let id = registry.register("orders-value", &weft_mesh::registry::RegisterRequest::new(definition)).expect("schema");
    let encoder = ValueEncoder::Avro { id, schema: registry.parsed_schema(id).expect("parsed") };
    let mut decoder = Decoder::new(&registry);

    // Each batch is made just before it is measured, as a request's records are parsed just before
    // they are written: what is measured reads them from cache, as the write path does.
    let mut state = ProfileState::default();
    let (mut summarising, mut merging, mut decoding) = (0.0, 0.0, 0.0);
    for first in (0..n).step_by(1000) {
        let values: Vec<Value> = (first..first + 1000).map(order).collect();
        let started = Instant::now();
        let mut batch = Batch::default();
        for (i, value) in values.iter().enumerate() {
            batch.add(1_700_000_000_000 + i as i64, 200, value);
        }
        batch.seal();
        summarising += started.elapsed().as_secs_f64();
        let started = Instant::now();
        state.merge(&batch);
        merging += started.elapsed().as_secs_f64();
        drop(batch);

        let encoded: Vec<Vec<u8>> =
            values.iter().map(|v| encoder.encode(Some(v)).expect("fits").expect("a value")).collect();
        let started = Instant::now();
        let decoded: Vec<Value> = encoded.iter().map(|bytes| decoder.value(Some(bytes)).json).collect();
        decoding += started.elapsed().as_secs_f64();
        assert_eq!(decoded.len(), values.len());
    }
    let per = |seconds: f64| seconds * 1e9 / n as f64;
    println!("profile of {n} records ({} fields each), batches of 1000:", state.fields.len());
    println!("  summarise (no lock)   {:>7.0} ns/record", per(summarising));
    println!("  merge (product lock)  {:>7.0} ns/record", per(merging));
    println!("  Avro decode           {:>7.0} ns/record (an Avro port's JSON views)", per(decoding));
}
