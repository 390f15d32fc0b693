//! Weft's schema formats: one implementation of each, below every crate that reads or writes them.
//!
//! - [`avro`]: Avro 1.11 schemas parsed into a checked model with located errors, the Parsing
//!   Canonical Form and fingerprint, a stored canonical text, reader/writer schema resolution (the
//!   specification's rules), binary encoding and decoding (a generic decoder to JSON, and the
//!   [`avro::binary`] reader and writer that typed decoders such as the SQL engine's are built on), and
//!   the mapping between JSON values and Avro datums (validation and encoding).
//! - [`json_schema`]: JSON Schema (draft-04 to 2020-12), validated by the `jsonschema` crate (the
//!   official test suite passed), with located errors, references resolved from the caller only, and
//!   `format` asserted under every draft unless the specification is asked for.
//! - [`protobuf`]: Protobuf schemas (`.proto` text, proto2 and proto3) compiled by protox into
//!   prost-reflect descriptors, their imports resolved from references and the well-known files, and
//!   payloads framed with Confluent's message indexes.
//! - [`wire`]: the Confluent wire format (magic byte 0, a big-endian schema id, the payload).
//! - [`ParsedSchema`] puts the three formats behind one type; [`field_summaries`] lists a schema's fields as
//!   dotted paths with their types and docs.
//!
//! **Architecture Invariant:** weft-schema depends on nothing of ours, and knows nothing of subjects,
//! versions, schema ids beyond the four bytes of a frame, compatibility levels, the event log, SQL or
//! HTTP. It answers questions about one schema (or a reader and a writer schema) and one payload; the
//! registry (`weft-registry`) and the SQL engine (`weft-sql`) build on it and never parse a format
//! themselves.
//!
//! **Architecture Invariant:** no schema text and no payload can exhaust the stack or memory. Every
//! recursive parser, validator, encoder and decoder stops at [`MAX_DEPTH`] levels of nesting with an
//! error that says so, and Avro decoding never allocates for more items than the bytes present can
//! hold (`tests/robustness.rs` checks both on a 2 MiB thread).

pub mod avro;
mod error;
mod field_types;
mod fields;
pub mod json;
pub mod json_schema;
pub mod protobuf;
mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod validation;
pub mod wire;

pub use error::SchemaError;
pub use field_types::{FieldType, TimeUnit, TypedField};
pub use fields::{field_summaries, FieldSummary};
pub use schema::{ParsedSchema, ResolvedReference, SchemaType};
pub use validation::ValidationError;

/// How deep schemas and payloads may nest: type declarations in an Avro schema, subschemas and `$ref`s
/// followed while validating JSON Schema, values inside values in a payload. Deeper input is refused
/// with an error naming this limit, so that no input can overflow a thread's stack (a debug build on a
/// 2 MiB thread included). serde_json's own limit on parsing JSON text is the same.
pub const MAX_DEPTH: usize = 128;
