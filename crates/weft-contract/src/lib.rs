//! Data contracts in ODCS v3 (the Open Data Contract Standard, Bitol), as a library: read, checked,
//! kept losslessly, compiled into per-record checks, compared with schemas and with each other.
//!
//! - [`Contract`]: a contract read from untrusted YAML ([`Contract::from_yaml`]: bounded by
//!   `weft-yaml`, validated against the standard's own JSON Schema, vendored in `spec/`, and by
//!   Weft's own checks, every problem located by path and line) or JSON, kept exactly as read and
//!   written back whole ([`Contract::to_yaml`]);
//! - [`Checker`] ([`Contract::compile`]): one schema object's rules, checked on each record as it
//!   is written: required, logical types and their options, allowed and missing values, uniqueness
//!   within a window, and SQL conditions evaluated by the SQL engine's expression evaluator;
//! - [`Contract::fields`], [`compare_with_schema_fields`], [`Contract::to_json_schema`]: keeping a
//!   contract and a port's registered schema in step;
//! - [`diff`]: what changed between two versions, breaking or not.
//!
//! **Architecture Invariant:** this crate knows no storage, no HTTP and no product: it reads
//! documents and values and answers. It reads YAML through `weft-yaml`, JSON Schema through
//! `weft-schema`, and SQL expressions through `weft-sql`'s parser and evaluator; none of them knows
//! it.

mod check;
mod diff;
mod document;
mod error;
mod fields;
mod json_schema;
mod model;
mod semantic;
mod spec;
mod yaml;

pub use check::{
    Batch, Checker, RuleInfo, RuleKind, UniqueWindowInfo, Violation, DEFAULT_UNIQUE_MAX_VALUES,
    DEFAULT_UNIQUE_WINDOW_MS, UNIQUE_MAX_VALUES_PROPERTY, UNIQUE_WINDOW_PROPERTY,
};
pub use diff::{diff, Change, ContractDiff};
pub use document::{Contract, MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_EXPANDED_BYTES, MAX_EXPANDED_NODES};
pub use error::{ContractError, Problem};
pub use fields::{compare_with_schema_fields, ContractField, FieldMismatch, MismatchKind};
