//! A contract's fields, and how they agree with a port's registered schema.
//!
//! The registry lists a schema's fields as [`weft_schema::FieldSummary`] (dotted paths, the schema
//! language's type names, whether a field may be null or absent); [`compare_with_schema_fields`]
//! names each field on which that list and a contract disagree. Fields inside arrays (`lines[].sku`)
//! are listed by [`crate::Contract::fields`] but not compared: the registry's listing does not
//! descend into arrays.

use serde::Serialize;
use weft_schema::FieldSummary;

use crate::model::{LogicalType, Property};
use crate::{Contract, ContractError};

/// One property of a schema object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractField {
    /// Dotted path in the record: `customer.email`; an array's items are `lines[]`, their
    /// properties `lines[].sku`.
    pub path: String,
    /// `logicalType` as the contract writes it (`string`, `integer`, `timestamp`...), if given.
    pub logical_type: Option<String>,
    /// `required: true`: never absent or null.
    pub required: bool,
    /// `classification` (`public`, `restricted`, `PII`...), if given.
    pub classification: Option<String>,
}

/// How a contract and a schema disagree on a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MismatchKind {
    /// The contract has the field, the schema does not.
    MissingInSchema,
    /// The schema has the field, the contract does not.
    MissingInContract,
    /// Their types cannot hold the same values.
    TypeDiffers,
    /// One requires a value, the other admits null or absence.
    RequiredDiffers,
}

/// A field on which a contract and a schema disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldMismatch {
    /// Dotted path of the field.
    pub field: String,
    pub kind: MismatchKind,
    pub message: String,
}

impl Contract {
    /// The properties of schema object `object`, depth first, with their dotted paths.
    pub fn fields(&self, object: &str) -> Result<Vec<ContractField>, ContractError> {
        let object = self.object(Some(object))?;
        let mut out = Vec::new();
        for property in object.children() {
            collect(&property, &mut out);
        }
        Ok(out)
    }
}

fn collect(p: &Property<'_>, out: &mut Vec<ContractField>) {
    out.push(ContractField {
        path: p.path.clone(),
        logical_type: p.str("logicalType").map(str::to_string),
        required: p.required(),
        classification: p.str("classification").map(str::to_string),
    });
    for child in p.children() {
        collect(&child, out);
    }
    if let Some(items) = p.items() {
        collect(&items, out);
    }
}

/// The fields on which a contract (`contract`, as [`Contract::fields`] lists them) and a registered
/// schema (`schema`, as the registry's `field_summaries` lists them) disagree, in the contract's
/// order, then the schema's fields the contract lacks.
///
/// Types agree when every value of the schema's type is a value of the contract's logical type:
/// `integer` takes Avro `int`/`long` and JSON `integer`; `number` also takes floats, decimals and
/// integers; `string` takes strings, enums and UUIDs; `date`, `timestamp` and `time` take their
/// Avro logical types and JSON Schema formats, plain strings (text) and integers (epoch numbers);
/// `object` takes records, maps and objects; `array` arrays; a contract property without a logical
/// type, or a schema type that cannot be read (`ref`, `any`), agrees with anything.
pub fn compare_with_schema_fields(contract: &[ContractField], schema: &[FieldSummary]) -> Vec<FieldMismatch> {
    let mut out = Vec::new();
    for field in contract.iter().filter(|f| !f.path.contains("[]")) {
        let Some(summary) = schema.iter().find(|s| s.path == field.path) else {
            out.push(FieldMismatch {
                field: field.path.clone(),
                kind: MismatchKind::MissingInSchema,
                message: format!("the contract has {}, the schema does not", field.path),
            });
            continue;
        };
        if let Some(logical) = field.logical_type.as_deref().and_then(LogicalType::parse) {
            if !types_agree(logical, &summary.type_name) {
                out.push(FieldMismatch {
                    field: field.path.clone(),
                    kind: MismatchKind::TypeDiffers,
                    message: format!(
                        "the contract types {} as {}, the schema as {}",
                        field.path,
                        logical.name(),
                        summary.type_name
                    ),
                });
            }
        }
        if field.required == summary.optional {
            let message = if field.required {
                format!("the contract requires {}, the schema lets it be null or absent", field.path)
            } else {
                format!("the schema requires {} (never null), the contract does not", field.path)
            };
            out.push(FieldMismatch { field: field.path.clone(), kind: MismatchKind::RequiredDiffers, message });
        }
    }
    for summary in schema {
        if !contract.iter().any(|f| f.path == summary.path) {
            out.push(FieldMismatch {
                field: summary.path.clone(),
                kind: MismatchKind::MissingInContract,
                message: format!("the schema has {}, the contract does not", summary.path),
            });
        }
    }
    out
}

/// What a schema type name (Avro's or JSON Schema's, as `field_summaries` writes it) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Text,
    Integer,
    Number,
    Boolean,
    Date,
    Timestamp,
    Time,
    Object,
    Array,
    Null,
    /// Cannot be told from the name.
    Unknown,
}

fn held(type_name: &str) -> Vec<Held> {
    let name = type_name.trim();
    if let Some(branches) = name.strip_prefix("union<").and_then(|b| b.strip_suffix('>')) {
        return split_top_level(branches).iter().flat_map(|b| held(b)).collect();
    }
    if name.contains('|') {
        return name.split('|').flat_map(held).collect();
    }
    let (base, logical) = match name.split_once('(') {
        Some((base, rest)) => (base, rest.trim_end_matches(')')),
        None => (name, ""),
    };
    let kind = match (base, logical) {
        (_, "date") => Held::Date,
        (_, l) if l.starts_with("timestamp") || l.starts_with("local-timestamp") || l == "date-time" => Held::Timestamp,
        (_, l) if l.starts_with("time") => Held::Time,
        (_, "decimal") => Held::Number,
        ("string", _) | ("bytes", _) => Held::Text,
        ("int" | "long" | "integer", _) => Held::Integer,
        ("float" | "double" | "number", _) => Held::Number,
        ("boolean", _) => Held::Boolean,
        ("null", _) => Held::Null,
        ("object", _) => Held::Object,
        (b, _) if b.starts_with("record ") || b.starts_with("map<") => Held::Object,
        (b, _) if b.starts_with("enum ") => Held::Text,
        (b, _) if b.starts_with("fixed ") => Held::Text,
        (b, _) if b.starts_with("array<") => Held::Array,
        _ => Held::Unknown,
    };
    vec![kind]
}

/// `null, record A, map<string>` split at the commas outside angle brackets.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

fn types_agree(logical: LogicalType, schema_type: &str) -> bool {
    held(schema_type).into_iter().filter(|h| *h != Held::Null).all(|h| {
        h == Held::Unknown
            || match logical {
                LogicalType::String => h == Held::Text,
                LogicalType::Integer => h == Held::Integer,
                LogicalType::Number => matches!(h, Held::Number | Held::Integer),
                LogicalType::Boolean => h == Held::Boolean,
                LogicalType::Object => h == Held::Object,
                LogicalType::Array => h == Held::Array,
                LogicalType::Date => matches!(h, Held::Date | Held::Text | Held::Integer),
                LogicalType::Timestamp => matches!(h, Held::Timestamp | Held::Text | Held::Integer),
                LogicalType::Time => matches!(h, Held::Time | Held::Text | Held::Integer),
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_type_names_are_read_in_both_languages() {
        let agree = [
            (LogicalType::String, "string"),
            (LogicalType::String, "enum Currency"),
            (LogicalType::String, "string(uuid)"),
            (LogicalType::String, "union<null, string>"),
            (LogicalType::Integer, "long"),
            (LogicalType::Integer, "integer"),
            (LogicalType::Number, "double"),
            (LogicalType::Number, "long"),
            (LogicalType::Number, "bytes(decimal)"),
            (LogicalType::Date, "int(date)"),
            (LogicalType::Date, "string(date)"),
            (LogicalType::Timestamp, "long(timestamp-millis)"),
            (LogicalType::Timestamp, "string(date-time)"),
            (LogicalType::Timestamp, "string"),
            (LogicalType::Time, "int(time-millis)"),
            (LogicalType::Object, "record Address"),
            (LogicalType::Object, "union<null, record Address>"),
            (LogicalType::Object, "map<string>"),
            (LogicalType::Array, "array<string>"),
            (LogicalType::Boolean, "boolean"),
            (LogicalType::String, "ref"),
        ];
        for (logical, name) in agree {
            assert!(types_agree(logical, name), "{logical:?} {name}");
        }
        let differ = [
            (LogicalType::Integer, "double"),
            (LogicalType::Integer, "string"),
            (LogicalType::String, "long"),
            (LogicalType::Boolean, "string"),
            (LogicalType::Object, "array<string>"),
            (LogicalType::String, "union<null, string, long>"),
            (LogicalType::Number, "string|integer"),
            (LogicalType::Date, "boolean"),
        ];
        for (logical, name) in differ {
            assert!(!types_agree(logical, name), "{logical:?} {name}");
        }
    }
}
