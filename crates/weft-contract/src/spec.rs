//! Validation against the standard's own JSON Schemas (vendored in `spec/`, see its README).
//!
//! A document is valid when the v3.1.0 schema (the newest v3 release, which the standard's own CI
//! applies to all its examples whatever their `apiVersion`) accepts it, or, for a document declaring
//! `apiVersion: v3.0.x`, when the v3.0.2 schema does (the v3.1.0 one refuses v3.0's forms, such as
//! `rule: validValues`).
//!
//! Weft's JSON Schema validator (`weft-schema`) reports the first problem it meets. To report more
//! than one, a refused document is validated again in parts: its root alone (required and unknown
//! members), each top-level section, each schema object, and each of an object's properties, so a
//! refusal lists up to one problem per part. The parts are cut from the standard's own schema
//! document, so nothing of the standard is restated here.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use weft_schema::json_schema::JsonSchema;

const V3_1_0: &str = include_str!("../spec/odcs-json-schema-v3.1.0.json");
const V3_0_2: &str = include_str!("../spec/odcs-json-schema-v3.0.2.json");

/// A problem found by a schema: a JSON pointer into the document and a message.
pub(crate) struct SchemaProblem {
    pub pointer: String,
    pub message: String,
}

/// One standard's schema, whole and cut into parts.
struct Standard {
    label: &'static str,
    whole: JsonSchema,
    /// The root's own keywords, every member's subschema replaced by `true`.
    root: JsonSchema,
    /// Each top-level member's subschema, by member name.
    sections: HashMap<String, JsonSchema>,
    object: Option<JsonSchema>,
    property: Option<JsonSchema>,
}

impl Standard {
    fn compile(label: &'static str, text: &str) -> Result<Standard, String> {
        let document: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let compile = |schema: &Value| JsonSchema::parse(&schema.to_string()).map_err(|e| e.to_string());
        let defs = document.get("$defs").cloned().unwrap_or_else(|| json!({}));
        let dialect = document.get("$schema").cloned().unwrap_or(Value::Null);
        // A subschema of the document as a schema of its own, with the definitions it refers to.
        let part = |subschema: &Value| -> Value {
            let mut part = match subschema {
                Value::Object(map) => map.clone(),
                other => {
                    let mut map = Map::new();
                    map.insert("allOf".into(), json!([other]));
                    map
                }
            };
            part.insert("$schema".into(), dialect.clone());
            part.insert("$defs".into(), defs.clone());
            Value::Object(part)
        };
        let mut root = document.clone();
        let mut sections = HashMap::new();
        if let Some(Value::Object(members)) = root.get_mut("properties") {
            for (name, subschema) in members.iter_mut() {
                sections.insert(name.clone(), compile(&part(subschema))?);
                *subschema = Value::Bool(true);
            }
        }
        let definition = |name: &str| -> Result<Option<JsonSchema>, String> {
            match defs.get(name) {
                Some(_) => compile(&part(&json!({"$ref": format!("#/$defs/{name}")}))).map(Some),
                None => Ok(None),
            }
        };
        Ok(Standard {
            label,
            whole: compile(&document)?,
            root: compile(&root)?,
            sections,
            object: definition("SchemaObject")?,
            property: definition("SchemaProperty")?,
        })
    }

    /// Every problem this standard's schema finds in `document`, up to one per part.
    fn problems(&self, document: &Value) -> Vec<SchemaProblem> {
        let Err(first) = self.whole.validate(document) else { return Vec::new() };
        let mut out = Vec::new();
        let mut push = |prefix: &str, e: weft_schema::ValidationError| {
            out.push(SchemaProblem { pointer: format!("{prefix}{}", e.path), message: explain(e.message) })
        };
        if let Err(e) = self.root.validate(document) {
            push("", e);
        }
        if let Value::Object(members) = document {
            for (name, value) in members {
                let prefix = format!("/{}", escape(name));
                match (name.as_str(), value, &self.object) {
                    ("schema", Value::Array(objects), Some(object)) => {
                        for (i, item) in objects.iter().enumerate() {
                            self.object_problems(object, item, &format!("{prefix}/{i}"), &mut push);
                        }
                    }
                    _ => {
                        if let Some(Err(e)) = self.sections.get(name).map(|s| s.validate(value)) {
                            push(&prefix, e);
                        }
                    }
                }
            }
        }
        if out.is_empty() {
            out.push(SchemaProblem { pointer: first.path, message: explain(first.message) });
        }
        out
    }

    fn object_problems(
        &self,
        object: &JsonSchema,
        value: &Value,
        prefix: &str,
        push: &mut impl FnMut(&str, weft_schema::ValidationError),
    ) {
        let Err(e) = object.validate(value) else { return };
        let mut found = false;
        if let (Some(property), Some(Value::Array(properties))) = (&self.property, value.get("properties")) {
            for (j, item) in properties.iter().enumerate() {
                if let Err(pe) = property.validate(item) {
                    found = true;
                    push(&format!("{prefix}/properties/{j}"), pe);
                }
            }
        }
        // The object's own problem, unless it is one of its properties' (already listed).
        if !found || !e.path.starts_with("/properties/") {
            push(prefix, e);
        }
    }
}

/// Unknown members are the most common mistake: say where custom data goes.
fn explain(message: String) -> String {
    if message.contains("is not allowed (additionalProperties is false)")
        || message.contains("is not allowed (unevaluatedProperties is false)")
    {
        format!("{message}: the standard allows no other member here; custom data goes in customProperties")
    } else {
        message
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

static V3_1: OnceLock<Result<Standard, String>> = OnceLock::new();
static V3_0: OnceLock<Result<Standard, String>> = OnceLock::new();

/// The problems the standard's JSON Schema finds in `document` (empty when it is valid), with the
/// label of the schema that found them.
pub(crate) fn validate(document: &Value) -> (&'static str, Vec<SchemaProblem>) {
    let newest = check(&V3_1, "ODCS v3.1.0", V3_1_0, document);
    if newest.1.is_empty() {
        return newest;
    }
    let api_version = document.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if api_version.starts_with("v3.0.") {
        // Valid under the version it declares is valid; when both refuse it, the schema that finds
        // fewer problems probably matches what the author meant (ties go to the declared version).
        let declared = check(&V3_0, "ODCS v3.0.2", V3_0_2, document);
        if declared.1.len() <= newest.1.len() {
            return declared;
        }
    }
    newest
}

fn check(
    cell: &'static OnceLock<Result<Standard, String>>,
    label: &'static str,
    text: &str,
    document: &Value,
) -> (&'static str, Vec<SchemaProblem>) {
    match cell.get_or_init(|| Standard::compile(label, text)) {
        Ok(standard) => (standard.label, standard.problems(document)),
        // The vendored files compile (a test checks it); this only keeps a broken update from panicking.
        Err(e) => (
            label,
            vec![SchemaProblem {
                pointer: String::new(),
                message: format!("the standard's schema does not compile: {e}"),
            }],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_vendored_schemas_compile() {
        Standard::compile("v3.1.0", V3_1_0).unwrap();
        Standard::compile("v3.0.2", V3_0_2).unwrap();
    }
}
