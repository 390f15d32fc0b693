//! Avro schema parsing on arbitrary text. The input is schema texts separated by NUL bytes: the last
//! is the schema, the ones before it its references (Confluent schema references, dependencies
//! first). A schema that parses must survive everything the registry does with it: its stored
//! canonical text parses again to the same schema (the registry replays stored texts on start), it
//! reads its own data, and its fields can be listed. (The Parsing Canonical Form itself need not parse
//! again: the specification's form drops the empty namespace of a type nested in a namespaced one.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_schema::avro::AvroSchema;
use weft_schema::{field_summaries, SchemaType};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts: Vec<&str> = text.split('\0').collect();
    let Some(schema_text) = parts.pop() else { return };
    let Ok(schema) = AvroSchema::parse_with_references(schema_text, &parts) else { return };
    let form = schema.parsing_canonical_form();
    let _ = schema.fingerprint();
    let stored = schema.canonical_text();
    let reparsed = AvroSchema::parse_with_references(&stored, &parts)
        .unwrap_or_else(|e| panic!("the stored text {stored:?} does not parse: {e:?}"));
    assert_eq!(reparsed.parsing_canonical_form(), form, "the stored text {stored:?} changed the schema");
    let incompatible = schema.incompatibilities_reading(&schema);
    assert!(incompatible.is_empty(), "{stored} cannot read its own data: {incompatible:?}");
    let _ = field_summaries(SchemaType::Avro, schema_text);
});
