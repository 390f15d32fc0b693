//! The standard's own JSON Schema, the judge of what is ODPS: imports are checked against it before
//! they are read, exports after they are written.
//!
//! The schema is ODPS's file, vendored unchanged (`spec/odps-json-schema-v1.0.0.json`, see
//! `spec/README.md`), compiled once by `weft-schema`'s JSON Schema validator (draft 2019-09, with
//! `format`s `uri`, `date` and `date-time` asserted, as the standard's CI does with ajv-formats).
//! A refusal names the JSON pointer the validator found and the line of the YAML text it was
//! written on (`weft_yaml::LineIndex`).

use std::sync::OnceLock;

use serde_json::Value;
use weft_schema::json_schema::JsonSchema;

use crate::CatalogError;

/// The ODPS release whose JSON Schema is vendored and checked.
pub const ODPS_SCHEMA_VERSION: &str = "v1.0.0";

/// The standard's JSON Schema, as published.
pub const ODPS_SCHEMA: &str = include_str!("../../spec/odps-json-schema-v1.0.0.json");

/// The compiled schema (compiled at first use; a failure to compile is a defect of this build).
pub fn schema() -> Result<&'static JsonSchema, CatalogError> {
    static SCHEMA: OnceLock<Result<JsonSchema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| JsonSchema::parse(ODPS_SCHEMA).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| CatalogError::Internal(format!("the vendored ODPS JSON Schema does not compile: {e}")))
}

/// Whether the standard accepts `value`; the refusal names the field (a JSON pointer) and why.
pub fn validate(value: &Value) -> Result<(), weft_schema::ValidationError> {
    match schema() {
        Ok(schema) => schema.validate(value),
        Err(e) => Err(weft_schema::ValidationError { path: String::new(), message: e.to_string() }),
    }
}

/// Refuses a document (`value`, read from `yaml`) the standard refuses, with the line it was written on.
pub(crate) fn check_document(yaml: &str, value: &Value) -> Result<(), CatalogError> {
    schema()?.validate(value).map_err(|e| CatalogError::NotOdps {
        field: field_path(&e.path),
        line: weft_yaml::LineIndex::new(yaml).line(&e.path),
        reason: e.message,
    })
}

/// A JSON pointer as the catalog writes field paths: `/outputPorts/0/version` as `outputPorts[0].version`.
pub(crate) fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1).map(unescape) {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_schema_compiles() {
        assert!(schema().is_ok());
    }

    #[test]
    fn pointers_read_as_field_paths() {
        assert_eq!(field_path(""), "");
        assert_eq!(field_path("/outputPorts/0/version"), "outputPorts[0].version");
        assert_eq!(field_path("/team/members/2/dateIn"), "team.members[2].dateIn");
        assert_eq!(field_path("/a~1b"), "a/b");
    }
}
