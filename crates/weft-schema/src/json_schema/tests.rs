use serde_json::{json, Value};

use super::*;

fn schema(value: Value) -> JsonSchema {
    JsonSchema::parse(&value.to_string()).unwrap_or_else(|e| panic!("{e}\n{value}"))
}

fn reject(schema: &JsonSchema, value: Value) -> ValidationError {
    match schema.validate(&value) {
        Ok(()) => panic!("accepted {value}"),
        Err(e) => {
            assert!(!schema.is_valid(&value));
            e
        }
    }
}

fn accept(schema: &JsonSchema, value: Value) {
    if let Err(e) = schema.validate(&value) {
        panic!("rejected {value}: {e}");
    }
    assert!(schema.is_valid(&value));
}

fn order_schema() -> JsonSchema {
    schema(json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "email": {"type": "string", "format": "email"},
            "placed": {"type": "string", "format": "date-time"},
            "ref": {"type": "string", "format": "uuid"},
            "status": {"enum": ["NEW", "PAID"]},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$", "minLength": 5, "maxLength": 10},
            "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000, "multipleOf": 0.01},
            "lines": {"type": "array", "items": {"$ref": "#/definitions/line"}, "minItems": 1, "uniqueItems": true},
            "note": {"type": ["string", "null"]}
        },
        "required": ["id", "email"],
        "additionalProperties": false,
        "definitions": {
            "line": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}, "required": ["sku"]}
        }
    }))
}

#[test]
fn validates_draft_07_keywords_with_paths() {
    let s = order_schema();
    accept(
        &s,
        json!({"id": 1, "email": "a@b.org", "placed": "2024-01-01T00:00:00Z", "ref": "123e4567-e89b-12d3-a456-426614174000",
               "status": "PAID", "code": "ABC-12", "price": 10.25, "lines": [{"sku": "x", "qty": 1}], "note": null}),
    );
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"id": 1}), "", "missing required property 'email'"),
        (json!({"id": 0, "email": "a@b.org"}), "/id", "less than the minimum 1"),
        (json!({"id": 1.5, "email": "a@b.org"}), "/id", "expected integer"),
        (json!({"id": 1, "email": "nope"}), "/email", "not a valid email"),
        (json!({"id": 1, "email": "a@b.org", "placed": "yesterday"}), "/placed", "not a valid date-time"),
        (json!({"id": 1, "email": "a@b.org", "ref": "x"}), "/ref", "not a valid uuid"),
        (json!({"id": 1, "email": "a@b.org", "status": "LOST"}), "/status", "not one of the allowed values"),
        (json!({"id": 1, "email": "a@b.org", "code": "abc-12"}), "/code", "does not match the pattern"),
        (json!({"id": 1, "email": "a@b.org", "code": "AB-1"}), "/code", "shorter than minLength 5"),
        (json!({"id": 1, "email": "a@b.org", "price": 0}), "/price", "not greater than the exclusive minimum 0"),
        (json!({"id": 1, "email": "a@b.org", "price": 1000.5}), "/price", "greater than the maximum 1000"),
        (json!({"id": 1, "email": "a@b.org", "price": 1.001}), "/price", "not a multiple of 0.01"),
        (json!({"id": 1, "email": "a@b.org", "lines": []}), "/lines", "fewer than minItems 1"),
        (json!({"id": 1, "email": "a@b.org", "lines": [{"qty": 1}]}), "/lines/0", "missing required property 'sku'"),
        (json!({"id": 1, "email": "a@b.org", "lines": [{"sku": "a", "qty": "1"}]}), "/lines/0/qty", "expected integer"),
        (json!({"id": 1, "email": "a@b.org", "lines": [{"sku": "a"}, {"sku": "a"}]}), "/lines", "uniqueItems"),
        (
            json!({"id": 1, "email": "a@b.org", "colour": "red"}),
            "/colour",
            "not allowed (additionalProperties is false)",
        ),
        (json!({"id": 1, "email": "a@b.org", "note": 3}), "/note", "expected null or string"),
        (json!([1]), "", "expected object"),
    ];
    for (value, path, message) in cases {
        let err = reject(&s, value.clone());
        assert_eq!(err.path, path, "{value}: {err}");
        assert!(err.message.contains(message), "{value}: {err}");
    }
}

#[test]
fn validates_2020_12_keywords() {
    let s = schema(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": false},
            "tags": {"type": "array", "contains": {"const": "vip"}, "maxContains": 1},
            "kind": {"$ref": "#/$defs/kind"},
            "range": {"type": "number", "exclusiveMaximum": 10},
            "anchor": {"$ref": "#pos"}
        },
        "dependentRequired": {"card": ["cvv"]},
        "$defs": {"kind": {"enum": ["a", "b"]}, "pos": {"$anchor": "pos", "type": "integer", "minimum": 0}}
    }));
    accept(&s, json!({"point": [1, 2], "tags": ["vip", "x"], "kind": "a", "range": 9.9, "anchor": 3}));
    assert_eq!(reject(&s, json!({"point": [1, 2, 3]})).path, "/point/2");
    let between = "the number of items matching 'contains' is not between 1 and 1 (minContains, maxContains)";
    assert_eq!(reject(&s, json!({"tags": ["x"]})).message, between);
    assert_eq!(reject(&s, json!({"tags": ["vip", "vip"]})).message, between);
    let plain = schema(json!({"contains": {"const": 1}}));
    assert_eq!(reject(&plain, json!([2])).message, "no item matches 'contains'");
    assert_eq!(reject(&s, json!({"kind": "c"})).path, "/kind");
    assert!(reject(&s, json!({"range": 10})).message.contains("exclusive maximum 10"));
    assert!(reject(&s, json!({"card": "1"})).message.contains("'cvv' is required when 'card' is present"));
    assert_eq!(reject(&s, json!({"anchor": -1})).path, "/anchor");
}

#[test]
fn combinators_and_conditionals() {
    let s = schema(json!({
        "type": "object",
        "properties": {
            "id": {"oneOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}]},
            "any": {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]},
            "all": {"allOf": [{"type": "string"}, {"minLength": 2}]},
            "not": {"not": {"type": "null"}},
            "kind": {"type": "string"}
        },
        "if": {"properties": {"kind": {"const": "company"}}},
        "then": {"required": ["vat"]},
        "else": {"required": ["name"]}
    }));
    accept(&s, json!({"id": 7, "any": 3, "all": "ab", "not": 1, "kind": "person", "name": "x"}));
    accept(&s, json!({"kind": "company", "vat": "X"}));
    let err = reject(&s, json!({"name": "x", "any": -1}));
    assert_eq!(err.path, "/any");
    assert!(err.message.contains("matches no schema of anyOf (branch 0:"), "{err}");
    assert!(reject(&s, json!({"name": "x", "all": "a"})).message.contains("minLength 2"));
    assert!(reject(&s, json!({"name": "x", "not": null})).message.contains("'not'"));
    assert!(reject(&s, json!({"kind": "company"})).message.contains("'vat'"));
    assert!(reject(&s, json!({"kind": "person"})).message.contains("'name'"));
    let one_of = schema(json!({"oneOf": [{"type": "number"}, {"type": "integer"}]}));
    assert!(reject(&one_of, json!(1)).message.contains("more than one schema of oneOf"));
    accept(&one_of, json!(1.5));
}

#[test]
fn draft_04_exclusive_bounds_and_draft_07_ref_siblings() {
    let s =
        schema(json!({"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": true}));
    accept(&s, json!(4.9));
    reject(&s, json!(5));
    // Before 2019-09, keywords beside $ref are ignored.
    let s = schema(json!({"definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s", "maxLength": 1}));
    accept(&s, json!("long string"));
    let s = schema(
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 1}),
    );
    reject(&s, json!("long string"));
}

#[test]
fn recursive_schemas_work_and_ref_loops_are_bounded() {
    let tree = schema(json!({
        "type": "object",
        "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#"}}}
    }));
    accept(&tree, json!({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}));
    assert_eq!(
        reject(&tree, json!({"children": [{"children": [{"value": "x"}]}]})).path,
        "/children/0/children/0/value"
    );
    // A schema that refers back to itself without descending into the value validates in bounded time
    // (the validator stops at a location it is already evaluating), whatever the verdict.
    let looping =
        json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"});
    for looping in [looping, json!({"$ref": "#"}), json!({"anyOf": [{"not": {"$ref": "#"}}]})] {
        let compiled = schema(looping);
        let _ = compiled.validate(&json!({"a": [1]}));
    }
    // Payloads built in memory can be deeper than parsed JSON allows: validation stops, not the stack.
    let mut deep = json!({"value": 1});
    for _ in 0..400 {
        deep = json!({"children": [deep]});
    }
    assert!(reject(&tree, deep).message.contains("validation nests deeper than 128 levels"));
}

#[test]
fn schema_errors_are_precise() {
    let cases: Vec<(&str, &str, &str)> = vec![
        (r#"{"type": "strin"}"#, "/type", r#""strin" is not one of the allowed values ["array", "boolean""#),
        (
            r#"{"properties": {"a": {"type": ["string", 5]}}}"#,
            "/properties/a/type",
            "branch 1: at /properties/a/type/1: 5 is not one of",
        ),
        (r#"{"properties": {"a": {"minLength": -1}}}"#, "/properties/a/minLength", "-1 is less than the minimum 0"),
        (r#"{"properties": {"a": {"pattern": "(unclosed"}}}"#, "/properties/a/pattern", "is not a regular expression"),
        (r#"{"properties": {"a": {"pattern": "(?=x)a"}}}"#, "/properties/a/pattern", "without look-around"),
        (
            r##"{"properties": {"a": {"$ref": "#/definitions/missing"}}}"##,
            "/properties/a/$ref",
            "cannot resolve $ref: no location '/definitions/missing'",
        ),
        (r##"{"properties": {"a": {"$ref": "#nope"}}}"##, "/properties/a/$ref", "no anchor 'nope'"),
        (r#"{"properties": {"a": {"$ref": "other.json"}}}"#, "/properties/a/$ref", "cannot resolve $ref 'other.json'"),
        (r#"{"required": "a"}"#, "/required", r#"expected array, found string "a""#),
        (r#"{"allOf": []}"#, "/allOf", "0 items, fewer than minItems 1"),
        (r#"{"items": 5}"#, "/items", "expected boolean or object, found integer 5"),
        (r#"{"$schema": "https://example.com/my-meta"}"#, "/$schema", "unsupported $schema"),
        (
            r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "items": [{}]}"#,
            "/items",
            "expected boolean or object, found array",
        ),
        (r#"{"multipleOf": 0}"#, "/multipleOf", "0 is not greater than the exclusive minimum 0"),
    ];
    for (text, path, message) in cases {
        let err = JsonSchema::parse(text).unwrap_err();
        assert_eq!(err.path, path, "{text}: {err}");
        assert!(err.message.contains(message), "{text}: {err}");
    }
    let err = JsonSchema::parse("{\n  \"type\": }").unwrap_err();
    assert!(err.message.starts_with("invalid JSON at line 2 column 11"), "{err}");
}

#[test]
fn what_the_suite_found_missing_now_works() {
    // Decimal counts, the official metaschemas (built in), and a $ref relative to a nested $id.
    accept(&schema(json!({"maxItems": 2.0})), json!([1, 2]));
    reject(&schema(json!({"maxItems": 2.0})), json!([1, 2, 3]));
    let meta = schema(json!({"$ref": "http://json-schema.org/draft-07/schema#"}));
    accept(&meta, json!({"type": "string"}));
    assert_eq!(reject(&meta, json!({"type": 5})).path, "/type");
    let nested = schema(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.com/root.json",
        "properties": {"a": {"$ref": "item.json"}},
        "$defs": {"item": {"$id": "item.json", "type": "integer"}}
    }));
    accept(&nested, json!({"a": 1}));
    assert_eq!(reject(&nested, json!({"a": "x"})).path, "/a");
    // ECMAScript semantics: \d is ASCII digits only.
    reject(&schema(json!({"pattern": "^\\d$"})), json!("\u{07c0}"));
}

#[test]
fn enums_refuse_what_is_not_listed_whatever_its_kind() {
    let letters = schema(json!({"enum": ["a", "b"]}));
    for value in [json!({}), json!([1, 2]), json!(["a"]), json!({"a": 1})] {
        let err = reject(&letters, value.clone());
        assert_eq!(letters.validate_bytes(value.to_string().as_bytes()), Err(err));
    }
    let status = schema(json!({"properties": {"status": {"enum": ["NEW", "PAID"]}}}));
    let err = reject(&status, json!({"status": {"x": 1}}));
    assert_eq!(err.path, "/status");
    assert!(err.message.contains(r#"is not one of the allowed values ["NEW", "PAID"] (enum)"#), "{err}");
    assert!(status.validate_bytes(br#"{"status": {"x": 1}}"#).is_err());
}

#[test]
fn format_asserts_under_every_draft_unless_the_specification_is_asked_for() {
    for draft in [
        "http://json-schema.org/draft-04/schema#",
        "http://json-schema.org/draft-07/schema#",
        "https://json-schema.org/draft/2020-12/schema",
    ] {
        let text = json!({"$schema": draft, "properties": {"id": {"format": "uuid"}, "at": {"format": "date-time"}}})
            .to_string();
        let weft = JsonSchema::parse(&text).unwrap();
        assert_eq!(reject(&weft, json!({"id": "x"})).message, r#""x" is not a valid uuid (format)"#, "{draft}");
        assert_eq!(reject(&weft, json!({"at": "2024-02-30T00:00:00Z"})).path, "/at", "{draft}");
        accept(&weft, json!({"id": "123e4567-e89b-12d3-a456-426614174000", "at": "2024-02-29T23:59:60Z"}));
        let spec = JsonSchema::parse_with(&text, &[], JsonSchemaOptions { format: FormatMode::Specification }).unwrap();
        // The specification: an assertion up to draft-07 where the draft defines the format, an
        // annotation from 2019-09 on.
        assert_eq!(spec.is_valid(&json!({"at": "yesterday"})), draft.contains("2020-12"), "{draft}");
        assert!(spec.is_valid(&json!({"id": "x"})), "{draft}");
    }
    // Patterns stay linear-time whatever the mode: look-around is refused, not backtracked.
    let look_ahead =
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "pattern": "(?=a)a"}).to_string();
    for format in [FormatMode::Assert, FormatMode::Specification] {
        let err = JsonSchema::parse_with(&look_ahead, &[], JsonSchemaOptions { format }).unwrap_err();
        assert_eq!(err.path, "/pattern", "{format}: {err}");
    }
}

#[test]
fn references_to_other_schemas_resolve_by_name() {
    let address = r#"{"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}, "$defs": {"city": {"type": "string"}}}"#;
    let customer = r#"{"type": "object", "properties": {"home": {"$ref": "address.json"}, "city": {"$ref": "address.json#/$defs/city"}}}"#;
    assert!(JsonSchema::parse(customer).is_err());
    let s = JsonSchema::parse_with_references(customer, &[("address.json", address)]).unwrap();
    accept(&s, json!({"home": {"zip": "12345"}, "city": "Paris"}));
    assert_eq!(reject(&s, json!({"home": {"zip": "1"}})).path, "/home/zip");
    assert_eq!(reject(&s, json!({"city": 1})).path, "/city");
}

#[test]
fn canonical_text_ignores_layout_and_key_order() {
    let a =
        JsonSchema::parse(r#"{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"integer"}}}"#).unwrap();
    let b = JsonSchema::parse(
        "{ \"properties\": { \"a\": {\"type\": \"integer\"},\n \"b\": {\"type\":\"string\"} }, \"type\": \"object\" }",
    )
    .unwrap();
    assert_eq!(a.canonical_text(), b.canonical_text());
    assert_eq!(a.canonical_text(), r#"{"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"type":"object"}"#);
}

#[test]
fn bytes_and_values_get_one_verdict() {
    let schemas = [
        order_schema(),
        schema(json!({
            "type": "object",
            "properties": {
                "id": {"oneOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}]},
                "n": {"type": "number", "multipleOf": 0.5, "exclusiveMaximum": 10, "enum": [0, 1, 1.5, 2, 20]},
                "s": {"type": "string", "minLength": 1, "maxLength": 3, "const": "ab"},
                "t": {"type": "array", "prefixItems": [{"type": "integer"}], "items": {"type": "string"}, "maxItems": 3},
                "u": {"type": "array", "uniqueItems": true},
                "m": {"type": "object", "minProperties": 1, "maxProperties": 2},
                "r": {"$ref": "#/$defs/r"}
            },
            "required": ["id"],
            "additionalProperties": {"type": ["integer", "boolean"]},
            "$defs": {"r": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}
        })),
    ];
    let samples = [
        json!({"id": 1, "email": "a@b.org", "price": 10.25, "lines": [{"sku": "x", "qty": 1}], "note": null, "code": "ABC-12"}),
        json!({"id": 1, "n": 1.5, "s": "ab", "t": [1, "a"], "u": [1, 2], "m": {"a": 1}, "r": {"x": 1}, "extra": true}),
    ];
    let mut checked = 0;
    for schema in &schemas {
        for sample in &samples {
            for value in crate::testing::mutations(sample) {
                let bytes = serde_json::to_vec(&value).unwrap();
                assert_eq!(schema.validate_bytes(&bytes), schema.validate(&value), "{value}");
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
    // A duplicate key counts once, as in a parsed value.
    let duplicate = br#"{"id": 1, "m": {"a": 1, "a": 2}}"#;
    assert_eq!(schemas[1].validate_bytes(duplicate), Ok(()));
}

#[test]
fn long_ref_chains_neither_overflow_nor_hang() {
    let mut defs = serde_json::Map::new();
    for i in 0..5000 {
        defs.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": {"next": {"$ref": format!("#/$defs/d{}", i + 1)}}}),
        );
    }
    defs.insert("d5000".into(), json!({"type": "string"}));
    let text = json!({"$ref": "#/$defs/d0", "$defs": defs}).to_string();
    let chain = JsonSchema::parse(&text).unwrap();
    // Validation follows the payload, whose nesting the JSON parser bounds.
    let mut deep = json!({});
    for _ in 0..100 {
        deep = json!({"next": deep});
    }
    assert!(chain.validate(&deep).is_ok());
    assert!(chain.validate_bytes(deep.to_string().as_bytes()).is_ok());
}

#[test]
fn unevaluated_properties_and_items_see_through_composition() {
    let s = schema(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [{"$ref": "#/$defs/base"}],
        "properties": {"kind": {"const": "pro"}},
        "if": {"properties": {"kind": {"const": "pro"}}, "required": ["kind"]},
        "then": {"properties": {"seats": {"type": "integer"}}},
        "unevaluatedProperties": false,
        "$defs": {"base": {"properties": {"id": {"type": "integer"}}}}
    }));
    accept(&s, json!({"id": 1, "kind": "pro", "seats": 3}));
    accept(&s, json!({"id": 1}));
    let err = reject(&s, json!({"id": 1, "seats": 3}));
    assert_eq!(err.path, "/seats");
    assert!(err.message.contains("unevaluatedProperties is false"), "{err}");
    let items = schema(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "prefixItems": [{"type": "string"}],
        "contains": {"type": "integer"},
        "unevaluatedItems": {"type": "boolean"}
    }));
    accept(&items, json!(["a", 1, true, 2]));
    let err = reject(&items, json!(["a", 1, "b"]));
    assert_eq!((err.path.as_str(), err.message.as_str()), ("", r#"items "b" are not allowed by unevaluatedItems"#));
    // Before 2019-09 the keyword does not exist.
    let old = schema(json!({"unevaluatedProperties": false}));
    accept(&old, json!({"anything": 1}));
}

#[test]
fn mangled_schemas_never_panic() {
    let mut rng = crate::testing::Rng(0x0fed_cba9_8765_4321);
    let original = order_schema();
    let payload = json!({"id": 1, "email": "a@b.org", "lines": [{"sku": "x", "qty": 1}], "price": 3});
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..3000 {
        let mut mangled = original.document().clone();
        for _ in 0..1 + rng.below(3) {
            crate::testing::mutate_randomly(&mut mangled, &mut rng);
        }
        let Ok(schema) = JsonSchema::parse(&mangled.to_string()) else {
            refused += 1;
            continue;
        };
        parsed += 1;
        let canonical = schema.canonical_text();
        assert_eq!(JsonSchema::parse(&canonical).unwrap().canonical_text(), canonical);
        let exact = schema.validate(&payload);
        assert_eq!(schema.validate_bytes(payload.to_string().as_bytes()), exact, "{mangled}");
    }
    assert!(parsed > 300 && refused > 100, "parsed {parsed}, refused {refused}");
}
