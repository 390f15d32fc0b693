//! The produce body decoder, without a server: what `POST /api/v1/topics/{topic}/records` does with
//! a body before anything is appended. The body is read as the server reads it (a JSON array of
//! records, unknown fields refused), and every record is encoded as the mesh's write path encodes it
//! (`weft_mesh::records`: the key, the headers, the partition Kafka's default partitioner picks, and
//! the value for a topic no product serves, for an Avro port and for a JSON port with a JSON Schema,
//! both with schemas registered in a real registry). A value that encodes must decode again on the
//! read path to the same JSON and the schema id it was written with.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use weft_log::{partition_for, EmbeddedLog, EventLog, LogOptions, Record};
use weft_mesh::records::{encode_headers, encode_key, record_size, Decoder, JsonRecord, ValueEncoder};
use weft_registry::{RegisterRequest, Registry, SchemaDefinition};

const AVRO: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"string"},
    {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
    {"name":"quantity","type":"int","default":1},
    {"name":"placed","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"coupon","type":["null","string"],"default":null},
    {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
    {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
        {"name":"sku","type":"string"},{"name":"price","type":"double"}]}}},
    {"name":"attributes","type":{"type":"map","values":"string"},"default":{}}]}"#;

const JSON_SCHEMA: &str = r##"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
    "properties":{"id":{"type":"string","minLength":1,"pattern":"^o-"},
        "amount":{"type":"number","minimum":0,"multipleOf":0.01},
        "tags":{"type":"array","items":{"type":"string"},"uniqueItems":true,"maxItems":5},
        "customer":{"$ref":"#/definitions/customer"},
        "kind":{"enum":["a","b",null,1]}},
    "required":["id"],"additionalProperties":false,
    "definitions":{"customer":{"type":"object","properties":{"email":{"type":"string","format":"email"}},
        "anyOf":[{"required":["email"]},{"properties":{"anonymous":{"const":true}}}]}}}"##;

/// Partitions of the topic records are placed on.
const PARTITIONS: u32 = 6;

struct Fixture {
    _dir: tempfile::TempDir,
    registry: Registry,
    encoders: Vec<ValueEncoder>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir =
            if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("a temporary directory");
        let log = EmbeddedLog::open(LogOptions::new(dir.path())).expect("the log");
        let registry = Registry::open(log as Arc<dyn EventLog>).expect("the registry");
        let avro = registry
            .register("orders-value", &RegisterRequest::new(SchemaDefinition::avro(AVRO)))
            .expect("the Avro schema");
        let json = registry
            .register("events-value", &RegisterRequest::new(SchemaDefinition::json(JSON_SCHEMA)))
            .expect("the JSON Schema");
        let encoders = vec![
            ValueEncoder::Plain,
            ValueEncoder::Avro { id: avro, schema: registry.parsed_schema(avro).expect("parsed") },
            ValueEncoder::CheckedJson { schema: registry.parsed_schema(json).expect("parsed") },
        ];
        Fixture { _dir: dir, registry, encoders }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(records) = serde_json::from_slice::<Vec<JsonRecord>>(data) else { return };
    let fixture = fixture();
    let mut decoder = Decoder::new(&fixture.registry);
    for (sticky, record) in records.into_iter().enumerate() {
        for encoder in &fixture.encoders {
            let Ok(value) = encoder.encode(record.value.as_ref()) else { continue };
            let stored = Record {
                key: encode_key(record.key.clone()),
                value,
                headers: encode_headers(record.headers.clone()),
                timestamp: record.timestamp,
            };
            let partition = partition_for(stored.key.as_deref(), PARTITIONS, sticky as u32 % PARTITIONS);
            assert!(partition < PARTITIONS);
            let _ = record_size(&stored);
            let _ = decoder.key(stored.key.as_deref());
            let read = decoder.value(stored.value.as_deref());
            match (encoder, &record.value) {
                (_, None | Some(serde_json::Value::Null)) => assert!(stored.value.is_none(), "null is a tombstone"),
                (ValueEncoder::Avro { id, .. }, Some(_)) => {
                    assert_eq!(read.schema_id, Some(*id), "an Avro value written is not read as one")
                }
                (_, Some(value)) => assert_eq!(&read.json, value, "a JSON value changed between write and read"),
            }
        }
    }
});
