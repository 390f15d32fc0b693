use super::*;
use crate::schema::SchemaType;

fn avro(text: &str) -> ParsedSchema {
    ParsedSchema::parse(SchemaType::Avro, text, &[]).unwrap()
}

fn json(text: &str) -> ParsedSchema {
    ParsedSchema::parse(SchemaType::Json, text, &[]).unwrap()
}

/// Checks `new` against `history` (oldest first) under `level`.
fn check_all(level: CompatibilityLevel, new: &ParsedSchema, history: &[&ParsedSchema]) -> CompatibilityResult {
    let previous: Vec<PreviousVersion<'_>> = history
        .iter()
        .enumerate()
        .map(|(i, schema)| PreviousVersion { version: i as u32 + 1, text: "<old>", schema })
        .collect();
    check(level, new, &previous)
}

const V_A: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
const V_AB_REQUIRED: &str =
    r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;
const V_AB_DEFAULT: &str =
    r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#;

#[test]
fn levels_parse_and_print() {
    for level in [
        CompatibilityLevel::None,
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
    ] {
        assert_eq!(level.as_str().parse::<CompatibilityLevel>().unwrap(), level);
        assert_eq!(serde_json::to_string(&level).unwrap(), format!("\"{}\"", level.as_str()));
    }
    assert_eq!("full_transitive".parse::<CompatibilityLevel>().unwrap(), CompatibilityLevel::FullTransitive);
    let err = "SIDEWAYS".parse::<CompatibilityLevel>().unwrap_err();
    assert_eq!(err.status_and_code(), (422, 42203));
    assert_eq!(CompatibilityLevel::default(), CompatibilityLevel::Backward);
}

#[test]
fn backward_new_reads_old() {
    let (a, ab_required, ab_default) = (avro(V_A), avro(V_AB_REQUIRED), avro(V_AB_DEFAULT));
    let level = CompatibilityLevel::Backward;
    // Adding a field without a default: the new schema cannot read old data.
    let result = check_all(level, &ab_required, &[&a]);
    assert!(!result.is_compatible);
    assert_eq!(
        result.messages,
        vec![
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'b' at path '/fields/1' in the new schema has no default value and is missing in the old schema', additionalInfo:'b'}".to_string(),
            "{oldSchemaVersion: 1}".to_string(),
            "{oldSchema: '<old>'}".to_string(),
            "{compatibility: 'BACKWARD'}".to_string(),
        ]
    );
    assert!(check_all(level, &ab_default, &[&a]).is_compatible);
    // Removing a field is backward compatible for Avro.
    assert!(check_all(level, &a, &[&ab_required]).is_compatible);
}

#[test]
fn forward_old_reads_new() {
    let (a, ab_required, ab_default) = (avro(V_A), avro(V_AB_REQUIRED), avro(V_AB_DEFAULT));
    let level = CompatibilityLevel::Forward;
    // Adding a field (even without default): old readers ignore it.
    assert!(check_all(level, &ab_required, &[&a]).is_compatible);
    // Removing a field the old schema needs (no default there): old readers fail.
    let result = check_all(level, &a, &[&ab_required]);
    assert!(!result.is_compatible);
    assert!(
        result.messages[0].contains("in the old schema has no default value and is missing in the new schema"),
        "{:?}",
        result.messages
    );
    // Removing a field that had a default is fine.
    assert!(check_all(level, &a, &[&ab_default]).is_compatible);
}

#[test]
fn full_needs_both_directions() {
    let (a, ab_required, ab_default) = (avro(V_A), avro(V_AB_REQUIRED), avro(V_AB_DEFAULT));
    let level = CompatibilityLevel::Full;
    assert!(check_all(level, &ab_default, &[&a]).is_compatible);
    assert!(check_all(level, &a, &[&ab_default]).is_compatible);
    assert!(!check_all(level, &ab_required, &[&a]).is_compatible);
    assert!(!check_all(level, &a, &[&ab_required]).is_compatible);
    let promoted = avro(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#);
    assert!(check_all(CompatibilityLevel::Backward, &promoted, &[&a]).is_compatible);
    assert!(!check_all(level, &promoted, &[&a]).is_compatible, "long -> int is not readable");
}

#[test]
fn transitive_levels_check_every_version() {
    let (a, ab_required, ab_default) = (avro(V_A), avro(V_AB_REQUIRED), avro(V_AB_DEFAULT));
    // v1 {a}, v2 {a, b = "x"}, new {a, b}: readable from v2 data, not from v1 data.
    assert!(check_all(CompatibilityLevel::Backward, &ab_required, &[&a, &ab_default]).is_compatible);
    let result = check_all(CompatibilityLevel::BackwardTransitive, &ab_required, &[&a, &ab_default]);
    assert!(!result.is_compatible);
    assert!(result.messages.contains(&"{oldSchemaVersion: 1}".to_string()), "{:?}", result.messages);
    assert!(!result.messages.contains(&"{oldSchemaVersion: 2}".to_string()));
    assert!(result.messages.contains(&"{compatibility: 'BACKWARD_TRANSITIVE'}".to_string()));

    // v1 {a, b}, v2 {a, b = "x"}, new {a}: v2 reads new data (default), v1 does not.
    assert!(check_all(CompatibilityLevel::Forward, &a, &[&ab_required, &ab_default]).is_compatible);
    assert!(!check_all(CompatibilityLevel::ForwardTransitive, &a, &[&ab_required, &ab_default]).is_compatible);
    assert!(check_all(CompatibilityLevel::Full, &a, &[&ab_required, &ab_default]).is_compatible);
    assert!(!check_all(CompatibilityLevel::FullTransitive, &a, &[&ab_required, &ab_default]).is_compatible);
}

#[test]
fn none_accepts_anything_and_empty_history_is_compatible() {
    let string = avro(r#""string""#);
    let int = avro(r#""int""#);
    assert!(check_all(CompatibilityLevel::None, &string, &[&int]).is_compatible);
    assert!(check_all(CompatibilityLevel::FullTransitive, &string, &[]).is_compatible);
    assert!(!check_all(CompatibilityLevel::Backward, &string, &[&int]).is_compatible);
}

#[test]
fn json_schema_levels() {
    let closed_a = json(r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#);
    let closed_ab = json(
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}"#,
    );
    // Adding an optional property to a closed model: new reads old, old cannot read new.
    assert!(check_all(CompatibilityLevel::Backward, &closed_ab, &[&closed_a]).is_compatible);
    let forward = check_all(CompatibilityLevel::Forward, &closed_ab, &[&closed_a]);
    assert!(!forward.is_compatible);
    assert!(
        forward.messages[0].starts_with("{errorType:'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL'"),
        "{:?}",
        forward.messages
    );
    assert!(forward.messages[0].contains("'#/properties/b'"), "{:?}", forward.messages);
    assert!(!check_all(CompatibilityLevel::Full, &closed_ab, &[&closed_a]).is_compatible);
}

#[test]
fn different_schema_types_are_incompatible() {
    let result = check_all(CompatibilityLevel::Backward, &json(r#"{"type":"string"}"#), &[&avro(r#""string""#)]);
    assert!(!result.is_compatible);
    assert!(result.messages[0].contains("different schema type"), "{:?}", result.messages);
}

#[test]
fn a_level_covers_the_levels_it_checks_at_least_as_strictly() {
    use CompatibilityLevel as L;
    let covers = |a: L, b: L| a.covers(b);
    assert!(covers(L::Backward, L::Backward));
    assert!(covers(L::Full, L::Backward));
    assert!(covers(L::FullTransitive, L::BackwardTransitive));
    assert!(covers(L::BackwardTransitive, L::Backward));
    assert!(covers(L::None, L::None));
    assert!(covers(L::Forward, L::None));
    assert!(!covers(L::None, L::Backward));
    assert!(!covers(L::Forward, L::Backward));
    assert!(!covers(L::Backward, L::Full));
    assert!(!covers(L::Backward, L::BackwardTransitive));
    assert!(!covers(L::Full, L::ForwardTransitive));
}
