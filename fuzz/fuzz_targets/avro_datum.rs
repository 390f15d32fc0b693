//! Avro datums with a fixed set of schemas (every type, logical types, a recursive record). The first
//! byte picks the schema and whether the rest is Avro binary or JSON:
//! - binary: decoding to JSON and validating agree, and what decodes is valid JSON for the schema,
//!   encodes again, and decodes to the same JSON (numbers compared by value);
//! - JSON: validating the value and the bytes agree, encoding succeeds exactly when validating
//!   does, and what encodes decodes again to JSON the schema accepts.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use weft_schema::avro::AvroSchema;
use weft_schema::json::json_equal;

/// The schemas; each appears in the seed corpus with a few datums.
pub const SCHEMAS: &[&str] = &[
    r#"{"type":"record","name":"Order","namespace":"shop","fields":[
        {"name":"id","type":"string"},
        {"name":"amount","type":"double"},
        {"name":"count","type":"int","default":0},
        {"name":"total","type":"long"},
        {"name":"ratio","type":"float"},
        {"name":"paid","type":"boolean"},
        {"name":"coupon","type":["null","string"],"default":null},
        {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"],"default":"NEW"}},
        {"name":"tags","type":{"type":"array","items":"string"}},
        {"name":"attrs","type":{"type":"map","values":["null","long","string"]}},
        {"name":"digest","type":{"type":"fixed","name":"Md5","size":16}},
        {"name":"blob","type":"bytes"}]}"#,
    r#"{"type":"record","name":"Logical","fields":[
        {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
        {"name":"fixedPrice","type":{"type":"fixed","name":"F8","size":8,"logicalType":"decimal","precision":18,"scale":4}},
        {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"timeMillis","type":{"type":"int","logicalType":"time-millis"}},
        {"name":"timeMicros","type":{"type":"long","logicalType":"time-micros"}},
        {"name":"tsMillis","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"tsMicros","type":{"type":"long","logicalType":"timestamp-micros"}},
        {"name":"local","type":{"type":"long","logicalType":"local-timestamp-millis"}},
        {"name":"duration","type":{"type":"fixed","name":"Duration","size":12,"logicalType":"duration"}}]}"#,
    r#"{"type":"record","name":"Node","fields":[
        {"name":"value","type":"int"},
        {"name":"children","type":{"type":"array","items":"Node"}},
        {"name":"next","type":["null","Node"],"default":null}]}"#,
    r#"["null","boolean","int","long","float","double","bytes","string",
        {"type":"array","items":["null","int"]},{"type":"map","values":"double"},
        {"type":"record","name":"R","fields":[{"name":"a","type":"int"}]},
        {"type":"enum","name":"E","symbols":["A","B"]},{"type":"fixed","name":"F","size":2}]"#,
    r#"{"type":"map","values":{"type":"array","items":{"type":"map","values":"string"}}}"#,
    r#""string""#,
];

fn schemas() -> &'static [AvroSchema] {
    static PARSED: OnceLock<Vec<AvroSchema>> = OnceLock::new();
    PARSED.get_or_init(|| SCHEMAS.iter().map(|text| AvroSchema::parse(text).expect("a fixture schema")).collect())
}

fn check_binary(schema: &AvroSchema, bytes: &[u8]) {
    let decoded = schema.decode_to_json(bytes);
    let valid = schema.validate_binary(bytes);
    assert_eq!(decoded.is_ok(), valid.is_ok(), "decoding and validating disagree: {decoded:?} / {valid:?}");
    let Ok(json) = decoded else { return };
    if let Err(e) = schema.validate_json(&json) {
        panic!("a decoded datum is not valid JSON for its schema: {json} ({e:?})");
    }
    let mut encoded = Vec::new();
    if let Err(e) = schema.encode_json(&json, &mut encoded) {
        panic!("a decoded datum does not encode again: {json} ({e:?})");
    }
    let again = schema.decode_to_json(&encoded).expect("an encoded datum decodes");
    // Numbers by value: the plain JSON mapping does not name a union's branch, so `{"a": 5}` read from a
    // record branch may be written back through an earlier map-of-doubles branch as `{"a": 5.0}`.
    assert!(json_equal(&again, &json), "a datum changed in a round trip: {json} became {again}");
}

fn check_json(schema: &AvroSchema, bytes: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        let _ = schema.validate_json_bytes(bytes);
        return;
    };
    let valid = schema.validate_json(&value);
    let valid_bytes = schema.validate_json_bytes(bytes);
    assert_eq!(
        valid.is_ok(),
        valid_bytes.is_ok(),
        "validating the value and the bytes disagree: {valid:?} / {valid_bytes:?}"
    );
    let mut encoded = Vec::new();
    let encoding = schema.encode_json(&value, &mut encoded);
    assert_eq!(valid.is_ok(), encoding.is_ok(), "validating and encoding disagree: {valid:?} / {encoding:?}");
    if encoding.is_err() {
        assert!(encoded.is_empty(), "a failed encoding left bytes behind");
        return;
    }
    let decoded = schema.decode_to_json(&encoded).unwrap_or_else(|e| panic!("an encoded value does not decode: {e:?}"));
    if let Err(e) = schema.validate_json(&decoded) {
        panic!("{value} encodes to a datum that decodes to {decoded}, which is not valid ({e:?})");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let schemas = schemas();
    let schema = &schemas[usize::from(selector >> 1) % schemas.len()];
    if selector & 1 == 0 {
        check_binary(schema, payload);
    } else {
        check_json(schema, payload);
    }
});
