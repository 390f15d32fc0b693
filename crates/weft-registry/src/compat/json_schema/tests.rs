use serde_json::{json, Value};
use weft_schema::json_schema::JsonSchema;

use super::*;

fn schema(value: Value) -> JsonSchema {
    JsonSchema::parse(&value.to_string()).unwrap_or_else(|e| panic!("{e}\n{value}"))
}

fn changes(reader: Value, writer: Value) -> Vec<(JsonSchemaChange, String)> {
    incompatibilities(&schema(reader), &schema(writer)).into_iter().map(|i| (i.change, i.path)).collect()
}

fn obj(properties: Value, extra: Value) -> Value {
    let mut schema = json!({"type": "object", "properties": properties});
    for (k, v) in extra.as_object().unwrap() {
        schema[k] = v.clone();
    }
    schema
}

#[test]
fn types_may_widen_but_not_narrow() {
    use JsonSchemaChange::*;
    assert!(changes(json!({"type": "number"}), json!({"type": "integer"})).is_empty());
    assert!(changes(json!({"type": ["string", "null"]}), json!({"type": "string"})).is_empty());
    assert_eq!(changes(json!({"type": "integer"}), json!({"type": "number"})), vec![(TypeNarrowed, "#/type".into())]);
    assert_eq!(changes(json!({"type": "string"}), json!({"type": "integer"})), vec![(TypeChanged, "#/type".into())]);
    assert_eq!(changes(json!({"type": "string"}), json!({})), vec![(TypeNarrowed, "#/type".into())]);
    assert!(changes(json!({}), json!({"type": "string"})).is_empty());
    assert!(changes(json!(true), json!({"type": "string"})).is_empty());
    assert_eq!(changes(json!(false), json!({"type": "string"}))[0].0, FalseSchemaAdded);
}

#[test]
fn open_and_closed_content_models() {
    use JsonSchemaChange::*;
    let closed = json!({"additionalProperties": false});
    let open = json!({});
    let a = json!({"a": {"type": "string"}});
    let ab = json!({"a": {"type": "string"}, "b": {"type": "integer"}});
    // Adding an optional property to a closed model: old data never has it.
    assert!(changes(obj(ab.clone(), closed.clone()), obj(a.clone(), closed.clone())).is_empty());
    // Adding a required property to a closed model: old data lacks it.
    assert_eq!(
        changes(
            obj(ab.clone(), json!({"additionalProperties": false, "required": ["b"]})),
            obj(a.clone(), closed.clone())
        ),
        vec![(RequiredPropertyAddedToUnopenContentModel, "#/properties/b".into())]
    );
    // Adding a property to an open model: old data may hold anything under that name.
    assert_eq!(
        changes(obj(ab.clone(), open.clone()), obj(a.clone(), open.clone())),
        vec![(PropertyAddedToOpenContentModel, "#/properties/b".into())]
    );
    // ...unless the old model was partially open with a schema the new property accepts.
    assert!(changes(
        obj(ab.clone(), json!({"additionalProperties": {"type": "integer"}})),
        obj(a.clone(), json!({"additionalProperties": {"type": "integer"}}))
    )
    .is_empty());
    assert_eq!(
        changes(
            obj(ab.clone(), json!({"additionalProperties": {"type": "integer"}})),
            obj(a.clone(), json!({"additionalProperties": {"type": "string"}}))
        )[0],
        (PropertyAddedNotCoveredByPartiallyOpenContentModel, "#/properties/b".into())
    );
    // Removing a property from an open model is fine; from a closed one it is not.
    assert!(changes(obj(a.clone(), open.clone()), obj(ab.clone(), open.clone())).is_empty());
    assert_eq!(
        changes(obj(a.clone(), closed.clone()), obj(ab.clone(), closed.clone())),
        vec![(PropertyRemovedFromClosedContentModel, "#/properties/b".into())]
    );
    // Closing an open model.
    assert_eq!(
        changes(obj(a.clone(), closed.clone()), obj(a.clone(), open.clone())),
        vec![(AdditionalPropertiesRemoved, "#/additionalProperties".into())]
    );
    assert!(changes(obj(a.clone(), open.clone()), obj(a.clone(), closed.clone())).is_empty());
}

#[test]
fn required_enums_ranges_lengths_patterns_items() {
    use JsonSchemaChange::*;
    let a = json!({"a": {"type": "string"}});
    assert_eq!(
        changes(obj(a.clone(), json!({"required": ["a"]})), obj(a.clone(), json!({}))),
        vec![(RequiredAttributeAdded, "#/required".into())]
    );
    assert!(changes(obj(a.clone(), json!({})), obj(a.clone(), json!({"required": ["a"]}))).is_empty());
    assert!(changes(json!({"enum": ["a", "b", "c"]}), json!({"enum": ["a", "b"]})).is_empty());
    assert_eq!(
        changes(json!({"enum": ["a"]}), json!({"enum": ["a", "b"]})),
        vec![(EnumArrayNarrowed, "#/enum".into())]
    );
    assert_eq!(changes(json!({"type": "string", "enum": ["a"]}), json!({"type": "string"}))[0].0, EnumArrayAdded);
    assert_eq!(
        changes(json!({"type": "integer", "maximum": 5}), json!({"type": "integer"})),
        vec![(MaximumAdded, "#/maximum".into())]
    );
    assert_eq!(changes(json!({"maximum": 5}), json!({"maximum": 6})), vec![(MaximumDecreased, "#/maximum".into())]);
    assert!(changes(json!({"maximum": 6}), json!({"maximum": 5})).is_empty());
    assert!(changes(json!({"exclusiveMaximum": 6}), json!({"maximum": 5})).is_empty());
    assert_eq!(changes(json!({"exclusiveMaximum": 5}), json!({"maximum": 5}))[0].0, MaximumDecreased);
    assert_eq!(changes(json!({"minimum": 2}), json!({"minimum": 1}))[0].0, MinimumIncreased);
    assert_eq!(
        changes(json!({"type": "string", "maxLength": 5}), json!({"type": "string", "maxLength": 10}))[0].0,
        MaxLengthDecreased
    );
    assert_eq!(changes(json!({"type": "string", "minLength": 1}), json!({"type": "string"}))[0].0, MinLengthAdded);
    assert_eq!(changes(json!({"type": "string", "pattern": "^a"}), json!({"type": "string"}))[0].0, PatternAdded);
    assert_eq!(
        changes(json!({"type": "string", "pattern": "^a"}), json!({"type": "string", "pattern": "^b"}))[0].0,
        PatternChanged
    );
    assert!(changes(json!({"type": "string"}), json!({"type": "string", "pattern": "^b", "maxLength": 3})).is_empty());
    assert_eq!(
        changes(
            json!({"type": "array", "items": {"type": "integer"}}),
            json!({"type": "array", "items": {"type": "number"}})
        ),
        vec![(TypeNarrowed, "#/items/type".into())]
    );
    assert_eq!(changes(json!({"type": "array", "maxItems": 2}), json!({"type": "array"}))[0].0, MaxItemsAdded);
    assert_eq!(changes(json!({"type": "array", "uniqueItems": true}), json!({"type": "array"}))[0].0, UniqueItemsAdded);
    assert_eq!(
        changes(
            json!({"type": "array", "items": [{"type": "string"}], "additionalItems": false}),
            json!({"type": "array", "items": [{"type": "string"}, {"type": "string"}]})
        )[0],
        (ItemRemovedFromClosedContentModel, "#/additionalItems".into())
    );
}

#[test]
fn nested_paths_and_refs() {
    let old = json!({"type": "object", "properties": {"address": {"$ref": "#/definitions/address"}},
        "definitions": {"address": {"type": "object", "properties": {"zip": {"type": "string"}}}}});
    let new = json!({"type": "object", "properties": {"address": {"type": "object", "properties": {"zip": {"type": "integer"}}}}});
    let found = incompatibilities(&schema(new), &schema(old));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "#/properties/address/properties/zip/type");
    assert!(found[0]
        .describe("new", "old")
        .contains("The new schema changed the type at path '#/properties/address/properties/zip/type'"));
    // Recursive schemas terminate.
    let tree = json!({"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}});
    assert!(changes(tree.clone(), tree).is_empty());
}

#[test]
fn combined_types() {
    use JsonSchemaChange::*;
    assert!(changes(json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}), json!({"type": "string"})).is_empty());
    assert!(changes(
        json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}),
        json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})
    )
    .is_empty());
    assert_eq!(
        changes(json!({"oneOf": [{"type": "string"}]}), json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})),
        vec![(SumTypeNarrowed, "#/oneOf/1".into())]
    );
    assert_eq!(
        changes(json!({"anyOf": [{"type": "string"}, {"type": "null"}]}), json!({"type": "integer"}))[0].0,
        CombinedTypeChanged
    );
    assert_eq!(
        changes(json!({"allOf": [{"type": "string"}, {"maxLength": 3}]}), json!({"type": "string"}))[0].0,
        MaxLengthAdded
    );
}

#[test]
fn unanalysed_keywords_are_reported_when_added_or_changed() {
    use JsonSchemaChange::*;
    let with_if = json!({"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}});
    assert!(changes(with_if.clone(), with_if.clone()).is_empty());
    assert!(changes(json!({"type": "object"}), with_if.clone()).is_empty(), "removing a condition only widens");
    let found = changes(with_if, json!({"type": "object"}));
    assert_eq!(found, vec![(KeywordChanged, "#/if".into()), (KeywordChanged, "#/then".into())]);
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
    let chain = schema(json!({"$ref": "#/$defs/d0", "$defs": defs}));
    let found = incompatibilities(&chain, &chain);
    assert!(found.iter().all(|i| i.detail.contains("too deeply")), "{found:?}");
}

#[test]
fn mangled_schemas_never_panic() {
    let mut rng = weft_schema::testing::Rng(0x0fed_cba9_8765_4321);
    let original = schema(json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "email": {"type": "string", "format": "email"},
            "lines": {"type": "array", "items": {"type": "object", "properties": {
                "sku": {"type": "string"}, "qty": {"type": "integer"}}, "required": ["sku"]}},
            "price": {"anyOf": [{"type": "number"}, {"type": "null"}]}
        },
        "required": ["id"],
        "additionalProperties": false
    }));
    let mut compared = 0;
    for _ in 0..3000 {
        let mut mangled = original.document().clone();
        for _ in 0..1 + rng.below(3) {
            weft_schema::testing::mutate_randomly(&mut mangled, &mut rng);
        }
        let Ok(mangled) = JsonSchema::parse(&mangled.to_string()) else { continue };
        let _ = incompatibilities(&mangled, &original);
        let _ = incompatibilities(&original, &mangled);
        compared += 1;
    }
    assert!(compared > 300, "{compared}");
}
