//! A schema's fields as a tree of value types, for writers of typed columnar files (Parquet exports):
//! what [`crate::field_summaries`] flattens for people, kept whole here (a decimal's precision and
//! scale, an array's items, a map's values, nullability at every level).
//!
//! Both formats map to one model. Avro: `int`/`long`/`float`/`double`/`boolean`, `string` and `enum`
//! as strings, `bytes`/`fixed` as bytes, the logical types `decimal`, `date`, `time-*`,
//! `timestamp-*` and `local-timestamp-*`, records, arrays, maps; a union with `null` is its other
//! branch, nullable. JSON Schema: `integer` (64 bits), `number` (double), `boolean`, `string`
//! (`format: date-time` a timestamp in microseconds, `format: date` a date), objects with
//! `properties` as records (a property neither required nor admitting `null` is nullable too, since
//! it may be absent), objects with only `additionalProperties` as maps, arrays with one `items`
//! schema; a type list with `null` is its other type, nullable. Everything else (unions of several
//! types, `$ref`, untyped schemas, a record inside itself) is [`FieldType::Json`]: the value's JSON
//! text.

use serde_json::Value;

use crate::avro::{AvroSchema, AvroType, LogicalType, NamedKind};
use crate::{ParsedSchema, MAX_DEPTH};

/// The unit of a time or timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Millis,
    Micros,
}

/// The type of a value, as a typed file stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Boolean,
    /// 32-bit signed integer.
    Int,
    /// 64-bit signed integer.
    Long,
    Float,
    Double,
    /// UTF-8 text (Avro strings, enums and UUIDs; JSON Schema strings of other formats).
    String,
    /// Bytes (Avro `bytes` and `fixed`; in JSON one code point 0-255 per byte, as Avro's JSON encoding).
    Bytes,
    /// An exact decimal: `precision` digits, `scale` of them after the point.
    Decimal {
        precision: u32,
        scale: u32,
    },
    /// Days since 1970-01-01.
    Date,
    /// Time of day since midnight.
    Time(TimeUnit),
    /// An instant since 1970-01-01T00:00:00: UTC when `utc`, local (no zone) otherwise.
    Timestamp {
        unit: TimeUnit,
        utc: bool,
    },
    Record(Vec<TypedField>),
    /// Items, which may be null when `nullable`.
    Array(Box<TypedField>),
    /// String keys; values, which may be null when `nullable`.
    Map(Box<TypedField>),
    /// Anything the model has no type for: the value's JSON text.
    Json,
}

/// A named field (or, for arrays and maps, their `item`/`value`) with its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedField {
    pub name: String,
    pub ty: FieldType,
    /// The value may be null or absent.
    pub nullable: bool,
}

impl ParsedSchema {
    /// The top-level fields of a record schema (Avro record, JSON Schema object with `properties`);
    /// `None` for any other root.
    pub fn field_types(&self) -> Option<Vec<TypedField>> {
        match self {
            ParsedSchema::Avro(schema) => match avro_type(schema, &schema.root, &mut Vec::new()) {
                (FieldType::Record(fields), _) => Some(fields),
                _ => None,
            },
            ParsedSchema::Json(schema) => match json_type(schema.document(), 0) {
                (FieldType::Record(fields), _) => Some(fields),
                _ => None,
            },
            // Typed exports of Protobuf products are not built yet.
            ParsedSchema::Protobuf(_) => None,
        }
    }
}

/// The type of an Avro type and whether it admits null. `open` holds the records being expanded, so
/// that a recursive record becomes [`FieldType::Json`] where it refers to itself.
fn avro_type(schema: &AvroSchema, ty: &AvroType, open: &mut Vec<usize>) -> (FieldType, bool) {
    let logical = |l: &Option<LogicalType>, plain: FieldType| match l {
        Some(LogicalType::Decimal { precision, scale }) => FieldType::Decimal { precision: *precision, scale: *scale },
        Some(LogicalType::Date) => FieldType::Date,
        Some(LogicalType::TimeMillis) => FieldType::Time(TimeUnit::Millis),
        Some(LogicalType::TimeMicros) => FieldType::Time(TimeUnit::Micros),
        Some(LogicalType::TimestampMillis) => FieldType::Timestamp { unit: TimeUnit::Millis, utc: true },
        Some(LogicalType::TimestampMicros) => FieldType::Timestamp { unit: TimeUnit::Micros, utc: true },
        Some(LogicalType::LocalTimestampMillis) => FieldType::Timestamp { unit: TimeUnit::Millis, utc: false },
        Some(LogicalType::LocalTimestampMicros) => FieldType::Timestamp { unit: TimeUnit::Micros, utc: false },
        Some(LogicalType::Uuid | LogicalType::Duration) | None => plain,
    };
    let ty = match ty {
        AvroType::Null => return (FieldType::Json, true),
        AvroType::Boolean => FieldType::Boolean,
        AvroType::Int(l) => logical(l, FieldType::Int),
        AvroType::Long(l) => logical(l, FieldType::Long),
        AvroType::Float => FieldType::Float,
        AvroType::Double => FieldType::Double,
        AvroType::Bytes(l) => logical(l, FieldType::Bytes),
        AvroType::String(_) => FieldType::String,
        AvroType::Array(items) => FieldType::Array(Box::new(avro_field(schema, "element", items, open))),
        AvroType::Map(values) => FieldType::Map(Box::new(avro_field(schema, "value", values, open))),
        AvroType::Union(branches) => {
            let nullable = branches.iter().any(|b| matches!(b, AvroType::Null));
            let others: Vec<&AvroType> = branches.iter().filter(|b| !matches!(b, AvroType::Null)).collect();
            return match others.as_slice() {
                [single] => (avro_type(schema, single, open).0, nullable),
                _ => (FieldType::Json, nullable),
            };
        }
        AvroType::Named(index) => match &schema.named[*index].kind {
            NamedKind::Enum { .. } => FieldType::String,
            NamedKind::Fixed { logical: l, .. } => logical(l, FieldType::Bytes),
            NamedKind::Record { .. } if open.contains(index) || open.len() >= MAX_DEPTH => FieldType::Json,
            NamedKind::Record { fields, .. } => {
                open.push(*index);
                let fields = fields.iter().map(|f| avro_field(schema, &f.name, &f.ty, open)).collect();
                open.pop();
                FieldType::Record(fields)
            }
        },
    };
    (ty, false)
}

fn avro_field(schema: &AvroSchema, name: &str, ty: &AvroType, open: &mut Vec<usize>) -> TypedField {
    let (ty, nullable) = avro_type(schema, ty, open);
    TypedField { name: name.to_string(), ty, nullable }
}

/// The type of a JSON Schema (sub)schema and whether it admits null.
fn json_type(schema: &Value, depth: usize) -> (FieldType, bool) {
    if depth >= MAX_DEPTH || schema.get("$ref").is_some() {
        return (FieldType::Json, true);
    }
    let (name, nullable) = match schema.get("type") {
        Some(Value::String(name)) => (name.as_str(), false),
        Some(Value::Array(types)) => {
            let others: Vec<&str> = types.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
            match others.as_slice() {
                [single] => (*single, others.len() < types.len()),
                _ => return (FieldType::Json, true),
            }
        }
        // Without a type, an object's keywords still say what it is.
        None if schema.get("properties").is_some() => ("object", false),
        _ => return (FieldType::Json, true),
    };
    let ty = match name {
        "boolean" => FieldType::Boolean,
        "integer" => FieldType::Long,
        "number" => FieldType::Double,
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => FieldType::Timestamp { unit: TimeUnit::Micros, utc: true },
            Some("date") => FieldType::Date,
            _ => FieldType::String,
        },
        "array" => match schema.get("items") {
            Some(items @ Value::Object(_)) => {
                let (ty, nullable) = json_type(items, depth + 1);
                FieldType::Array(Box::new(TypedField { name: "element".into(), ty, nullable }))
            }
            _ => FieldType::Json,
        },
        "object" => match (schema.get("properties"), schema.get("additionalProperties")) {
            (Some(Value::Object(properties)), _) => {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let fields = properties
                    .iter()
                    .map(|(name, property)| {
                        let (ty, nullable) = json_type(property, depth + 1);
                        TypedField { name: name.clone(), ty, nullable: nullable || !required.contains(&name.as_str()) }
                    })
                    .collect();
                FieldType::Record(fields)
            }
            (None, Some(values @ Value::Object(_))) => {
                let (ty, nullable) = json_type(values, depth + 1);
                FieldType::Map(Box::new(TypedField { name: "value".into(), ty, nullable }))
            }
            _ => FieldType::Json,
        },
        _ => FieldType::Json,
    };
    (ty, nullable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SchemaType;

    fn fields(schema_type: SchemaType, text: &str) -> Vec<TypedField> {
        ParsedSchema::parse(schema_type, text, &[]).expect("schema").field_types().expect("a record")
    }

    fn field(name: &str, ty: FieldType, nullable: bool) -> TypedField {
        TypedField { name: name.into(), ty, nullable }
    }

    #[test]
    fn avro_types_and_logical_types() {
        let schema = r#"{"type":"record","name":"Order","fields":[
            {"name":"id","type":"string"},
            {"name":"qty","type":"int"},
            {"name":"n","type":"long"},
            {"name":"f","type":"float"},
            {"name":"d","type":"double"},
            {"name":"ok","type":"boolean"},
            {"name":"raw","type":"bytes"},
            {"name":"placed","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"seen","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
            {"name":"local","type":{"type":"long","logicalType":"local-timestamp-millis"}},
            {"name":"day","type":{"type":"int","logicalType":"date"}},
            {"name":"at","type":{"type":"int","logicalType":"time-millis"}},
            {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
            {"name":"big","type":{"type":"fixed","name":"Big","size":16,"logicalType":"decimal","precision":30,"scale":4}},
            {"name":"uid","type":{"type":"string","logicalType":"uuid"}},
            {"name":"state","type":{"type":"enum","name":"State","symbols":["NEW","PAID"]}},
            {"name":"either","type":["null","string","long"]}]}"#;
        let ts = |unit, utc| FieldType::Timestamp { unit, utc };
        assert_eq!(
            fields(SchemaType::Avro, schema),
            vec![
                field("id", FieldType::String, false),
                field("qty", FieldType::Int, false),
                field("n", FieldType::Long, false),
                field("f", FieldType::Float, false),
                field("d", FieldType::Double, false),
                field("ok", FieldType::Boolean, false),
                field("raw", FieldType::Bytes, false),
                field("placed", ts(TimeUnit::Millis, true), false),
                field("seen", ts(TimeUnit::Micros, true), true),
                field("local", ts(TimeUnit::Millis, false), false),
                field("day", FieldType::Date, false),
                field("at", FieldType::Time(TimeUnit::Millis), false),
                field("price", FieldType::Decimal { precision: 9, scale: 2 }, false),
                field("big", FieldType::Decimal { precision: 30, scale: 4 }, false),
                field("uid", FieldType::String, false),
                field("state", FieldType::String, false),
                field("either", FieldType::Json, true),
            ]
        );
    }

    #[test]
    fn avro_nesting_keeps_nullability_at_every_level() {
        let schema = r#"{"type":"record","name":"Order","fields":[
            {"name":"address","type":["null",{"type":"record","name":"Address","fields":[
                {"name":"city","type":"string"},{"name":"zip","type":["null","string"]}]}]},
            {"name":"tags","type":{"type":"array","items":["null","string"]}},
            {"name":"scores","type":{"type":"map","values":"double"}},
            {"name":"billing","type":"Address"}]}"#;
        let address =
            FieldType::Record(vec![field("city", FieldType::String, false), field("zip", FieldType::String, true)]);
        assert_eq!(
            fields(SchemaType::Avro, schema),
            vec![
                field("address", address.clone(), true),
                field("tags", FieldType::Array(Box::new(field("element", FieldType::String, true))), false),
                field("scores", FieldType::Map(Box::new(field("value", FieldType::Double, false))), false),
                field("billing", address, false),
            ]
        );
    }

    #[test]
    fn a_recursive_avro_record_is_json_where_it_refers_to_itself() {
        let schema = r#"{"type":"record","name":"Node","fields":[
            {"name":"label","type":"string"},{"name":"next","type":["null","Node"]}]}"#;
        assert_eq!(
            fields(SchemaType::Avro, schema),
            vec![field("label", FieldType::String, false), field("next", FieldType::Json, true)]
        );
    }

    #[test]
    fn json_schema_types_formats_and_nullability() {
        let schema = r##"{"type":"object","required":["id","when","items","attrs"],"definitions":{"x":{"type":"string"}},"properties":{
            "id":{"type":"integer"},
            "amount":{"type":["number","null"]},
            "when":{"type":"string","format":"date-time"},
            "day":{"type":"string","format":"date"},
            "email":{"type":"string","format":"email"},
            "items":{"type":"array","items":{"type":"object","required":["sku"],
                     "properties":{"sku":{"type":"string"},"n":{"type":"integer"}}}},
            "attrs":{"type":"object","additionalProperties":{"type":"string"}},
            "ok":{"type":"boolean"},
            "any":{},
            "ref":{"$ref":"#/definitions/x"},
            "mixed":{"type":["string","integer"]}}}"##;
        let item = FieldType::Record(vec![field("n", FieldType::Long, true), field("sku", FieldType::String, false)]);
        assert_eq!(
            fields(SchemaType::Json, schema),
            vec![
                field("amount", FieldType::Double, true),
                field("any", FieldType::Json, true),
                field("attrs", FieldType::Map(Box::new(field("value", FieldType::String, false))), false),
                field("day", FieldType::Date, true),
                field("email", FieldType::String, true),
                field("id", FieldType::Long, false),
                field("items", FieldType::Array(Box::new(field("element", item, false))), false),
                field("mixed", FieldType::Json, true),
                field("ok", FieldType::Boolean, true),
                field("ref", FieldType::Json, true),
                field("when", FieldType::Timestamp { unit: TimeUnit::Micros, utc: true }, false),
            ]
        );
    }

    #[test]
    fn only_record_roots_have_field_types() {
        let parsed = ParsedSchema::parse(SchemaType::Avro, r#""string""#, &[]).expect("schema");
        assert_eq!(parsed.field_types(), None);
        let parsed = ParsedSchema::parse(SchemaType::Json, r#"{"type":"array"}"#, &[]).expect("schema");
        assert_eq!(parsed.field_types(), None);
    }
}
