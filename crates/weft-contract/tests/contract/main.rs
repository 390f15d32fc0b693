//! The contract library's behaviour, from the outside: reading and writing documents, the rules
//! records are checked against, hostile input, schema agreement and diffs.

mod common;
mod diffs;
mod documents;
mod hostile;
mod lint;
mod rules;
mod schemas;
mod unique;
