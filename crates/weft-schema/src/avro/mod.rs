//! Avro schemas (Avro specification 1.11): the parsed model, canonical forms, reader/writer
//! resolution (compatibility), binary encoding and validation of JSON values.
//!
//! A schema is a tree of [`AvroType`]s whose named types (records, enums, fixed) live once in
//! [`AvroSchema::named`] and are referred to by index, so recursive types are plain data.

pub mod binary;
mod canonical;
mod datum;
mod java_form;
mod json;
mod parse;
mod resolve;
mod stream;

use std::collections::HashMap;

use serde_json::Value;

pub use binary::{DecimalOverflow, DecodeError};
pub(crate) use parse::located;
pub use parse::AvroParseError;
pub use resolve::{AvroIncompatibility, AvroIncompatibilityKind};

/// A logical type annotating an underlying Avro type (Avro spec: "Logical Types"). Invalid logical types
/// (say, a decimal whose scale exceeds its precision) are ignored, as the specification requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalType {
    Decimal { precision: u32, scale: u32 },
    Uuid,
    Date,
    TimeMillis,
    TimeMicros,
    TimestampMillis,
    TimestampMicros,
    LocalTimestampMillis,
    LocalTimestampMicros,
    Duration,
}

impl LogicalType {
    pub fn name(&self) -> &'static str {
        match self {
            LogicalType::Decimal { .. } => "decimal",
            LogicalType::Uuid => "uuid",
            LogicalType::Date => "date",
            LogicalType::TimeMillis => "time-millis",
            LogicalType::TimeMicros => "time-micros",
            LogicalType::TimestampMillis => "timestamp-millis",
            LogicalType::TimestampMicros => "timestamp-micros",
            LogicalType::LocalTimestampMillis => "local-timestamp-millis",
            LogicalType::LocalTimestampMicros => "local-timestamp-micros",
            LogicalType::Duration => "duration",
        }
    }
}

/// One Avro type. Named types are indices into [`AvroSchema::named`].
#[derive(Debug, Clone, PartialEq)]
pub enum AvroType {
    Null,
    Boolean,
    Int(Option<LogicalType>),
    Long(Option<LogicalType>),
    Float,
    Double,
    Bytes(Option<LogicalType>),
    String(Option<LogicalType>),
    Array(Box<AvroType>),
    Map(Box<AvroType>),
    Union(Vec<AvroType>),
    Named(usize),
}

/// The field sort order of a record field (Avro spec: "order").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOrder {
    Ascending,
    Descending,
    Ignore,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub doc: Option<String>,
    pub aliases: Vec<String>,
    pub default: Option<Value>,
    pub order: Option<FieldOrder>,
    pub ty: AvroType,
    /// Attributes the specification does not define, kept in the stored text.
    pub props: Vec<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NamedKind {
    Record { fields: Vec<Field>, is_error: bool },
    Enum { symbols: Vec<String>, default: Option<String> },
    Fixed { size: usize, logical: Option<LogicalType> },
}

/// A record, enum or fixed: its full name (namespace included), aliases (full names) and definition.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedType {
    pub name: String,
    pub aliases: Vec<String>,
    pub doc: Option<String>,
    pub kind: NamedKind,
    pub props: Vec<(String, Value)>,
    /// Lookups by name, so that no operation scans a record's fields or an enum's symbols: a record's
    /// field names and field aliases to the field's position (a name wins over another field's alias),
    /// an enum's symbols to their index.
    pub(crate) index: HashMap<String, usize>,
}

impl NamedType {
    /// The field of a record named `name` (aliases do not count), with its position.
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        let NamedKind::Record { fields, .. } = &self.kind else { return None };
        let position = *self.index.get(name)?;
        fields.get(position).filter(|f| f.name == name).map(|f| (position, f))
    }

    /// The index of a symbol of an enum.
    pub fn symbol(&self, symbol: &str) -> Option<usize> {
        match &self.kind {
            NamedKind::Enum { .. } => self.index.get(symbol).copied(),
            _ => None,
        }
    }

    /// The name without its namespace.
    pub fn short_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    pub fn namespace(&self) -> Option<&str> {
        self.name.rfind('.').map(|dot| &self.name[..dot])
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            NamedKind::Record { .. } => "record",
            NamedKind::Enum { .. } => "enum",
            NamedKind::Fixed { .. } => "fixed",
        }
    }
}

/// A parsed, checked Avro schema.
#[derive(Debug, Clone, PartialEq)]
pub struct AvroSchema {
    pub root: AvroType,
    pub named: Vec<NamedType>,
    /// Named types below this index came from referenced schemas (Confluent schema references): the
    /// canonical text names them instead of defining them.
    pub(crate) first_own_named: usize,
}

impl AvroSchema {
    /// Parses a schema text (Avro spec: "Schema Declaration") with precise errors.
    pub fn parse(text: &str) -> Result<AvroSchema, AvroParseError> {
        parse::parse(text, &[])
    }

    /// Parses a schema that may use the named types defined by `references` (schema texts, in
    /// dependency order), as Confluent schema references work for Avro.
    pub fn parse_with_references(text: &str, references: &[&str]) -> Result<AvroSchema, AvroParseError> {
        parse::parse(text, references)
    }

    /// Avro's Parsing Canonical Form (Avro spec: "Parsing Canonical Form for Schemas"): what two schemas
    /// that read and write the same data have in common.
    pub fn parsing_canonical_form(&self) -> String {
        canonical::parsing_canonical_form(self)
    }

    /// The CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form.
    pub fn fingerprint(&self) -> u64 {
        canonical::rabin_fingerprint(self.parsing_canonical_form().as_bytes())
    }

    /// The normalized text the registry stores and deduplicates on: compact, attributes in a fixed order,
    /// full names, but keeping docs, defaults, aliases, logical types and custom attributes.
    pub fn canonical_text(&self) -> String {
        canonical::stored_form(self)
    }

    /// The text Avro's Java library writes for this schema (`Schema.toString()`): what Confluent's
    /// registry answers for a schema registered without `normalize`, a record's `name` and
    /// `namespace` apart as an author writes them.
    pub fn java_text(&self) -> String {
        java_form::java_form(self)
    }

    /// Every way a reader using `self` fails to read data written with `writer` (Avro spec:
    /// "Schema Resolution"); empty when it always can.
    pub fn incompatibilities_reading(&self, writer: &AvroSchema) -> Vec<AvroIncompatibility> {
        resolve::check(self, writer)
    }

    /// Checks a JSON value against the schema (the plain JSON mapping: a record is an object, a union
    /// value is the value of one of its branches, or Avro's JSON encoding `{"type": value}`; bytes and
    /// fixed are strings of code points 0 to 255). Absent fields with a default, or of a nullable type, pass.
    pub fn validate_json(&self, value: &Value) -> Result<(), crate::ValidationError> {
        json::validate(self, value)
    }

    /// Parses and checks a JSON payload. Valid payloads are checked while parsed, without building a
    /// value or allocating; a rejected payload is parsed again to say exactly what is wrong.
    pub fn validate_json_bytes(&self, bytes: &[u8]) -> Result<(), crate::ValidationError> {
        if stream::quick_check(self, bytes) {
            return Ok(());
        }
        json::validate(self, &crate::validation::parse_payload(bytes)?)
    }

    /// Encodes a JSON value as Avro binary, appending to `out` (nothing is appended on error).
    pub fn encode_json(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), crate::ValidationError> {
        let start = out.len();
        let result = datum::encode(self, value, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Encodes a JSON value as a datum of `ty`, one of this schema's types (a field's `default`,
    /// which the Avro spec gives as JSON), appending to `out` (nothing is appended on error).
    pub fn encode_json_as(
        &self,
        ty: &AvroType,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<(), crate::ValidationError> {
        let start = out.len();
        let result = datum::encode_as(self, ty, value, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Checks that `bytes` are exactly one Avro binary datum of the schema, without decoding it into
    /// anything: what validating a Confluent-framed Avro payload takes.
    pub fn validate_binary(&self, bytes: &[u8]) -> Result<(), DecodeError> {
        datum::validate(self, bytes)
    }

    /// Whether `value` is exactly what decoding its encoding gives back: a record with every field, a
    /// union's value plain (not Avro's `{"type": value}`), a double or float as a JSON float (a float
    /// one that `f32` holds exactly). Readers of the encoded bytes then see `value` itself, so a writer
    /// holding it need not decode what it wrote. Allocates nothing.
    pub fn round_trips(&self, value: &Value) -> bool {
        json::round_trips(self, &self.root, value, 0)
    }

    /// Decodes one Avro binary datum into JSON (the mapping [`AvroSchema::validate_json`] accepts);
    /// the whole input must be consumed.
    pub fn decode_to_json(&self, bytes: &[u8]) -> Result<Value, DecodeError> {
        datum::decode(self, bytes)
    }

    pub(crate) fn named_type(&self, index: usize) -> &NamedType {
        &self.named[index]
    }

    /// The name of a type as a union branch is named in Avro's JSON encoding.
    pub fn type_name<'a>(&'a self, ty: &'a AvroType) -> &'a str {
        match ty {
            AvroType::Named(i) => &self.named[*i].name,
            other => parse::primitive_kind_name(other),
        }
    }
}

#[cfg(test)]
mod tests;
