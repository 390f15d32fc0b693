//! Avro incompatibilities as the Confluent registry words them. What is incompatible is decided by the
//! specification's schema resolution, in `weft-schema`.

use weft_schema::avro::{AvroIncompatibility, AvroIncompatibilityKind};

/// Confluent's description of an incompatibility, with `reader` and `writer` naming the two schemas
/// ("new", "old"); the detail goes in Confluent's `additionalInfo`.
pub fn describe(incompatibility: &AvroIncompatibility, reader: &str, writer: &str) -> String {
    let path = &incompatibility.path;
    let detail = &incompatibility.detail;
    match incompatibility.kind {
        AvroIncompatibilityKind::NameMismatch => {
            format!("The name of the schema has changed (path '{path}')")
        }
        AvroIncompatibilityKind::FixedSizeMismatch => format!(
            "The size of FIXED type field at path '{path}' in the {reader} schema does not match with the {writer} schema"
        ),
        AvroIncompatibilityKind::MissingEnumSymbols => format!(
            "The {reader} schema is missing enum symbols '{detail}' at path '{path}' in the {writer} schema"
        ),
        AvroIncompatibilityKind::ReaderFieldMissingDefaultValue => format!(
            "The field '{detail}' at path '{path}' in the {reader} schema has no default value and is missing in the {writer} schema"
        ),
        AvroIncompatibilityKind::TypeMismatch => format!(
            "The type (path '{path}') of a field in the {reader} schema does not match with the {writer} schema"
        ),
        AvroIncompatibilityKind::MissingUnionBranch => format!(
            "The {reader} schema is missing a type inside a union field at path '{path}' in the {writer} schema"
        ),
    }
}

#[cfg(test)]
mod tests {
    use weft_schema::avro::AvroSchema;

    use super::*;

    fn describe_first(reader: &str, writer: &str) -> String {
        let reader = AvroSchema::parse(reader).unwrap();
        let writer = AvroSchema::parse(writer).unwrap();
        describe(&reader.incompatibilities_reading(&writer)[0], "new", "old")
    }

    #[test]
    fn descriptions_are_confluents() {
        let v1 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
        let v2 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;
        assert_eq!(
            describe_first(v2, v1),
            "The field 'b' at path '/fields/1' in the new schema has no default value and is missing in the old schema"
        );
        let renamed = r#"{"type":"record","name":"New","fields":[{"name":"a","type":"int"}]}"#;
        assert_eq!(describe_first(renamed, v1), "The name of the schema has changed (path '/name')");
    }
}
