//! A contract beside a port's registered schema: fields, their comparison, and a generated schema.

use serde_json::json;
use weft_contract::{compare_with_schema_fields, ContractField, FieldMismatch, MismatchKind};
use weft_schema::json_schema::JsonSchema;
use weft_schema::{field_summaries, SchemaType};

use crate::common::*;

const PROPERTIES: &str = "\
- name: id
  logicalType: string
  required: true
  logicalTypeOptions:
    pattern: \"^o-[0-9]+$\"
- name: amount
  logicalType: number
  required: true
  logicalTypeOptions:
    minimum: 0
    exclusiveMaximum: 1000
- name: placed
  logicalType: timestamp
  required: true
- name: customer
  logicalType: object
  required: true
  properties:
    - name: id
      logicalType: string
      required: true
      classification: PII
    - name: tier
      logicalType: integer
- name: currency
  logicalType: string
  quality:
    - metric: invalidValues
      arguments:
        validValues: [EUR, USD]
      mustBe: 0
- name: tags
  logicalType: array
  items:
    logicalType: string
- name: note
";

const AVRO: &str = r#"{"type": "record", "name": "Order", "fields": [
  {"name": "id", "type": "string"},
  {"name": "amount", "type": "double"},
  {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
    {"name": "id", "type": "string"},
    {"name": "tier", "type": ["null", "int"], "default": null}]}},
  {"name": "currency", "type": ["null", {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD"]}], "default": null},
  {"name": "tags", "type": ["null", {"type": "array", "items": "string"}], "default": null},
  {"name": "note", "type": ["null", "string"], "default": null}
]}"#;

fn field(path: &str, logical_type: Option<&str>, required: bool, classification: Option<&str>) -> ContractField {
    ContractField {
        path: path.into(),
        logical_type: logical_type.map(str::to_string),
        required,
        classification: classification.map(str::to_string),
    }
}

#[test]
fn fields_are_listed_depth_first_with_dotted_paths() {
    let c = contract(&with_properties(PROPERTIES, ""));
    assert_eq!(
        c.fields("orders").unwrap(),
        vec![
            field("id", Some("string"), true, None),
            field("amount", Some("number"), true, None),
            field("placed", Some("timestamp"), true, None),
            field("customer", Some("object"), true, None),
            field("customer.id", Some("string"), true, Some("PII")),
            field("customer.tier", Some("integer"), false, None),
            field("currency", Some("string"), false, None),
            field("tags", Some("array"), false, None),
            field("tags[]", Some("string"), false, None),
            field("note", None, false, None),
        ]
    );
}

#[test]
fn a_contract_agrees_with_the_avro_schema_it_describes() {
    let c = contract(&with_properties(PROPERTIES, ""));
    let fields = c.fields("orders").unwrap();
    assert_eq!(compare_with_schema_fields(&fields, &field_summaries(SchemaType::Avro, AVRO)), vec![]);
}

#[test]
fn each_disagreement_is_named() {
    let c = contract(&with_properties(PROPERTIES, ""));
    let fields = c.fields("orders").unwrap();
    let avro = AVRO
        .replace(r#"{"name": "amount", "type": "double"},"#, r#"{"name": "amount", "type": "string"},"#)
        .replace(
            r#"{"name": "id", "type": "string"},
  {"name": "amount""#,
            r#"{"name": "id", "type": ["null", "string"], "default": null},
  {"name": "amount""#,
        )
        .replace(r#"{"name": "tier", "type": ["null", "int"], "default": null}"#, r#"{"name": "tier", "type": "int"}"#)
        .replace(
            r#"{"name": "note", "type": ["null", "string"], "default": null}"#,
            r#"{"name": "remark", "type": "string"}"#,
        );
    let mismatches = compare_with_schema_fields(&fields, &field_summaries(SchemaType::Avro, &avro));
    let m = |field: &str, kind: MismatchKind, message: &str| FieldMismatch {
        field: field.into(),
        kind,
        message: message.into(),
    };
    assert_eq!(
        mismatches,
        vec![
            m("id", MismatchKind::RequiredDiffers, "the contract requires id, the schema lets it be null or absent"),
            m("amount", MismatchKind::TypeDiffers, "the contract types amount as number, the schema as string"),
            m(
                "customer.tier",
                MismatchKind::RequiredDiffers,
                "the schema requires customer.tier (never null), the contract does not"
            ),
            m("note", MismatchKind::MissingInSchema, "the contract has note, the schema does not"),
            m("remark", MismatchKind::MissingInContract, "the schema has remark, the contract does not"),
        ]
    );
    assert_eq!(serde_json::to_value(&mismatches[0]).unwrap()["kind"], json!("requiredDiffers"));
}

#[test]
fn the_generated_json_schema_checks_records_and_agrees_with_the_contract() {
    let c = contract(&with_properties(PROPERTIES, ""));
    let generated = c.to_json_schema("orders").unwrap();
    assert_eq!(generated["$schema"], json!("https://json-schema.org/draft/2020-12/schema"));
    assert_eq!(generated["properties"]["placed"], json!({"type": "string", "format": "date-time"}));
    assert_eq!(generated["properties"]["currency"], json!({"type": ["string", "null"], "enum": ["EUR", "USD", null]}));
    assert_eq!(generated["required"], json!(["id", "amount", "placed", "customer"]));
    let text = generated.to_string();
    let schema = JsonSchema::parse(&text).unwrap();
    let good = json!({"id": "o-1", "amount": 5, "placed": "2024-05-01T10:00:00Z", "customer": {"id": "c", "tier": null}, "currency": null, "note": {"any": "thing"}});
    schema.validate(&good).unwrap();
    for bad in [
        json!({"id": "x-1", "amount": 5, "placed": "2024-05-01T10:00:00Z", "customer": {"id": "c"}}),
        json!({"id": "o-1", "amount": 1000, "placed": "2024-05-01T10:00:00Z", "customer": {"id": "c"}}),
        json!({"id": "o-1", "amount": 5, "placed": "yesterday", "customer": {"id": "c"}}),
        json!({"id": "o-1", "amount": 5, "placed": "2024-05-01T10:00:00Z", "customer": {}}),
        json!({"id": "o-1", "amount": 5, "placed": "2024-05-01T10:00:00Z", "customer": {"id": "c"}, "currency": "GBP"}),
        json!({"id": "o-1", "amount": 5, "placed": "2024-05-01T10:00:00Z", "customer": {"id": "c"}, "tags": [1]}),
    ] {
        assert!(schema.validate(&bad).is_err(), "{bad}");
    }
    let fields = c.fields("orders").unwrap();
    assert_eq!(compare_with_schema_fields(&fields, &field_summaries(SchemaType::Json, &text)), vec![]);
}

#[test]
fn the_full_contracts_json_schema_compiles_and_agrees() {
    let c = contract(FULL);
    let text = c.to_json_schema("orders").unwrap().to_string();
    JsonSchema::parse(&text).unwrap();
    let fields = c.fields("orders").unwrap();
    // `note` has no logical type: the schema admits anything there, typed `any`.
    assert_eq!(compare_with_schema_fields(&fields, &field_summaries(SchemaType::Json, &text)), vec![]);
}
