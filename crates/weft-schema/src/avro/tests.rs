use serde_json::json;

use super::*;

fn parse(text: &str) -> AvroSchema {
    AvroSchema::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn parse_err(text: &str) -> AvroParseError {
    match AvroSchema::parse(text) {
        Ok(schema) => panic!("accepted: {text}\n{schema:?}"),
        Err(e) => e,
    }
}

const ORDER: &str = r#"{
  "type": "record", "name": "Order", "namespace": "com.acme",
  "doc": "An order.",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "customer", "type": "string"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
    {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
        {"name": "sku", "type": "string"},
        {"name": "qty", "type": "int"},
        {"name": "price", "type": "double"}
    ]}}},
    {"name": "tags", "type": {"type": "map", "values": "string"}, "default": {}},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "checksum", "type": {"type": "fixed", "name": "Md5", "size": 4}},
    {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}}
  ]
}"#;

fn order_value() -> serde_json::Value {
    json!({
        "id": 42, "customer": "ada", "status": "PAID",
        "lines": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2", "qty": -1, "price": 0.25}],
        "tags": {"channel": "web", "é": "ü"},
        "note": "leave at door",
        "checksum": "\u{0}\u{ff}ab",
        "placed": 1_700_000_000_000i64, "day": 19_000,
        "ref": "123e4567-e89b-12d3-a456-426614174000",
        "amount": "\u{1}\u{2}"
    })
}

// ----- parsing -----

#[test]
fn parses_every_kind_of_type() {
    let schema = parse(ORDER);
    assert_eq!(schema.named.len(), 4);
    assert_eq!(schema.named[0].name, "com.acme.Order");
    assert_eq!(schema.named[1].name, "com.acme.Status");
    assert_eq!(schema.named[2].name, "com.acme.Line", "nested types inherit the enclosing namespace");
    let NamedKind::Record { fields, .. } = &schema.named[0].kind else { panic!() };
    assert_eq!(fields[7].ty, AvroType::Long(Some(LogicalType::TimestampMillis)));
    assert_eq!(fields[10].ty, AvroType::Bytes(Some(LogicalType::Decimal { precision: 9, scale: 2 })));
}

#[test]
fn named_types_resolve_by_namespace_and_recursively() {
    let schema = parse(
        r#"{"type":"record","name":"Node","namespace":"a.b","fields":[
            {"name":"value","type":"int"},
            {"name":"next","type":["null","Node"]},
            {"name":"other","type":{"type":"fixed","name":"x.Id","size":2}},
            {"name":"again","type":"x.Id"},
            {"name":"full","type":"a.b.Node"}
        ]}"#,
    );
    let NamedKind::Record { fields, .. } = &schema.named[0].kind else { panic!() };
    assert_eq!(fields[1].ty, AvroType::Union(vec![AvroType::Null, AvroType::Named(0)]));
    assert_eq!(fields[3].ty, AvroType::Named(1));
    assert_eq!(schema.named[1].name, "x.Id");
}

#[test]
fn parse_errors_are_precise() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"strng"}]}"#,
            "/fields/0/type",
            "did you mean 'string'",
        ),
        (r#"{"type":"record","fields":[]}"#, "", "needs a \"name\""),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
            "/fields/1",
            "already has a field named 'a'",
        ),
        (r#"{"type":"record","name":"1R","fields":[]}"#, "/name", "invalid name '1R'"),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#,
            "/fields/0/default",
            "expected a 32-bit integer",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","int"],"default":"x"}]}"#,
            "/fields/0/default",
            "must be a value of its first branch (null)",
        ),
        (r#"["null",["int","string"]]"#, "/1", "may not immediately contain another union"),
        (r#"["int","string","int"]"#, "/2", "already has a branch of type 'int'"),
        (r#"{"type":"enum","name":"E","symbols":["A","B","A"]}"#, "/symbols/2", "already has the symbol 'A'"),
        (r#"{"type":"enum","name":"E","symbols":["A"],"default":"Z"}"#, "/default", "not one of the symbols"),
        (r#"{"type":"fixed","name":"F","size":-1}"#, "/size", "non-negative integer"),
        (r#"{"type":"array"}"#, "", "needs \"items\""),
        (r#"{"type":"record","name":"int","fields":[]}"#, "/name", "primitive type"),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"enum","name":"R","symbols":["X"]}}]}"#,
            "/fields/0/type/name",
            "already defined",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"up"}]}"#,
            "/fields/0/order",
            "ascending",
        ),
        (r#"42"#, "", "found integer 42"),
    ];
    for (text, path, message) in cases {
        let err = parse_err(text);
        assert_eq!(err.path, *path, "{text}: {err}");
        assert!(err.message.contains(message), "{text}: {err}");
    }
    let err = parse_err("{\"type\": \"record\",\n \"name\": }");
    assert!(err.message.starts_with("invalid JSON at line 2 column"), "{err}");
}

#[test]
fn defaults_of_complex_types_are_checked() {
    parse(
        r#"{"type":"record","name":"R","fields":[
        {"name":"a","type":{"type":"array","items":"int"},"default":[1,2]},
        {"name":"m","type":{"type":"map","values":"long"},"default":{"x":1}},
        {"name":"r","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int","default":0}]},"default":{}},
        {"name":"f","type":{"type":"fixed","name":"F","size":2},"default":"\u00ff\u0000"},
        {"name":"u","type":["null","string"],"default":null},
        {"name":"v","type":["string","null"],"default":"x"},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]},"default":"B"},
        {"name":"l","type":{"type":"array","items":["null","int"]},"default":[null,null]}
    ]}"#,
    );
    let err = parse_err(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"int"},"default":[1,"x"]}]}"#,
    );
    assert!(err.message.contains("item 1"), "{err}");
    let err = parse_err(
        r#"{"type":"record","name":"R","fields":[{"name":"r","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int"}]},"default":{}}]}"#,
    );
    assert!(err.message.contains("field 'x' is missing"), "{err}");
}

#[test]
fn union_defaults_match_the_first_branch() {
    // Avro spec 1.11, "Complex Types": default values for union fields correspond to the first schema
    // in the union; a value of a later branch is refused, naming the field and the branch.
    let cases: &[(&str, &str, &str)] = &[
        (r#"["null","int"]"#, "5", "invalid default for field 'f': a union's default must be a value of its first branch (null): expected null, found 5"),
        (r#"["string","null"]"#, "null", "a union's default must be a value of its first branch (string): expected a string, found null"),
        (r#"[{"type":"enum","name":"E","symbols":["A"]},"null"]"#, "null", "first branch (E): expected one of the symbols of 'E'"),
        (r#"{"type":"array","items":["null","int"]}"#, "[null,3]", "item 1: a union's default must be a value of its first branch (null)"),
    ];
    for (ty, default, message) in cases {
        let text =
            format!(r#"{{"type":"record","name":"R","fields":[{{"name":"f","type":{ty},"default":{default}}}]}}"#);
        let err = parse_err(&text);
        assert_eq!(err.path, "/fields/0/default", "{text}");
        assert!(err.message.contains(message), "{text}: {err}");
    }
    // An enum's own default must be one of its symbols; a field's default of an enum type too.
    let err = parse_err(
        r#"{"type":"record","name":"R","fields":[{"name":"f","type":{"type":"enum","name":"E","symbols":["A"]},"default":"B"}]}"#,
    );
    assert!(err.message.contains("expected one of the symbols of 'E', found \"B\""), "{err}");
}

#[test]
fn wide_enums_and_records_parse_in_linear_time() {
    // 100,000 symbols, or fields, are checked for duplicates and looked up by hash.
    let symbols: Vec<String> = (0..100_000).map(|i| format!("\"S{i}\"")).collect();
    let text = format!(r#"{{"type":"enum","name":"E","symbols":[{}],"default":"S99999"}}"#, symbols.join(","));
    let started = std::time::Instant::now();
    let schema = parse(&text);
    schema.validate_json(&json!("S99999")).unwrap();
    let mut out = Vec::new();
    schema.encode_json(&json!("S99998"), &mut out).unwrap();
    assert_eq!(schema.decode_to_json(&out).unwrap(), json!("S99998"));
    assert!(schema.incompatibilities_reading(&schema).is_empty());
    let fields: Vec<String> = (0..100_000).map(|i| format!(r#"{{"name":"f{i}","type":"int","default":0}}"#)).collect();
    let text = format!(r#"{{"type":"record","name":"R","fields":[{}]}}"#, fields.join(","));
    let record = parse(&text);
    assert!(record.incompatibilities_reading(&record).is_empty());
    record.validate_json(&json!({"f99999": 1})).unwrap();
    // Seconds per operation when they scanned (7.8 s for the enum alone); a generous bound for debug builds.
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    let duplicate = format!(r#"{{"type":"enum","name":"E","symbols":[{},"S5"]}}"#, symbols.join(","));
    assert_eq!(parse_err(&duplicate).path, "/symbols/100000");
}

#[test]
fn invalid_logical_types_are_ignored_as_the_spec_says() {
    let schema = parse(r#"{"type":"bytes","logicalType":"decimal","precision":2,"scale":5}"#);
    assert_eq!(schema.root, AvroType::Bytes(None));
    let schema = parse(r#"{"type":"string","logicalType":"date"}"#);
    assert_eq!(schema.root, AvroType::String(None));
}

#[test]
fn references_supply_named_types() {
    let address =
        r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}"#;
    let customer =
        r#"{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"Address"}]}"#;
    assert!(AvroSchema::parse(customer).is_err());
    let schema = AvroSchema::parse_with_references(customer, &[address]).unwrap();
    // The canonical text names the referenced type instead of inlining it.
    assert_eq!(
        schema.canonical_text(),
        r#"{"name":"com.acme.Customer","type":"record","fields":[{"name":"home","type":"com.acme.Address"}]}"#
    );
}

// ----- canonical forms -----

#[test]
fn parsing_canonical_form_follows_the_spec() {
    assert_eq!(parse(r#"{"type":"int"}"#).parsing_canonical_form(), r#""int""#);
    let schema = parse(ORDER);
    let pcf = schema.parsing_canonical_form();
    assert!(
        pcf.starts_with(r#"{"name":"com.acme.Order","type":"record","fields":[{"name":"id","type":"long"}"#),
        "{pcf}"
    );
    assert!(!pcf.contains("doc") && !pcf.contains("default") && !pcf.contains("logicalType"), "{pcf}");
    assert!(pcf.contains(r#"{"name":"com.acme.Md5","type":"fixed","size":4}"#), "{pcf}");
    // Known fingerprint from the Avro test suite.
    assert_eq!(parse(r#""null""#).fingerprint() as i64, 7195948357588979594);
}

#[test]
fn stored_form_deduplicates_layout_but_keeps_meaning() {
    let a =
        r#"{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":"int","default":1,"doc":"x"}]}"#;
    let b = r#"{ "fields" : [ { "doc":"x", "default":1, "type":{"type":"int"}, "name":"a" } ],
                "name":"n.R", "type":"record" }"#;
    assert_eq!(parse(a).canonical_text(), parse(b).canonical_text());
    let c =
        r#"{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":"int","default":2,"doc":"x"}]}"#;
    assert_ne!(parse(a).canonical_text(), parse(c).canonical_text(), "a different default is a different schema");
    assert_eq!(parse(a).parsing_canonical_form(), parse(c).parsing_canonical_form());
    // The stored form parses back to the same schema.
    let stored = parse(ORDER).canonical_text();
    assert_eq!(parse(&stored).canonical_text(), stored);
    assert_eq!(parse(&stored), parse(ORDER));
}

#[test]
fn stored_form_keeps_null_namespaces_inside_namespaced_types() {
    let text = r#"{"type":"record","name":"Outer","namespace":"a","fields":[
        {"name":"x","type":{"type":"record","name":"Inner","namespace":"","fields":[]}}]}"#;
    let stored = parse(text).canonical_text();
    let back = parse(&stored);
    assert_eq!(back.named[1].name, "Inner", "{stored}");
}

// ----- resolution (compatibility) -----

fn incompatibilities(reader: &str, writer: &str) -> Vec<AvroIncompatibility> {
    parse(reader).incompatibilities_reading(&parse(writer))
}

#[test]
fn primitive_promotions() {
    let ok = [
        ("long", "int"),
        ("float", "int"),
        ("float", "long"),
        ("double", "float"),
        ("double", "int"),
        ("string", "bytes"),
        ("bytes", "string"),
    ];
    for (reader, writer) in ok {
        assert!(
            incompatibilities(&format!("\"{reader}\""), &format!("\"{writer}\"")).is_empty(),
            "{reader} <- {writer}"
        );
    }
    let bad = [("int", "long"), ("long", "float"), ("float", "double"), ("int", "string"), ("boolean", "int")];
    for (reader, writer) in bad {
        let found = incompatibilities(&format!("\"{reader}\""), &format!("\"{writer}\""));
        assert_eq!(found.len(), 1, "{reader} <- {writer}");
        assert_eq!(found[0].kind, AvroIncompatibilityKind::TypeMismatch);
        assert_eq!(found[0].path, "/");
    }
}

#[test]
fn added_field_needs_a_default_removed_field_is_fine() {
    let v1 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    let v2_no_default =
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;
    let v2_default = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}"#;
    let found = incompatibilities(v2_no_default, v1);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, AvroIncompatibilityKind::ReaderFieldMissingDefaultValue);
    assert_eq!(found[0].path, "/fields/1");
    assert_eq!(found[0].detail, "b");
    assert!(incompatibilities(v2_default, v1).is_empty());
    // The old schema reads new data by ignoring the added field.
    assert!(incompatibilities(v1, v2_no_default).is_empty());
}

#[test]
fn field_aliases_and_type_aliases_match() {
    let writer = r#"{"type":"record","name":"Old","fields":[{"name":"a","type":"int"}]}"#;
    let reader =
        r#"{"type":"record","name":"New","aliases":["Old"],"fields":[{"name":"b","aliases":["a"],"type":"long"}]}"#;
    assert!(incompatibilities(reader, writer).is_empty());
    let renamed = r#"{"type":"record","name":"New","fields":[{"name":"a","type":"int"}]}"#;
    let found = incompatibilities(renamed, writer);
    assert_eq!(found[0].kind, AvroIncompatibilityKind::NameMismatch);
    assert_eq!(found[0].detail, "expected: Old");
    // As in Avro's Java resolver, names compare unqualified: moving a type to a namespace is compatible.
    let moved = r#"{"type":"record","name":"Old","namespace":"com.acme","fields":[{"name":"a","type":"int"}]}"#;
    assert!(incompatibilities(moved, writer).is_empty());
    assert!(incompatibilities(&format!("[\"null\",{moved}]"), &format!("[\"null\",{writer}]")).is_empty());
    assert_eq!(found[0].path, "/name");
}

#[test]
fn enum_symbols_fixed_sizes_and_nested_paths() {
    let writer = r#"{"type":"record","name":"R","fields":[
        {"name":"s","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
        {"name":"f","type":{"type":"fixed","name":"F","size":4}},
        {"name":"l","type":{"type":"array","items":"long"}}]}"#;
    let reader = r#"{"type":"record","name":"R","fields":[
        {"name":"s","type":{"type":"enum","name":"E","symbols":["A","B"]}},
        {"name":"f","type":{"type":"fixed","name":"F","size":8}},
        {"name":"l","type":{"type":"array","items":"int"}}]}"#;
    let found = incompatibilities(reader, writer);
    let summary: Vec<(AvroIncompatibilityKind, &str, &str)> =
        found.iter().map(|i| (i.kind, i.path.as_str(), i.detail.as_str())).collect();
    assert_eq!(
        summary,
        vec![
            (AvroIncompatibilityKind::MissingEnumSymbols, "/fields/0/type/symbols", "[C]"),
            (AvroIncompatibilityKind::FixedSizeMismatch, "/fields/1/type/size", "expected: 4, found: 8"),
            (
                AvroIncompatibilityKind::TypeMismatch,
                "/fields/2/type/items",
                "reader type: INT not compatible with writer type: LONG"
            ),
        ]
    );
    // A reader enum default stands in for unknown symbols.
    let with_default = r#"{"type":"enum","name":"E","symbols":["A","B","X"],"default":"X"}"#;
    assert!(incompatibilities(with_default, r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#).is_empty());
}

#[test]
fn union_branches() {
    assert!(incompatibilities(r#"["null","string","int"]"#, r#"["null","string"]"#).is_empty());
    let found = incompatibilities(r#"["null","string"]"#, r#"["null","string","int"]"#);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, AvroIncompatibilityKind::MissingUnionBranch);
    assert_eq!(found[0].path, "/2");
    // A non-union writer is read by a union reader holding (a promotion of) its type.
    assert!(incompatibilities(r#"["null","long"]"#, r#""int""#).is_empty());
    assert_eq!(
        incompatibilities(r#"["null","string"]"#, r#""int""#)[0].kind,
        AvroIncompatibilityKind::MissingUnionBranch
    );
    // A union writer read by a non-union reader works only if every branch does.
    assert!(incompatibilities(r#""long""#, r#"["int","long"]"#).is_empty());
    assert_eq!(incompatibilities(r#""long""#, r#"["null","long"]"#)[0].path, "/0");
}

#[test]
fn recursive_types_terminate() {
    let list =
        r#"{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}"#;
    let wider =
        r#"{"type":"record","name":"L","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","L"]}]}"#;
    assert!(incompatibilities(list, list).is_empty());
    assert!(incompatibilities(wider, list).is_empty());
    assert!(!incompatibilities(list, wider).is_empty());
}

// ----- JSON validation -----

#[test]
fn validates_json_values() {
    let schema = parse(ORDER);
    schema.validate_json(&order_value()).unwrap();
    let mut without_optional = order_value();
    let map = without_optional.as_object_mut().unwrap();
    map.remove("note");
    map.remove("tags");
    schema.validate_json(&without_optional).unwrap();

    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (json!({"lines": [{"sku": "A", "qty": 2.5, "price": 1}]}), "/lines/0/qty", "expected int, found number 2.5"),
        (
            json!({"lines": [{"sku": "A", "qty": 3_000_000_000i64, "price": 1}]}),
            "/lines/0/qty",
            "out of the range of an Avro int",
        ),
        (json!({"status": "LOST"}), "/status", "not a symbol of enum 'com.acme.Status'"),
        (json!({"note": 5}), "/note", "expected one of [null, string]"),
        (json!({"checksum": "abc"}), "/checksum", "exactly 4 bytes, found 3"),
        (json!({"ref": "nope"}), "/ref", "not a UUID"),
        (json!({"tags": {"a": 1}}), "/tags/a", "expected string"),
        (json!({"extra": true}), "/extra", "unknown field 'extra'"),
        (json!({"amount": "\u{100}"}), "/amount", "code points 0 to 255"),
    ];
    for (patch, path, message) in cases {
        let mut value = order_value();
        for (k, v) in patch.as_object().unwrap() {
            value[k] = v.clone();
        }
        let err = schema.validate_json(&value).unwrap_err();
        assert_eq!(err.path, path, "{patch}: {err}");
        assert!(err.message.contains(message), "{patch}: {err}");
    }
    let mut missing = order_value();
    missing.as_object_mut().unwrap().remove("customer");
    let err = schema.validate_json(&missing).unwrap_err();
    assert_eq!(err.path, "");
    assert!(err.message.contains("missing required field 'customer'"), "{err}");
}

#[test]
fn unions_accept_plain_and_avro_json_encodings() {
    let schema = parse(r#"["null","int",{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}]"#);
    schema.validate_json(&json!(null)).unwrap();
    schema.validate_json(&json!(3)).unwrap();
    schema.validate_json(&json!({"x": 1})).unwrap();
    schema.validate_json(&json!({"int": 3})).unwrap();
    schema.validate_json(&json!({"P": {"x": 1}})).unwrap();
    assert!(schema.validate_json(&json!({"int": "3"})).is_err());
    assert!(schema.validate_json(&json!("s")).is_err());
}

// ----- binary encoding -----

fn encode(schema: &AvroSchema, value: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::new();
    schema.encode_json(value, &mut out).unwrap_or_else(|e| panic!("{e}"));
    out
}

#[test]
fn zig_zag_varints_match_the_spec() {
    let schema = parse(r#""long""#);
    let vectors: &[(i64, &[u8])] = &[
        (0, &[0x00]),
        (-1, &[0x01]),
        (1, &[0x02]),
        (-2, &[0x03]),
        (2, &[0x04]),
        (-64, &[0x7f]),
        (64, &[0x80, 0x01]),
        (i64::MAX, &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        (i64::MIN, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ];
    for (n, bytes) in vectors {
        assert_eq!(encode(&schema, &json!(n)), *bytes, "{n}");
        assert_eq!(schema.decode_to_json(bytes).unwrap(), json!(n));
    }
}

#[test]
fn round_trips_every_kind_of_type() {
    let schema = parse(ORDER);
    let value = order_value();
    let bytes = encode(&schema, &value);
    assert_eq!(schema.decode_to_json(&bytes).unwrap(), value);
    // Defaults and nullable fields fill in absent fields.
    let mut sparse = order_value();
    sparse.as_object_mut().unwrap().remove("note");
    sparse.as_object_mut().unwrap().remove("tags");
    let decoded = schema.decode_to_json(&encode(&schema, &sparse)).unwrap();
    assert_eq!(decoded["note"], json!(null));
    assert_eq!(decoded["tags"], json!({}));
}

#[test]
fn round_trips_says_whether_decoding_gives_the_value_back() {
    let schema = parse(ORDER);
    let mut cases = vec![(order_value(), true)];
    let mut change = |edit: &dyn Fn(&mut serde_json::Value), expected: bool| {
        let mut value = order_value();
        edit(&mut value);
        cases.push((value, expected));
    };
    change(&|v| v["note"] = json!(null), true);
    // Forms encoding accepts and decoding does not give back.
    change(&|v| v["note"] = json!({"string": "leave at door"}), false);
    change(
        &|v| {
            v.as_object_mut().unwrap().remove("tags");
        },
        false,
    );
    change(&|v| v["lines"][0]["price"] = json!(9), false);
    change(&|v| v["lines"][0]["price"] = json!(9.0), true);
    change(&|v| v["tags"] = json!({}), true);
    // Values that do not fit at all.
    change(&|v| v["id"] = json!(4.5), false);
    change(&|v| v["extra"] = json!(1), false);
    change(&|v| v["lines"][1]["qty"] = json!(1u64 << 40), false);
    for (value, expected) in &cases {
        assert_eq!(schema.round_trips(value), *expected, "{value}");
        let mut bytes = Vec::new();
        if schema.encode_json(value, &mut bytes).is_ok() {
            let back = schema.decode_to_json(&bytes).unwrap();
            assert_eq!(back == *value, *expected, "round_trips must say what decoding does: {value}");
        }
    }
    let float = parse(r#"{"type":"record","name":"F","fields":[{"name":"f","type":"float"}]}"#);
    for (f, expected) in [(json!({"f": 0.5}), true), (json!({"f": 0.1}), false), (json!({"f": 2}), false)] {
        assert_eq!(float.round_trips(&f), expected, "{f}");
        let back = float.decode_to_json(&encode(&float, &f)).unwrap();
        assert_eq!(back == f, expected, "{f}");
    }
}

#[test]
fn encodes_known_bytes() {
    let schema = parse(
        r#"{"type":"record","name":"R","fields":[
        {"name":"s","type":"string"},{"name":"u","type":["null","int"]},{"name":"a","type":{"type":"array","items":"int"}},
        {"name":"b","type":"boolean"},{"name":"f","type":"float"},{"name":"d","type":"double"}]}"#,
    );
    let bytes = encode(&schema, &json!({"s": "hi", "u": 1, "a": [1, 2], "b": true, "f": 1.5, "d": -2.0}));
    let mut expected = vec![0x04, b'h', b'i', 0x02, 0x02, 0x04, 0x02, 0x04, 0x00, 0x01];
    expected.extend_from_slice(&1.5f32.to_le_bytes());
    expected.extend_from_slice(&(-2.0f64).to_le_bytes());
    assert_eq!(bytes, expected);
}

#[test]
fn decodes_blocks_with_byte_sizes() {
    let schema = parse(r#"{"type":"array","items":"int"}"#);
    // Two blocks: count -2 with a byte size of 2, then count 1, then the end marker.
    let bytes = [0x03, 0x04, 0x02, 0x04, 0x02, 0x06, 0x00];
    assert_eq!(schema.decode_to_json(&bytes).unwrap(), json!([1, 2, 3]));
    let map = parse(r#"{"type":"map","values":"boolean"}"#);
    assert_eq!(map.decode_to_json(&[0x01, 0x04, 0x02, b'k', 0x01, 0x00]).unwrap(), json!({"k": true}));
}

#[test]
fn decode_errors_say_where_and_never_panic() {
    let schema = parse(ORDER);
    let bytes = encode(&schema, &order_value());
    for cut in 0..bytes.len() {
        assert!(schema.decode_to_json(&bytes[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(schema.decode_to_json(&trailing).unwrap_err().message.contains("trailing"));

    let union = parse(r#"["null","int"]"#);
    let err = union.decode_to_json(&[0x04]).unwrap_err();
    assert_eq!(err.position, 0);
    assert!(err.message.contains("union branch 2 does not exist"), "{err}");
    let nulls = parse(r#"{"type":"array","items":"null"}"#);
    let err = nulls.decode_to_json(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).unwrap_err();
    assert!(err.message.contains("larger than the input allows"), "{err}");
    let string = parse(r#""string""#);
    assert!(string.decode_to_json(&[0x02, 0xff]).unwrap_err().message.contains("UTF-8"));
    assert!(string.decode_to_json(&[0x01]).unwrap_err().message.contains("negative length"));
    let long = parse(r#""long""#);
    assert!(long.decode_to_json(&[0xff; 11]).unwrap_err().message.contains("longer than 64 bits"));
    // Random bytes never panic.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let len = (seed % 40) as usize;
        let mut input = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            input.push(seed as u8);
        }
        let _ = schema.decode_to_json(&input);
    }
}

#[test]
fn deep_recursive_data_is_bounded() {
    let list = parse(r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#);
    let bytes = vec![0x02; 100_000];
    let err = list.decode_to_json(&bytes).unwrap_err();
    assert_eq!(err.message, "the data nests deeper than 128 levels");
    assert_eq!(list.validate_binary(&bytes).unwrap_err(), err);
}

#[test]
fn encode_refuses_invalid_values_and_leaves_output_untouched() {
    let schema = parse(ORDER);
    let mut out = vec![9];
    let mut value = order_value();
    value["lines"][1]["qty"] = json!("two");
    let err = schema.encode_json(&value, &mut out).unwrap_err();
    assert_eq!(err.path, "/lines/1/qty");
    assert_eq!(out, vec![9]);
}

#[test]
fn fast_path_agrees_with_exact_validation() {
    let schemas = [
        parse(ORDER),
        parse(
            r#"["null","int",{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]},{"type":"map","values":"long"}]"#,
        ),
    ];
    let samples = [order_value(), json!({"x": 1}), json!({"a": 1}), json!(null), json!(3)];
    let mut checked = 0;
    for schema in &schemas {
        for sample in &samples {
            for value in crate::testing::mutations(sample) {
                let bytes = serde_json::to_vec(&value).unwrap();
                let exact = schema.validate_json(&value);
                let fast = schema.validate_json_bytes(&bytes);
                assert_eq!(fast, exact, "{value}");
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
    let err = schemas[0].validate_json_bytes(b"{\"id\": ").unwrap_err();
    assert!(err.message.starts_with("invalid JSON at line 1 column"), "{err}");
    assert!(schemas[0].validate_json_bytes(b"{} {}").is_err(), "trailing data");
    // Escaped keys and duplicate keys take the exact path.
    let escaped = br#"{"x": 1, "\u0078": 2}"#;
    assert_eq!(schemas[1].validate_json_bytes(escaped), Ok(()));
}

#[test]
fn long_chains_of_named_types_do_not_overflow_the_stack() {
    let mut branches = vec![r#"{"type":"record","name":"R0","fields":[]}"#.to_string()];
    for i in 1..3000 {
        branches.push(format!(r#"{{"type":"record","name":"R{i}","fields":[{{"name":"f","type":"R{}"}}]}}"#, i - 1));
    }
    let text = format!("[{}]", branches.join(","));
    let schema = parse(&text);
    let found = schema.incompatibilities_reading(&schema);
    assert!(found.iter().all(|i| i.detail.contains("too deeply")), "{found:?}");
    let _ = schema.canonical_text();
    let _ = schema.parsing_canonical_form();
}

#[test]
fn binary_validation_agrees_with_decoding() {
    let schema = parse(ORDER);
    let bytes = encode(&schema, &order_value());
    schema.validate_binary(&bytes).unwrap();
    for cut in 0..bytes.len() {
        assert_eq!(
            schema.validate_binary(&bytes[..cut]).is_ok(),
            schema.decode_to_json(&bytes[..cut]).is_ok(),
            "{cut}"
        );
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        let mut input = bytes.clone();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = (seed % input.len() as u64) as usize;
        input[at] = (seed >> 32) as u8;
        let (checked, decoded) = (schema.validate_binary(&input), schema.decode_to_json(&input));
        assert_eq!(checked.is_ok(), decoded.is_ok(), "{input:?}: {checked:?} vs {decoded:?}");
        if let (Err(a), Err(b)) = (checked, decoded) {
            assert_eq!(a.position, b.position);
        }
    }
}

#[test]
fn mangled_schemas_never_panic() {
    let mut rng = crate::testing::Rng(0x1234_5678_9abc_def1);
    let original = parse(ORDER);
    let value: serde_json::Value = serde_json::from_str(ORDER).unwrap();
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..3000 {
        let mut mangled = value.clone();
        for _ in 0..1 + rng.below(3) {
            crate::testing::mutate_randomly(&mut mangled, &mut rng);
        }
        let Ok(schema) = AvroSchema::parse(&mangled.to_string()) else {
            refused += 1;
            continue;
        };
        parsed += 1;
        let stored = schema.canonical_text();
        let again = AvroSchema::parse(&stored).unwrap_or_else(|e| panic!("{e}\n{stored}"));
        assert_eq!(again.canonical_text(), stored);
        let _ = schema.parsing_canonical_form();
        let _ = schema.incompatibilities_reading(&original);
        let _ = original.incompatibilities_reading(&schema);
        let _ = schema.validate_json(&order_value());
        let _ = schema.validate_json_bytes(order_value().to_string().as_bytes());
        let mut out = Vec::new();
        if schema.encode_json(&order_value(), &mut out).is_ok() {
            assert_eq!(schema.decode_to_json(&out).is_ok(), schema.validate_binary(&out).is_ok());
        }
        let _ = schema.decode_to_json(&[0x02, 0x04, 0x06, 0x08]);
    }
    assert!(parsed > 300 && refused > 300, "parsed {parsed}, refused {refused}");
}

#[test]
fn java_text_is_what_avros_java_library_writes() {
    // Expected texts as Avro 1.11's `Schema.toString()` writes them (what Confluent's registry answers).
    let cases = [
        (
            r#"{"namespace": "shop", "name": "Order", "type": "record", "fields": [{"name": "id", "type": "long"}]}"#,
            r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"}]}"#,
        ),
        // A full name is split into name and namespace; a nested type of the same namespace omits it,
        // a later use of it is its short name, a type of another namespace keeps its own.
        (
            r#"{"type": "record", "name": "shop.Order", "doc": "An order", "fields": [
                {"name": "item", "type": {"type": "record", "name": "Item", "fields": [{"name": "sku", "type": "string"}]}},
                {"name": "gift", "type": ["null", "Item"], "default": null, "doc": "A second item"},
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                {"name": "state", "type": {"type": "enum", "name": "other.State", "symbols": ["A", "B"], "default": "A"}},
                {"name": "bare", "type": {"type": "fixed", "name": "Bare", "namespace": "", "size": 2}, "order": "descending"}
            ]}"#,
            concat!(
                r#"{"type":"record","name":"Order","namespace":"shop","doc":"An order","fields":["#,
                r#"{"name":"item","type":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"}]}},"#,
                r#"{"name":"gift","type":["null","Item"],"doc":"A second item","default":null},"#,
                r#"{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},"#,
                r#"{"name":"state","type":{"type":"enum","name":"State","namespace":"other","symbols":["A","B"],"default":"A"}},"#,
                r#"{"name":"bare","type":{"type":"fixed","name":"Bare","namespace":"","size":2},"order":"descending"}]}"#
            ),
        ),
        (r#"{"type": "array", "items": "string"}"#, r#"{"type":"array","items":"string"}"#),
        (r#""int""#, r#""int""#),
    ];
    for (text, expected) in cases {
        let schema = AvroSchema::parse(text).unwrap();
        assert_eq!(schema.java_text(), expected, "{text}");
        // The text is a schema again, and the same one.
        assert_eq!(AvroSchema::parse(expected).unwrap().canonical_text(), schema.canonical_text());
    }
}

#[test]
fn encode_json_as_writes_a_field_default_as_a_datum_of_the_field_type() {
    let schema = parse(
        r#"{"type": "record", "name": "r", "fields": [
            {"name": "c1", "type": "int"},
            {"name": "c2", "type": "int", "default": 100},
            {"name": "c3", "type": ["null", "int"], "default": null}]}"#,
    );
    let NamedKind::Record { fields, .. } = &schema.named[0].kind else { panic!("not a record") };
    let mut out = vec![7];
    // Zig-zag 100 is 200, a varint of two bytes.
    schema.encode_json_as(&fields[1].ty, fields[1].default.as_ref().unwrap(), &mut out).unwrap();
    assert_eq!(out, [7, 0xc8, 0x01]);
    // A union's null is the index of its null branch.
    schema.encode_json_as(&fields[2].ty, &serde_json::Value::Null, &mut out).unwrap();
    assert_eq!(out, [7, 0xc8, 0x01, 0]);
    // A value of another type is refused and appends nothing.
    let err = schema.encode_json_as(&fields[0].ty, &json!("x"), &mut out).unwrap_err();
    assert!(err.to_string().contains("expected int"), "{err}");
    assert_eq!(out, [7, 0xc8, 0x01, 0]);
}
