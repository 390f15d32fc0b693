//! The contract library's behaviour, from the outside: reading and writing documents, the rules
//! records are checked against, hostile input, schema agreement and diffs.

mod common;
mod documents;
mod hostile;
mod rules;
mod unique;
