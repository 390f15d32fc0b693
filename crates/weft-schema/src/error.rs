use crate::avro::{AvroParseError, DecodeError};
use crate::json_schema::JsonSchemaError;
use crate::protobuf::ProtobufError;
use crate::wire::WireError;
use crate::{SchemaType, ValidationError};

/// Every refusal of this crate. Each operation returns the located error of its own kind (a JSON pointer
/// into a schema or a payload, a byte position in Avro data); all of them convert into this one, which is
/// what [`crate::ParsedSchema::parse`] answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid Avro schema: {0}")]
    Avro(#[from] AvroParseError),
    #[error("invalid JSON Schema: {0}")]
    JsonSchema(#[from] JsonSchemaError),
    #[error("invalid Protobuf schema: {0}")]
    Protobuf(#[from] ProtobufError),
    #[error("{0} schemas are not supported yet; use AVRO, JSON or PROTOBUF")]
    Unsupported(SchemaType),
    #[error("unknown schema type '{0}'; expected AVRO, JSON or PROTOBUF")]
    UnknownType(String),
    /// A JSON payload (or JSON value) that does not conform to its schema.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Bytes that are not one Avro datum of the schema.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Wire(#[from] WireError),
}
