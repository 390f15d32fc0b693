//! Inputs the fuzz targets (`fuzz/fuzz_targets`, run by `scripts/fuzz`) found to break an invariant,
//! kept so that the bug stays fixed. Each test names its target and the invariant it checks.

use serde_json::json;
use weft_schema::avro::AvroSchema;
use weft_schema::json_schema::JsonSchema;

/// Target `json_schema`: validating a parsed value and the streaming check of the same bytes must
/// agree. The streaming check applied a scalar `enum` or `const` only to scalars, so an array or
/// object passed it.
#[test]
fn an_array_or_object_never_matches_a_scalar_enum_or_const_when_streamed() {
    for (schema, payload) in [
        (r#"{"enum":["a","b"]}"#, "[]"),
        (r#"{"enum":["a","b"]}"#, r#"{"a":1}"#),
        (r#"{"const":1}"#, "[1]"),
        (r#"{"properties":{"x":{"enum":[null]}}}"#, r#"{"x":{}}"#),
        (r#"{"items":{"const":"a"}}"#, r#"[["a"]]"#),
    ] {
        let compiled = JsonSchema::parse(schema).expect("schema");
        let value: serde_json::Value = serde_json::from_str(payload).expect("payload");
        assert!(compiled.validate(&value).is_err(), "{schema} accepted {payload}");
        assert!(compiled.validate_bytes(payload.as_bytes()).is_err(), "{schema} accepted the bytes {payload}");
    }
}

/// Target `avro_datum`: what decodes must be valid JSON for its schema (and so can be written again).
/// A `uuid` string was checked when encoding JSON but not when decoding or validating binary, so an
/// empty string decoded into JSON that the encoder refuses. Minimized input: `2\0\0\0ull}l...`
/// (schema `Logical` of the target, whose `uuid` field holds "").
#[test]
fn a_uuid_string_that_is_no_uuid_is_refused_when_decoded_as_when_encoded() {
    let schema = AvroSchema::parse(
        r#"{"type":"record","name":"R","fields":[{"name":"id","type":{"type":"string","logicalType":"uuid"}}]}"#,
    )
    .expect("schema");
    for text in ["", "not-a-uuid", "123e4567-e89b-12d3-a456-42661417400g"] {
        let mut datum = Vec::new();
        weft_schema::avro::binary::write_string(text, &mut datum);
        let decoded = schema.decode_to_json(&datum).expect_err(text);
        assert!(decoded.message.contains("must be a UUID"), "{decoded}");
        assert!(schema.validate_binary(&datum).is_err(), "{text:?} validated");
        assert!(schema.encode_json(&json!({ "id": text }), &mut Vec::new()).is_err(), "{text:?} encoded");
    }
    let mut datum = Vec::new();
    weft_schema::avro::binary::write_string("123e4567-e89b-12d3-a456-426614174000", &mut datum);
    let decoded = schema.decode_to_json(&datum).expect("a UUID decodes");
    schema.validate_json(&decoded).expect("and is valid JSON for its schema");
    schema.validate_binary(&datum).expect("and valid binary");
}
