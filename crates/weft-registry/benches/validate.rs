//! Validated JSON events per second on one core: a ~200-byte JSON event checked against an Avro schema
//! and an equivalent JSON Schema, from bytes (parse + validate) and from an already parsed value, plus
//! Avro binary encode/decode. Run: `cargo bench -p weft-registry --bench validate`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions};
use weft_registry::{CompatibilityLevel, ParsedSchema, RegisterRequest, Registry, SchemaDefinition, SchemaType};

const AVRO: &str = r#"{"type":"record","name":"Order","namespace":"com.acme.orders","fields":[
  {"name":"order_id","type":"long"},
  {"name":"customer","type":"string"},
  {"name":"email","type":"string"},
  {"name":"amount","type":"double"},
  {"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD","GBP"]}},
  {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED","CANCELLED"]}},
  {"name":"items","type":"int"},
  {"name":"created_at","type":"string"},
  {"name":"express","type":"boolean"},
  {"name":"note","type":["null","string"],"default":null}
]}"#;

const JSON_SCHEMA: &str = r#"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "order_id": {"type": "integer", "minimum": 1},
    "customer": {"type": "string", "minLength": 1, "maxLength": 64},
    "email": {"type": "string", "format": "email"},
    "amount": {"type": "number", "minimum": 0},
    "currency": {"enum": ["EUR", "USD", "GBP"]},
    "status": {"enum": ["NEW", "PAID", "SHIPPED", "CANCELLED"]},
    "items": {"type": "integer", "minimum": 0, "maximum": 1000},
    "created_at": {"type": "string", "format": "date-time"},
    "express": {"type": "boolean"},
    "note": {"type": ["string", "null"]}
  },
  "required": ["order_id", "customer", "email", "amount", "currency", "status", "items", "created_at", "express"],
  "additionalProperties": false
}"#;

fn events(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"order_id":{},"customer":"c-{:06}","email":"user{}@example.com","amount":{}.{:02},"currency":"EUR","status":"PAID","items":{},"created_at":"2026-01-15T10:{:02}:30Z","express":{},"note":null}}"#,
                100_000 + i,
                i % 1000,
                i % 97,
                i % 500,
                i % 100,
                i % 9 + 1,
                i % 60,
                i % 2 == 0
            )
            .into_bytes()
        })
        .collect()
}

/// Runs `f` over the inputs for about a second and returns events per second. A command-line argument
/// (other than cargo's `--bench`) runs only the cases whose name contains it.
fn measure<T>(name: &str, inputs: &[T], mut f: impl FnMut(&T)) -> f64 {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
        return 0.0;
    }
    for input in inputs.iter().take(1000) {
        f(input);
    }
    let budget = Duration::from_millis(1500);
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget {
        for input in inputs {
            f(input);
        }
        count += inputs.len() as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = count as f64 / elapsed;
    println!("{name:<58} {:>12.0} events/s  {:>8.0} ns/event", rate, 1e9 / rate);
    rate
}

fn main() {
    let avro = ParsedSchema::parse(SchemaType::Avro, AVRO, &[]).expect("avro schema");
    let json = ParsedSchema::parse(SchemaType::Json, JSON_SCHEMA, &[]).expect("json schema");
    let avro_schema = avro.as_avro().expect("an Avro schema");
    let raw = events(4096);
    let average = raw.iter().map(Vec::len).sum::<usize>() / raw.len();
    println!("{} distinct events of {average} bytes on average, one thread\n", raw.len());
    let values: Vec<Value> = raw.iter().map(|b| serde_json::from_slice(b).expect("event")).collect();
    for value in &values {
        avro.validate_json(value).expect("valid for avro");
        json.validate_json(value).expect("valid for json schema");
    }

    measure("serde_json parse only (baseline)", &raw, |b| {
        black_box(serde_json::from_slice::<Value>(b).ok());
    });
    measure("JSON Schema: parse + validate", &raw, |b| {
        black_box(json.validate_json_bytes(b).is_ok());
    });
    measure("Avro schema: parse + validate", &raw, |b| {
        black_box(avro.validate_json_bytes(b).is_ok());
    });
    measure("JSON Schema: validate a parsed value", &values, |v| {
        black_box(json.validate_json(v).is_ok());
    });
    measure("Avro schema: validate a parsed value", &values, |v| {
        black_box(avro.validate_json(v).is_ok());
    });
    let mut out = Vec::with_capacity(256);
    measure("Avro: encode a parsed value to binary", &values, |v| {
        out.clear();
        black_box(avro_schema.encode_json(v, &mut out).is_ok());
    });
    let encoded: Vec<Vec<u8>> = values
        .iter()
        .map(|v| {
            let mut out = Vec::new();
            avro_schema.encode_json(v, &mut out).expect("encode");
            out
        })
        .collect();
    println!("(Avro binary: {} bytes on average)", encoded.iter().map(Vec::len).sum::<usize>() / encoded.len());
    measure("Avro: decode binary to JSON", &encoded, |b| {
        black_box(avro_schema.decode_to_json(b).is_ok());
    });
    let framed: Vec<Vec<u8>> = encoded.iter().map(|b| weft_registry::wire::frame(7, b)).collect();
    measure("Avro: validate a Confluent-framed binary payload", &framed, |m| {
        let ok = weft_registry::wire::split(m).map(|(_, payload)| avro.validate_payload(payload).is_ok());
        black_box(ok.is_ok());
    });
    let mut invalid = values[0].clone();
    invalid["items"] = Value::from(5000);
    let invalid = vec![invalid; 64];
    measure("JSON Schema: reject an invalid value (with message)", &invalid, |v| {
        black_box(json.validate_json(v).is_err());
    });
    registry_lookups();
}

/// Schema lookups by id (what every consumer does on an unknown id), over the embedded log.
fn registry_lookups() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "Registry".contains(f.as_str())) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = LogOptions::new(dir.path());
    options.durability = Durability::EveryBatch;
    let log = EmbeddedLog::open(options).expect("log");
    let registry = Registry::open(log.clone() as std::sync::Arc<dyn EventLog>).expect("registry");
    registry.set_config(None, CompatibilityLevel::None).expect("config");
    let start = Instant::now();
    let ids: Vec<u32> = (0..200)
        .map(|i| {
            let schema = AVRO.replace("\"Order\"", &format!("\"Order{i}\""));
            let request = RegisterRequest::from(SchemaDefinition::avro(schema));
            registry.register(&format!("subject-{}", i % 20), &request).expect("register")
        })
        .collect();
    println!("\n(registered {} schemas in {:?}, one fsync each)", ids.len(), start.elapsed());
    measure("Registry: schema by id (GET /schemas/ids/{id})", &ids, |id| {
        black_box(registry.schema_by_id(*id).is_ok());
    });
    measure("Registry: compiled schema by id (for validation)", &ids, |id| {
        black_box(registry.parsed_schema(*id).is_ok());
    });
    let reopen = Instant::now();
    drop(registry);
    log.shutdown().expect("shutdown");
    drop(log);
    let log = EmbeddedLog::open(LogOptions::new(dir.path())).expect("log");
    let registry = Registry::open(log.clone() as std::sync::Arc<dyn EventLog>).expect("registry");
    println!("(reopened and rebuilt {} subjects in {:?})", registry.subjects(None, false).len(), reopen.elapsed());
    log.shutdown().expect("shutdown");
}
