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

fn proto(text: &str) -> ParsedSchema {
    ParsedSchema::parse(SchemaType::Protobuf, text, &[]).unwrap()
}

/// The incompatibility kinds and paths of `new` read against `old` under BACKWARD.
fn proto_changes(old: &str, new: &str) -> Vec<(String, String)> {
    let (ParsedSchema::Protobuf(r), ParsedSchema::Protobuf(w)) = (proto(new), proto(old)) else { unreachable!() };
    protobuf::incompatibilities(&r, &w).into_iter().map(|i| (i.change.as_str().to_string(), i.path)).collect()
}

const P_BASE: &str = r#"syntax = "proto3"; package shop;
message Order { string id = 1; int64 amount = 2; Line line = 3; map<string, int32> tags = 4;
  oneof payment { string card = 5; string iban = 6; } }
message Line { string sku = 1; int32 quantity = 2; }"#;

#[test]
fn protobuf_compatible_changes_follow_confluent() {
    for (why, new) in [
        ("field renamed", P_BASE.replace("string id = 1", "string order_id = 1")),
        ("field added", P_BASE.replace("int64 amount = 2;", "int64 amount = 2; bool gift = 9;")),
        ("field removed", P_BASE.replace("int64 amount = 2;", "")),
        ("int64 read as uint64 (one wire group)", P_BASE.replace("int64 amount", "uint64 amount")),
        ("string read as bytes", P_BASE.replace("string id = 1", "bytes id = 1")),
        ("message added", format!("{P_BASE} message Extra {{ int32 x = 1; }}")),
        (
            "messages reordered",
            P_BASE.replace("message Line { string sku = 1; int32 quantity = 2; }", "").replace(
                "syntax = \"proto3\"; package shop;",
                "syntax = \"proto3\"; package shop; message Line { string sku = 1; int32 quantity = 2; }",
            ),
        ),
        ("field added to a oneof", P_BASE.replace("string iban = 6;", "string iban = 6; string voucher = 7;")),
        ("one field moved into a new oneof", P_BASE.replace("int64 amount = 2;", "oneof total { int64 amount = 2; }")),
        ("enum added", format!("{P_BASE} enum Kind {{ A = 0; }}")),
    ] {
        assert_eq!(proto_changes(P_BASE, &new), Vec::<(String, String)>::new(), "{why}");
    }
}

/// Why, the changed schema, and the (kind, path) of each expected incompatibility.
type ProtoCase = (&'static str, String, Vec<(&'static str, &'static str)>);

#[test]
fn protobuf_incompatible_changes_follow_confluent() {
    let cases: Vec<ProtoCase> = vec![
        ("package changed", P_BASE.replace("package shop;", "package store;"), vec![("PACKAGE_CHANGED", "#/")]),
        (
            "message removed",
            P_BASE.replace("message Line { string sku = 1; int32 quantity = 2; }", "").replace("Line line = 3;", ""),
            vec![("MESSAGE_REMOVED", "#/Line")],
        ),
        (
            "number reused with another scalar group",
            P_BASE.replace("int64 amount = 2", "string amount = 2"),
            vec![("FIELD_SCALAR_KIND_CHANGED", "#/Order/2")],
        ),
        (
            "sint64 is not int64 on the wire",
            P_BASE.replace("int64 amount", "sint64 amount"),
            vec![("FIELD_SCALAR_KIND_CHANGED", "#/Order/2")],
        ),
        (
            "scalar became a message",
            P_BASE.replace("int64 amount = 2", "Line amount = 2"),
            vec![("FIELD_KIND_CHANGED", "#/Order/2")],
        ),
        (
            "map became a scalar",
            P_BASE.replace("map<string, int32> tags = 4", "string tags = 4"),
            vec![("FIELD_KIND_CHANGED", "#/Order/4")],
        ),
        (
            "map values changed",
            P_BASE.replace("map<string, int32>", "map<string, double>"),
            vec![("FIELD_SCALAR_KIND_CHANGED", "#/Order/4")],
        ),
        (
            "a field of a referenced message changed",
            P_BASE.replace("int32 quantity = 2", "double quantity = 2"),
            vec![
                ("FIELD_SCALAR_KIND_CHANGED", "#/Line/2"),
                ("FIELD_SCALAR_KIND_CHANGED", "#/Line/2"),
                ("FIELD_NAMED_TYPE_CHANGED", "#/Order/3"),
            ],
        ),
        (
            "field removed from a oneof",
            P_BASE.replace("string iban = 6;", ""),
            vec![("ONEOF_FIELD_REMOVED", "#/Order/payment/6")],
        ),
        (
            "several fields moved into one oneof",
            P_BASE.replace("string id = 1; int64 amount = 2;", "oneof key { string id = 1; int64 amount = 2; }"),
            vec![("MULTIPLE_FIELDS_MOVED_TO_ONEOF", "#/Order/key")],
        ),
    ];
    for (why, new, expected) in cases {
        let expected: Vec<(String, String)> = expected.iter().map(|(k, p)| (k.to_string(), p.to_string())).collect();
        assert_eq!(proto_changes(P_BASE, &new), expected, "{why}");
    }
}

#[test]
fn protobuf_required_fields_and_messages() {
    let v1 = "syntax = \"proto2\"; message R { required int32 a = 1; optional string b = 2; }";
    let added = "syntax = \"proto2\"; message R { required int32 a = 1; optional string b = 2; required int64 c = 3; }";
    let removed = "syntax = \"proto2\"; message R { optional string b = 2; }";
    assert_eq!(proto_changes(v1, added), [("REQUIRED_FIELD_ADDED".to_string(), "#/R/3".to_string())]);
    assert_eq!(proto_changes(v1, removed), [("REQUIRED_FIELD_REMOVED".to_string(), "#/R/1".to_string())]);
    // Under FULL both directions count, and the messages say which schema has what.
    let result = check_all(CompatibilityLevel::Full, &proto(added), &[&proto(v1)]);
    assert_eq!(
        result.messages,
        vec![
            "{errorType:'REQUIRED_FIELD_ADDED', description:'The required field 'c' at '#/R/3' in the new schema is missing in the old schema'}".to_string(),
            "{errorType:'REQUIRED_FIELD_REMOVED', description:'The required field 'c' at '#/R/3' in the new schema is missing in the old schema'}".to_string(),
            "{oldSchemaVersion: 1}".to_string(),
            "{oldSchema: '<old>'}".to_string(),
            "{compatibility: 'FULL'}".to_string(),
        ]
    );
    // A recursive message is compared once, not forever.
    let tree = "syntax = \"proto3\"; message Node { string v = 1; repeated Node children = 2; }";
    assert!(proto_changes(tree, tree).is_empty());
    let changed = tree.replace("string v = 1", "int32 v = 1");
    assert_eq!(proto_changes(tree, &changed)[0], ("FIELD_SCALAR_KIND_CHANGED".to_string(), "#/Node/1".to_string()));
    // Avro and Protobuf never read each other.
    let result = check_all(CompatibilityLevel::Backward, &proto(v1), &[&avro(V_A)]);
    assert!(result.messages[0].contains("SCHEMA_TYPE_CHANGED"), "{:?}", result.messages);
}
