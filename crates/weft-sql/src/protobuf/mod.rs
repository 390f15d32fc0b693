//! The PROTOBUF and PROTOBUF_NOSR formats, as ksqlDB reads and writes them.
//!
//! - `PROTOBUF`: Confluent's wire format (magic byte, schema id, message indexes, message); the
//!   schema is the registry's (`<topic>-key`/`<topic>-value`). A source's columns may come from the
//!   registered schema; a sink registers a proto3 schema derived from its columns, named as ksqlDB
//!   names it (`ConnectDefault1`, or `KEY_SCHEMA_FULL_NAME`/`VALUE_SCHEMA_FULL_NAME`).
//! - `PROTOBUF_NOSR`: the message bytes alone, the schema derived from the columns.
//!
//! Types as ksqlDB maps them: `INT` int32, `BIGINT` int64, `DOUBLE` double, `BOOLEAN` bool, `STRING`
//! string, `BYTES` bytes, `STRUCT` a nested message, `ARRAY` repeated, `MAP` map, `DECIMAL`
//! `confluent.type.Decimal`, `TIMESTAMP` `google.protobuf.Timestamp`, `DATE` `google.type.Date`,
//! `TIME` `google.type.TimeOfDay`. Reading, `float` is a DOUBLE, `uint32`/`uint64`/`sint64`/
//! `fixed64`/`sfixed64` BIGINT, `sint32`/`fixed32`/`sfixed32` INT, an enum its constant's name, the
//! `google.protobuf.*Value` wrappers their value.
//!
//! Nulls (ksqlDB's `*_PROTOBUF_NULLABLE_REPRESENTATION`): proto3 has no null scalar, so by default a
//! null is written as the field's default and an absent scalar reads as its default (`0`, `""`);
//! `OPTIONAL` writes `optional` fields and `WRAPPER` the wrapper types, both of which keep null. A
//! message-typed field (a STRUCT) is null when absent. Keys are always a message of the key columns.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use weft_schema::protobuf::prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value as PValue,
};
use weft_schema::protobuf::{read_message_indexes, write_message_indexes, ProtobufSchema};
use weft_schema::wire;

use crate::error::{Result, SqlError};
use crate::format::Column;
use crate::registry::{RegistryHandle, SchemaType};
use crate::types::{Decimal, SqlType, Value};

/// The message name ksqlDB gives the schemas it derives.
pub const DEFAULT_NAME: &str = "ConnectDefault1";

/// How a nullable column is written (ksqlDB's `PROTOBUF_NULLABLE_REPRESENTATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nullable {
    /// Plain proto3 fields: a null is written as the default value.
    #[default]
    Default,
    /// `optional` fields: a null is an absent field.
    Optional,
    /// `google.protobuf.*Value` wrappers: a null is an absent wrapper.
    Wrapper,
}

impl Nullable {
    /// The representation a `*_PROTOBUF_NULLABLE_REPRESENTATION` property names.
    pub fn parse(text: &str) -> Result<Nullable> {
        match text.to_ascii_uppercase().as_str() {
            "OPTIONAL" => Ok(Nullable::Optional),
            "WRAPPER" => Ok(Nullable::Wrapper),
            other => Err(SqlError::analysis(format!(
                "Invalid value for PROTOBUF_NULLABLE_REPRESENTATION: {other} (expected OPTIONAL or WRAPPER)"
            ))),
        }
    }
}

/// The nullable representation a source's statement sets for its key or value (`which` is `KEY`
/// or `VALUE`): read from the statement's WITH clause, which the source keeps, so that the
/// setting needs no field of its own in the source's definition.
pub fn nullable_of(statement: &str, which: &str) -> Nullable {
    let upper = statement.to_ascii_uppercase();
    let property = format!("{which}_PROTOBUF_NULLABLE_REPRESENTATION");
    let Some(at) = upper.find(&property) else { return Nullable::Default };
    let rest = upper[at + property.len()..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else { return Nullable::Default };
    let value: String =
        rest.trim_start().trim_start_matches('\'').chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    Nullable::parse(&value).unwrap_or_default()
}

fn serde(message: impl fmt::Display) -> SqlError {
    SqlError::Serde(message.to_string())
}

/// Parses a `.proto` text as the engine reads it.
pub fn parse(text: &str) -> Result<ProtobufSchema> {
    ProtobufSchema::parse(text).map_err(|e| serde(format!("invalid Protobuf schema: {e}")))
}

/// The message of a schema a source reads or writes: the one named (`*_SCHEMA_FULL_NAME`), else the
/// first one.
pub fn message_of(schema: &ProtobufSchema, full_name: Option<&str>) -> Result<MessageDescriptor> {
    match full_name {
        Some(name) => schema.message_named(name).ok_or_else(|| {
            SqlError::analysis(format!(
                "Schema for message values is not found: {name} (it names no message of the schema)"
            ))
        }),
        None => schema.messages().next().ok_or_else(|| serde("the Protobuf schema declares no message")),
    }
}

/// The columns of a message: one per field, named as written in upper case (as ksqlDB names them).
pub fn columns_of(message: &MessageDescriptor) -> Result<Vec<Column>> {
    message.fields().map(|f| Ok(Column { name: f.name().to_ascii_uppercase(), ty: field_type(&f, 0)? })).collect()
}

fn field_type(field: &FieldDescriptor, depth: usize) -> Result<SqlType> {
    if field.is_map() {
        if let Kind::Message(entry) = field.kind() {
            let value = kind_type(&entry.map_entry_value_field().kind(), depth + 1)?;
            return Ok(SqlType::Map(Box::new(SqlType::String), Box::new(value)));
        }
    }
    let ty = kind_type(&field.kind(), depth)?;
    Ok(if field.is_list() { SqlType::Array(Box::new(ty)) } else { ty })
}

fn kind_type(kind: &Kind, depth: usize) -> Result<SqlType> {
    if depth > weft_schema::MAX_DEPTH {
        return Err(SqlError::Unsupported(format!("Protobuf messages nested deeper than {}", weft_schema::MAX_DEPTH)));
    }
    Ok(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Fixed32 => SqlType::Int,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Fixed64 | Kind::Uint32 | Kind::Uint64 => SqlType::Bigint,
        Kind::Float | Kind::Double => SqlType::Double,
        Kind::Bool => SqlType::Boolean,
        Kind::String | Kind::Enum(_) => SqlType::String,
        Kind::Bytes => SqlType::Bytes,
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp" => SqlType::Timestamp,
            "google.type.Date" => SqlType::Date,
            "google.type.TimeOfDay" => SqlType::Time,
            "confluent.type.Decimal" => SqlType::Decimal { precision: 64, scale: 0 },
            name if wrapper_value(m).is_some() && name.starts_with("google.protobuf.") => {
                kind_type(&m.get_field(1).map(|f| f.kind()).unwrap_or(Kind::Bytes), depth + 1)?
            }
            _ => SqlType::Struct(
                m.fields()
                    .map(|f| Ok((f.name().to_ascii_uppercase(), field_type(&f, depth + 1)?)))
                    .collect::<Result<_>>()?,
            ),
        },
    })
}

/// The `value` field of a `google.protobuf.*Value` wrapper.
fn wrapper_value(m: &MessageDescriptor) -> Option<FieldDescriptor> {
    const WRAPPERS: [&str; 9] = [
        "DoubleValue",
        "FloatValue",
        "Int64Value",
        "UInt64Value",
        "Int32Value",
        "UInt32Value",
        "BoolValue",
        "StringValue",
        "BytesValue",
    ];
    (m.package_name() == "google.protobuf" && WRAPPERS.contains(&m.name())).then(|| m.get_field(1)).flatten()
}

/// Decimal columns read from `confluent.type.Decimal` fields take their precision and scale from the
/// field's `confluent.field_meta` params when given (ksqlDB's `DECIMAL(p,s)`).
pub fn decimal_params(text: &str, field_name: &str) -> Option<(u8, u8)> {
    // The options are in the text only (protox keeps no custom options in descriptors without the
    // extension pool); read `params` of the field's declaration.
    let at = text.find(&format!(" {field_name} "))?;
    let decl = &text[at..text[at..].find(';').map_or(text.len(), |e| at + e)];
    let param = |key: &str| -> Option<u8> {
        let k = decl.find(&format!("\"{key}\""))?;
        // `{ value: "4", key: "precision" }` or `{ key: "precision", value: "4" }`
        let entry_start = decl[..k].rfind('{')?;
        let entry_end = k + decl[k..].find('}')?;
        let entry = &decl[entry_start..entry_end];
        let v = entry.find("value")?;
        let rest = &entry[v..];
        let q1 = rest.find('"')?;
        let q2 = q1 + 1 + rest[q1 + 1..].find('"')?;
        rest[q1 + 1..q2].parse().ok()
    };
    Some((param("precision")?, param("scale").unwrap_or(0)))
}

/// The columns of a registered schema's message, decimals sized from the schema text.
pub fn columns_from_schema(text: &str, full_name: Option<&str>) -> Result<Vec<Column>> {
    let schema = parse(text)?;
    let message = message_of(&schema, full_name)?;
    let mut columns = columns_of(&message)?;
    for (column, field) in columns.iter_mut().zip(message.fields()) {
        if let SqlType::Decimal { .. } = column.ty {
            if let Some((precision, scale)) = decimal_params(text, field.name()) {
                column.ty = SqlType::Decimal { precision, scale };
            }
        }
    }
    Ok(columns)
}

/// The proto3 schema ksqlDB derives from columns: one message named `full_name` (a package when the
/// name has dots), one field per column numbered from 1, STRUCTs as nested messages.
pub fn schema_for(columns: &[Column], full_name: &str, nullable: Nullable) -> String {
    let (package, name) = match full_name.rsplit_once('.') {
        Some((p, n)) => (Some(p), n),
        None => (None, full_name),
    };
    let mut imports = std::collections::BTreeSet::new();
    let mut counter = 1;
    let fields: Vec<(String, SqlType)> = columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect();
    let body = message_text(name, &fields, nullable, &mut imports, &mut counter, 0);
    let mut out = String::from("syntax = \"proto3\";\n\n");
    if let Some(p) = package {
        out.push_str(&format!("package {p};\n\n"));
    }
    for i in &imports {
        out.push_str(&format!("import \"{i}\";\n"));
    }
    if !imports.is_empty() {
        out.push('\n');
    }
    out.push_str(&body);
    out
}

fn message_text(
    name: &str,
    fields: &[(String, SqlType)],
    nullable: Nullable,
    imports: &mut std::collections::BTreeSet<&'static str>,
    counter: &mut usize,
    indent: usize,
) -> String {
    let pad = "  ".repeat(indent);
    let mut nested = String::new();
    let mut lines = String::new();
    for (i, (field, ty)) in fields.iter().enumerate() {
        let (label, type_name) = match ty {
            SqlType::Array(item) => {
                ("repeated ", type_name(item, Nullable::Default, imports, counter, &mut nested, indent + 1))
            }
            SqlType::Map(_, value) => {
                let v = type_name(value, Nullable::Default, imports, counter, &mut nested, indent + 1);
                ("", format!("map<string, {v}>"))
            }
            other => {
                let label = if nullable == Nullable::Optional && is_scalar(other) { "optional " } else { "" };
                (label, type_name(other, nullable, imports, counter, &mut nested, indent + 1))
            }
        };
        lines.push_str(&format!("{pad}  {label}{type_name} {field} = {};\n", i + 1));
    }
    format!("{pad}message {name} {{\n{lines}{nested}{pad}}}\n")
}

fn is_scalar(ty: &SqlType) -> bool {
    matches!(ty, SqlType::Boolean | SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::String | SqlType::Bytes)
}

fn type_name(
    ty: &SqlType,
    nullable: Nullable,
    imports: &mut std::collections::BTreeSet<&'static str>,
    counter: &mut usize,
    nested: &mut String,
    indent: usize,
) -> String {
    let wrapper = nullable == Nullable::Wrapper;
    if wrapper && is_scalar(ty) {
        imports.insert("google/protobuf/wrappers.proto");
    }
    match ty {
        SqlType::Boolean if wrapper => "google.protobuf.BoolValue".into(),
        SqlType::Int if wrapper => "google.protobuf.Int32Value".into(),
        SqlType::Bigint if wrapper => "google.protobuf.Int64Value".into(),
        SqlType::Double if wrapper => "google.protobuf.DoubleValue".into(),
        SqlType::String if wrapper => "google.protobuf.StringValue".into(),
        SqlType::Bytes if wrapper => "google.protobuf.BytesValue".into(),
        SqlType::Boolean => "bool".into(),
        SqlType::Int => "int32".into(),
        SqlType::Bigint => "int64".into(),
        SqlType::Double => "double".into(),
        SqlType::String | SqlType::Null => "string".into(),
        SqlType::Bytes => "bytes".into(),
        SqlType::Decimal { .. } => {
            imports.insert("confluent/type/decimal.proto");
            "confluent.type.Decimal".into()
        }
        SqlType::Timestamp => {
            imports.insert("google/protobuf/timestamp.proto");
            "google.protobuf.Timestamp".into()
        }
        SqlType::Date => {
            imports.insert("google/type/date.proto");
            "google.type.Date".into()
        }
        SqlType::Time => {
            imports.insert("google/type/timeofday.proto");
            "google.type.TimeOfDay".into()
        }
        SqlType::Struct(fields) => {
            *counter += 1;
            let name = format!("ConnectDefault{counter}");
            nested.push_str(&message_text(&name, fields, nullable, imports, counter, indent));
            name
        }
        // Protobuf has no list of lists or list of maps: ksqlDB wraps them; Weft writes the inner
        // one as a message with a single field.
        SqlType::Array(_) | SqlType::Map(..) => {
            *counter += 1;
            let name = format!("ConnectDefault{counter}");
            nested.push_str(&message_text(&name, &[("VALUE".into(), ty.clone())], nullable, imports, counter, indent));
            name
        }
    }
}

/// Reads and writes one key or value schema in PROTOBUF or PROTOBUF_NOSR.
pub struct ProtobufCodec {
    /// `None` for PROTOBUF_NOSR.
    registry: Option<RegistryHandle>,
    subject: String,
    full_name: Option<String>,
    nullable: Nullable,
    /// Writes with the subject's latest schema when it holds the columns (a source, not a sink).
    prefer_registered: bool,
    /// The registered schema written with (`*_SCHEMA_ID`): its message's fields that no column
    /// gives are left unset (proto3 reads them as their default).
    pinned: Option<u32>,
    writer: Mutex<Option<Writer>>,
    readers: Mutex<HashMap<u32, ProtobufSchema>>,
}

#[derive(Clone)]
struct Writer {
    id: u32,
    indexes: Vec<i32>,
    message: MessageDescriptor,
}

impl fmt::Debug for ProtobufCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtobufCodec({})", self.subject)
    }
}

impl ProtobufCodec {
    /// A PROTOBUF codec of `subject` in `registry`.
    pub fn registered(registry: RegistryHandle, subject: String) -> ProtobufCodec {
        ProtobufCodec::new(Some(registry), subject)
    }

    /// A PROTOBUF_NOSR codec: no registry, the schema from the columns.
    pub fn without_registry() -> ProtobufCodec {
        ProtobufCodec::new(None, String::new())
    }

    fn new(registry: Option<RegistryHandle>, subject: String) -> ProtobufCodec {
        ProtobufCodec {
            registry,
            subject,
            full_name: None,
            nullable: Nullable::Default,
            prefer_registered: false,
            pinned: None,
            writer: Mutex::new(None),
            readers: Mutex::new(HashMap::new()),
        }
    }

    /// The message name written and read (`*_SCHEMA_FULL_NAME`).
    pub fn named(mut self, full_name: Option<&str>) -> ProtobufCodec {
        self.full_name = full_name.map(str::to_string);
        self
    }

    pub fn nullable(mut self, nullable: Nullable) -> ProtobufCodec {
        self.nullable = nullable;
        self
    }

    pub fn prefer_registered(mut self, prefer: bool) -> ProtobufCodec {
        self.prefer_registered = prefer;
        self
    }

    /// A codec writing with the registered schema `id` (a C*AS's `VALUE_SCHEMA_ID` /
    /// `KEY_SCHEMA_ID`) rather than registering one of its own.
    pub fn pinned(mut self, id: Option<u32>) -> ProtobufCodec {
        self.pinned = id;
        self
    }

    /// The schema this codec derives from `columns`.
    pub fn derived_schema(&self, columns: &[Column]) -> String {
        schema_for(columns, self.full_name.as_deref().unwrap_or(DEFAULT_NAME), self.nullable)
    }

    /// The message written, registering the derived schema the first time (PROTOBUF).
    fn writer(&self, columns: &[Column]) -> Result<Writer> {
        let mut slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = slot.as_ref() {
            return Ok(w.clone());
        }
        let registered = match (&self.registry, self.pinned) {
            (Some(r), Some(id)) => {
                let schema = parse(&r.0.schema_by_id(id)?)?;
                let message = message_of(&schema, self.full_name.as_deref())?;
                Some(Writer { id, indexes: schema.indexes_of(&message), message })
            }
            (Some(r), None) if self.prefer_registered => r.0.latest(&self.subject).ok().and_then(|(id, text)| {
                let schema = parse(&text).ok()?;
                let message = message_of(&schema, self.full_name.as_deref()).ok()?;
                let fits = columns.iter().all(|c| field_named(&message, &c.name).is_some());
                fits.then(|| Writer { id, indexes: schema.indexes_of(&message), message })
            }),
            _ => None,
        };
        let writer = match registered {
            Some(w) => w,
            None => {
                let text = self.derived_schema(columns);
                let schema = parse(&text)?;
                let message = message_of(&schema, self.full_name.as_deref())?;
                let id = match &self.registry {
                    Some(r) => r.0.register(&self.subject, SchemaType::Protobuf, &text)?,
                    None => 0,
                };
                Writer { id, indexes: schema.indexes_of(&message), message }
            }
        };
        *slot = Some(writer.clone());
        Ok(writer)
    }

    /// Registers the derived schema now (sinks do so when they are created).
    pub fn register(&self, columns: &[Column]) -> Result<()> {
        self.writer(columns).map(|_| ())
    }

    /// Decodes a record into `out[0..columns.len()]`.
    pub fn decode_into(&self, columns: &[Column], bytes: &[u8], out: &mut [Value]) -> Result<()> {
        let message = match &self.registry {
            Some(registry) => {
                let (id, payload) = wire::split(bytes).map_err(|e| serde(e.to_string()))?;
                let (indexes, body) = read_message_indexes(payload).map_err(serde)?;
                let descriptor = {
                    let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
                    let schema = match readers.entry(id) {
                        std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            slot.insert(parse(&registry.0.schema_by_id(id)?)?)
                        }
                    };
                    schema.message_at(&indexes).ok_or_else(|| {
                        serde(format!("the message indexes {indexes:?} name no message of schema {id}"))
                    })?
                };
                DynamicMessage::decode(descriptor, body).map_err(serde)?
            }
            None => {
                let writer = self.writer(columns)?;
                DynamicMessage::decode(writer.message, bytes).map_err(serde)?
            }
        };
        for (column, slot) in columns.iter().zip(out.iter_mut()) {
            *slot = match field_named(&message.descriptor(), &column.name) {
                Some(field) => read_field(&message, &field, &column.ty)?,
                None => Value::Null,
            };
        }
        Ok(())
    }

    /// Encodes a record of `columns`.
    pub fn encode(&self, columns: &[Column], values: &[&Value], buf: &mut Vec<u8>) -> Result<()> {
        let writer = self.writer(columns)?;
        let mut message = DynamicMessage::new(writer.message.clone());
        for (column, value) in columns.iter().zip(values) {
            if let Some(field) = field_named(&writer.message, &column.name) {
                write_field(&mut message, &field, value, &column.ty)?;
            }
        }
        if self.registry.is_some() {
            wire::write_header(writer.id, buf);
            write_message_indexes(&writer.indexes, buf);
        }
        prost_encode(&message, buf)
    }
}

fn prost_encode(message: &DynamicMessage, buf: &mut Vec<u8>) -> Result<()> {
    use weft_schema::protobuf::prost_reflect::prost::Message;
    message.encode(buf).map_err(serde)
}

fn field_named(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message.get_field_by_name(name).or_else(|| message.fields().find(|f| f.name().eq_ignore_ascii_case(name)))
}

/// A field of a decoded message as a SQL value: absent message-typed fields (STRUCTs, wrappers,
/// `optional` scalars) are null, absent plain scalars their default.
fn read_field(message: &DynamicMessage, field: &FieldDescriptor, ty: &SqlType) -> Result<Value> {
    if absent_is_null(field) && !message.has_field(field) {
        return Ok(Value::Null);
    }
    let value = message.get_field(field);
    to_sql(&value, &field.kind(), ty, 0)
}

/// Whether an absent field reads as null: fields with presence (messages, `optional` scalars) and,
/// as ksqlDB reads them, `bytes`; other proto3 scalars read as their default.
fn absent_is_null(field: &FieldDescriptor) -> bool {
    !field.is_list() && !field.is_map() && (field.supports_presence() || field.kind() == Kind::Bytes)
}

fn to_sql(value: &PValue, kind: &Kind, ty: &SqlType, depth: usize) -> Result<Value> {
    if depth > weft_schema::MAX_DEPTH {
        return Err(serde(format!("Protobuf values nested deeper than {}", weft_schema::MAX_DEPTH)));
    }
    let mismatch = || serde(format!("a Protobuf {kind:?} value cannot be read as {ty}"));
    Ok(match (value, ty) {
        (PValue::List(items), SqlType::Array(item)) => {
            Value::Array(items.iter().map(|v| to_sql(v, kind, item, depth + 1)).collect::<Result<_>>()?)
        }
        (PValue::Map(entries), SqlType::Map(_, value_ty)) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                _ => return Err(mismatch()),
            };
            let mut out = crate::types::SqlMap::new();
            for (k, v) in entries {
                let key = match k {
                    MapKey::Bool(b) => b.to_string(),
                    MapKey::I32(i) => i.to_string(),
                    MapKey::I64(i) => i.to_string(),
                    MapKey::U32(i) => i.to_string(),
                    MapKey::U64(i) => i.to_string(),
                    MapKey::String(s) => s.clone(),
                };
                out.insert(key, to_sql(v, &value_kind, value_ty, depth + 1)?);
            }
            Value::map(out)
        }
        (PValue::Message(m), _) => message_to_sql(m, ty, depth)?,
        (PValue::EnumNumber(n), SqlType::String) => match kind {
            Kind::Enum(e) => {
                e.get_value(*n).map_or_else(|| Value::String(n.to_string()), |v| Value::String(v.name().to_string()))
            }
            _ => Value::String(n.to_string()),
        },
        (PValue::EnumNumber(n), SqlType::Int) => Value::Int(*n),
        (PValue::EnumNumber(n), SqlType::Bigint) => Value::Bigint(i64::from(*n)),
        (PValue::Bool(b), SqlType::Boolean) => Value::Bool(*b),
        (PValue::I32(i), SqlType::Int) => Value::Int(*i),
        (PValue::I32(i), SqlType::Bigint) => Value::Bigint(i64::from(*i)),
        (PValue::I64(i), SqlType::Bigint) => Value::Bigint(*i),
        (PValue::U32(i), SqlType::Bigint) => Value::Bigint(i64::from(*i)),
        (PValue::U32(i), SqlType::Int) => Value::Int(i32::try_from(*i).map_err(|_| mismatch())?),
        (PValue::U64(i), SqlType::Bigint) => Value::Bigint(i64::try_from(*i).map_err(|_| mismatch())?),
        (PValue::I64(i), SqlType::Int) => Value::Int(i32::try_from(*i).map_err(|_| mismatch())?),
        (PValue::F32(f), SqlType::Double) => Value::Double(f64::from(*f)),
        (PValue::F64(f), SqlType::Double) => Value::Double(*f),
        (PValue::String(s), SqlType::String) => Value::String(s.clone()),
        (PValue::Bytes(b), SqlType::Bytes) => Value::Bytes(b.to_vec()),
        (PValue::String(s), SqlType::Bytes) => Value::Bytes(s.as_bytes().to_vec()),
        (PValue::I32(i), SqlType::Date) => Value::Date(*i),
        (PValue::I64(i), SqlType::Timestamp) => Value::Timestamp(*i),
        (PValue::I64(i), SqlType::Time) => Value::Time(*i),
        _ => return Err(mismatch()),
    })
}

fn message_to_sql(m: &DynamicMessage, ty: &SqlType, depth: usize) -> Result<Value> {
    let d = m.descriptor();
    let int = |name: &str| m.get_field_by_name(name).and_then(|v| v.as_i32()).unwrap_or(0);
    let long = |name: &str| m.get_field_by_name(name).and_then(|v| v.as_i64()).unwrap_or(0);
    Ok(match (d.full_name(), ty) {
        ("google.protobuf.Timestamp", SqlType::Timestamp) => {
            Value::Timestamp(long("seconds") * 1000 + i64::from(int("nanos")) / 1_000_000)
        }
        ("google.type.Date", SqlType::Date) => Value::Date(days_from_civil(int("year"), int("month"), int("day"))),
        ("google.type.TimeOfDay", SqlType::Time) => Value::Time(
            i64::from(int("hours")) * 3_600_000
                + i64::from(int("minutes")) * 60_000
                + i64::from(int("seconds")) * 1000
                + i64::from(int("nanos")) / 1_000_000,
        ),
        ("confluent.type.Decimal", SqlType::Decimal { scale, .. }) => {
            let bytes = m.get_field_by_name("value").and_then(|v| v.as_bytes().map(|b| b.to_vec())).unwrap_or_default();
            let from_scale = u8::try_from(int("scale")).map_err(|_| serde("a Protobuf decimal of negative scale"))?;
            let unscaled = unscaled_of(&bytes)?;
            let decimal = Decimal { unscaled, scale: from_scale };
            Value::Decimal(decimal.rescale(*scale).ok_or_else(|| serde("a Protobuf decimal out of range"))?)
        }
        (_, SqlType::Struct(fields)) => {
            let mut out = Vec::with_capacity(fields.len());
            for (name, field_ty) in fields {
                out.push(match field_named(&d, name) {
                    Some(f) => {
                        if absent_is_null(&f) && !m.has_field(&f) {
                            Value::Null
                        } else {
                            to_sql(&m.get_field(&f), &f.kind(), field_ty, depth + 1)?
                        }
                    }
                    None => Value::Null,
                });
            }
            Value::Struct(out)
        }
        (_, _) => match wrapper_value(&d) {
            Some(f) => to_sql(&m.get_field(&f), &f.kind(), ty, depth + 1)?,
            None => return Err(serde(format!("a Protobuf message {} cannot be read as {ty}", d.full_name()))),
        },
    })
}

/// A big-endian two's complement integer (Confluent's decimal `value`).
fn unscaled_of(bytes: &[u8]) -> Result<i128> {
    if bytes.len() > 16 {
        return Err(serde("a Protobuf decimal of more than 38 digits"));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut v: i128 = if negative { -1 } else { 0 };
    for b in bytes {
        v = (v << 8) | i128::from(*b);
    }
    Ok(v)
}

fn unscaled_bytes(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: i32, d: i32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, i32, i32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Sets a field from a SQL value; a null leaves it unset (its default, or absent).
fn write_field(message: &mut DynamicMessage, field: &FieldDescriptor, value: &Value, ty: &SqlType) -> Result<()> {
    if value.is_null() {
        return Ok(());
    }
    let v = to_proto(value, &field.kind(), field.is_list(), field.is_map(), ty, 0)?;
    message.try_set_field(field, v).map_err(serde)
}

fn to_proto(value: &Value, kind: &Kind, list: bool, map: bool, ty: &SqlType, depth: usize) -> Result<PValue> {
    if depth > weft_schema::MAX_DEPTH {
        return Err(serde(format!("values nested deeper than {}", weft_schema::MAX_DEPTH)));
    }
    let mismatch = || serde(format!("a {ty} value cannot be written to a Protobuf {kind:?} field"));
    if list {
        let (Value::Array(items), SqlType::Array(item_ty)) = (value, ty) else { return Err(mismatch()) };
        return Ok(PValue::List(
            items
                .iter()
                .map(|v| match v {
                    // Protobuf lists hold no nulls: ksqlDB writes the item type's default.
                    Value::Null => Ok(default_of(kind)),
                    v => to_proto(v, kind, false, false, item_ty, depth + 1),
                })
                .collect::<Result<_>>()?,
        ));
    }
    if map {
        let (Value::Map(entries), SqlType::Map(_, value_ty), Kind::Message(entry)) = (value, ty, kind) else {
            return Err(mismatch());
        };
        let (key_field, value_field) = (entry.map_entry_key_field(), entry.map_entry_value_field());
        let mut out = HashMap::new();
        for (k, v) in entries.iter() {
            let key = match key_field.kind() {
                Kind::String => MapKey::String(k.clone()),
                Kind::Bool => MapKey::Bool(k.parse().map_err(|_| mismatch())?),
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(k.parse().map_err(|_| mismatch())?),
                Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(k.parse().map_err(|_| mismatch())?),
                Kind::Uint32 | Kind::Fixed32 => MapKey::U32(k.parse().map_err(|_| mismatch())?),
                _ => MapKey::U64(k.parse().map_err(|_| mismatch())?),
            };
            let value = match v {
                Value::Null => default_of(&value_field.kind()),
                v => to_proto(v, &value_field.kind(), false, false, value_ty, depth + 1)?,
            };
            out.insert(key, value);
        }
        return Ok(PValue::Map(out));
    }
    Ok(match (value, kind) {
        (v, Kind::Message(m)) => PValue::Message(message_of_value(v, m, ty, depth)?),
        (Value::Bool(b), Kind::Bool) => PValue::Bool(*b),
        (Value::Int(i), Kind::Int32 | Kind::Sint32 | Kind::Sfixed32) => PValue::I32(*i),
        (Value::Int(i), Kind::Int64 | Kind::Sint64 | Kind::Sfixed64) => PValue::I64(i64::from(*i)),
        (Value::Bigint(i), Kind::Int64 | Kind::Sint64 | Kind::Sfixed64) => PValue::I64(*i),
        (Value::Bigint(i), Kind::Int32 | Kind::Sint32 | Kind::Sfixed32) => {
            PValue::I32(i32::try_from(*i).map_err(|_| mismatch())?)
        }
        (Value::Bigint(i), Kind::Uint32 | Kind::Fixed32) => PValue::U32(u32::try_from(*i).map_err(|_| mismatch())?),
        (Value::Int(i), Kind::Uint32 | Kind::Fixed32) => PValue::U32(u32::try_from(*i).map_err(|_| mismatch())?),
        (Value::Bigint(i), Kind::Uint64 | Kind::Fixed64) => PValue::U64(u64::try_from(*i).map_err(|_| mismatch())?),
        (Value::Int(i), Kind::Uint64 | Kind::Fixed64) => PValue::U64(u64::try_from(*i).map_err(|_| mismatch())?),
        (Value::Double(f), Kind::Double) => PValue::F64(*f),
        (Value::Double(f), Kind::Float) => PValue::F32(*f as f32),
        (Value::String(s), Kind::String) => PValue::String(s.clone()),
        (Value::String(s), Kind::Enum(e)) => {
            PValue::EnumNumber(e.get_value_by_name(s).map(|v| v.number()).ok_or_else(mismatch)?)
        }
        (Value::Bytes(b), Kind::Bytes) => PValue::Bytes(b.clone().into()),
        (Value::Date(d), Kind::Int32) => PValue::I32(*d),
        (Value::Timestamp(t) | Value::Time(t), Kind::Int64) => PValue::I64(*t),
        _ => return Err(mismatch()),
    })
}

fn default_of(kind: &Kind) -> PValue {
    match kind {
        Kind::Message(m) => PValue::Message(DynamicMessage::new(m.clone())),
        Kind::Enum(e) => PValue::EnumNumber(e.default_value().number()),
        Kind::Double => PValue::F64(0.0),
        Kind::Float => PValue::F32(0.0),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => PValue::I32(0),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => PValue::I64(0),
        Kind::Uint32 | Kind::Fixed32 => PValue::U32(0),
        Kind::Uint64 | Kind::Fixed64 => PValue::U64(0),
        Kind::Bool => PValue::Bool(false),
        Kind::String => PValue::String(String::new()),
        Kind::Bytes => PValue::Bytes(Default::default()),
    }
}

fn message_of_value(value: &Value, m: &MessageDescriptor, ty: &SqlType, depth: usize) -> Result<DynamicMessage> {
    let mut out = DynamicMessage::new(m.clone());
    let mut set = |name: &str, v: PValue| -> Result<()> {
        let field = m.get_field_by_name(name).ok_or_else(|| serde(format!("{} has no field {name}", m.full_name())))?;
        out.try_set_field(&field, v).map_err(serde)
    };
    match (m.full_name(), value) {
        ("google.protobuf.Timestamp", Value::Timestamp(ms)) => {
            set("seconds", PValue::I64(ms.div_euclid(1000)))?;
            set("nanos", PValue::I32((ms.rem_euclid(1000) * 1_000_000) as i32))?;
        }
        ("google.type.Date", Value::Date(days)) => {
            let (y, mo, d) = civil_from_days(*days);
            set("year", PValue::I32(y))?;
            set("month", PValue::I32(mo))?;
            set("day", PValue::I32(d))?;
        }
        ("google.type.TimeOfDay", Value::Time(ms)) => {
            set("hours", PValue::I32((ms / 3_600_000) as i32))?;
            set("minutes", PValue::I32((ms / 60_000 % 60) as i32))?;
            set("seconds", PValue::I32((ms / 1000 % 60) as i32))?;
            set("nanos", PValue::I32((ms % 1000 * 1_000_000) as i32))?;
        }
        ("confluent.type.Decimal", Value::Decimal(d)) => {
            set("value", PValue::Bytes(unscaled_bytes(d.unscaled).into()))?;
            if let SqlType::Decimal { precision, .. } = ty {
                set("precision", PValue::U32(u32::from(*precision)))?;
            }
            set("scale", PValue::I32(i32::from(d.scale)))?;
        }
        (_, Value::Struct(values)) => {
            let SqlType::Struct(fields) = ty else { return Err(serde(format!("a {ty} value is not a STRUCT"))) };
            for ((name, field_ty), v) in fields.iter().zip(values) {
                if v.is_null() {
                    continue;
                }
                if let Some(f) = field_named(m, name) {
                    let pv = to_proto(v, &f.kind(), f.is_list(), f.is_map(), field_ty, depth + 1)?;
                    out.try_set_field(&f, pv).map_err(serde)?;
                }
            }
        }
        (_, v) => match wrapper_value(m) {
            Some(f) => {
                let pv = to_proto(v, &f.kind(), false, false, ty, depth + 1)?;
                out.try_set_field(&f, pv).map_err(serde)?;
            }
            None => return Err(serde(format!("a {ty} value cannot be written as a {} message", m.full_name()))),
        },
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
