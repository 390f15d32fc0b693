//! A JSON Schema (draft 2020-12) of a schema object's records, for ports that have no schema yet.
//!
//! Generated from the properties: logical types (`date`, `timestamp` and `time` as strings of the
//! formats `date`, `date-time` and `time`), `required` (a property that is not required may also be
//! null), the `logicalTypeOptions` JSON Schema shares (bounds, lengths, `pattern`, the formats it
//! asserts, item and member counts), and the valid values of a per-record `invalidValues` rule as an
//! `enum`. Records may carry members the contract does not name (no `additionalProperties: false`),
//! as the contract itself allows. The registry's field listing of the result agrees with
//! [`crate::Contract::fields`] (a test checks it).

use serde_json::{json, Map, Value};

use crate::model::{LogicalType, Metric, Property, QualityKind};
use crate::{Contract, ContractError};

/// The JSON Schema dialect of the generated schemas.
const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// String formats of ODCS that JSON Schema 2020-12 also defines.
const JSON_SCHEMA_FORMATS: [&str; 6] = ["email", "uuid", "uri", "hostname", "ipv4", "ipv6"];

impl Contract {
    /// A JSON Schema (draft 2020-12) of the records of schema object `object`.
    pub fn to_json_schema(&self, object: &str) -> Result<Value, ContractError> {
        let object = self.object(Some(object))?;
        let mut schema = Map::new();
        schema.insert("$schema".into(), json!(DIALECT));
        schema.insert("title".into(), json!(object.name));
        if let Some(description) = object.str("description") {
            schema.insert("description".into(), json!(description));
        }
        members(&object, &mut schema);
        Ok(Value::Object(schema))
    }
}

/// `type: object` with `properties` and `required` from `p`'s properties.
fn members(p: &Property<'_>, out: &mut Map<String, Value>) {
    out.insert("type".into(), json!("object"));
    let mut properties = Map::new();
    let mut required = Vec::new();
    for child in p.children() {
        if child.required() {
            required.push(json!(child.name));
        }
        properties.insert(child.name.to_string(), property(&child));
    }
    out.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
}

fn property(p: &Property<'_>) -> Value {
    let mut out = Map::new();
    if let Some(description) = p.str("description") {
        out.insert("description".into(), json!(description));
    }
    let option = |name: &str| p.option(name).filter(|v| v.is_number()).cloned();
    let ty = match p.logical_type() {
        Some(LogicalType::String) => {
            copy(&mut out, p, &["minLength", "maxLength", "pattern"]);
            if let Some(format) = p.option("format").and_then(Value::as_str).filter(|f| JSON_SCHEMA_FORMATS.contains(f))
            {
                out.insert("format".into(), json!(format));
            }
            Some("string")
        }
        Some(ty @ (LogicalType::Integer | LogicalType::Number)) => {
            copy(&mut out, p, &["minimum", "maximum", "multipleOf"]);
            // v3.1 writes exclusive bounds as numbers, v3.0 as flags on minimum and maximum.
            for (exclusive, inclusive) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
                match p.option(exclusive) {
                    Some(Value::Number(_)) => {
                        out.insert(exclusive.into(), option(exclusive).unwrap_or_default());
                    }
                    Some(Value::Bool(true)) => {
                        if let Some(bound) = out.remove(inclusive) {
                            out.insert(exclusive.into(), bound);
                        }
                    }
                    _ => {}
                }
            }
            Some(if ty == LogicalType::Integer { "integer" } else { "number" })
        }
        Some(LogicalType::Boolean) => Some("boolean"),
        Some(ty @ (LogicalType::Date | LogicalType::Timestamp | LogicalType::Time)) => {
            let format = match ty {
                LogicalType::Date => "date",
                LogicalType::Time => "time",
                _ => "date-time",
            };
            out.insert("format".into(), json!(format));
            Some("string")
        }
        Some(LogicalType::Object) => {
            members(p, &mut out);
            copy(&mut out, p, &["minProperties", "maxProperties"]);
            if let Some(Value::Array(names)) = p.option("required") {
                let mut required: Vec<Value> =
                    out.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
                for name in names {
                    if !required.contains(name) {
                        required.push(name.clone());
                    }
                }
                out.insert("required".into(), Value::Array(required));
            }
            Some("object")
        }
        Some(LogicalType::Array) => {
            copy(&mut out, p, &["minItems", "maxItems", "uniqueItems"]);
            if let Some(items) = p.items() {
                out.insert("items".into(), property(&items));
            }
            Some("array")
        }
        None => None,
    };
    if let Some(valid) = valid_values(p) {
        let mut values = valid;
        if !p.required() && !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
        out.insert("enum".into(), Value::Array(values));
    }
    if let Some(ty) = ty {
        let types = if p.required() { json!(ty) } else { json!([ty, "null"]) };
        out.insert("type".into(), types);
    }
    Value::Object(out)
}

fn copy(out: &mut Map<String, Value>, p: &Property<'_>, names: &[&str]) {
    for name in names {
        if let Some(value) = p.option(name).filter(|v| v.is_number() || v.is_string() || v.is_boolean()) {
            out.insert((*name).into(), value.clone());
        }
    }
}

/// The valid values of the property's per-record `invalidValues` rule, if it has one.
fn valid_values(p: &Property<'_>) -> Option<Vec<Value>> {
    p.quality().into_iter().find_map(|q| match q.kind {
        QualityKind::Library { metric: Some(Metric::InvalidValues), .. } if q.threshold().per_record() => {
            q.argument("validValues").and_then(Value::as_array).cloned()
        }
        _ => None,
    })
}
