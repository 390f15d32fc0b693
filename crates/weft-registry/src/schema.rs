//! Both schema formats behind one type: what the registry parses, stores, compares and validates with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::avro::AvroSchema;
use crate::json_schema::JsonSchema;
use crate::{RegistryError, ValidationError};

/// A schema format, named as the Confluent API names it (`schemaType`; absent means AVRO).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    #[default]
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub fn as_str(&self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// The types this registry accepts (`GET /schemas/types`).
    pub fn supported() -> &'static [SchemaType] {
        &[SchemaType::Avro, SchemaType::Json]
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemaType {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "AVRO" => Ok(SchemaType::Avro),
            "JSON" => Ok(SchemaType::Json),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            _ => Err(RegistryError::InvalidSchema(format!("unknown schema type '{s}'; expected AVRO or JSON"))),
        }
    }
}

/// A reference from a schema to a version of another subject (Confluent `references`): `name` is how the
/// schema refers to it (an Avro type's full name, or a JSON Schema `$ref` URI).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

/// A schema as a client submits it, and as the registry stores it (with its canonical text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDefinition {
    #[serde(default)]
    pub schema_type: SchemaType,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl SchemaDefinition {
    pub fn new(schema_type: SchemaType, schema: impl Into<String>) -> Self {
        SchemaDefinition { schema_type, schema: schema.into(), references: Vec::new() }
    }

    pub fn avro(schema: impl Into<String>) -> Self {
        Self::new(SchemaType::Avro, schema)
    }

    pub fn json(schema: impl Into<String>) -> Self {
        Self::new(SchemaType::Json, schema)
    }

    pub fn with_references(mut self, references: Vec<SchemaReference>) -> Self {
        self.references = references;
        self
    }
}

/// The text of a referenced schema, resolved from its subject and version.
#[derive(Debug, Clone)]
pub struct ResolvedReference {
    pub name: String,
    pub schema: String,
}

/// A parsed schema of either format: what compatibility checks and payload validation use.
#[derive(Debug)]
pub enum ParsedSchema {
    Avro(AvroSchema),
    Json(JsonSchema),
}

impl ParsedSchema {
    /// Parses a schema. `references` are the referenced schemas, transitively, dependencies first.
    pub fn parse(
        schema_type: SchemaType,
        text: &str,
        references: &[ResolvedReference],
    ) -> Result<ParsedSchema, RegistryError> {
        match schema_type {
            SchemaType::Avro => {
                let texts: Vec<&str> = references.iter().map(|r| r.schema.as_str()).collect();
                AvroSchema::parse_with_references(text, &texts)
                    .map(ParsedSchema::Avro)
                    .map_err(|e| RegistryError::InvalidSchema(format!("invalid Avro schema: {e}")))
            }
            SchemaType::Json => {
                let refs: Vec<(&str, &str)> = references.iter().map(|r| (r.name.as_str(), r.schema.as_str())).collect();
                JsonSchema::parse_with_references(text, &refs)
                    .map(ParsedSchema::Json)
                    .map_err(|e| RegistryError::InvalidSchema(format!("invalid JSON Schema: {e}")))
            }
            SchemaType::Protobuf => {
                Err(RegistryError::InvalidSchema("PROTOBUF schemas are not supported yet; use AVRO or JSON".into()))
            }
        }
    }

    pub fn schema_type(&self) -> SchemaType {
        match self {
            ParsedSchema::Avro(_) => SchemaType::Avro,
            ParsedSchema::Json(_) => SchemaType::Json,
        }
    }

    /// The normalized text stored and compared for deduplication.
    pub fn canonical_text(&self) -> String {
        match self {
            ParsedSchema::Avro(schema) => schema.canonical_text(),
            ParsedSchema::Json(schema) => schema.canonical_text(),
        }
    }

    /// Validates a JSON payload; the error says where in the payload and why.
    pub fn validate_json(&self, value: &Value) -> Result<(), ValidationError> {
        match self {
            ParsedSchema::Avro(schema) => schema.validate_json(value),
            ParsedSchema::Json(schema) => schema.validate(value),
        }
    }

    /// Parses and validates a JSON payload: the hot path of write-time validation. A valid payload is
    /// checked while it is parsed, without building a value; a rejection says where and why.
    pub fn validate_json_bytes(&self, bytes: &[u8]) -> Result<(), ValidationError> {
        match self {
            ParsedSchema::Avro(schema) => schema.validate_json_bytes(bytes),
            ParsedSchema::Json(schema) => schema.validate_bytes(bytes),
        }
    }

    /// Validates the payload of a Confluent-framed message (what follows the header [`crate::wire::split`]
    /// removes): Avro binary for an Avro schema, JSON text for a JSON Schema.
    pub fn validate_payload(&self, payload: &[u8]) -> Result<(), ValidationError> {
        match self {
            ParsedSchema::Avro(schema) => schema
                .validate_binary(payload)
                .map_err(|e| ValidationError { path: String::new(), message: e.to_string() }),
            ParsedSchema::Json(schema) => schema.validate_bytes(payload),
        }
    }

    pub fn as_avro(&self) -> Option<&AvroSchema> {
        match self {
            ParsedSchema::Avro(schema) => Some(schema),
            ParsedSchema::Json(_) => None,
        }
    }

    pub fn as_json(&self) -> Option<&JsonSchema> {
        match self {
            ParsedSchema::Json(schema) => Some(schema),
            ParsedSchema::Avro(_) => None,
        }
    }

    /// Every reason `reader` cannot read what `writer` wrote, as Confluent-style message strings naming the
    /// schemas `reader_label` and `writer_label` ("new", "old").
    pub fn incompatibilities(
        reader: &ParsedSchema,
        writer: &ParsedSchema,
        reader_label: &str,
        writer_label: &str,
    ) -> Vec<String> {
        match (reader, writer) {
            (ParsedSchema::Avro(r), ParsedSchema::Avro(w)) => r
                .incompatibilities_reading(w)
                .iter()
                .map(|i| {
                    format!(
                        "{{errorType:'{}', description:'{}', additionalInfo:'{}'}}",
                        i.kind.as_str(),
                        i.describe(reader_label, writer_label),
                        i.detail
                    )
                })
                .collect(),
            (ParsedSchema::Json(r), ParsedSchema::Json(w)) => r
                .incompatibilities_reading(w)
                .iter()
                .map(|i| {
                    format!("{{errorType:'{}', description:'{}'}}", i.change.as_str(), i.describe(reader_label, writer_label))
                })
                .collect(),
            _ => vec![format!(
                "{{errorType:'SCHEMA_TYPE_CHANGED', description:'Incompatible because of different schema type: the {reader_label} schema is {} and the {writer_label} schema is {}'}}",
                reader.schema_type(),
                writer.schema_type()
            )],
        }
    }
}
