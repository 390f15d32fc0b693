//! No schema and no payload can crash a parser, validator, encoder or decoder: generated schemas that
//! nest deep (beyond [`MAX_DEPTH`]) and wide (thousands of fields, symbols, branches, properties) and
//! generated payloads (deep JSON, random and hostile Avro bytes) get an answer or an error, never a
//! panic, on a thread with a 2 MiB stack (what a debug build of a server thread may have).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use weft_schema::avro::{AvroSchema, AvroType, NamedKind};
use weft_schema::json_schema::JsonSchema;
use weft_schema::{field_summaries, wire, ParsedSchema, SchemaType, MAX_DEPTH};

const SMALL_STACK: usize = 2 << 20;

/// Runs `cases` generated cases of `strategy` through `test` on a thread with a 2 MiB stack. A stack
/// overflow aborts the test process, which fails the test as surely as a panic.
fn on_small_stack<S>(cases: u32, strategy: S, test: fn(S::Value))
where
    S: Strategy + Send + 'static,
    S::Value: std::fmt::Debug,
{
    let thread = std::thread::Builder::new().stack_size(SMALL_STACK).spawn(move || {
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        let result = runner.run(&strategy, |value| {
            test(value);
            Ok(())
        });
        result.map_err(|failure| failure.to_string())
    });
    match thread.expect("spawn the test thread").join() {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => panic!("{failure}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// An object of `entries`, moving the values in (`json!` would copy each value it is given, making
/// every level of a deep value cost as much as all the levels below it).
fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// How deep generated schemas and payloads go: within the limit, at it, and well beyond it.
fn depth() -> impl Strategy<Value = usize> {
    prop_oneof![0..8usize, (MAX_DEPTH - 4)..(MAX_DEPTH + 4), (MAX_DEPTH + 4)..(3 * MAX_DEPTH)]
}

/// How wide: a few, or thousands.
fn width() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0..4usize, 1 => 200..2000usize]
}

// ----- Avro -----

/// One level of an Avro schema, wrapped around the levels inside it.
#[derive(Debug, Clone)]
enum AvroLayer {
    Array,
    Map,
    Optional,
    /// `{"type": inner}`.
    Wrapped,
    /// A record with the inner type as one field among `extra` others, with a default or not.
    Record {
        extra: usize,
        default: Option<Value>,
    },
    /// A recursive record: `next` refers to the record itself, so data can nest without end.
    Recursive,
}

fn avro_layer() -> impl Strategy<Value = AvroLayer> {
    prop_oneof![
        Just(AvroLayer::Array),
        Just(AvroLayer::Map),
        Just(AvroLayer::Optional),
        Just(AvroLayer::Wrapped),
        (width(), prop::option::of(prop_oneof![Just(json!(null)), Just(json!(0)), Just(json!({})), Just(json!([]))]))
            .prop_map(|(extra, default)| AvroLayer::Record { extra, default }),
        Just(AvroLayer::Recursive),
    ]
}

/// The innermost type: a primitive, or a wide enum, fixed or union.
fn avro_base() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("int")),
        Just(json!("string")),
        Just(json!({"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2})),
        Just(json!({"type": "long", "logicalType": "timestamp-millis"})),
        width().prop_map(|n| json!({"type": "enum", "name": "E", "symbols": (0..n.max(1)).map(|i| format!("S{i}")).collect::<Vec<_>>()})),
        (0..20usize).prop_map(|n| json!({"type": "fixed", "name": "F", "size": n})),
        width().prop_map(|n| {
            let mut branches = vec![json!("null"), json!("int"), json!("string")];
            branches.extend((0..n).map(|i| json!({"type": "fixed", "name": format!("U{i}"), "size": 1})));
            Value::Array(branches)
        }),
    ]
}

/// Levels that each take one level of JSON, so that schemas near [`MAX_DEPTH`] still parse as JSON.
fn shallow_avro_layer() -> impl Strategy<Value = AvroLayer> {
    prop_oneof![Just(AvroLayer::Array), Just(AvroLayer::Map), Just(AvroLayer::Optional), Just(AvroLayer::Wrapped)]
}

fn avro_schema() -> impl Strategy<Value = Value> {
    let layers = (any::<bool>(), depth()).prop_flat_map(|(shallow, depth)| {
        if shallow {
            prop::collection::vec(shallow_avro_layer(), depth).boxed()
        } else {
            prop::collection::vec(avro_layer(), depth).boxed()
        }
    });
    (avro_base(), layers).prop_map(|(base, layers)| {
        layers.iter().enumerate().rev().fold(base, |inner, (i, layer)| match layer {
            AvroLayer::Array => object([("type", json!("array")), ("items", inner)]),
            AvroLayer::Map => object([("type", json!("map")), ("values", inner)]),
            AvroLayer::Optional => Value::Array(vec![json!("null"), inner]),
            AvroLayer::Wrapped => object([("type", inner)]),
            AvroLayer::Record { extra, default } => {
                let mut fields = vec![object([("name", json!("inner")), ("type", inner)])];
                if let Some(default) = default {
                    fields[0]["default"] = default.clone();
                }
                fields.extend((0..*extra).map(|j| json!({"name": format!("f{j}"), "type": "int", "default": j})));
                object([("type", json!("record")), ("name", json!(format!("R{i}"))), ("fields", Value::Array(fields))])
            }
            AvroLayer::Recursive => {
                let next = json!({"name": "next", "type": ["null", format!("L{i}")], "default": null});
                let fields = vec![next, object([("name", json!("value")), ("type", inner)])];
                object([("type", json!("record")), ("name", json!(format!("L{i}"))), ("fields", Value::Array(fields))])
            }
        })
    })
}

/// JSON payloads: deep (objects in arrays in objects...) or wide, with scalars at the bottom.
fn json_payload() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9]{0,8}".prop_map(Value::from),
    ];
    let layers = depth().prop_flat_map(|d| prop::collection::vec(0..4u8, d));
    (leaf, layers, width()).prop_map(|(leaf, layers, wide)| {
        let deep = layers.iter().fold(leaf, |inner, kind| match kind {
            0 => Value::Array(vec![inner]),
            1 => object([("next", inner)]),
            2 => object([("inner", inner), ("value", json!(1))]),
            _ => object([("value", inner)]),
        });
        if wide > 100 {
            let mut map = Map::new();
            for i in 0..wide {
                map.insert(format!("f{i}"), json!(i));
            }
            map.insert("inner".into(), deep);
            Value::Object(map)
        } else {
            deep
        }
    })
}

/// Avro bytes: random, a recursive union taken again and again, or a block count far beyond the input.
fn avro_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (0..4 * MAX_DEPTH).prop_map(|n| vec![0x02; n]),
        (0..8usize).prop_map(|prefix| {
            let mut bytes = vec![0x02; prefix];
            bytes.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]); // 2^40 items
            bytes
        }),
    ]
}

/// A value of `ty` as deep as the type nests: unions take their last branch while `budget` lasts (each
/// named type spends one), then null, so recursive types nest `budget` levels and end.
fn sample(schema: &AvroSchema, ty: &AvroType, budget: &mut usize) -> Value {
    match ty {
        AvroType::Null => json!(null),
        AvroType::Boolean => json!(true),
        AvroType::Int(_) | AvroType::Long(_) => json!(7),
        AvroType::Float | AvroType::Double => json!(1.5),
        AvroType::Bytes(_) => json!("\u{1}\u{ff}"),
        AvroType::String(_) => json!("s"),
        AvroType::Array(items) => Value::Array(vec![sample(schema, items, budget)]),
        AvroType::Map(values) => object([("k", sample(schema, values, budget))]),
        AvroType::Union(branches) => {
            let null = branches.iter().position(|b| matches!(b, AvroType::Null));
            match (null, *budget) {
                (Some(null), 0) => sample(schema, &branches[null], budget),
                _ => sample(schema, &branches[branches.len() - 1], budget),
            }
        }
        AvroType::Named(index) => {
            *budget = budget.saturating_sub(1);
            match &schema.named[*index].kind {
                NamedKind::Record { fields, .. } => {
                    Value::Object(fields.iter().map(|f| (f.name.clone(), sample(schema, &f.ty, budget))).collect())
                }
                NamedKind::Enum { symbols, .. } => json!(symbols[0]),
                NamedKind::Fixed { size, .. } => Value::String("\u{0}".repeat(*size)),
            }
        }
    }
}

fn exercise_avro((schema, value, bytes, budget): (Value, Value, Vec<u8>, usize)) {
    let text = schema.to_string();
    let _ = field_summaries(SchemaType::Avro, &text);
    let _ = ParsedSchema::parse(SchemaType::Avro, &text, &[]);
    let Ok(schema) = AvroSchema::parse(&text) else { return };
    let stored = schema.canonical_text();
    let again = AvroSchema::parse(&stored).expect("the stored form parses back");
    assert_eq!(again.canonical_text(), stored);
    let _ = schema.parsing_canonical_form();
    let _ = schema.incompatibilities_reading(&schema);
    let exact = schema.validate_json(&value);
    if let Ok(payload) = serde_json::to_vec(&value) {
        // What serde_json can parse back, the fast path must judge as the exact validator does.
        if let Ok(parsed) = serde_json::from_slice::<Value>(&payload) {
            assert_eq!(schema.validate_json_bytes(&payload), schema.validate_json(&parsed), "{value}");
        }
    }
    let mut encoded = Vec::new();
    assert_eq!(schema.encode_json(&value, &mut encoded).is_ok(), exact.is_ok());
    if exact.is_ok() {
        schema.validate_binary(&encoded).expect("what is encoded validates");
        schema.decode_to_json(&encoded).expect("what is encoded decodes");
    }
    let decoded = schema.decode_to_json(&bytes);
    assert_eq!(decoded.is_ok(), schema.validate_binary(&bytes).is_ok());
    let _ = wire::split(&bytes);
    // A value as deep as the schema (and deeper, through recursive types) round-trips, or is refused
    // for its depth, by the validator and the encoder alike.
    let deep = sample(&schema, &schema.root, &mut { budget });
    let valid = schema.validate_json(&deep);
    let mut encoded = Vec::new();
    assert_eq!(schema.encode_json(&deep, &mut encoded).is_ok(), valid.is_ok(), "{valid:?}");
    match valid {
        Ok(()) => assert_eq!(schema.decode_to_json(&encoded).expect("decodes"), deep),
        Err(err) => assert!(err.message.contains("nests deeper than"), "{err}"),
    }
}

#[test]
fn avro_schemas_and_payloads_never_crash() {
    on_small_stack(64, (avro_schema(), json_payload(), avro_payload(), 0..MAX_DEPTH + 8), exercise_avro);
}

#[test]
fn avro_data_of_recursive_types_is_bounded() {
    on_small_stack(16, (0..8 * MAX_DEPTH, any::<bool>()), |(levels, terminate)| {
        let list = AvroSchema::parse(
            r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]},{"name":"v","type":"int"}]}"#,
        )
        .expect("schema");
        // `levels` nested records, each `next` taking the second branch, ended by null.
        let mut bytes = vec![0x02; levels];
        if terminate {
            bytes.push(0x00);
            bytes.extend(std::iter::repeat_n(0x00, levels + 1));
        }
        // The innermost record's fields are `levels + 1` levels down: within the limit, or refused.
        let within = levels + 1 < MAX_DEPTH;
        let decoded = list.decode_to_json(&bytes);
        assert_eq!(decoded.is_ok(), within && terminate, "{decoded:?}");
        if !within {
            let err = decoded.expect_err("too deep");
            assert!(err.message.contains("nests deeper than"), "{err}");
        }
        let mut value = json!({"next": null, "v": 0});
        for _ in 0..levels {
            value = object([("next", value), ("v", json!(0))]);
        }
        let mut out = Vec::new();
        assert_eq!(list.encode_json(&value, &mut out).is_ok(), within);
        assert_eq!(list.validate_json(&value).is_ok(), within);
        if within && terminate {
            assert_eq!(out, bytes);
        }
    });
}

// ----- JSON Schema -----

/// One level of a JSON Schema, wrapped around the levels inside it.
#[derive(Debug, Clone)]
enum JsonLayer {
    /// An object with the inner schema as one property among `extra` others.
    Properties {
        extra: usize,
        required: bool,
    },
    Items,
    AllOf,
    AnyOf,
    OneOf,
    NotNot,
    /// The inner schema moved to `$defs` and referred to.
    Ref,
    IfThen,
    Unevaluated,
    Unique,
}

fn json_layer() -> impl Strategy<Value = JsonLayer> {
    prop_oneof![
        (width(), any::<bool>()).prop_map(|(extra, required)| JsonLayer::Properties { extra, required }),
        Just(JsonLayer::Items),
        Just(JsonLayer::AllOf),
        Just(JsonLayer::AnyOf),
        Just(JsonLayer::OneOf),
        Just(JsonLayer::NotNot),
        Just(JsonLayer::Ref),
        Just(JsonLayer::IfThen),
        Just(JsonLayer::Unevaluated),
        Just(JsonLayer::Unique),
    ]
}

fn json_base() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(true)),
        Just(json!(false)),
        Just(json!({"type": "string", "pattern": "^[a-z]*$", "maxLength": 8})),
        Just(json!({"type": "integer", "minimum": 0})),
        // Back to the root: a recursive schema.
        Just(json!({"$ref": "#"})),
        Just(json!({"$ref": "#top"})),
        width().prop_map(|n| json!({"enum": (0..n).collect::<Vec<_>>()})),
    ]
}

fn json_schema() -> impl Strategy<Value = Value> {
    let layers = depth().prop_flat_map(|d| prop::collection::vec(json_layer(), d));
    (json_base(), layers, any::<bool>()).prop_map(|(base, layers, modern)| {
        let mut defs = Map::new();
        let schema = layers.iter().enumerate().rev().fold(base, |inner, (i, layer)| match layer {
            JsonLayer::Properties { extra, required } => {
                let mut properties = Map::new();
                properties.insert("inner".into(), inner);
                for j in 0..*extra {
                    properties.insert(format!("p{j}"), json!({"type": "integer"}));
                }
                let mut schema = object([("type", json!("object")), ("properties", Value::Object(properties))]);
                if *required {
                    schema["required"] = json!(["inner"]);
                }
                schema
            }
            JsonLayer::Items => object([("type", json!("array")), ("items", inner)]),
            JsonLayer::AllOf => object([("allOf", Value::Array(vec![inner]))]),
            JsonLayer::AnyOf => object([("anyOf", Value::Array(vec![inner, json!({"type": "null"})]))]),
            JsonLayer::OneOf => object([("oneOf", Value::Array(vec![inner, json!({"type": "boolean"})]))]),
            JsonLayer::NotNot => object([("not", object([("not", inner)]))]),
            JsonLayer::Ref => {
                defs.insert(format!("d{i}"), inner);
                json!({"$ref": format!("#/$defs/d{i}")})
            }
            // `then` and `else` are the same subschema, referred to twice.
            JsonLayer::IfThen => {
                defs.insert(format!("d{i}"), inner);
                let target = json!({"$ref": format!("#/$defs/d{i}")});
                object([("if", json!({"type": "object"})), ("then", target.clone()), ("else", target)])
            }
            JsonLayer::Unevaluated => {
                object([("allOf", Value::Array(vec![inner])), ("unevaluatedProperties", json!(false))])
            }
            JsonLayer::Unique => object([("type", json!("array")), ("items", inner), ("uniqueItems", json!(true))]),
        });
        let mut root =
            object([("$anchor", json!("top")), ("allOf", Value::Array(vec![schema])), ("$defs", Value::Object(defs))]);
        if modern {
            root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        }
        root
    })
}

fn exercise_json_schema((schema, value): (Value, Value)) {
    let text = schema.to_string();
    let _ = field_summaries(SchemaType::Json, &text);
    let Ok(schema) = JsonSchema::parse(&text) else { return };
    let _ = schema.canonical_text();
    let exact = schema.validate(&value);
    assert_eq!(schema.is_valid(&value), exact.is_ok());
    if let Ok(payload) = serde_json::to_vec(&value) {
        // Compared with the value the bytes parse back to (a float may not survive the trip exactly).
        match serde_json::from_slice::<Value>(&payload) {
            Ok(parsed) => assert_eq!(schema.validate_bytes(&payload), schema.validate(&parsed), "{value}"),
            Err(_) => assert!(schema.validate_bytes(&payload).is_err()),
        }
    }
}

#[test]
fn json_schemas_and_payloads_never_crash() {
    on_small_stack(96, (json_schema(), json_payload()), exercise_json_schema);
}

#[test]
fn deep_payloads_are_refused_by_name() {
    on_small_stack(1, Just(()), |()| {
        let tree = JsonSchema::parse(r##"{"type":"object","properties":{"next":{"$ref":"#"}}}"##).expect("schema");
        let mut value = json!({});
        for _ in 0..MAX_DEPTH + 10 {
            value = object([("next", value)]);
        }
        let err = tree.validate(&value).expect_err("too deep");
        assert!(err.message.contains(&format!("nests deeper than {MAX_DEPTH} levels")), "{err}");
        let list = AvroSchema::parse(r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#)
            .expect("schema");
        let err = list.validate_json(&value).expect_err("too deep");
        assert!(err.message.contains(&format!("nests deeper than {MAX_DEPTH} levels")), "{err}");
    });
}

#[test]
fn the_deepest_accepted_schemas_and_payloads_fit_a_small_stack() {
    on_small_stack(1, Just(()), |()| {
        // An Avro type as deep as JSON text can nest it, each level a union and an array.
        let mut text = String::from("\"int\"");
        for level in 0..126 {
            text = if level % 2 == 0 {
                format!(r#"{{"type":"array","items":{text}}}"#)
            } else {
                format!(r#"["null",{text}]"#)
            };
        }
        let schema = AvroSchema::parse(&text).expect("schema");
        assert_eq!(AvroSchema::parse(&schema.canonical_text()).expect("stored form"), schema);
        let _ = schema.parsing_canonical_form();
        assert!(schema.incompatibilities_reading(&schema).is_empty());
        let value = sample(&schema, &schema.root, &mut 1000);
        let mut bytes = Vec::new();
        schema.encode_json(&value, &mut bytes).expect("encode");
        assert_eq!(schema.decode_to_json(&bytes).expect("decode"), value);
        schema.validate_binary(&bytes).expect("validate");
        schema.validate_json_bytes(value.to_string().as_bytes()).expect("validate bytes");

        // A recursive JSON Schema whose every level goes through anyOf, allOf, if/then and
        // unevaluatedProperties, with a payload invalid at the bottom, so that every level explains
        // why its anyOf failed.
        let tree = JsonSchema::parse(
            &json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}, "v": {"type": "integer"}},
                "allOf": [{"if": {"required": ["v"]}, "then": {"properties": {"v": {"minimum": 0}}}}],
                "unevaluatedProperties": false
            })
            .to_string(),
        )
        .expect("schema");
        for levels in [10, 40, 63, 64, 65, 100, 127, 200] {
            let mut value = json!({"v": "not a number"});
            for _ in 0..levels {
                value = object([("next", value), ("v", json!(1))]);
            }
            let err = tree.validate(&value).expect_err("invalid at the bottom");
            assert!(!err.message.is_empty());
            assert!(!tree.is_valid(&value));
            if let Ok(text) = serde_json::to_vec(&value) {
                if serde_json::from_slice::<Value>(&text).is_ok() {
                    assert_eq!(tree.validate_bytes(&text), Err(err));
                }
            }
        }
    });
}
