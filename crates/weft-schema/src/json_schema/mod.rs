//! JSON Schema (draft-04, -06, -07, 2019-09 and 2020-12): parsing with located errors, a canonical
//! text, and validation that passes the official JSON-Schema-Test-Suite (`tests/json_schema_suite.rs`).
//!
//! Validation is the `jsonschema` crate's, behind a narrow surface (compile a schema, validate a value or
//! bytes, located errors, and the documents for tools that read them); what is Weft's stays here:
//!
//! - **References** come from the caller only: Confluent schema references, by the name the schema
//!   uses for each (the registry resolves them by subject and version), and the official metaschemas,
//!   built in. Nothing is fetched from the network or read from files ([`references`]).
//! - **Messages** name the JSON pointer of the failing value, the keyword and why ([`messages`]); a
//!   schema text that is not JSON is located by line and column, an invalid schema by pointer.
//! - **`format` is asserted under every draft by default**, as Confluent's validator does, where
//!   2019-09 and 2020-12 make it an annotation: [`FormatMode`] chooses.
//! - **Bounds**: `pattern` uses the `regex` crate (linear time; look-around and back-references are
//!   refused with the schema), and no payload nests deeper than [`MAX_DEPTH`].
//!
//! Whether one schema accepts what another does is not a question JSON Schema answers; the registry
//! answers it by Confluent's rules, from [`JsonSchema::document`] and [`JsonSchema::resolve_ref`].

mod documents;
pub(crate) mod format;
mod messages;
mod references;

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

use crate::json::{canonical, kind, parse_json, pointer_escape};
use crate::validation::{InstancePath, ValidationError};
use crate::MAX_DEPTH;
use documents::Documents;
use references::References;

/// The JSON Schema dialect a schema is written in, from its `$schema` (draft-07 when absent, as
/// Confluent reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Draft {
    Draft4,
    Draft6,
    Draft7,
    Draft2019_09,
    Draft2020_12,
}

impl Draft {
    fn validator_draft(self) -> jsonschema::Draft {
        match self {
            Draft::Draft4 => jsonschema::Draft::Draft4,
            Draft::Draft6 => jsonschema::Draft::Draft6,
            Draft::Draft7 => jsonschema::Draft::Draft7,
            Draft::Draft2019_09 => jsonschema::Draft::Draft201909,
            Draft::Draft2020_12 => jsonschema::Draft::Draft202012,
        }
    }
}

/// Why a text is not a valid JSON Schema, and where (a JSON pointer into the schema document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", crate::avro::located(path))]
pub struct JsonSchemaError {
    pub path: String,
    pub message: String,
}

/// Whether `format` asserts (a string that is no valid `date-time` is refused) or only annotates.
///
/// Weft departs from the specification here by default: JSON Schema 2019-09 and 2020-12 make `format` an
/// annotation unless a metaschema enables the format-assertion vocabulary, but Confluent's validator
/// asserts it under every draft, and Kafka clients written against Confluent rely on that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatMode {
    /// Every known format is asserted, under every draft (Confluent's behaviour).
    #[default]
    Assert,
    /// As the specification says: asserted under drafts 4 to 7, an annotation under 2019-09 and
    /// 2020-12 unless the schema's metaschema enables the format-assertion vocabulary.
    Specification,
}

impl std::str::FromStr for FormatMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "assert" => Ok(FormatMode::Assert),
            "specification" => Ok(FormatMode::Specification),
            other => Err(format!("'{other}' is not a JSON Schema format mode: use assert or specification")),
        }
    }
}

impl std::fmt::Display for FormatMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FormatMode::Assert => "assert",
            FormatMode::Specification => "specification",
        })
    }
}

/// How schemas are compiled: where Weft departs from the specification, as settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct JsonSchemaOptions {
    pub format: FormatMode,
}

/// JSON's types as bits, so a `type` keyword's set of types is one byte: what the validator checks
/// values against and what the registry's compatibility rules compare between schema versions.
pub mod types {
    use serde_json::Value;

    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const OBJECT: u8 = 4;
    pub const ARRAY: u8 = 8;
    pub const NUMBER: u8 = 16;
    pub const STRING: u8 = 32;
    pub const INTEGER: u8 = 64;

    /// The bit of a type name, `None` for a name JSON Schema does not define.
    pub fn type_bit(name: &str) -> Option<u8> {
        Some(match name {
            "null" => NULL,
            "boolean" => BOOLEAN,
            "object" => OBJECT,
            "array" => ARRAY,
            "number" => NUMBER,
            "string" => STRING,
            "integer" => INTEGER,
            _ => return None,
        })
    }

    /// `string or null`, for messages.
    pub fn type_names(bits: u8) -> String {
        let names: Vec<&str> = ["null", "boolean", "object", "array", "number", "string", "integer"]
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        names.join(" or ")
    }

    /// A number with no fractional part is an integer (JSON Schema counts `1.0` as one).
    pub fn is_integer(n: &serde_json::Number) -> bool {
        n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.is_finite())
    }

    /// The type bits of a value (an integral number is both `number` and `integer`).
    pub fn value_bits(value: &Value) -> u8 {
        match value {
            Value::Null => NULL,
            Value::Bool(_) => BOOLEAN,
            Value::Object(_) => OBJECT,
            Value::Array(_) => ARRAY,
            Value::String(_) => STRING,
            Value::Number(n) if is_integer(n) => NUMBER | INTEGER,
            Value::Number(_) => NUMBER,
        }
    }
}

/// Formats a later draft defined, with that draft: [`FormatMode::Assert`] asserts them under the
/// earlier drafts too, as Confluent's validator does (a draft-07 schema's `uuid` is checked).
const LATER_FORMATS: &[(&str, Draft)] = &[
    ("uuid", Draft::Draft2019_09),
    ("duration", Draft::Draft2019_09),
    ("idn-hostname", Draft::Draft7),
    ("iri", Draft::Draft7),
    ("iri-reference", Draft::Draft7),
    ("relative-json-pointer", Draft::Draft7),
    ("json-pointer", Draft::Draft6),
    ("uri-reference", Draft::Draft6),
    ("uri-template", Draft::Draft6),
];

/// A parsed JSON Schema, compiled into a validator.
#[derive(Debug)]
pub struct JsonSchema {
    draft: Draft,
    /// The schema document (index 0) and the documents of its references, by reference name.
    docs: Documents,
    validator: Validator,
}

impl JsonSchema {
    /// Parses and compiles a schema text with the default options.
    pub fn parse(text: &str) -> Result<JsonSchema, JsonSchemaError> {
        Self::parse_with(text, &[], JsonSchemaOptions::default())
    }

    /// Parses a schema whose `$ref`s may name referenced schemas (Confluent schema references) by their
    /// reference name, e.g. `"$ref": "address.json"` or `"$ref": "address.json#/$defs/street"`.
    pub fn parse_with_references(text: &str, references: &[(&str, &str)]) -> Result<JsonSchema, JsonSchemaError> {
        Self::parse_with(text, references, JsonSchemaOptions::default())
    }

    /// Parses and compiles a schema text with its references (name and text) and options.
    pub fn parse_with(
        text: &str,
        references: &[(&str, &str)],
        options: JsonSchemaOptions,
    ) -> Result<JsonSchema, JsonSchemaError> {
        let value = parse_json(text).map_err(|message| JsonSchemaError { path: String::new(), message })?;
        let mut referenced = Vec::with_capacity(references.len());
        for (name, reference) in references {
            let value = parse_json(reference).map_err(|message| JsonSchemaError {
                path: String::new(),
                message: format!("referenced schema '{name}': {message}"),
            })?;
            referenced.push((name.to_string(), value));
        }
        let references = References::new(referenced);
        let (draft, stated) = draft_of_schema(&value, &references)?;
        let mut builder =
            jsonschema::options().with_pattern_options(PatternOptions::regex()).with_retriever(references.clone());
        if !stated {
            builder = builder.with_draft(draft.validator_draft());
        }
        if options.format == FormatMode::Assert {
            builder = builder.should_validate_formats(true);
            for (name, since) in LATER_FORMATS {
                if draft < *since {
                    builder = builder.with_format(*name, move |s: &str| format::is_valid(name, s));
                }
            }
        }
        let validator = builder.build(&value).map_err(|e| schema_error(&value, &e))?;
        let mut docs = vec![(String::new(), value)];
        docs.extend(references.into_docs());
        Ok(JsonSchema { draft, docs: Documents::new(docs), validator })
    }

    pub fn draft(&self) -> Draft {
        self.draft
    }

    /// The schema document.
    pub fn document(&self) -> &Value {
        self.docs.get(0)
    }

    /// The text the registry stores and deduplicates on: compact JSON with object keys sorted.
    pub fn canonical_text(&self) -> String {
        canonical(self.docs.get(0))
    }

    /// Checks a payload; the error names the first violation, where it is and which keyword.
    pub fn validate(&self, value: &Value) -> Result<(), ValidationError> {
        too_deep(value, &InstancePath::Root, 0)?;
        self.validator.validate(value).map_err(|e| {
            let (path, message) = messages::describe(&e, self.docs.get(0));
            ValidationError { path, message }
        })
    }

    /// Parses and checks a payload (JSON text nests at most [`MAX_DEPTH`] levels, as the parser allows).
    pub fn validate_bytes(&self, bytes: &[u8]) -> Result<(), ValidationError> {
        self.validate(&crate::validation::parse_payload(bytes)?)
    }

    /// Whether a payload is valid, without describing why not (cheaper on invalid payloads).
    pub fn is_valid(&self, value: &Value) -> bool {
        too_deep(value, &InstancePath::Root, 0).is_ok() && self.validator.is_valid(value)
    }

    /// Where a `$ref` written in document `from` points: the document (0 is this schema, then its
    /// references in the order they were given) and the subschema there. For tools that read the schema
    /// documents themselves, such as a compatibility check.
    pub fn resolve_ref(&self, from: usize, reference: &str) -> Option<(usize, &Value)> {
        let (doc, pointer) = self.docs.resolve_ref(from, reference)?;
        Some((doc, documents::resolve_pointer(self.docs.get(doc), &pointer)?))
    }
}

/// Refuses values nested deeper than [`MAX_DEPTH`] (only values built in memory can be: parsed JSON
/// text cannot), so that validating them cannot exhaust the stack.
fn too_deep(value: &Value, path: &InstancePath, depth: usize) -> Result<(), ValidationError> {
    if depth >= MAX_DEPTH {
        return Err(path.error(format!("validation nests deeper than {MAX_DEPTH} levels of the payload")));
    }
    match value {
        Value::Object(map) => map.iter().try_for_each(|(k, v)| too_deep(v, &path.key(k), depth + 1)),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, v)| too_deep(v, &path.index(i), depth + 1)),
        _ => Ok(()),
    }
}

/// The draft of a schema document, and whether its `$schema` states it. A `$schema` must name an
/// official metaschema or a referenced schema (a custom metaschema, whose own `$schema` gives the draft).
fn draft_of_schema(value: &Value, references: &References) -> Result<(Draft, bool), JsonSchemaError> {
    let Some(stated) = value.get("$schema") else { return Ok((Draft::Draft7, false)) };
    let Value::String(uri) = stated else {
        return Err(JsonSchemaError {
            path: "/$schema".into(),
            message: format!("$schema must be a string, found {}", kind(stated)),
        });
    };
    let custom = || {
        let meta = references.find(uri)?;
        draft_of(meta.get("$schema")?.as_str()?)
    };
    let draft = draft_of(uri).or_else(custom).ok_or_else(|| JsonSchemaError {
        path: "/$schema".into(),
        message: format!(
            "unsupported $schema '{uri}'; supported: draft-04, draft-06, draft-07, 2019-09, 2020-12 and metaschemas among the schema's references"
        ),
    })?;
    Ok((draft, true))
}

fn draft_of(uri: &str) -> Option<Draft> {
    let uri = uri.trim_end_matches('#');
    Some(match uri.strip_prefix("http://").or_else(|| uri.strip_prefix("https://"))? {
        "json-schema.org/draft-04/schema" => Draft::Draft4,
        "json-schema.org/draft-06/schema" => Draft::Draft6,
        "json-schema.org/draft-07/schema" => Draft::Draft7,
        "json-schema.org/draft/2019-09/schema" => Draft::Draft2019_09,
        "json-schema.org/draft/2020-12/schema" => Draft::Draft2020_12,
        _ => return None,
    })
}

/// A schema the validator refuses: where in the schema document, and why.
fn schema_error(schema: &Value, error: &jsonschema::ValidationError<'_>) -> JsonSchemaError {
    if let jsonschema::error::ValidationErrorKind::Referencing(reference) = error.kind() {
        return JsonSchemaError {
            path: locate_ref(schema, reference).unwrap_or_default(),
            message: messages::referencing(reference),
        };
    }
    let (path, message) = messages::describe(error, schema);
    JsonSchemaError { path, message }
}

/// The pointer of the first `$ref` (or `$dynamicRef`, `$recursiveRef`) whose text names what a
/// resolution error is about, so that the error points at it.
fn locate_ref(schema: &Value, error: &jsonschema::ReferencingError) -> Option<String> {
    let needle = match error {
        jsonschema::ReferencingError::Unretrievable { uri, .. } => uri.rsplit('/').next().unwrap_or(uri).to_string(),
        jsonschema::ReferencingError::PointerToNowhere { pointer } => pointer.clone(),
        jsonschema::ReferencingError::NoSuchAnchor { anchor } => anchor.clone(),
        jsonschema::ReferencingError::InvalidAnchor { anchor } => anchor.clone(),
        _ => return None,
    };
    fn walk(value: &Value, pointer: String, needle: &str, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        match value {
            Value::Object(map) => {
                for keyword in ["$ref", "$dynamicRef", "$recursiveRef"] {
                    if map.get(keyword).and_then(Value::as_str).is_some_and(|r| r.contains(needle)) {
                        return Some(format!("{pointer}/{keyword}"));
                    }
                }
                map.iter().find_map(|(k, v)| walk(v, format!("{pointer}/{}", pointer_escape(k)), needle, depth + 1))
            }
            Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, v)| walk(v, format!("{pointer}/{i}"), needle, depth + 1))
            }
            _ => None,
        }
    }
    walk(schema, String::new(), &needle, 0)
}

#[cfg(test)]
mod tests;
