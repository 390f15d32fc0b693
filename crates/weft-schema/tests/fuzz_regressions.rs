//! Inputs the fuzz targets (`fuzz/fuzz_targets`, run by `scripts/fuzz`) found to break an invariant,
//! kept so that the bug stays fixed. Each test names its target and the invariant it checks.

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
