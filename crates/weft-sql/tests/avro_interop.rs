//! The SQL engine's Avro and weft-schema's generic Avro agree, byte for byte, in both directions: what
//! the SQL engine writes, the registry's decoder reads with the registered schema text; what
//! weft-schema encodes from JSON with a producer's schema, the SQL engine reads into columns. And no
//! bytes, however hostile, crash the SQL engine's decoder.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value as Json};
use weft_schema::{wire, ParsedSchema, SchemaType as Format, MAX_DEPTH};
use weft_sql::avro::{AvroCodec, AvroSchema};
use weft_sql::format::Column;
use weft_sql::registry::{RegistryHandle, SchemaRegistry, SchemaType};
use weft_sql::types::{Decimal, SqlType, Value};

/// An in-memory registry that, like Weft's, refuses schemas weft-schema does not parse.
#[derive(Default)]
struct MemoryRegistry {
    schemas: Mutex<Vec<(String, String)>>,
}

impl SchemaRegistry for MemoryRegistry {
    fn register(&self, subject: &str, schema_type: SchemaType, schema: &str) -> weft_sql::Result<u32> {
        let format = if schema_type == SchemaType::Avro { Format::Avro } else { Format::Json };
        ParsedSchema::parse(format, schema, &[]).map_err(|e| weft_sql::SqlError::Serde(e.to_string()))?;
        let mut schemas = self.schemas.lock().expect("registry lock");
        if let Some(i) = schemas.iter().position(|(s, t)| s == subject && t == schema) {
            return Ok(i as u32 + 1);
        }
        schemas.push((subject.to_string(), schema.to_string()));
        Ok(schemas.len() as u32)
    }

    fn schema_by_id(&self, id: u32) -> weft_sql::Result<String> {
        let schemas = self.schemas.lock().expect("registry lock");
        let found = (id as usize).checked_sub(1).and_then(|i| schemas.get(i));
        found.map(|(_, t)| t.clone()).ok_or_else(|| weft_sql::SqlError::Serde(format!("schema {id} not found")))
    }

    fn latest(&self, subject: &str) -> weft_sql::Result<(u32, String)> {
        let schemas = self.schemas.lock().expect("registry lock");
        let found = schemas.iter().enumerate().rfind(|(_, (s, _))| s == subject);
        found
            .map(|(i, (_, t))| (i as u32 + 1, t.clone()))
            .ok_or_else(|| weft_sql::SqlError::Serde(format!("subject {subject} not found")))
    }
}

fn column(name: &str, ty: SqlType) -> Column {
    Column { name: name.into(), ty }
}

fn strukt(fields: &[(&str, SqlType)]) -> SqlType {
    SqlType::Struct(fields.iter().map(|(n, t)| (n.to_string(), t.clone())).collect())
}

/// What the registry does with a framed record: find the schema by id, parse its text, validate the
/// payload and decode it to JSON.
fn registry_decode(registry: &MemoryRegistry, framed: &[u8]) -> Json {
    let (id, payload) = wire::split(framed).expect("framed");
    let text = registry.schema_by_id(id).expect("registered");
    let schema = ParsedSchema::parse(Format::Avro, &text, &[]).expect("the registered schema parses");
    schema.validate_payload(payload).expect("the payload validates");
    schema.as_avro().expect("Avro").decode_to_json(payload).expect("decodes")
}

/// Avro's JSON mapping of bytes: one code point per byte.
fn latin1(bytes: &[u8]) -> Json {
    Json::String(bytes.iter().map(|&b| b as char).collect())
}

fn columns() -> Vec<Column> {
    let address = strukt(&[("CITY", SqlType::String), ("ZIP", SqlType::Int)]);
    vec![
        column("ID", SqlType::Bigint),
        column("NAME", SqlType::String),
        column("NOTE", SqlType::String),
        column("OK", SqlType::Boolean),
        column("SCORE", SqlType::Double),
        column("AMOUNT", SqlType::Decimal { precision: 10, scale: 2 }),
        column("DAY", SqlType::Date),
        column("AT", SqlType::Time),
        column("PLACED", SqlType::Timestamp),
        column("RAW", SqlType::Bytes),
        column("TAGS", SqlType::Array(Box::new(SqlType::Int))),
        column("COUNTS", SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint))),
        column("HOME", address.clone()),
        column("PLACES", SqlType::Array(Box::new(address))),
    ]
}

fn row() -> Vec<Value> {
    vec![
        Value::Bigint(-42),
        Value::String("Ada".into()),
        Value::Null,
        Value::Bool(true),
        Value::Double(2.5),
        Value::Decimal(Decimal { unscaled: -1234, scale: 2 }),
        Value::Date(19_000),
        Value::Time(45_296_789),
        Value::Timestamp(1_700_000_000_123),
        Value::Bytes(vec![0, 1, 0xff]),
        Value::Array(vec![Value::Int(1), Value::Null, Value::Int(-3)]),
        Value::map(weft_sql::types::SqlMap::from([
            ("a".to_string(), Value::Bigint(1)),
            ("b".to_string(), Value::Null),
        ])),
        Value::Struct(vec![Value::String("Paris".into()), Value::Int(75001)]),
        Value::Array(vec![Value::Struct(vec![Value::Null, Value::Int(1)]), Value::Null]),
    ]
}

#[test]
fn what_sql_writes_the_registry_decodes() {
    let registry = Arc::new(MemoryRegistry::default());
    let codec = AvroCodec::new(RegistryHandle(registry.clone()), "orders-value".into());
    let (columns, row) = (columns(), row());
    let mut framed = Vec::new();
    codec.encode(&columns, &row.iter().collect::<Vec<_>>(), &mut framed).expect("encode");
    // Optional fields are written as the plain value of their branch (Avro's JSON mapping of unions as
    // weft-schema decodes them); -12.34 is the unscaled -1234, two's complement 0xfb2e.
    assert_eq!(
        registry_decode(&registry, &framed),
        json!({
            "ID": -42, "NAME": "Ada", "NOTE": null, "OK": true, "SCORE": 2.5,
            "AMOUNT": latin1(&[0xfb, 0x2e]), "DAY": 19_000, "AT": 45_296_789, "PLACED": 1_700_000_000_123i64,
            "RAW": latin1(&[0, 1, 0xff]), "TAGS": [1, null, -3], "COUNTS": {"a": 1, "b": null},
            "HOME": {"CITY": "Paris", "ZIP": 75001}, "PLACES": [{"CITY": null, "ZIP": 1}, null]
        })
    );
    // And the SQL engine reads its own records back.
    let mut out = vec![Value::Null; columns.len()];
    codec.decode_into(&columns, &[], &framed, &mut out).expect("decode");
    assert_eq!(out, row);

    // A single column written unwrapped (a key): the bare datum, not a record.
    let key = AvroCodec::new(RegistryHandle(registry.clone()), "orders-key".into()).unwrapped(true);
    let key_column = [column("K", SqlType::Decimal { precision: 4, scale: 1 })];
    let mut framed = Vec::new();
    key.encode(&key_column, &[&Value::Decimal(Decimal { unscaled: 128, scale: 1 })], &mut framed).expect("encode");
    assert_eq!(registry_decode(&registry, &framed), latin1(&[0x00, 0x80]));
    let struct_key = AvroCodec::new(RegistryHandle(registry.clone()), "s-key".into()).unwrapped(true);
    let struct_column = [column("K", strukt(&[("A", SqlType::String)]))];
    let mut framed = Vec::new();
    let value = Value::Struct(vec![Value::String("x".into())]);
    struct_key.encode(&struct_column, &[&value], &mut framed).expect("encode");
    assert_eq!(registry_decode(&registry, &framed), json!({"A": "x"}));
}

/// A schema a non-SQL producer registered: enums, unions in both orders of null, decimals in bytes
/// and in fixed, dates and timestamps of both precisions, nested records, arrays of records, maps of
/// arrays.
const PRODUCER_SCHEMA: &str = r#"{
  "type": "record", "name": "Order", "namespace": "shop",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "coupon", "type": ["string", "null"], "default": ""},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    {"name": "tax", "type": {"type": "fixed", "name": "Tax", "size": 4, "logicalType": "decimal", "precision": 6, "scale": 3}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "shipped", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": null},
    {"name": "quantity", "type": "int"},
    {"name": "customer", "type": ["null", {"type": "record", "name": "Customer", "fields": [
        {"name": "name", "type": "string"},
        {"name": "tier", "type": ["null", "Status"], "default": null},
        {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
            {"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "int"], "default": null}]}}
    ]}], "default": null},
    {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
        {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}},
    {"name": "stock", "type": {"type": "map", "values": {"type": "array", "items": "long"}}},
    {"name": "ignored", "type": {"type": "array", "items": "Address"}}
  ]
}"#;

fn producer_datum() -> Json {
    json!({
        "id": 7, "status": "PAID", "note": null, "coupon": "WELCOME",
        "price": latin1(&[0x30, 0x39]),            // 12345 -> 123.45
        "tax": latin1(&[0xff, 0xff, 0xfe, 0x0c]),   // -500 -> -0.500
        "day": 19_500, "at": 3_600_000, "placed": 1_700_000_000_000i64, "shipped": 1_700_000_000_123_456i64,
        "quantity": 3,
        "customer": {"name": "Grace", "tier": "NEW", "address": {"city": "Oslo", "zip": null}},
        "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
        "stock": {"A-1": [1, 2], "B-2": []},
        "ignored": [{"city": "x", "zip": 1}]
    })
}

fn frame(registry: &MemoryRegistry, subject: &str, schema: &str, datum: &Json) -> Vec<u8> {
    let id = registry.register(subject, SchemaType::Avro, schema).expect("register");
    let parsed = weft_schema::avro::AvroSchema::parse(schema).expect("schema");
    let mut payload = Vec::new();
    parsed.encode_json(datum, &mut payload).expect("encode from JSON");
    wire::frame(id, &payload)
}

#[test]
fn what_weft_schema_encodes_sql_reads() {
    let registry = Arc::new(MemoryRegistry::default());
    let framed = frame(&registry, "orders-value", PRODUCER_SCHEMA, &producer_datum());
    // The columns a CREATE STREAM without columns infers from the registered schema.
    let columns = AvroSchema::parse(PRODUCER_SCHEMA).expect("schema").columns().expect("columns");
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ID", "STATUS", "NOTE", "COUPON", "PRICE", "TAX", "DAY", "AT", "PLACED", "SHIPPED", "QUANTITY", "CUSTOMER",
            "LINES", "STOCK", "IGNORED"
        ]
    );
    let codec = AvroCodec::new(RegistryHandle(registry.clone()), "orders-value".into());
    let mut out = vec![Value::Null; columns.len()];
    codec.decode_into(&columns, &[], &framed, &mut out).expect("decode");
    let address = |city: &str| Value::Struct(vec![Value::String(city.into()), Value::Null]);
    let expected = vec![
        Value::Bigint(7),
        Value::String("PAID".into()),
        Value::Null,
        Value::String("WELCOME".into()),
        Value::Decimal(Decimal { unscaled: 12345, scale: 2 }),
        Value::Decimal(Decimal { unscaled: -500, scale: 3 }),
        Value::Date(19_500),
        Value::Time(3_600_000),
        Value::Timestamp(1_700_000_000_000),
        Value::Timestamp(1_700_000_000_123),
        Value::Int(3),
        Value::Struct(vec![Value::String("Grace".into()), Value::String("NEW".into()), address("Oslo")]),
        Value::Array(vec![
            Value::Struct(vec![Value::String("A-1".into()), Value::Int(2)]),
            Value::Struct(vec![Value::String("B-2".into()), Value::Int(1)]),
        ]),
        Value::map(weft_sql::types::SqlMap::from([
            ("A-1".to_string(), Value::Array(vec![Value::Bigint(1), Value::Bigint(2)])),
            ("B-2".to_string(), Value::Array(Vec::new())),
        ])),
        Value::Array(vec![Value::Struct(vec![Value::String("x".into()), Value::Int(1)])]),
    ];
    assert_eq!(out, expected);

    // Declared columns: in another order and case, a narrower set, wider types (an int read into a
    // BIGINT column), a struct that names only some of the record's fields, and a column the writer
    // does not have. Fields no column reads are skipped.
    let declared = vec![
        column("quantity", SqlType::Bigint),
        column("CUSTOMER", strukt(&[("ADDRESS", strukt(&[("CITY", SqlType::String)])), ("MISSING", SqlType::Int)])),
        column("MISSING", SqlType::String),
        column("status", SqlType::String),
    ];
    let mut out = vec![Value::String("stale".into()); declared.len()];
    codec.decode_into(&declared, &[], &framed, &mut out).expect("decode");
    assert_eq!(
        out,
        vec![
            Value::Bigint(3),
            Value::Struct(vec![Value::Struct(vec![Value::String("Oslo".into())]), Value::Null]),
            Value::Null,
            Value::String("PAID".into()),
        ]
    );
    // Only the columns a query needs are read; the others are left null.
    let mut out = vec![Value::Null; declared.len()];
    codec.decode_into(&declared, &[true, false, false, true], &framed, &mut out).expect("decode");
    assert_eq!(out, vec![Value::Bigint(3), Value::Null, Value::Null, Value::String("PAID".into())]);

    // Nulls in every optional place, and the other union order.
    let mut sparse = producer_datum();
    sparse["coupon"] = json!(null);
    sparse["customer"] = json!(null);
    sparse["shipped"] = json!(null);
    let framed = frame(&registry, "orders-value", PRODUCER_SCHEMA, &sparse);
    let mut out = vec![Value::Null; columns.len()];
    codec.decode_into(&columns, &[], &framed, &mut out).expect("decode");
    assert_eq!((&out[3], &out[9], &out[11]), (&Value::Null, &Value::Null, &Value::Null));
}

#[test]
fn a_record_decodes_into_the_same_slots_again() {
    // Slots keep their buffers from record to record; a second record must not see the first.
    let registry = Arc::new(MemoryRegistry::default());
    let codec = AvroCodec::new(RegistryHandle(registry.clone()), "t-value".into());
    let columns = columns();
    let mut first = Vec::new();
    codec.encode(&columns, &row().iter().collect::<Vec<_>>(), &mut first).expect("encode");
    let mut other = row();
    other[1] = Value::String("B".into());
    other[12] = Value::Null;
    other[13] = Value::Array(Vec::new());
    let mut second = Vec::new();
    codec.encode(&columns, &other.iter().collect::<Vec<_>>(), &mut second).expect("encode");
    let mut slots = vec![Value::Null; columns.len()];
    codec.decode_into(&columns, &[], &first, &mut slots).expect("decode");
    codec.decode_into(&columns, &[], &second, &mut slots).expect("decode");
    assert_eq!(slots, other);
    codec.decode_into(&columns, &[], &first, &mut slots).expect("decode");
    assert_eq!(slots, row());
}

/// Runs on a 2 MiB thread, as a query thread of a debug build might have.
fn on_small_stack(test: impl FnOnce() + Send + 'static) {
    let thread = std::thread::Builder::new().stack_size(2 << 20).spawn(test).expect("spawn");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn hostile_records_never_crash_the_sql_decoder() {
    on_small_stack(|| {
        let registry = Arc::new(MemoryRegistry::default());
        // A recursive writer type, read into a struct column and into a string column.
        let list =
            r#"{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}"#;
        let id = registry.register("t-value", SchemaType::Avro, list).expect("register");
        let producer = registry.register("t-value", SchemaType::Avro, PRODUCER_SCHEMA).expect("register");
        let codec = AvroCodec::new(RegistryHandle(registry.clone()), "t-value".into()).unwrapped(true);
        let nested = strukt(&[("V", SqlType::Int), ("NEXT", strukt(&[("V", SqlType::Int)]))]);
        let shapes = [
            vec![column("L", nested)],
            vec![column("L", SqlType::String)],
            vec![column("V", SqlType::Int), column("NEXT", SqlType::String)],
        ];
        let deep = |levels: usize| {
            let mut payload = Vec::new();
            for _ in 0..levels {
                payload.extend_from_slice(&[0x02, 0x02]); // v = 1, next = the record branch
            }
            payload.extend_from_slice(&[0x02, 0x00]); // v = 1, next = null
            payload
        };
        for shape in &shapes {
            let mut out = vec![Value::Null; shape.len()];
            let within = codec.decode_into(shape, &[], &wire::frame(id, &deep(MAX_DEPTH / 2)), &mut out);
            assert!(within.is_ok(), "{within:?}");
            let err = codec.decode_into(shape, &[], &wire::frame(id, &deep(10 * MAX_DEPTH)), &mut out).unwrap_err();
            assert!(err.to_string().contains("nests deeper than"), "{err}");
        }
        // 2^40 items claimed by a few bytes: refused at once, nothing allocated.
        let columns = AvroSchema::parse(PRODUCER_SCHEMA).expect("schema").columns().expect("columns");
        let mut out = vec![Value::Null; columns.len()];
        let mut huge = vec![0x0e, 0x02, 0x00, 0x02, b'x', 0x02, 0x30, 0x00, 0x00, 0x00, 0x00];
        huge.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
        assert!(codec.decode_into(&columns, &[], &wire::frame(producer, &huge), &mut out).is_err());
        // Random bytes after valid frames, against every shape.
        let mut runner = TestRunner::new(Config { cases: 512, failure_persistence: None, ..Config::default() });
        let result = runner.run(&(prop::collection::vec(any::<u8>(), 0..200), any::<bool>()), |(bytes, which)| {
            let framed = wire::frame(if which { id } else { producer }, &bytes);
            for shape in shapes.iter().chain([&columns]) {
                let mut out = vec![Value::Null; shape.len()];
                let _ = codec.decode_into(shape, &[], &framed, &mut out);
            }
            let mut out = vec![Value::Null; columns.len()];
            let _ = codec.decode_into(&columns, &[], &bytes, &mut out);
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    });
}
