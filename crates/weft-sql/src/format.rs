//! Record formats: how a row's key and value columns become record bytes and back.
//!
//! - `JSON`: the value is an object whose fields are the columns; field names match columns
//!   case-insensitively on read and are the column names on write (ksqlDB's JSON serde).
//! - `KAFKA`: a single column in Kafka's primitive serializers: STRING as UTF-8, INT as 4 bytes
//!   big-endian, BIGINT as 8, DOUBLE as an 8-byte IEEE 754 double.
//! - `DELIMITED`: comma-separated values in column order, CSV quoting.
//! - `NONE` (keys only): no key columns.
//! - `PROTOBUF` and `PROTOBUF_NOSR`: Protobuf messages, with or without the registry
//!   ([`crate::protobuf`]).
//!
//! Windowed keys (the keys of windowed aggregations) are the inner key followed by the window start
//! (8 bytes big-endian) for time windows, or by the window end and then start for session windows,
//! as Kafka Streams' windowed serdes write them.
//!
//! Decoding JSON goes straight from bytes into the row's slots (no intermediate JSON tree).

mod flat_json;

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Result, SqlError};
use crate::functions::{java_double, parse_iso_timestamp};
use crate::types::{Decimal, SqlType, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    Json,
    /// JSON in the Confluent wire format, with a JSON Schema in the registry.
    JsonSr,
    Avro,
    Kafka,
    Delimited,
    None,
    /// Protobuf in the Confluent wire format, the schema in the registry.
    Protobuf,
    /// Protobuf message bytes alone, the schema derived from the columns.
    ProtobufNoSr,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format> {
        match text.to_ascii_uppercase().as_str() {
            "JSON" => Ok(Format::Json),
            "KAFKA" => Ok(Format::Kafka),
            "DELIMITED" => Ok(Format::Delimited),
            "NONE" => Ok(Format::None),
            "AVRO" => Ok(Format::Avro),
            "JSON_SR" => Ok(Format::JsonSr),
            "PROTOBUF" => Ok(Format::Protobuf),
            "PROTOBUF_NOSR" => Ok(Format::ProtobufNoSr),
            other => Err(SqlError::analysis(format!(
                "Unknown format: {other} (expected JSON, JSON_SR, AVRO, PROTOBUF, PROTOBUF_NOSR, KAFKA, DELIMITED or NONE)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Avro => "AVRO",
            Format::JsonSr => "JSON_SR",
            Format::Kafka => "KAFKA",
            Format::Delimited => "DELIMITED",
            Format::None => "NONE",
            Format::Protobuf => "PROTOBUF",
            Format::ProtobufNoSr => "PROTOBUF_NOSR",
        }
    }
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(with = "type_text")]
    pub ty: SqlType,
}

mod type_text {
    use crate::types::SqlType;

    pub fn serialize<S: serde::Serializer>(ty: &SqlType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ty.to_string())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SqlType, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        crate::parser::parse_type(&text).map_err(serde::de::Error::custom)
    }
}

/// Windowing of a source's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WindowType {
    Time,
    Session,
}

/// Decodes and encodes one value schema.
#[derive(Debug, Clone)]
pub struct ValueCodec {
    pub format: Format,
    pub columns: Vec<Column>,
    /// `WRAP_SINGLE_VALUE=false`: a single column written as a bare value.
    pub unwrapped: bool,
    /// The character between DELIMITED fields.
    pub delimiter: char,
    /// Columns a reader needs; the others are skipped while decoding JSON. Empty means all.
    pub needed: Vec<bool>,
    /// Schema-registry access of AVRO and JSON_SR values.
    pub schema: Option<std::sync::Arc<crate::registry::SchemaCodec>>,
    /// No two columns are named alike but for case (worked out at the first JSON decode): then a
    /// field that matches a column but for case is that column's, without looking for an exact
    /// match among the others.
    pub(crate) names_unique_but_for_case: std::sync::OnceLock<bool>,
}

fn no_registry() -> SqlError {
    SqlError::analysis(
        "the AVRO and JSON_SR formats need a schema registry: open the engine with one \
         (EngineOptions::schema_registry)",
    )
}

impl ValueCodec {
    /// Decodes `bytes` into `out[0..columns.len()]` (which the caller has filled with nulls).
    pub fn decode_into(&self, bytes: &[u8], out: &mut [Value]) -> Result<()> {
        match self.format {
            Format::Json => self.decode_json(bytes, out),
            Format::Kafka => {
                let Some(col) = self.columns.first() else { return Ok(()) };
                out[0] = decode_kafka(&col.ty, bytes)?;
                Ok(())
            }
            Format::Delimited => decode_delimited(&self.columns, self.delimiter, bytes, out),
            Format::Avro => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Avro(codec)) => {
                    codec.decode_into(&self.columns, &self.needed, bytes, out)
                }
                _ => Err(no_registry()),
            },
            Format::JsonSr => self.decode_json(split_wire(bytes)?, out),
            Format::Protobuf | Format::ProtobufNoSr => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Protobuf(codec)) => codec.decode_into(&self.columns, bytes, out),
                _ => Err(no_registry()),
            },
            Format::None => Ok(()),
        }
    }

    fn decode_json(&self, bytes: &[u8], out: &mut [Value]) -> Result<()> {
        let unique = *self.names_unique_but_for_case.get_or_init(|| {
            let columns = &self.columns;
            columns
                .iter()
                .enumerate()
                .all(|(i, a)| columns[i + 1..].iter().all(|b| !a.name.eq_ignore_ascii_case(&b.name)))
        });
        decode_json_fields(&self.columns, &self.needed, self.unwrapped, unique, bytes, out)
    }

    fn encode_json(&self, values: &[&Value], buf: &mut Vec<u8>) {
        encode_json(&self.columns, self.unwrapped, values, buf)
    }

    /// Registers the value schema of AVRO and JSON_SR now (sinks do so when they are created).
    pub fn register_schema(&self) -> Result<()> {
        register_schema(self.format, self.schema.as_deref(), &self.columns)
    }

    pub fn encode(&self, values: &[&Value], buf: &mut Vec<u8>) -> Result<()> {
        match self.format {
            Format::Json => {
                self.encode_json(values, buf);
                Ok(())
            }
            Format::Kafka => {
                if let Some(v) = values.first() {
                    encode_kafka(v, buf)?;
                }
                Ok(())
            }
            Format::Delimited => {
                encode_delimited(values, self.delimiter, buf);
                Ok(())
            }
            Format::Avro => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Avro(codec)) => codec.encode(&self.columns, values, buf),
                _ => Err(no_registry()),
            },
            Format::JsonSr => {
                let (id, extra) = match self.schema.as_deref() {
                    Some(crate::registry::SchemaCodec::JsonSr(writer)) => writer.writing(&self.columns)?,
                    _ => return Err(no_registry()),
                };
                // A record the query cannot write stops it, as ksqlDB's serializer does.
                let extra = extra.map_err(SqlError::Processing)?;
                weft_schema::wire::write_header(id, buf);
                self.encode_json(values, buf);
                // A pinned schema's properties that no column gives go before the object's end.
                if !extra.is_empty() && buf.last() == Some(&b'}') {
                    buf.pop();
                    let empty = buf.last() == Some(&b'{');
                    buf.extend_from_slice(if empty { &extra[1..] } else { &extra });
                    buf.push(b'}');
                }
                Ok(())
            }
            Format::Protobuf | Format::ProtobufNoSr => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Protobuf(codec)) => codec.encode(&self.columns, values, buf),
                _ => Err(no_registry()),
            },
            Format::None => Ok(()),
        }
    }
}

/// Decodes and encodes key columns, optionally windowed.
///
/// AVRO and JSON_SR keys are in the Confluent wire format with their schema under the subject
/// `<topic>-key`; as in ksqlDB, a single key column is written unwrapped (the bare value, its schema
/// the column's type) and several key columns as a record (object) with one field per column.
#[derive(Debug, Clone)]
pub struct KeyCodec {
    pub format: Format,
    pub columns: Vec<Column>,
    /// The character between DELIMITED key fields (`KEY_DELIMITER`).
    pub delimiter: char,
    pub window: Option<WindowType>,
    /// Schema-registry access of AVRO and JSON_SR keys.
    pub schema: Option<std::sync::Arc<crate::registry::SchemaCodec>>,
}

/// Window bounds carried by a windowed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowBounds {
    pub start: i64,
    pub end: i64,
}

fn register_schema(format: Format, schema: Option<&crate::registry::SchemaCodec>, columns: &[Column]) -> Result<()> {
    match (format, schema) {
        (Format::Avro, Some(crate::registry::SchemaCodec::Avro(codec))) => codec.register(columns).map(|_| ()),
        (Format::JsonSr, Some(crate::registry::SchemaCodec::JsonSr(writer))) => writer.id(columns).map(|_| ()),
        (Format::Protobuf, Some(crate::registry::SchemaCodec::Protobuf(codec))) => codec.register(columns),
        (Format::Avro | Format::JsonSr | Format::Protobuf, _) => Err(no_registry()),
        _ => Ok(()),
    }
}

impl KeyCodec {
    /// The key codec of a source on `topic`; `registry` serves AVRO and JSON_SR keys.
    pub fn new(
        format: Format,
        columns: Vec<Column>,
        window: Option<WindowType>,
        registry: Option<&crate::registry::RegistryHandle>,
        topic: &str,
    ) -> KeyCodec {
        KeyCodec::writing(format, columns, window, registry, topic, false, None)
    }

    /// [`KeyCodec::new`], writing AVRO and JSON_SR keys with the subject's latest schema when it
    /// holds the key columns and `prefer_registered` (a source, not a sink: see
    /// [`crate::avro::AvroCodec::prefer_registered`]), an AVRO record named `full_name` if given.
    pub fn writing(
        format: Format,
        columns: Vec<Column>,
        window: Option<WindowType>,
        registry: Option<&crate::registry::RegistryHandle>,
        topic: &str,
        prefer_registered: bool,
        full_name: Option<&str>,
    ) -> KeyCodec {
        let unwrapped = columns.len() == 1;
        let subject = format!("{topic}-key");
        let schema = match (format, registry) {
            (Format::Avro, Some(r)) => Some(crate::registry::SchemaCodec::Avro(
                crate::avro::AvroCodec::new(r.clone(), subject)
                    .unwrapped(unwrapped)
                    .prefer_registered(prefer_registered)
                    .named(full_name),
            )),
            (Format::JsonSr, Some(r)) => Some(crate::registry::SchemaCodec::JsonSr(
                crate::registry::JsonSrWriter::new(r.clone(), subject)
                    .unwrapped(unwrapped)
                    .prefer_registered(prefer_registered),
            )),
            // ksqlDB's Protobuf keys are always a message of the key columns, never unwrapped.
            (Format::Protobuf, Some(r)) => Some(crate::registry::SchemaCodec::Protobuf(
                crate::protobuf::ProtobufCodec::registered(r.clone(), subject)
                    .prefer_registered(prefer_registered)
                    .named(full_name),
            )),
            (Format::ProtobufNoSr, _) => Some(crate::registry::SchemaCodec::Protobuf(
                crate::protobuf::ProtobufCodec::without_registry().named(full_name),
            )),
            _ => None,
        };
        KeyCodec { format, columns, delimiter: ',', window, schema: schema.map(std::sync::Arc::new) }
    }

    /// The codec with `delimiter` between DELIMITED key fields.
    pub fn delimited_by(mut self, delimiter: char) -> KeyCodec {
        self.delimiter = delimiter;
        self
    }

    /// Registers the key schema of AVRO and JSON_SR keys now (sinks do so when they are created).
    pub fn register_schema(&self) -> Result<()> {
        if self.columns.is_empty() {
            return Ok(());
        }
        register_schema(self.format, self.schema.as_deref(), &self.columns)
    }

    /// Decodes a key into `out[0..columns.len()]`, returning the window bounds of windowed keys
    /// (the end of time windows is filled in by the caller, who knows the window size).
    pub fn decode_into(&self, bytes: Option<&[u8]>, out: &mut [Value]) -> Result<Option<WindowBounds>> {
        let Some(bytes) = bytes else {
            out.iter_mut().for_each(|v| *v = Value::Null);
            return Ok(None);
        };
        let (inner, bounds) = match self.window {
            None => (bytes, None),
            Some(WindowType::Time) => {
                let split =
                    bytes.len().checked_sub(8).ok_or_else(|| SqlError::Serde("windowed key too short".into()))?;
                let start = read_i64(&bytes[split..]);
                (&bytes[..split], Some(WindowBounds { start, end: start }))
            }
            Some(WindowType::Session) => {
                let split =
                    bytes.len().checked_sub(16).ok_or_else(|| SqlError::Serde("session key too short".into()))?;
                let end = read_i64(&bytes[split..split + 8]);
                let start = read_i64(&bytes[split + 8..]);
                (&bytes[..split], Some(WindowBounds { start, end }))
            }
        };
        let unwrapped = self.columns.len() == 1;
        match self.format {
            Format::None => {}
            Format::Kafka => {
                if let Some(col) = self.columns.first() {
                    match (&mut out[0], &col.ty) {
                        (Value::String(buf), SqlType::String) => {
                            let s = std::str::from_utf8(inner)
                                .map_err(|_| SqlError::Serde("KAFKA STRING is not UTF-8".into()))?;
                            buf.clear();
                            buf.push_str(s);
                        }
                        (slot, ty) => *slot = decode_kafka(ty, inner)?,
                    }
                }
            }
            Format::Json => decode_json(&self.columns, &[], unwrapped, inner, out)?,
            Format::JsonSr => decode_json(&self.columns, &[], unwrapped, split_wire(inner)?, out)?,
            Format::Avro => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Avro(codec)) => codec.decode_into(&self.columns, &[], inner, out)?,
                _ => return Err(no_registry()),
            },
            Format::Protobuf | Format::ProtobufNoSr => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Protobuf(codec)) => codec.decode_into(&self.columns, inner, out)?,
                _ => return Err(no_registry()),
            },
            Format::Delimited => decode_delimited(&self.columns, self.delimiter, inner, out)?,
        }
        Ok(bounds)
    }

    /// Encodes key values; `None` when there are no key columns or the single key is null.
    pub fn encode(&self, values: &[&Value], window: Option<WindowBounds>) -> Result<Option<Vec<u8>>> {
        if self.columns.is_empty() && window.is_none() {
            return Ok(None);
        }
        if values.len() == 1 && values[0].is_null() && window.is_none() {
            return Ok(None);
        }
        // Room for the usual short key and its window without growing (this runs per output record).
        let mut buf = Vec::with_capacity(32);
        let unwrapped = self.columns.len() == 1;
        match self.format {
            Format::None => {}
            Format::Kafka => {
                if let Some(v) = values.first() {
                    encode_kafka(v, &mut buf)?;
                }
            }
            Format::Json => encode_json(&self.columns, unwrapped, values, &mut buf),
            Format::JsonSr => {
                let id = match self.schema.as_deref() {
                    Some(crate::registry::SchemaCodec::JsonSr(writer)) => writer.id(&self.columns)?,
                    _ => return Err(no_registry()),
                };
                weft_schema::wire::write_header(id, &mut buf);
                encode_json(&self.columns, unwrapped, values, &mut buf);
            }
            Format::Avro => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Avro(codec)) => codec.encode(&self.columns, values, &mut buf)?,
                _ => return Err(no_registry()),
            },
            Format::Protobuf | Format::ProtobufNoSr => match self.schema.as_deref() {
                Some(crate::registry::SchemaCodec::Protobuf(codec)) => codec.encode(&self.columns, values, &mut buf)?,
                _ => return Err(no_registry()),
            },
            Format::Delimited => encode_delimited(values, self.delimiter, &mut buf),
        }
        match (self.window, window) {
            (Some(WindowType::Time), Some(w)) => buf.extend_from_slice(&w.start.to_be_bytes()),
            (Some(WindowType::Session), Some(w)) => {
                buf.extend_from_slice(&w.end.to_be_bytes());
                buf.extend_from_slice(&w.start.to_be_bytes());
            }
            _ => {}
        }
        Ok(Some(buf))
    }
}

/// The JSON payload of a JSON_SR record, after the Confluent wire format's header.
fn split_wire(bytes: &[u8]) -> Result<&[u8]> {
    weft_schema::wire::split(bytes).map(|(_, payload)| payload).map_err(|e| SqlError::Serde(e.to_string()))
}

/// JSON (also the payload of JSON_SR) into `out`: an object whose fields are the columns, or the
/// bare value of a single unwrapped column.
fn decode_json(columns: &[Column], needed: &[bool], unwrapped: bool, bytes: &[u8], out: &mut [Value]) -> Result<()> {
    decode_json_fields(columns, needed, unwrapped, false, bytes, out)
}

/// [`decode_json`], told whether the columns' names are unique but for case.
fn decode_json_fields(
    columns: &[Column],
    needed: &[bool],
    unwrapped: bool,
    unique_but_for_case: bool,
    bytes: &[u8],
    out: &mut [Value],
) -> Result<()> {
    if !unwrapped && flat_json::decode(columns, needed, unique_but_for_case, bytes, out) {
        return Ok(());
    }
    decode_json_with_serde(columns, needed, unwrapped, unique_but_for_case, bytes, out)
}

/// Any JSON value, with the conversions and error messages of ksqlDB's JSON serde.
fn decode_json_with_serde(
    columns: &[Column],
    needed: &[bool],
    unwrapped: bool,
    unique_but_for_case: bool,
    bytes: &[u8],
    out: &mut [Value],
) -> Result<()> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    if unwrapped {
        let Some(col) = columns.first() else { return Ok(()) };
        out[0] =
            TypedSeed(&col.ty).deserialize(&mut de).map_err(|e| SqlError::Serde(format!("invalid JSON value: {e}")))?;
    } else {
        RowSeed { columns, needed, unique_but_for_case, out }
            .deserialize(&mut de)
            .map_err(|e| SqlError::Serde(format!("invalid JSON value: {e}")))?;
    }
    de.end().map_err(|e| SqlError::Serde(format!("invalid JSON value: {e}")))
}

fn encode_json(columns: &[Column], unwrapped: bool, values: &[&Value], buf: &mut Vec<u8>) {
    if unwrapped {
        if let (Some(col), Some(v)) = (columns.first(), values.first()) {
            write_json(buf, v, &col.ty);
        }
        return;
    }
    buf.push(b'{');
    for (i, (col, v)) in columns.iter().zip(values).enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_json_str(buf, &col.name);
        buf.push(b':');
        write_json(buf, v, &col.ty);
    }
    buf.push(b'}');
}

/// DELIMITED as ksqlDB writes it (Apache Commons CSV's minimal quoting): a null is an empty field,
/// never quoted; a field is quoted when it is empty or starts with anything but a letter or digit
/// and is the first of the record, starts with a character up to `#`, holds the delimiter, a quote
/// or a line break, or ends in a space or control character. DATE is written as days since the
/// epoch, TIME as milliseconds of the day, TIMESTAMP as epoch milliseconds, BYTES as Base64.
fn encode_delimited(values: &[&Value], delimiter: char, buf: &mut Vec<u8>) {
    let mut sep = [0u8; 4];
    let sep = delimiter.encode_utf8(&mut sep).as_bytes();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(sep);
        }
        let text = match v {
            Value::Null => continue,
            Value::Date(days) => days.to_string(),
            Value::Time(ms) | Value::Timestamp(ms) => ms.to_string(),
            Value::Bytes(b) => base64(b),
            other => crate::functions::to_display_string(other),
        };
        let first = text.chars().next();
        let last = text.chars().next_back();
        let quote = match first {
            None => i == 0,
            Some(c) if i == 0 && !c.is_ascii_alphanumeric() => true,
            Some(c) if c <= '#' => true,
            Some(_) => text.contains([delimiter, '"', '\n', '\r']) || last.is_some_and(|c| c <= ' '),
        };
        if quote {
            buf.push(b'"');
            buf.extend_from_slice(text.replace('"', "\"\"").as_bytes());
            buf.push(b'"');
        } else {
            buf.extend_from_slice(text.as_bytes());
        }
    }
}

fn read_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

fn decode_kafka(ty: &SqlType, bytes: &[u8]) -> Result<Value> {
    let wrong = |n: usize| SqlError::Serde(format!("KAFKA {ty} needs {n} bytes, found {}", bytes.len()));
    Ok(match ty {
        SqlType::String => Value::String(
            String::from_utf8(bytes.to_vec()).map_err(|_| SqlError::Serde("KAFKA STRING is not UTF-8".into()))?,
        ),
        SqlType::Int => Value::Int(i32::from_be_bytes(bytes.try_into().map_err(|_| wrong(4))?)),
        SqlType::Bigint => Value::Bigint(i64::from_be_bytes(bytes.try_into().map_err(|_| wrong(8))?)),
        SqlType::Double => Value::Double(f64::from_be_bytes(bytes.try_into().map_err(|_| wrong(8))?)),
        SqlType::Bytes => Value::Bytes(bytes.to_vec()),
        other => return Err(SqlError::Serde(format!("the KAFKA format does not support {other}"))),
    })
}

fn encode_kafka(v: &Value, buf: &mut Vec<u8>) -> Result<()> {
    match v {
        Value::Null => {}
        Value::String(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Int(i) => buf.extend_from_slice(&i.to_be_bytes()),
        Value::Bigint(i) | Value::Timestamp(i) => buf.extend_from_slice(&i.to_be_bytes()),
        Value::Double(d) => buf.extend_from_slice(&d.to_be_bytes()),
        Value::Bytes(b) => buf.extend_from_slice(b),
        other => return Err(SqlError::Serde(format!("the KAFKA format cannot write {other:?}"))),
    }
    Ok(())
}

fn decode_delimited(columns: &[Column], delimiter: char, bytes: &[u8], out: &mut [Value]) -> Result<()> {
    let text = std::str::from_utf8(bytes).map_err(|_| SqlError::Serde("DELIMITED value is not UTF-8".into()))?;
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    if fields.len() != columns.len() {
        return Err(SqlError::Serde(format!(
            "DELIMITED value has {} fields but the schema has {} columns",
            fields.len(),
            columns.len()
        )));
    }
    for (i, (field, col)) in fields.iter().zip(columns).enumerate() {
        // ksqlDB reads an empty field as null, whatever the column's type.
        out[i] = if field.is_empty() {
            Value::Null
        } else if let Some(v) = delimited_number_time(field, &col.ty) {
            v?
        } else {
            let v = crate::functions::cast_value(&Value::String(field.clone()), &col.ty);
            if v.is_null() && !field.is_empty() {
                return Err(SqlError::Serde(format!("'{field}' is not a valid {}", col.ty)));
            }
            v
        };
    }
    Ok(())
}

/// A DELIMITED field of a DATE (days since the epoch), TIME (milliseconds of the day), TIMESTAMP
/// (epoch milliseconds) or BYTES (Base64) column; `None` for other types.
fn delimited_number_time(field: &str, ty: &SqlType) -> Option<Result<Value>> {
    let invalid = || SqlError::Serde(format!("'{field}' is not a valid {ty}"));
    let number = || field.trim().parse::<i64>().map_err(|_| invalid());
    Some(match ty {
        SqlType::Date => number().and_then(|d| i32::try_from(d).map_err(|_| invalid())).map(Value::Date),
        SqlType::Time => number().map(Value::Time),
        SqlType::Timestamp => number().map(Value::Timestamp),
        SqlType::Bytes => unbase64(field).map(Value::Bytes).ok_or_else(invalid),
        _ => return None,
    })
}

// ---- JSON writing ----

pub fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(i) = next_to_escape(bytes, start) {
        buf.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => buf.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// The index of the first byte at or after `from` that JSON needs escaped (a quote, a backslash or
/// a control character). Eight bytes are tested at a time: most strings (ids, urls, names) have
/// nothing to escape, and a byte-by-byte loop was a visible share of encoding output rows.
fn next_to_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let needs = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    // Whether some byte of `x` is zero (exact for the word; which byte is not told).
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // A byte below 0x20 (the zero-byte test with 0x20 in place of 1: exact for any bound up
        // to 0x80), a quote, or a backslash.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS != 0;
        if control || has_zero(x ^ (ONES * u64::from(b'"'))) || has_zero(x ^ (ONES * u64::from(b'\\'))) {
            break;
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(|&b| needs(b)).map(|p| i + p)
}

/// Writes a value as ksqlDB's JSON serde does (decimals as numbers, timestamps as epoch ms, dates
/// as epoch days, bytes as base64).
pub fn write_json(buf: &mut Vec<u8>, v: &Value, ty: &SqlType) {
    use std::io::Write;
    match v {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        // itoa: `write!` through `fmt` was a visible share of encoding aggregation output.
        Value::Int(i) => buf.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Bigint(i) | Value::Timestamp(i) | Value::Time(i) => {
            buf.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes())
        }
        Value::Date(d) => buf.extend_from_slice(itoa::Buffer::new().format(*d).as_bytes()),
        Value::Double(d) => {
            if d.is_finite() {
                let s = java_double(*d);
                if s.contains('E') {
                    let _ = write!(buf, "{d:?}");
                } else {
                    buf.extend_from_slice(s.as_bytes());
                }
            } else {
                // Jackson, which ksqlDB's JSON serde uses, writes the non-finite doubles as strings.
                write_json_str(buf, java_double(*d).as_str());
            }
        }
        Value::Decimal(d) => {
            let _ = write!(buf, "{d}");
        }
        Value::String(s) => write_json_str(buf, s),
        Value::Bytes(b) => write_json_str(buf, &base64(b)),
        Value::Array(items) => {
            let inner = match ty {
                SqlType::Array(t) => t.as_ref(),
                _ => &SqlType::Null,
            };
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_json(buf, item, inner);
            }
            buf.push(b']');
        }
        Value::Map(m) => {
            let inner = match ty {
                SqlType::Map(_, t) => t.as_ref(),
                _ => &SqlType::Null,
            };
            buf.push(b'{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_json_str(buf, k);
                buf.push(b':');
                write_json(buf, item, inner);
            }
            buf.push(b'}');
        }
        Value::Struct(fields) => {
            buf.push(b'{');
            if let SqlType::Struct(defs) = ty {
                for (i, ((name, t), item)) in defs.iter().zip(fields).enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    write_json_str(buf, name);
                    buf.push(b':');
                    write_json(buf, item, t);
                }
            }
            buf.push(b'}');
        }
    }
}

/// A value as a `serde_json::Value` (for the REST layer and tests).
pub fn to_json_value(v: &Value, ty: &SqlType) -> serde_json::Value {
    let mut buf = Vec::new();
    write_json(&mut buf, v, ty);
    serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null)
}

/// A `serde_json::Value` as a SQL value of `ty` (INSERT VALUES, test inputs); null when it does not fit.
pub fn from_json_value(v: &serde_json::Value, ty: &SqlType) -> Result<Value> {
    let text = serde_json::to_vec(v).map_err(|e| SqlError::Serde(e.to_string()))?;
    let mut de = serde_json::Deserializer::from_slice(&text);
    TypedSeed(ty).deserialize(&mut de).map_err(|e| SqlError::Serde(e.to_string()))
}

/// JSON text as a SQL value of `ty`, read as [`from_json_value`] reads it, without a
/// `serde_json::Value` in between.
pub fn from_json_slice(text: &[u8], ty: &SqlType) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = TypedSeed(ty).deserialize(&mut de).map_err(|e| SqlError::Serde(e.to_string()))?;
    de.end().map_err(|e| SqlError::Serde(e.to_string()))?;
    Ok(value)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

// ---- JSON reading ----

struct RowSeed<'a> {
    columns: &'a [Column],
    needed: &'a [bool],
    unique_but_for_case: bool,
    out: &'a mut [Value],
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// The column a JSON field feeds: an exact name match wins, else a case-insensitive one. `hint` is
/// tried first (fields usually come in schema order, often in another case than the columns).
fn find_column(columns: &[Column], key: &str, hint: usize, unique_but_for_case: bool) -> Option<usize> {
    // Length and first byte settle most comparisons without a call to memcmp.
    let exact =
        |name: &str| name.len() == key.len() && name.as_bytes().first() == key.as_bytes().first() && name == key;
    if let Some(c) = columns.get(hint) {
        if exact(&c.name) {
            return Some(hint);
        }
        // The hinted column matches but for case: it wins unless another column matches exactly.
        if c.name.eq_ignore_ascii_case(key) {
            if unique_but_for_case {
                return Some(hint);
            }
            return Some(columns.iter().position(|c| exact(&c.name)).unwrap_or(hint));
        }
    }
    let mut insensitive = None;
    for (i, c) in columns.iter().enumerate() {
        if exact(&c.name) {
            return Some(i);
        }
        if insensitive.is_none() && c.name.eq_ignore_ascii_case(key) {
            if unique_but_for_case {
                return Some(i);
            }
            insensitive = Some(i);
        }
    }
    insensitive
}

/// A JSON object key, borrowed from the input unless it has escapes (serde's own `Cow<str>`
/// always allocates: one allocation per field per record).
struct FieldName;

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = std::borrow::Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldName {
    type Value = std::borrow::Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(s))
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        // Values are written in place (string buffers are reused); columns the object lacks are null.
        let mut seen = SeenSet::new(self.columns.len());
        // The column after the last one matched: objects usually list their fields in the
        // columns' order, but may hold fields that are no column (the key's, say) between them.
        let mut hint = 0;
        while let Some(key) = map.next_key_seed(FieldName)? {
            let column = find_column(self.columns, &key, hint, self.unique_but_for_case);
            if let Some(i) = column {
                hint = i + 1;
            }
            match column {
                Some(i) if self.needed.get(i).copied().unwrap_or(true) => {
                    seen.insert(i);
                    if self.columns[i].ty == SqlType::String {
                        map.next_value_seed(StringInto(&mut self.out[i]))?;
                    } else {
                        self.out[i] = map.next_value_seed(TypedSeed(&self.columns[i].ty))?;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (i, slot) in self.out.iter_mut().enumerate() {
            if !seen.contains(i) {
                *slot = Value::Null;
            }
        }
        Ok(())
    }
}

/// Which columns an object set: a bit mask, spilling to a vector past 64 columns.
enum SeenSet {
    Small(u64),
    Large(Vec<bool>),
}

impl SeenSet {
    fn new(n: usize) -> SeenSet {
        if n <= 64 {
            SeenSet::Small(0)
        } else {
            SeenSet::Large(vec![false; n])
        }
    }

    fn insert(&mut self, i: usize) {
        match self {
            SeenSet::Small(m) => *m |= 1 << i,
            SeenSet::Large(v) => v[i] = true,
        }
    }

    fn contains(&self, i: usize) -> bool {
        match self {
            SeenSet::Small(m) => m & (1 << i) != 0,
            SeenSet::Large(v) => v[i],
        }
    }
}

/// Reads a JSON value into a STRING slot, reusing its buffer; non-string JSON keeps its JSON text.
struct StringInto<'a>(&'a mut Value);

impl StringInto<'_> {
    fn set(self, s: &str) {
        match self.0 {
            Value::String(buf) => {
                buf.clear();
                buf.push_str(s);
            }
            slot => *slot = Value::String(s.to_string()),
        }
    }
}

impl<'de> DeserializeSeed<'de> for StringInto<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringInto<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value for a STRING column")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<(), E> {
        self.set(s);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        *self.0 = Value::Null;
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<(), E> {
        self.set(if b { "true" } else { "false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<(), E> {
        self.set(&i.to_string());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<(), E> {
        self.set(&u.to_string());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> std::result::Result<(), E> {
        self.set(&serde_json::Value::from(x).to_string());
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        let mut text = String::new();
        CompactJson(&mut text).visit_seq(seq)?;
        self.set(&text);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        let mut text = String::new();
        CompactJson(&mut text).visit_map(map)?;
        self.set(&text);
        Ok(())
    }
}

/// Writes a JSON value back as compact JSON text with its object fields in their original order, as
/// ksqlDB's Jackson does when a STRING column reads an object or array (a seed: deserialize a value
/// with it to append that value's text to the string).
pub struct CompactJson<'a>(pub &'a mut String);

impl<'de> DeserializeSeed<'de> for CompactJson<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl CompactJson<'_> {
    fn leaf(self, v: serde_json::Value) {
        self.0.push_str(&v.to_string());
    }
}

impl<'de> Visitor<'de> for CompactJson<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.0.push_str("null");
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<(), E> {
        self.leaf(b.into());
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<(), E> {
        self.leaf(i.into());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<(), E> {
        self.leaf(u.into());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> std::result::Result<(), E> {
        self.leaf(x.into());
        Ok(())
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<(), E> {
        self.leaf(s.into());
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        self.0.push('[');
        let mut first = true;
        loop {
            let mark = self.0.len();
            if !first {
                self.0.push(',');
            }
            if seq.next_element_seed(CompactJson(&mut *self.0))?.is_none() {
                self.0.truncate(mark);
                break;
            }
            first = false;
        }
        self.0.push(']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        self.0.push('{');
        let mut first = true;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !first {
                self.0.push(',');
            }
            first = false;
            self.0.push_str(&serde_json::Value::from(k.as_ref()).to_string());
            self.0.push(':');
            map.next_value_seed(CompactJson(&mut *self.0))?;
        }
        self.0.push('}');
        Ok(())
    }
}

/// Reads one JSON value as a SQL value of the given type, coercing as ksqlDB's JSON serde does.
struct TypedSeed<'a>(&'a SqlType);

impl<'de> DeserializeSeed<'de> for TypedSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        match self.0 {
            SqlType::String => {
                // Non-string JSON in a STRING column keeps its JSON text, fields in their order.
                let mut slot = Value::Null;
                StringInto(&mut slot).deserialize(d)?;
                Ok(slot)
            }
            _ => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for TypedSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON value for a {} column", self.0)
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Value, E> {
        match self.0 {
            SqlType::Boolean => Ok(Value::Bool(b)),
            SqlType::String => Ok(Value::String(b.to_string())),
            t => Err(E::custom(format!("can't convert boolean to {t}"))),
        }
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<Value, E> {
        Ok(match self.0 {
            SqlType::Int => Value::Int(i32::try_from(i).map_err(|_| E::custom(format!("{i} does not fit INTEGER")))?),
            SqlType::Bigint => Value::Bigint(i),
            SqlType::Double => Value::Double(i as f64),
            SqlType::Decimal { precision, scale } => {
                crate::functions::fit_decimal(Decimal { unscaled: i128::from(i), scale: 0 }, *precision, *scale)
            }
            SqlType::Timestamp => Value::Timestamp(i),
            SqlType::Time => Value::Time(i),
            SqlType::Date => Value::Date(i32::try_from(i).map_err(|_| E::custom("date out of range"))?),
            SqlType::String => Value::String(i.to_string()),
            t => return Err(E::custom(format!("can't convert number to {t}"))),
        })
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<Value, E> {
        match i64::try_from(u) {
            Ok(i) => self.visit_i64(i),
            Err(_) => self.visit_f64(u as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> std::result::Result<Value, E> {
        Ok(match self.0 {
            SqlType::Int => Value::Int(x as i32),
            SqlType::Bigint => Value::Bigint(x as i64),
            SqlType::Double => Value::Double(x),
            SqlType::Decimal { precision, scale } => match Decimal::parse(&format!("{x}")) {
                Some(d) => crate::functions::fit_decimal(d, *precision, *scale),
                None => Value::Null,
            },
            SqlType::String => Value::String(java_double(x)),
            t => return Err(E::custom(format!("can't convert number to {t}"))),
        })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Value, E> {
        let bad = || E::custom(format!("can't convert '{s}' to {}", self.0));
        Ok(match self.0 {
            SqlType::String => Value::String(s.to_string()),
            SqlType::Bytes => Value::Bytes(unbase64(s).ok_or_else(bad)?),
            SqlType::Timestamp => {
                Value::Timestamp(s.parse::<i64>().ok().or_else(|| parse_iso_timestamp(s)).ok_or_else(bad)?)
            }
            t => {
                let v = crate::functions::cast_value(&Value::String(s.to_string()), t);
                if v.is_null() {
                    return Err(bad());
                }
                v
            }
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let SqlType::Array(inner) = self.0 else {
            return Err(de::Error::custom(format!("can't convert an array to {}", self.0)));
        };
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(TypedSeed(inner))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        match self.0 {
            SqlType::Map(_, inner) => {
                let mut m = crate::types::SqlMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v = map.next_value_seed(TypedSeed(inner))?;
                    m.insert(k, v);
                }
                Ok(Value::map(m))
            }
            SqlType::Struct(fields) => {
                let mut out = vec![Value::Null; fields.len()];
                while let Some(k) = map.next_key_seed(FieldName)? {
                    let pos = fields
                        .iter()
                        .position(|(n, _)| *n == *k)
                        .or_else(|| fields.iter().position(|(n, _)| n.eq_ignore_ascii_case(&k)));
                    match pos {
                        Some(i) => out[i] = map.next_value_seed(TypedSeed(&fields[i].1))?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Value::Struct(out))
            }
            t => Err(de::Error::custom(format!("can't convert an object to {t}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escapes one byte at a time: the reference the word-at-a-time scan must agree with.
    fn escaped_bytewise(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn json_strings_escape_every_special_character_at_every_position() {
        // Each special at each position of strings up to three words long, alone and in pairs (a
        // second one in the same word or the next), beside ASCII and multi-byte text.
        let specials = ['"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{8}', '\u{c}'];
        let fillers = ["abcdefghijklmnopqrstuvwxyz", "é€ab😀cdé€ab😀cdé€ab😀cd"];
        for filler in fillers {
            let filler: Vec<char> = filler.chars().collect();
            for len in 0..filler.len() {
                let base: String = filler[..len].iter().collect();
                let mut cases = vec![base.clone()];
                for (at, _) in base.char_indices().chain([(base.len(), ' ')]) {
                    for special in specials {
                        let mut one = base.clone();
                        one.insert(at, special);
                        for later in [at + 1, at + 7, at + 9] {
                            if later <= one.len() && one.is_char_boundary(later) {
                                let mut two = one.clone();
                                two.insert(later, '"');
                                cases.push(two);
                            }
                        }
                        cases.push(one);
                    }
                }
                for case in cases {
                    let mut buf = Vec::new();
                    write_json_str(&mut buf, &case);
                    let written = String::from_utf8(buf).expect("utf-8");
                    assert_eq!(written, escaped_bytewise(&case), "{case:?}");
                    let read: String = serde_json::from_str(&written).expect("valid JSON");
                    assert_eq!(read, case);
                }
            }
        }
    }

    #[test]
    fn json_integers_are_written_in_full() {
        for (v, text) in [
            (Value::Int(i32::MIN), "-2147483648"),
            (Value::Int(0), "0"),
            (Value::Bigint(i64::MIN), "-9223372036854775808"),
            (Value::Bigint(i64::MAX), "9223372036854775807"),
            (Value::Timestamp(1_700_000_000_000), "1700000000000"),
            (Value::Date(-3), "-3"),
        ] {
            let mut buf = Vec::new();
            write_json(&mut buf, &v, &SqlType::Bigint);
            assert_eq!(String::from_utf8(buf).expect("utf-8"), text);
        }
    }

    fn cols() -> Vec<Column> {
        vec![
            Column { name: "ID".into(), ty: SqlType::Bigint },
            Column { name: "name".into(), ty: SqlType::String },
            Column { name: "TAGS".into(), ty: SqlType::Array(Box::new(SqlType::Int)) },
            Column {
                name: "ADDR".into(),
                ty: SqlType::Struct(vec![("CITY".into(), SqlType::String), ("ZIP".into(), SqlType::Int)]),
            },
            Column { name: "PRICE".into(), ty: SqlType::Decimal { precision: 4, scale: 2 } },
        ]
    }

    #[test]
    fn a_string_column_keeps_an_object_as_compact_json_in_its_field_order() {
        // ksqlDB (simple-struct.json "read struct as json string"): Jackson's text of the node.
        let columns = vec![Column { name: "S".into(), ty: SqlType::String }];
        let mut out = vec![Value::Null];
        decode_json(&columns, &[], false, br#"{"S": {"z": 1, "a": [1, 2.5, "x", null], "m": {}}}"#, &mut out).unwrap();
        assert_eq!(out[0], Value::String(r#"{"z":1,"a":[1,2.5,"x",null],"m":{}}"#.into()));
        let mut out = vec![Value::Null];
        decode_json(&columns, &[], true, br#"[{"b": true, "a": false}]"#, &mut out).unwrap();
        assert_eq!(out[0], Value::String(r#"[{"b":true,"a":false}]"#.into()));
    }

    /// A JSON field feeds the column of its name exactly, else the one named alike but for case;
    /// the codec's shortcut for names unique but for case gives what the full search gives.
    #[test]
    fn json_fields_find_their_columns_exactly_first_then_by_case() {
        let column = |name: &str| Column { name: name.into(), ty: SqlType::String };
        let decode = |columns: Vec<Column>, json: &[u8]| {
            let codec = ValueCodec {
                format: Format::Json,
                columns,
                unwrapped: false,
                delimiter: ',',
                needed: Vec::new(),
                names_unique_but_for_case: Default::default(),
                schema: None,
            };
            let mut row = vec![Value::Null; codec.columns.len()];
            codec.decode_into(json, &mut row).unwrap();
            row
        };
        let s = |v: &str| Value::String(v.into());
        // Names unique but for case: fields in another case, a field that is no column in between.
        let unique =
            decode(vec![column("USER"), column("TS"), column("URL")], br#"{"id":"k","user":"u","ts":"t","url":"/"}"#);
        assert_eq!(unique, vec![s("u"), s("t"), s("/")]);
        // Two columns alike but for case: each field feeds the one it names exactly, whatever the order.
        let clash = decode(vec![column("a"), column("A")], br#"{"A":"upper","a":"lower"}"#);
        assert_eq!(clash, vec![s("lower"), s("upper")]);
        let clash = decode(vec![column("A"), column("a")], br#"{"A":"upper","a":"lower"}"#);
        assert_eq!(clash, vec![s("upper"), s("lower")]);
    }

    #[test]
    fn json_round_trip_with_coercion() {
        let codec = ValueCodec {
            format: Format::Json,
            columns: cols(),
            unwrapped: false,
            delimiter: ',',
            needed: Vec::new(),
            names_unique_but_for_case: Default::default(),
            schema: None,
        };
        let mut row = vec![Value::Null; 5];
        codec
            .decode_into(
                br#"{"id":"12","NAME":7,"tags":[1,2],"addr":{"city":"x","Zip":9,"extra":1},"price":1.5,"other":{}}"#,
                &mut row,
            )
            .unwrap();
        assert_eq!(row[0], Value::Bigint(12));
        assert_eq!(row[1], Value::String("7".into()), "field names match columns case-insensitively");
        assert_eq!(row[2], Value::Array(vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(row[3], Value::Struct(vec![Value::String("x".into()), Value::Int(9)]));
        assert_eq!(row[4], Value::Decimal(Decimal { unscaled: 150, scale: 2 }));
        let mut buf = Vec::new();
        codec.encode(&row.iter().collect::<Vec<_>>(), &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v, serde_json::json!({"ID":12,"name":"7","TAGS":[1,2],"ADDR":{"CITY":"x","ZIP":9},"PRICE":1.50}));
        assert!(codec.decode_into(b"[1]", &mut row).is_err());
        assert!(codec.decode_into(br#"{"id":"x"}"#, &mut row).is_err());
    }

    #[test]
    fn kafka_and_windowed_keys() {
        let k = KeyCodec::new(
            Format::Kafka,
            vec![Column { name: "K".into(), ty: SqlType::Int }],
            Some(WindowType::Time),
            None,
            "t",
        );
        let bytes = k.encode(&[&Value::Int(5)], Some(WindowBounds { start: 1000, end: 2000 })).unwrap().unwrap();
        assert_eq!(bytes.len(), 12);
        let mut out = vec![Value::Null];
        let w = k.decode_into(Some(&bytes), &mut out).unwrap();
        assert_eq!(out[0], Value::Int(5));
        assert_eq!(w.unwrap().start, 1000);
    }

    fn registry() -> crate::registry::RegistryHandle {
        crate::registry::RegistryHandle(std::sync::Arc::new(crate::avro::tests::MemoryRegistry::default()))
    }

    #[test]
    fn avro_keys_in_the_wire_format() {
        let registry = registry();
        let single = KeyCodec::new(
            Format::Avro,
            vec![Column { name: "ID".into(), ty: SqlType::Int }],
            None,
            Some(&registry),
            "t",
        );
        let bytes = single.encode(&[&Value::Int(-3)], None).unwrap().unwrap();
        // Magic byte, schema id 1, then the bare Avro int (zig-zag): no record around one column.
        assert_eq!(bytes, vec![0, 0, 0, 0, 1, 5]);
        assert_eq!(registry.0.latest("t-key").unwrap(), (1, "\"int\"".to_string()));
        let mut out = vec![Value::Null];
        single.decode_into(Some(&bytes), &mut out).unwrap();
        assert_eq!(out, vec![Value::Int(-3)]);
        assert_eq!(single.encode(&[&Value::Null], None).unwrap(), None, "a null key is no key bytes");

        let multi = KeyCodec::new(
            Format::Avro,
            vec![Column { name: "A".into(), ty: SqlType::String }, Column { name: "B".into(), ty: SqlType::Bigint }],
            Some(WindowType::Time),
            Some(&registry),
            "m",
        );
        let window = Some(WindowBounds { start: 7, end: 7 });
        let bytes = multi.encode(&[&Value::String("x".into()), &Value::Null], window).unwrap().unwrap();
        // Record of optional fields: branch 1 + "x", branch 0 (null); then the window start.
        assert_eq!(bytes[5..], [2, 2, b'x', 0, 0, 0, 0, 0, 0, 0, 0, 7]);
        let mut out = vec![Value::Null, Value::Null];
        assert_eq!(multi.decode_into(Some(&bytes), &mut out).unwrap(), window);
        assert_eq!(out, vec![Value::String("x".into()), Value::Null]);
        assert!(multi.decode_into(Some(b"\x01\x00\x00\x00\x02\x00"), &mut out).is_err(), "no magic byte");
    }

    #[test]
    fn avro_keys_written_by_other_producers() {
        let registry = registry();
        // A Confluent producer's `long` key read into an INT column, and a record key whose fields
        // come in another order than the key columns.
        let long_id = registry.0.register("t-key", crate::registry::SchemaType::Avro, "\"long\"").unwrap();
        let rec_id = registry
            .0
            .register(
                "u-key",
                crate::registry::SchemaType::Avro,
                r#"{"type":"record","name":"K","fields":[{"name":"b","type":"long"},{"name":"a","type":"string"}]}"#,
            )
            .unwrap();
        let single = KeyCodec::new(
            Format::Avro,
            vec![Column { name: "K".into(), ty: SqlType::Int }],
            None,
            Some(&registry),
            "t",
        );
        let mut bytes = vec![0];
        bytes.extend_from_slice(&long_id.to_be_bytes());
        bytes.push(84);
        let mut out = vec![Value::Null];
        single.decode_into(Some(&bytes), &mut out).unwrap();
        assert_eq!(out, vec![Value::Int(42)]);
        let multi = KeyCodec::new(
            Format::Avro,
            vec![Column { name: "A".into(), ty: SqlType::String }, Column { name: "B".into(), ty: SqlType::Bigint }],
            None,
            Some(&registry),
            "u",
        );
        let mut bytes = vec![0];
        bytes.extend_from_slice(&rec_id.to_be_bytes());
        bytes.extend_from_slice(&[4, 2, b'z']);
        let mut out = vec![Value::Null, Value::Null];
        multi.decode_into(Some(&bytes), &mut out).unwrap();
        assert_eq!(out, vec![Value::String("z".into()), Value::Bigint(2)]);
    }

    #[test]
    fn json_sr_keys_in_the_wire_format() {
        let registry = registry();
        let single = KeyCodec::new(
            Format::JsonSr,
            vec![Column { name: "ID".into(), ty: SqlType::String }],
            None,
            Some(&registry),
            "t",
        );
        let bytes = single.encode(&[&Value::String("k".into())], None).unwrap().unwrap();
        assert_eq!(bytes, b"\x00\x00\x00\x00\x01\"k\"");
        let (_, schema) = registry.0.latest("t-key").unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&schema).unwrap(),
            serde_json::json!({"oneOf": [{"type": "null"}, {"type": "string"}]})
        );
        let mut out = vec![Value::Null];
        single.decode_into(Some(&bytes), &mut out).unwrap();
        assert_eq!(out, vec![Value::String("k".into())]);
        let multi = KeyCodec::new(
            Format::JsonSr,
            vec![Column { name: "A".into(), ty: SqlType::Int }, Column { name: "B".into(), ty: SqlType::Int }],
            None,
            Some(&registry),
            "m",
        );
        let bytes = multi.encode(&[&Value::Int(1), &Value::Int(2)], None).unwrap().unwrap();
        assert_eq!(&bytes[5..], br#"{"A":1,"B":2}"#);
        let no_registry = KeyCodec::new(Format::Avro, multi.columns.clone(), None, None, "m");
        assert!(no_registry.encode(&[&Value::Int(1), &Value::Int(2)], None).is_err());
    }

    #[test]
    fn delimited_and_base64() {
        let codec = ValueCodec {
            format: Format::Delimited,
            columns: vec![
                Column { name: "A".into(), ty: SqlType::Int },
                Column { name: "B".into(), ty: SqlType::String },
            ],
            unwrapped: false,
            delimiter: ',',
            needed: Vec::new(),
            names_unique_but_for_case: Default::default(),
            schema: None,
        };
        let mut row = vec![Value::Null; 2];
        codec.decode_into(b"4,\"x,y\"", &mut row).unwrap();
        assert_eq!(row, vec![Value::Int(4), Value::String("x,y".into())]);
        let mut buf = Vec::new();
        codec.encode(&row.iter().collect::<Vec<_>>(), &mut buf).unwrap();
        assert_eq!(buf, b"4,\"x,y\"");
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(unbase64("aGVsbG8=").unwrap(), b"hello");
    }
}
