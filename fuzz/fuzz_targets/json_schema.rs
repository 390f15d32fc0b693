//! JSON Schema compiling and validating on arbitrary input: a schema text, then optionally a NUL
//! byte and a payload. A schema that compiles must compile again from its stored canonical text
//! (the registry replays stored texts on start); a payload is checked three ways (a detailed
//! error, a yes/no answer, and the check of the bytes) which must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use weft_schema::json_schema::JsonSchema;
use weft_schema::{field_summaries, SchemaType};

fuzz_target!(|data: &[u8]| {
    let (schema_bytes, payload) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
        None => (data, None),
    };
    let Ok(schema_text) = std::str::from_utf8(schema_bytes) else { return };
    let Ok(schema) = JsonSchema::parse(schema_text) else { return };
    let stored = schema.canonical_text();
    if let Err(e) = JsonSchema::parse(&stored) {
        panic!("the stored text {stored:?} does not compile: {e:?}");
    }
    let _ = field_summaries(SchemaType::Json, schema_text);
    let Some(payload) = payload else { return };
    let streamed = schema.validate_bytes(payload);
    let Ok(value) = serde_json::from_slice::<Value>(payload) else { return };
    let detailed = schema.validate(&value);
    let quick = schema.is_valid(&value);
    assert_eq!(detailed.is_ok(), quick, "validate and is_valid disagree: {detailed:?}");
    assert_eq!(
        detailed.is_ok(),
        streamed.is_ok(),
        "validating the value and the bytes disagree: {detailed:?} / {streamed:?}"
    );
});
