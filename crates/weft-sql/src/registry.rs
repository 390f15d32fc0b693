//! The schema registry as the engine sees it, and what the registry-backed formats (AVRO, JSON_SR)
//! need of it: registering the schemas derived from columns, and columns from registered schemas.
//! Their records are in the Confluent wire format, read and written by `weft_schema::wire`.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

use crate::error::{Result, SqlError};
use crate::format::Column;
use crate::types::SqlType;

/// The kind of a registered schema (Confluent's `schemaType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaType {
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    /// The name Confluent's REST API uses (`AVRO`, `JSON`).
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }
}

/// The schema registry the engine needs (the server implements it over Weft's registry).
pub trait SchemaRegistry: Send + Sync {
    /// Registers `schema` under `subject`, returning its global id (the existing id when the same
    /// schema is already registered).
    fn register(&self, subject: &str, schema_type: SchemaType, schema: &str) -> Result<u32>;
    /// The schema with global id `id`.
    fn schema_by_id(&self, id: u32) -> Result<String>;
    /// The latest version of `subject`: its id and schema.
    fn latest(&self, subject: &str) -> Result<(u32, String)>;
}

/// A shareable handle on a registry (comparable by identity so source definitions stay `PartialEq`).
#[derive(Clone)]
pub struct RegistryHandle(pub Arc<dyn SchemaRegistry>);

impl fmt::Debug for RegistryHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SchemaRegistry")
    }
}

impl PartialEq for RegistryHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The JSON Schema ksqlDB-style for columns (every property optional and nullable).
pub fn json_schema_for(columns: &[Column]) -> Json {
    json!({
        "type": "object",
        "properties": columns.iter().map(|c| (c.name.clone(), json_type(&c.ty))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The JSON Schema of a single column written unwrapped (a key of one column): its type itself.
pub fn unwrapped_json_schema_for(column: &Column) -> Json {
    json_type(&column.ty)
}

/// The JSON Schema of a SQL type, nullable.
fn json_type(t: &SqlType) -> Json {
    fn ty(t: &SqlType) -> Json {
        let inner = match t {
            SqlType::Boolean => json!({"type": "boolean"}),
            SqlType::Int | SqlType::Bigint | SqlType::Date | SqlType::Time | SqlType::Timestamp => {
                json!({"type": "integer"})
            }
            SqlType::Double | SqlType::Decimal { .. } => json!({"type": "number"}),
            SqlType::String | SqlType::Bytes | SqlType::Null => json!({"type": "string"}),
            SqlType::Array(i) => json!({"type": "array", "items": ty(i)}),
            SqlType::Map(_, v) => json!({"type": "object", "additionalProperties": ty(v)}),
            SqlType::Struct(fields) => json!({
                "type": "object",
                "properties": fields.iter().map(|(n, t)| (n.clone(), ty(t))).collect::<serde_json::Map<_, _>>(),
            }),
        };
        json!({"oneOf": [{"type": "null"}, inner]})
    }
    ty(t)
}

/// Columns from a JSON Schema object (for JSON_SR sources declared without columns).
pub fn columns_from_json_schema(text: &str) -> Result<Vec<Column>> {
    fn ty(j: &Json) -> Result<SqlType> {
        if let Some(branches) = j.get("oneOf").or_else(|| j.get("anyOf")).and_then(Json::as_array) {
            let non_null: Vec<&Json> = branches.iter().filter(|b| b.get("type") != Some(&json!("null"))).collect();
            return match non_null.as_slice() {
                [one] => ty(one),
                _ => Err(SqlError::Unsupported("JSON Schema unions of several types".into())),
            };
        }
        let t = match j.get("type") {
            Some(Json::Array(types)) => types.iter().find(|t| *t != "null").cloned().unwrap_or(Json::Null),
            Some(t) => t.clone(),
            None => Json::Null,
        };
        Ok(match t.as_str().unwrap_or("") {
            "boolean" => SqlType::Boolean,
            "integer" => SqlType::Bigint,
            "number" => SqlType::Double,
            "string" => SqlType::String,
            "array" => SqlType::Array(Box::new(ty(j.get("items").unwrap_or(&Json::Null))?)),
            "object" => match (j.get("properties").and_then(Json::as_object), j.get("additionalProperties")) {
                (Some(props), _) => SqlType::Struct(
                    props.iter().map(|(n, p)| Ok((n.to_ascii_uppercase(), ty(p)?))).collect::<Result<_>>()?,
                ),
                (None, Some(v)) if v.is_object() => SqlType::Map(Box::new(SqlType::String), Box::new(ty(v)?)),
                _ => return Err(SqlError::Unsupported("JSON Schema objects without properties".into())),
            },
            other => return Err(SqlError::Unsupported(format!("JSON Schema type '{other}'"))),
        })
    }
    let j: Json = serde_json::from_str(text).map_err(|e| SqlError::Serde(format!("invalid JSON Schema: {e}")))?;
    match ty(&j)? {
        SqlType::Struct(fields) => Ok(fields.into_iter().map(|(name, ty)| Column { name, ty }).collect()),
        other => Ok(vec![Column { name: "ROWVAL".into(), ty: other }]),
    }
}

/// Key columns from the schema registered under `<topic>-key` (CREATE STREAM/TABLE without key
/// columns and an AVRO or JSON_SR key): ksqlDB's unwrapped single key, the one column `ROWKEY` of
/// the schema's type (a record, or object, being a STRUCT).
pub fn key_columns_from_schema(format: crate::format::Format, text: &str) -> Result<Vec<Column>> {
    let columns = match format {
        crate::format::Format::Avro => crate::avro::AvroSchema::parse(text)?.columns()?,
        // ksqlDB's Protobuf keys are a message whose fields are the key columns.
        crate::format::Format::Protobuf => return crate::protobuf::columns_from_schema(text, None),
        _ => columns_from_json_schema(text)?,
    };
    Ok(vec![Column { name: "ROWKEY".into(), ty: whole_schema_type(&columns) }])
}

/// The type of a whole registered schema read as one column, from the columns it gives: the
/// schema's own type when it is not a record (the single column `ROWVAL`), else a STRUCT of the
/// record's fields.
pub fn whole_schema_type(columns: &[Column]) -> SqlType {
    match columns {
        [single] if single.name == "ROWVAL" => single.ty.clone(),
        _ => SqlType::Struct(columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect()),
    }
}

/// Whether a type read from a JSON Schema describes values of a SQL type: JSON has one kind of
/// number (and text for strings, bytes and times), structs match by field name ignoring case.
fn alike(schema: &SqlType, column: &SqlType) -> bool {
    use SqlType as T;
    let number = |t: &SqlType| {
        matches!(t, T::Int | T::Bigint | T::Double | T::Decimal { .. } | T::Date | T::Time | T::Timestamp)
    };
    match (schema, column) {
        (T::Array(a), T::Array(b)) => alike(a, b),
        (T::Map(_, a), T::Map(_, b)) => alike(a, b),
        (T::Struct(a), T::Struct(b)) => {
            a.len() == b.len() && a.iter().all(|(n, t)| b.iter().any(|(m, u)| n.eq_ignore_ascii_case(m) && alike(t, u)))
        }
        (a, b) if number(a) && number(b) => true,
        (T::String, T::String | T::Bytes) => true,
        (a, b) => a == b,
    }
}

/// The registered id a JSON_SR writer stamps on its records (registered on first use).
pub struct JsonSrWriter {
    registry: RegistryHandle,
    subject: String,
    /// A single column written as a bare JSON value, its schema being the column's type.
    unwrapped: bool,
    /// Stamps the subject's latest schema when it describes the columns written (see
    /// [`JsonSrWriter::prefer_registered`]).
    prefer_registered: bool,
    /// The registered schema written with (`*_SCHEMA_ID`), instead of one derived from the columns.
    pinned: Option<u32>,
    written: Mutex<Option<Written>>,
}

/// The id a JSON_SR writer stamps, and what it adds to each object for the properties of a pinned
/// schema that no column gives: `,"NAME":<default or null>...`, or why no record can be written
/// (a required property without a default).
type Written = (u32, std::result::Result<Arc<[u8]>, String>);

impl fmt::Debug for JsonSrWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonSrWriter({})", self.subject)
    }
}

impl JsonSrWriter {
    pub fn new(registry: RegistryHandle, subject: String) -> JsonSrWriter {
        JsonSrWriter {
            registry,
            subject,
            unwrapped: false,
            prefer_registered: false,
            pinned: None,
            written: Mutex::new(None),
        }
    }

    /// A writer that stamps the subject's latest schema when it describes the columns written (the
    /// same names ignoring case, types alike: JSON's numbers are one kind), as ksqlDB writes to a
    /// source whose columns came from the registry, instead of registering a schema of its own.
    pub fn prefer_registered(mut self, prefer: bool) -> JsonSrWriter {
        self.prefer_registered = prefer;
        self
    }

    /// A writer stamping the registered schema `id` (a C*AS's `VALUE_SCHEMA_ID` /
    /// `KEY_SCHEMA_ID`) rather than registering one of its own.
    pub fn pinned(mut self, id: Option<u32>) -> JsonSrWriter {
        self.pinned = id;
        self
    }

    /// The subject's latest schema id, when that schema describes `columns`.
    fn registered_fit(&self, columns: &[Column]) -> Option<u32> {
        let (id, text) = self.registry.0.latest(&self.subject).ok()?;
        let theirs = columns_from_json_schema(&text).ok()?;
        let fits = match (self.unwrapped, columns) {
            (true, [single]) => alike(&whole_schema_type(&theirs), &single.ty),
            _ => {
                theirs.len() == columns.len()
                    && theirs
                        .iter()
                        .all(|t| columns.iter().any(|c| c.name.eq_ignore_ascii_case(&t.name) && alike(&t.ty, &c.ty)))
            }
        };
        fits.then_some(id)
    }

    /// A writer of a single column as a bare value (ksqlDB's `UNWRAP_SINGLES`).
    pub fn unwrapped(mut self, unwrapped: bool) -> JsonSrWriter {
        self.unwrapped = unwrapped;
        self
    }

    /// The schema id for `columns`, registering their JSON Schema the first time.
    pub fn id(&self, columns: &[Column]) -> Result<u32> {
        self.writing(columns).map(|(id, _)| id)
    }

    /// The schema id for `columns` and what each object written gets appended (see [`Written`]).
    pub fn writing(&self, columns: &[Column]) -> Result<Written> {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = &*written {
            return Ok(w.clone());
        }
        let w = self.resolve(columns)?;
        *written = Some(w.clone());
        Ok(w)
    }

    fn resolve(&self, columns: &[Column]) -> Result<Written> {
        let nothing: Arc<[u8]> = Arc::from(Vec::new());
        if let Some(id) = self.pinned {
            let text = self.registry.0.schema_by_id(id)?;
            let extra = if self.unwrapped { Ok(nothing) } else { pinned_extra(id, &text, columns)? };
            return Ok((id, extra));
        }
        if let Some(registered) = self.prefer_registered.then(|| self.registered_fit(columns)).flatten() {
            return Ok((registered, Ok(nothing)));
        }
        let schema = match (self.unwrapped, columns) {
            (true, [single]) => unwrapped_json_schema_for(single),
            _ => json_schema_for(columns),
        };
        let new = self.registry.0.register(&self.subject, SchemaType::Json, &schema.to_string())?;
        Ok((new, Ok(nothing)))
    }
}

/// The members a record of `columns` written with the pinned JSON Schema `text` (id `id`) adds
/// for the schema's properties that no column gives: each property's `default`, else null, as
/// ksqlDB's serializer fills an optional field; a `required` property without a default makes
/// every record unwritable.
fn pinned_extra(id: u32, text: &str, columns: &[Column]) -> Result<std::result::Result<Arc<[u8]>, String>> {
    let schema: Json =
        serde_json::from_str(text).map_err(|e| SqlError::Serde(format!("JSON Schema {id} is not JSON: {e}")))?;
    let required: Vec<&str> =
        schema.get("required").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).collect();
    let mut extra = Vec::new();
    for (name, property) in schema.get("properties").and_then(Json::as_object).into_iter().flatten() {
        if columns.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            continue;
        }
        let value = match property.get("default") {
            Some(default) => default.clone(),
            None if required.contains(&name.as_str()) => {
                return Ok(Err(format!(
                    "Unable to serialize record: property '{name}' of value schema {id} is required, has no default \
                     and no column gives it"
                )))
            }
            None => Json::Null,
        };
        extra.push(b',');
        crate::format::write_json_str(&mut extra, name);
        extra.push(b':');
        extra.extend_from_slice(value.to_string().as_bytes());
    }
    Ok(Ok(extra.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_schema_round_trip_of_columns() {
        let columns = vec![
            Column { name: "A".into(), ty: SqlType::Bigint },
            Column { name: "B".into(), ty: SqlType::Array(Box::new(SqlType::String)) },
            Column { name: "C".into(), ty: SqlType::Struct(vec![("X".into(), SqlType::Double)]) },
            Column { name: "D".into(), ty: SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Boolean)) },
        ];
        let text = json_schema_for(&columns).to_string();
        let mut back = columns_from_json_schema(&text).unwrap();
        back.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(back, columns);
    }
}

/// The registry-backed codec of a value format.
#[derive(Debug)]
pub enum SchemaCodec {
    Avro(crate::avro::AvroCodec),
    JsonSr(JsonSrWriter),
    Protobuf(crate::protobuf::ProtobufCodec),
}
