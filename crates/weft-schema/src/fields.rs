//! A flat list of a schema's fields (dotted paths, types, docs, whether they may be missing, their
//! classification): what the catalog searches, what field-level lineage names, and what the web
//! application shows. Read from the schema text, so it works for every format alike.

use serde_json::Value;

use crate::SchemaType;

/// One field of a schema; nested fields use dotted paths (`address.city`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSummary {
    pub path: String,
    /// The type as the schema language writes it (`string`, `long`, `record Address`, `array<string>`...).
    #[serde(rename = "type")]
    pub type_name: String,
    pub doc: Option<String>,
    /// How deep the field is nested (0 for top-level fields).
    pub depth: usize,
    /// The field may be null or absent: an Avro union with `null`; a JSON Schema property that is not
    /// required or admits `null`.
    pub optional: bool,
    /// What the schema says about the field's sensitivity: the values of the annotations
    /// `classification`, `classifications`, `sensitivity`, `confidentiality`, `tags` (and `x-` forms),
    /// and `pii` when `pii: true` marks it.
    pub classification: Vec<String>,
}

/// Annotations a field's sensitivity is read from (Avro field attributes, JSON Schema keywords).
const CLASSIFICATION_KEYS: [&str; 8] =
    ["classification", "classifications", "pii", "sensitivity", "x-classification", "x-pii", "confidentiality", "tags"];

fn classification_of(node: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for key in CLASSIFICATION_KEYS {
        match node.get(key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => found.push(key.trim_start_matches("x-").to_string()),
            Some(Value::Array(values)) => found.extend(values.iter().map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })),
            Some(Value::String(s)) => found.push(s.clone()),
            Some(other) => found.push(other.to_string()),
        }
    }
    found
}

/// Nesting deeper than this is not listed (recursive types would never end).
const MAX_DEPTH: usize = 8;

/// The fields of a schema text of the given type; empty when the text is not an object schema.
pub fn field_summaries(schema_type: SchemaType, schema: &str) -> Vec<FieldSummary> {
    if schema_type == SchemaType::Protobuf {
        // The first message is what Confluent's serializers write by default. A schema whose imports
        // need references lists nothing (the text alone does not resolve them).
        let mut out = Vec::new();
        if let Some(message) = crate::protobuf::ProtobufSchema::parse(schema).ok().and_then(|s| s.messages().next()) {
            protobuf_fields(&message, "", 0, &mut out);
        }
        return out;
    }
    let Ok(value) = serde_json::from_str::<Value>(schema) else { return Vec::new() };
    let mut out = Vec::new();
    match schema_type {
        SchemaType::Avro => avro_fields(&value, "", 0, &mut out),
        SchemaType::Json => json_fields(&value, "", 0, &mut out),
        SchemaType::Protobuf => {}
    }
    out
}

fn protobuf_type_name(field: &prost_reflect::FieldDescriptor) -> String {
    use prost_reflect::Kind;
    let kind_name = |kind: &Kind| match kind {
        Kind::Message(m) => format!("message {}", m.full_name()),
        Kind::Enum(e) => format!("enum {}", e.full_name()),
        other => format!("{other:?}").to_ascii_lowercase(),
    };
    match field.kind() {
        Kind::Message(entry) if field.is_map() => format!(
            "map<{}, {}>",
            kind_name(&entry.map_entry_key_field().kind()),
            kind_name(&entry.map_entry_value_field().kind())
        ),
        kind if field.is_list() => format!("repeated {}", kind_name(&kind)),
        kind => kind_name(&kind),
    }
}

fn protobuf_fields(
    message: &prost_reflect::MessageDescriptor,
    prefix: &str,
    depth: usize,
    out: &mut Vec<FieldSummary>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for field in message.fields() {
        let path = join(prefix, field.name());
        out.push(FieldSummary {
            path: path.clone(),
            type_name: protobuf_type_name(&field),
            doc: None,
            depth,
            // Every field but a proto2 `required` one may be absent on the wire.
            optional: field.cardinality() != prost_reflect::Cardinality::Required,
            classification: Vec::new(),
        });
        if let prost_reflect::Kind::Message(inner) = field.kind() {
            if !field.is_map() {
                protobuf_fields(&inner, &path, depth + 1, out);
            }
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The record inside an Avro type, looking through unions with null (optional records).
fn avro_record(ty: &Value) -> Option<&Value> {
    match ty {
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("record") => Some(ty),
        Value::Array(branches) => {
            let non_null: Vec<&Value> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
            match non_null.as_slice() {
                [single] => avro_record(single),
                _ => None,
            }
        }
        _ => None,
    }
}

fn avro_type_name(ty: &Value) -> String {
    match ty {
        Value::String(s) => s.clone(),
        Value::Array(branches) => {
            let names: Vec<String> = branches.iter().map(avro_type_name).collect();
            format!("union<{}>", names.join(", "))
        }
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("unknown");
            if let Some(logical) = o.get("logicalType").and_then(Value::as_str) {
                return format!("{kind}({logical})");
            }
            match kind {
                "array" => format!("array<{}>", o.get("items").map_or_else(String::new, avro_type_name)),
                "map" => format!("map<{}>", o.get("values").map_or_else(String::new, avro_type_name)),
                "record" | "enum" | "fixed" => {
                    format!("{kind} {}", o.get("name").and_then(Value::as_str).unwrap_or_default())
                }
                other => other.to_string(),
            }
        }
        _ => "unknown".to_string(),
    }
}

fn avro_fields(schema: &Value, prefix: &str, depth: usize, out: &mut Vec<FieldSummary>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(record) = avro_record(schema) else { return };
    let Some(fields) = record.get("fields").and_then(Value::as_array) else { return };
    for field in fields {
        let Some(name) = field.get("name").and_then(Value::as_str) else { continue };
        let ty = field.get("type").unwrap_or(&Value::Null);
        let path = join(prefix, name);
        let optional = ty.as_array().is_some_and(|branches| branches.iter().any(|b| b.as_str() == Some("null")));
        out.push(FieldSummary {
            path: path.clone(),
            type_name: avro_type_name(ty),
            doc: field.get("doc").and_then(Value::as_str).map(str::to_string),
            depth,
            optional,
            classification: classification_of(field),
        });
        avro_fields(ty, &path, depth + 1, out);
    }
}

fn json_type_name(schema: &Value) -> String {
    match schema.get("type") {
        Some(Value::String(s)) if s == "array" => {
            format!("array<{}>", schema.get("items").map_or_else(|| "any".to_string(), json_type_name))
        }
        Some(Value::String(s)) => match schema.get("format").and_then(Value::as_str) {
            Some(format) => format!("{s}({format})"),
            None => s.clone(),
        },
        Some(Value::Array(types)) => {
            types.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join("|")
        }
        _ if schema.get("$ref").is_some() => "ref".to_string(),
        _ if schema.get("properties").is_some() => "object".to_string(),
        _ => "any".to_string(),
    }
}

fn json_fields(schema: &Value, prefix: &str, depth: usize, out: &mut Vec<FieldSummary>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, property) in properties {
        let path = join(prefix, name);
        let nullable = match property.get("type") {
            Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some("null")),
            Some(Value::String(t)) => t == "null",
            _ => false,
        };
        out.push(FieldSummary {
            path: path.clone(),
            type_name: json_type_name(property),
            doc: property
                .get("description")
                .or_else(|| property.get("title"))
                .and_then(Value::as_str)
                .map(str::to_string),
            depth,
            optional: nullable || !required.contains(&name.as_str()),
            classification: classification_of(property),
        });
        json_fields(property, &path, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(fields: &[FieldSummary]) -> Vec<(&str, &str, Option<&str>)> {
        fields.iter().map(|f| (f.path.as_str(), f.type_name.as_str(), f.doc.as_deref())).collect()
    }

    #[test]
    fn avro_fields_are_flattened_with_types_and_docs() {
        let schema = r#"{"type":"record","name":"Order","fields":[
            {"name":"id","type":"string","doc":"order id"},
            {"name":"placed","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"address","type":["null",{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}]},
            {"name":"items","type":{"type":"array","items":"string"}}]}"#;
        assert_eq!(
            paths(&field_summaries(SchemaType::Avro, schema)),
            vec![
                ("id", "string", Some("order id")),
                ("placed", "long(timestamp-millis)", None),
                ("address", "union<null, record Address>", None),
                ("address.city", "string", None),
                ("items", "array<string>", None),
            ]
        );
    }

    #[test]
    fn json_schema_properties_are_flattened() {
        let schema = r#"{"type":"object","properties":{
            "id":{"type":"string","description":"order id"},
            "amount":{"type":["number","null"]},
            "customer":{"type":"object","properties":{"email":{"type":"string","format":"email"}}}}}"#;
        assert_eq!(
            paths(&field_summaries(SchemaType::Json, schema)),
            vec![
                ("amount", "number", None),
                ("customer", "object", None),
                ("customer.email", "string(email)", None),
                ("id", "string", Some("order id")),
            ]
        );
    }

    #[test]
    fn optional_fields_and_classifications_are_read_from_both_formats() {
        let avro = r#"{"type":"record","name":"Customer","fields":[
            {"name":"id","type":"string"},
            {"name":"email","type":["null","string"],"classification":"PII","tags":["contact"]},
            {"name":"name","type":"string","pii":true}]}"#;
        let fields = field_summaries(SchemaType::Avro, avro);
        let summary: Vec<(&str, bool, Vec<String>, usize)> =
            fields.iter().map(|f| (f.path.as_str(), f.optional, f.classification.clone(), f.depth)).collect();
        assert_eq!(
            summary,
            vec![
                ("id", false, vec![], 0),
                ("email", true, vec!["PII".to_string(), "contact".to_string()], 0),
                ("name", false, vec!["pii".to_string()], 0),
            ]
        );
        let json = r#"{"type":"object","required":["id"],"properties":{
            "id":{"type":"string"},
            "note":{"type":["string","null"]},
            "address":{"type":"object","x-classification":"confidential","required":["city"],
                       "properties":{"city":{"type":"string","title":"City"}}}}}"#;
        let fields = field_summaries(SchemaType::Json, json);
        let summary: Vec<(&str, bool, Vec<String>, usize)> =
            fields.iter().map(|f| (f.path.as_str(), f.optional, f.classification.clone(), f.depth)).collect();
        assert_eq!(
            summary,
            vec![
                ("address", true, vec!["confidential".to_string()], 0),
                ("address.city", false, vec![], 1),
                ("id", false, vec![], 0),
                ("note", true, vec![], 0),
            ]
        );
        assert_eq!(fields[1].doc.as_deref(), Some("City"), "a title stands in for a description");
    }

    #[test]
    fn non_object_schemas_have_no_fields() {
        assert!(field_summaries(SchemaType::Avro, r#""string""#).is_empty());
        assert!(field_summaries(SchemaType::Json, "not json").is_empty());
    }

    #[test]
    fn lists_protobuf_fields_of_the_first_message() {
        let schema = "syntax = \"proto2\"; message Order { required string id = 1; optional Line line = 2; \
                      repeated int64 amounts = 3; map<string, Line> lines = 4; } \
                      message Line { optional string sku = 1; } message Other { optional int32 x = 1; }";
        let listed: Vec<(String, String, usize, bool)> = field_summaries(SchemaType::Protobuf, schema)
            .into_iter()
            .map(|f| (f.path, f.type_name, f.depth, f.optional))
            .collect();
        let expected = [
            ("id", "string", 0, false),
            ("line", "message Line", 0, true),
            ("line.sku", "string", 1, true),
            ("amounts", "repeated int64", 0, true),
            ("lines", "map<string, message Line>", 0, true),
        ];
        let expected: Vec<(String, String, usize, bool)> =
            expected.iter().map(|(p, t, d, o)| (p.to_string(), t.to_string(), *d, *o)).collect();
        assert_eq!(listed, expected);
        // A recursive message stops at the listing depth; text that does not parse lists nothing.
        let tree = field_summaries(SchemaType::Protobuf, "syntax = \"proto3\"; message N { N next = 1; }");
        assert_eq!(tree.len(), MAX_DEPTH + 1);
        assert!(field_summaries(SchemaType::Protobuf, "message {").is_empty());
    }
}
