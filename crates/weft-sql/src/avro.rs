//! The AVRO format: Avro binary in the Confluent wire format (magic byte 0, 4-byte big-endian
//! schema id, Avro datum), with schemas in a schema registry reached through
//! [`crate::registry::SchemaRegistry`].
//!
//! Reading decodes with the *writer's* schema (looked up by the id in each record) and maps record
//! fields onto columns by name, case-insensitively (Avro spec: schema resolution by field name).
//! Writing uses the schema derived from the columns, registered under the subject `<topic>-value`,
//! shaped as ksqlDB derives it: a record `KsqlDataSourceSchema` in the namespace
//! `io.confluent.ksql.avro_schemas`, every field an optional union `["null", T]` defaulting to null,
//! DECIMAL as `bytes` with the `decimal` logical type, TIMESTAMP as `timestamp-millis`, DATE as `date`,
//! TIME as `time-millis`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

use crate::error::{Result, SqlError};
use crate::format::Column;
use crate::registry::{RegistryHandle, SchemaType};
use crate::types::{Decimal, SqlType, Value};

/// A parsed Avro schema (named references resolved).
#[derive(Debug, Clone, PartialEq)]
pub enum AvroSchema {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record {
        name: String,
        fields: Vec<(String, AvroSchema)>,
    },
    Enum {
        symbols: Vec<String>,
    },
    Array(Box<AvroSchema>),
    Map(Box<AvroSchema>),
    Union(Vec<AvroSchema>),
    Fixed {
        size: usize,
    },
    /// `bytes` or `fixed` with the `decimal` logical type.
    Decimal {
        scale: u8,
        fixed: Option<usize>,
    },
    Date,
    TimeMillis,
    TimestampMillis,
    TimestampMicros,
}

fn bad(msg: impl Into<String>) -> SqlError {
    SqlError::Serde(msg.into())
}

impl AvroSchema {
    pub fn parse(text: &str) -> Result<AvroSchema> {
        let j: Json = serde_json::from_str(text).map_err(|e| bad(format!("invalid Avro schema: {e}")))?;
        let mut names = HashMap::new();
        Self::from_json(&j, &mut names, None)
    }

    fn from_json(j: &Json, names: &mut HashMap<String, AvroSchema>, ns: Option<&str>) -> Result<AvroSchema> {
        match j {
            Json::String(s) => Self::primitive(s).map_or_else(
                || {
                    let full = if s.contains('.') { s.clone() } else { ns.map_or(s.clone(), |n| format!("{n}.{s}")) };
                    names
                        .get(&full)
                        .or_else(|| names.get(s))
                        .cloned()
                        .ok_or_else(|| bad(format!("unknown Avro type '{s}'")))
                },
                Ok,
            ),
            Json::Array(items) => {
                Ok(AvroSchema::Union(items.iter().map(|i| Self::from_json(i, names, ns)).collect::<Result<_>>()?))
            }
            Json::Object(o) => {
                let ty = o.get("type").ok_or_else(|| bad("Avro schema object without a type"))?;
                let logical = o.get("logicalType").and_then(Json::as_str);
                let ty_name = ty.as_str().unwrap_or("");
                match (ty_name, logical) {
                    ("bytes", Some("decimal")) | ("fixed", Some("decimal")) => {
                        let scale = o.get("scale").and_then(Json::as_u64).unwrap_or(0) as u8;
                        let fixed = if ty_name == "fixed" {
                            o.get("size").and_then(Json::as_u64).map(|s| s as usize)
                        } else {
                            None
                        };
                        return Ok(AvroSchema::Decimal { scale, fixed });
                    }
                    ("int", Some("date")) => return Ok(AvroSchema::Date),
                    ("int", Some("time-millis")) => return Ok(AvroSchema::TimeMillis),
                    ("long", Some("timestamp-millis")) => return Ok(AvroSchema::TimestampMillis),
                    ("long", Some("timestamp-micros")) => return Ok(AvroSchema::TimestampMicros),
                    _ => {}
                }
                let name = o.get("name").and_then(Json::as_str).map(str::to_string);
                let namespace = o.get("namespace").and_then(Json::as_str).or(ns).map(str::to_string);
                let full = name.as_ref().map(|n| match &namespace {
                    Some(ns) if !n.contains('.') => format!("{ns}.{n}"),
                    _ => n.clone(),
                });
                let schema = match ty_name {
                    "record" | "error" => {
                        let fields =
                            o.get("fields").and_then(Json::as_array).ok_or_else(|| bad("record without fields"))?;
                        let mut out = Vec::new();
                        for f in fields {
                            let fname =
                                f.get("name").and_then(Json::as_str).ok_or_else(|| bad("field without a name"))?;
                            let fty = f.get("type").ok_or_else(|| bad("field without a type"))?;
                            out.push((fname.to_string(), Self::from_json(fty, names, namespace.as_deref())?));
                        }
                        AvroSchema::Record { name: full.clone().unwrap_or_default(), fields: out }
                    }
                    "enum" => AvroSchema::Enum {
                        symbols: o
                            .get("symbols")
                            .and_then(Json::as_array)
                            .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                            .unwrap_or_default(),
                    },
                    "array" => AvroSchema::Array(Box::new(Self::from_json(
                        o.get("items").ok_or_else(|| bad("array without items"))?,
                        names,
                        namespace.as_deref(),
                    )?)),
                    "map" => AvroSchema::Map(Box::new(Self::from_json(
                        o.get("values").ok_or_else(|| bad("map without values"))?,
                        names,
                        namespace.as_deref(),
                    )?)),
                    "fixed" => AvroSchema::Fixed { size: o.get("size").and_then(Json::as_u64).unwrap_or(0) as usize },
                    other => return Self::from_json(&Json::String(other.to_string()), names, ns),
                };
                if let Some(full) = full {
                    names.insert(full, schema.clone());
                }
                Ok(schema)
            }
            _ => Err(bad("invalid Avro schema")),
        }
    }

    fn primitive(s: &str) -> Option<AvroSchema> {
        Some(match s {
            "null" => AvroSchema::Null,
            "boolean" => AvroSchema::Boolean,
            "int" => AvroSchema::Int,
            "long" => AvroSchema::Long,
            "float" => AvroSchema::Float,
            "double" => AvroSchema::Double,
            "bytes" => AvroSchema::Bytes,
            "string" => AvroSchema::String,
            _ => return None,
        })
    }

    /// The SQL type ksqlDB gives an Avro type (optional unions become their non-null branch).
    pub fn sql_type(&self) -> Result<SqlType> {
        Ok(match self {
            AvroSchema::Boolean => SqlType::Boolean,
            AvroSchema::Int => SqlType::Int,
            AvroSchema::Long => SqlType::Bigint,
            AvroSchema::Float | AvroSchema::Double => SqlType::Double,
            AvroSchema::Bytes | AvroSchema::Fixed { .. } => SqlType::Bytes,
            AvroSchema::String | AvroSchema::Enum { .. } => SqlType::String,
            AvroSchema::Decimal { scale, .. } => SqlType::Decimal { precision: 38, scale: *scale },
            AvroSchema::Date => SqlType::Date,
            AvroSchema::TimeMillis => SqlType::Time,
            AvroSchema::TimestampMillis | AvroSchema::TimestampMicros => SqlType::Timestamp,
            AvroSchema::Array(i) => SqlType::Array(Box::new(i.sql_type()?)),
            AvroSchema::Map(v) => SqlType::Map(Box::new(SqlType::String), Box::new(v.sql_type()?)),
            AvroSchema::Record { fields, .. } => SqlType::Struct(
                fields.iter().map(|(n, s)| Ok((n.to_ascii_uppercase(), s.sql_type()?))).collect::<Result<_>>()?,
            ),
            AvroSchema::Union(branches) => {
                let non_null: Vec<&AvroSchema> = branches.iter().filter(|b| **b != AvroSchema::Null).collect();
                match non_null.as_slice() {
                    [one] => one.sql_type()?,
                    _ => return Err(SqlError::Unsupported("Avro unions of several non-null types".into())),
                }
            }
            AvroSchema::Null => return Err(SqlError::Unsupported("Avro null fields".into())),
        })
    }

    /// The columns of a record schema (names upper-cased, as ksqlDB infers them).
    pub fn columns(&self) -> Result<Vec<Column>> {
        match self {
            AvroSchema::Record { fields, .. } => {
                fields.iter().map(|(n, s)| Ok(Column { name: n.to_ascii_uppercase(), ty: s.sql_type()? })).collect()
            }
            other => Ok(vec![Column { name: "ROWVAL".into(), ty: other.sql_type()? }]),
        }
    }
}

/// The Avro type ksqlDB derives for a SQL type (`path` names nested records).
fn avro_type(t: &SqlType, path: &str) -> Json {
    match t {
        SqlType::Boolean => json!("boolean"),
        SqlType::Int => json!("int"),
        SqlType::Bigint => json!("long"),
        SqlType::Double => json!("double"),
        SqlType::String | SqlType::Null => json!("string"),
        SqlType::Bytes => json!("bytes"),
        SqlType::Decimal { precision, scale } => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale})
        }
        SqlType::Timestamp => json!({"type": "long", "logicalType": "timestamp-millis"}),
        SqlType::Date => json!({"type": "int", "logicalType": "date"}),
        SqlType::Time => json!({"type": "int", "logicalType": "time-millis"}),
        SqlType::Array(i) => json!({"type": "array", "items": optional(avro_type(i, path))}),
        SqlType::Map(_, v) => json!({"type": "map", "values": optional(avro_type(v, path))}),
        SqlType::Struct(fields) => json!({
            "type": "record",
            "name": path,
            "fields": fields.iter().map(|(n, t)| {
                json!({"name": n, "type": optional(avro_type(t, &format!("{path}_{n}"))), "default": null})
            }).collect::<Vec<_>>(),
        }),
    }
}

fn optional(t: Json) -> Json {
    json!(["null", t])
}

/// The Avro schema ksqlDB derives for columns.
pub fn schema_for(columns: &[Column]) -> Json {
    json!({
        "type": "record",
        "name": "KsqlDataSourceSchema",
        "namespace": "io.confluent.ksql.avro_schemas",
        "fields": columns.iter().map(|c| {
            json!({
                "name": c.name,
                "type": optional(avro_type(&c.ty, &format!("KsqlDataSourceSchema_{}", c.name))),
                "default": null,
            })
        }).collect::<Vec<_>>(),
    })
}

/// The schema of a single column written unwrapped (ksqlDB's single key column, or a value with
/// `WRAP_SINGLE_VALUE=false`): the column's type itself, a struct being a record in ksqlDB's
/// namespace. A null key is a record without key bytes, so the type is not a union with null.
pub fn unwrapped_schema_for(column: &Column) -> Json {
    match avro_type(&column.ty, "KsqlDataSourceSchema") {
        Json::Object(mut o) if column.ty.is_struct() => {
            o.insert("namespace".into(), json!("io.confluent.ksql.avro_schemas"));
            Json::Object(o)
        }
        other => other,
    }
}

/// Encodes and decodes one source's Avro values.
pub struct AvroCodec {
    registry: RegistryHandle,
    subject: String,
    /// A single column written as a bare datum instead of a one-field record.
    unwrapped: bool,
    /// The id and schema used to write (registered on first use).
    writer: Mutex<Option<(u32, Arc<AvroSchema>)>>,
    /// Writer schemas by id, as met in records.
    readers: Mutex<HashMap<u32, Arc<AvroSchema>>>,
}

impl fmt::Debug for AvroCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AvroCodec({})", self.subject)
    }
}

impl AvroCodec {
    pub fn new(registry: RegistryHandle, subject: String) -> AvroCodec {
        AvroCodec { registry, subject, unwrapped: false, writer: Mutex::new(None), readers: Mutex::new(HashMap::new()) }
    }

    /// A codec writing a single column as a bare datum (ksqlDB's `UNWRAP_SINGLES`), as keys of one
    /// column always are.
    pub fn unwrapped(mut self, unwrapped: bool) -> AvroCodec {
        self.unwrapped = unwrapped;
        self
    }

    /// The id and parsed schema this codec writes with, registering the schema the first time.
    fn writer(&self, columns: &[Column]) -> Result<(u32, Arc<AvroSchema>)> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(x) = &*w {
            return Ok(x.clone());
        }
        let text = match (self.unwrapped, columns) {
            (true, [single]) => unwrapped_schema_for(single),
            _ => schema_for(columns),
        }
        .to_string();
        let id = self.registry.0.register(&self.subject, SchemaType::Avro, &text)?;
        let x = (id, Arc::new(AvroSchema::parse(&text)?));
        *w = Some(x.clone());
        Ok(x)
    }

    /// Registers the schema for `columns` now (sinks register theirs when created, as ksqlDB does).
    pub fn register(&self, columns: &[Column]) -> Result<u32> {
        Ok(self.writer(columns)?.0)
    }

    fn reader_schema(&self, id: u32) -> Result<Arc<AvroSchema>> {
        let mut cache = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = cache.get(&id) {
            return Ok(s.clone());
        }
        let s = Arc::new(AvroSchema::parse(&self.registry.0.schema_by_id(id)?)?);
        cache.insert(id, s.clone());
        Ok(s)
    }

    /// Decodes a wire-format value into `out` (one slot per column).
    pub fn decode_into(&self, columns: &[Column], bytes: &[u8], out: &mut [Value]) -> Result<()> {
        let (id, payload) = crate::registry::split_wire(bytes)?;
        let schema = self.reader_schema(id)?;
        let mut r = Reader { buf: payload, pos: 0 };
        // An unwrapped column reads the whole datum, unless the writer wrapped a non-struct column
        // in a record anyway (then its fields map onto the column by name, as for wrapped data).
        let whole = match (self.unwrapped, columns, schema.as_ref()) {
            (true, [c], AvroSchema::Record { .. }) => c.ty.is_struct(),
            (true, [_], _) => true,
            _ => false,
        };
        if whole {
            out[0] = read_datum(&mut r, &schema, Some(&columns[0].ty))?;
            return Ok(());
        }
        match schema.as_ref() {
            AvroSchema::Record { fields, .. } => {
                out.iter_mut().for_each(|v| *v = Value::Null);
                for (name, fs) in fields {
                    let target = columns
                        .iter()
                        .position(|c| c.name == *name)
                        .or_else(|| columns.iter().position(|c| c.name.eq_ignore_ascii_case(name)));
                    let ty = target.map(|i| &columns[i].ty);
                    let v = read_datum(&mut r, fs, ty)?;
                    if let Some(i) = target {
                        out[i] = v;
                    }
                }
            }
            other => {
                if let Some(c) = columns.first() {
                    out[0] = read_datum(&mut r, other, Some(&c.ty))?;
                }
            }
        }
        Ok(())
    }

    /// Encodes values (one per column) in the wire format, registering the schema on first use.
    pub fn encode(&self, columns: &[Column], values: &[&Value], buf: &mut Vec<u8>) -> Result<()> {
        let (id, schema) = self.writer(columns)?;
        buf.push(0);
        buf.extend_from_slice(&id.to_be_bytes());
        match schema.as_ref() {
            AvroSchema::Record { fields, .. } if !(self.unwrapped && columns.len() == 1) => {
                for ((_, fs), v) in fields.iter().zip(values) {
                    write_datum(buf, fs, v)?;
                }
                Ok(())
            }
            single => write_datum(buf, single, values.first().copied().unwrap_or(&Value::Null)),
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(|| bad("truncated Avro value"))?;
        self.pos += 1;
        Ok(b)
    }

    fn long(&mut self) -> Result<i64> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift >= 64 {
                return Err(bad("Avro varint too long"));
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end =
            self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or_else(|| bad("truncated Avro value"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn len(&mut self) -> Result<usize> {
        usize::try_from(self.long()?).map_err(|_| bad("negative Avro length"))
    }
}

fn read_datum(r: &mut Reader, s: &AvroSchema, target: Option<&SqlType>) -> Result<Value> {
    let v = match s {
        AvroSchema::Null => Value::Null,
        AvroSchema::Boolean => Value::Bool(r.byte()? != 0),
        AvroSchema::Int => Value::Int(r.long()? as i32),
        AvroSchema::Long => Value::Bigint(r.long()?),
        AvroSchema::Float => {
            Value::Double(f64::from(f32::from_le_bytes(r.take(4)?.try_into().map_err(|_| bad("float"))?)))
        }
        AvroSchema::Double => Value::Double(f64::from_le_bytes(r.take(8)?.try_into().map_err(|_| bad("double"))?)),
        AvroSchema::Bytes => {
            let n = r.len()?;
            Value::Bytes(r.take(n)?.to_vec())
        }
        AvroSchema::Fixed { size } => Value::Bytes(r.take(*size)?.to_vec()),
        AvroSchema::String => {
            let n = r.len()?;
            Value::String(String::from_utf8(r.take(n)?.to_vec()).map_err(|_| bad("Avro string is not UTF-8"))?)
        }
        AvroSchema::Enum { symbols } => {
            let i = r.long()?;
            Value::String(symbols.get(i as usize).cloned().ok_or_else(|| bad("Avro enum index out of range"))?)
        }
        AvroSchema::Decimal { scale, fixed } => {
            let n = match fixed {
                Some(n) => *n,
                None => r.len()?,
            };
            let bytes = r.take(n)?;
            if bytes.len() > 16 {
                return Err(bad("Avro decimal too large"));
            }
            let mut unscaled: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) { -1 } else { 0 };
            for b in bytes {
                unscaled = (unscaled << 8) | i128::from(*b);
            }
            Value::Decimal(Decimal { unscaled, scale: *scale })
        }
        AvroSchema::Date => Value::Date(r.long()? as i32),
        AvroSchema::TimeMillis => Value::Time(r.long()?),
        AvroSchema::TimestampMillis => Value::Timestamp(r.long()?),
        AvroSchema::TimestampMicros => Value::Timestamp(r.long()? / 1000),
        AvroSchema::Array(items) => {
            let inner = match target {
                Some(SqlType::Array(t)) => Some(t.as_ref()),
                _ => None,
            };
            let mut out = Vec::new();
            loop {
                let mut n = r.long()?;
                if n == 0 {
                    break;
                }
                if n < 0 {
                    n = -n;
                    r.long()?;
                }
                for _ in 0..n {
                    out.push(read_datum(r, items, inner)?);
                }
            }
            Value::Array(out)
        }
        AvroSchema::Map(values) => {
            let inner = match target {
                Some(SqlType::Map(_, t)) => Some(t.as_ref()),
                _ => None,
            };
            let mut out = BTreeMap::new();
            loop {
                let mut n = r.long()?;
                if n == 0 {
                    break;
                }
                if n < 0 {
                    n = -n;
                    r.long()?;
                }
                for _ in 0..n {
                    let kn = r.len()?;
                    let k = String::from_utf8(r.take(kn)?.to_vec()).map_err(|_| bad("Avro map key is not UTF-8"))?;
                    out.insert(k, read_datum(r, values, inner)?);
                }
            }
            Value::Map(out)
        }
        AvroSchema::Record { fields, .. } => {
            let defs = match target {
                Some(SqlType::Struct(d)) => Some(d),
                _ => None,
            };
            let mut out = vec![Value::Null; defs.map_or(fields.len(), Vec::len)];
            for (i, (name, fs)) in fields.iter().enumerate() {
                let slot = match defs {
                    Some(d) => d.iter().position(|(n, _)| n == name || n.eq_ignore_ascii_case(name)),
                    None => Some(i),
                };
                let ty = match (defs, slot) {
                    (Some(d), Some(j)) => Some(&d[j].1),
                    _ => None,
                };
                let v = read_datum(r, fs, ty)?;
                if let Some(j) = slot {
                    out[j] = v;
                }
            }
            Value::Struct(out)
        }
        AvroSchema::Union(branches) => {
            let i = r.long()?;
            let b = branches.get(i as usize).ok_or_else(|| bad("Avro union index out of range"))?;
            return read_datum(r, b, target);
        }
    };
    // Coerce to the column's type (e.g. an Avro int read into a BIGINT column).
    Ok(match target {
        Some(t) if !v.is_null() && !matches!(t, SqlType::Struct(_) | SqlType::Array(_) | SqlType::Map(..)) => {
            let c = crate::functions::cast_value(&v, t);
            if c.is_null() {
                v
            } else {
                c
            }
        }
        _ => v,
    })
}

fn write_long(buf: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        if n & !0x7f == 0 {
            buf.push(n as u8);
            return;
        }
        buf.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
}

fn write_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    write_long(buf, b.len() as i64);
    buf.extend_from_slice(b);
}

fn write_datum(buf: &mut Vec<u8>, s: &AvroSchema, v: &Value) -> Result<()> {
    let mismatch = || bad(format!("cannot write {v:?} as Avro {s:?}"));
    match (s, v) {
        (AvroSchema::Union(branches), v) => {
            let i = if v.is_null() {
                branches.iter().position(|b| *b == AvroSchema::Null)
            } else {
                branches.iter().position(|b| *b != AvroSchema::Null)
            }
            .ok_or_else(mismatch)?;
            write_long(buf, i as i64);
            write_datum(buf, &branches[i], v)
        }
        (AvroSchema::Null, Value::Null) => Ok(()),
        (AvroSchema::Boolean, Value::Bool(b)) => {
            buf.push(u8::from(*b));
            Ok(())
        }
        (
            AvroSchema::Int
            | AvroSchema::Long
            | AvroSchema::Date
            | AvroSchema::TimeMillis
            | AvroSchema::TimestampMillis,
            v,
        ) => {
            write_long(buf, v.as_i64().ok_or_else(mismatch)?);
            Ok(())
        }
        (AvroSchema::Double, v) => {
            buf.extend_from_slice(&v.as_f64().ok_or_else(mismatch)?.to_le_bytes());
            Ok(())
        }
        (AvroSchema::Float, v) => {
            buf.extend_from_slice(&(v.as_f64().ok_or_else(mismatch)? as f32).to_le_bytes());
            Ok(())
        }
        (AvroSchema::String, Value::String(s)) => {
            write_bytes(buf, s.as_bytes());
            Ok(())
        }
        (AvroSchema::Bytes, Value::Bytes(b)) => {
            write_bytes(buf, b);
            Ok(())
        }
        (AvroSchema::Decimal { scale, .. }, Value::Decimal(d)) => {
            let d = d.rescale(*scale).ok_or_else(mismatch)?;
            let bytes = d.unscaled.to_be_bytes();
            // Minimal two's complement: drop redundant sign bytes.
            let mut start = 0;
            while start < 15
                && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
                    || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
            {
                start += 1;
            }
            write_bytes(buf, &bytes[start..]);
            Ok(())
        }
        (AvroSchema::Array(items), Value::Array(vs)) => {
            if !vs.is_empty() {
                write_long(buf, vs.len() as i64);
                for x in vs {
                    write_datum(buf, items, x)?;
                }
            }
            write_long(buf, 0);
            Ok(())
        }
        (AvroSchema::Map(values), Value::Map(m)) => {
            if !m.is_empty() {
                write_long(buf, m.len() as i64);
                for (k, x) in m {
                    write_bytes(buf, k.as_bytes());
                    write_datum(buf, values, x)?;
                }
            }
            write_long(buf, 0);
            Ok(())
        }
        (AvroSchema::Record { fields, .. }, Value::Struct(vs)) => {
            for ((_, fs), x) in fields.iter().zip(vs.iter().chain(std::iter::repeat(&Value::Null))) {
                write_datum(buf, fs, x)?;
            }
            Ok(())
        }
        _ => Err(mismatch()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::SchemaRegistry;

    /// An in-memory registry for tests.
    #[derive(Default)]
    pub struct MemoryRegistry {
        schemas: Mutex<Vec<(String, String)>>,
    }

    impl SchemaRegistry for MemoryRegistry {
        fn register(&self, subject: &str, _schema_type: SchemaType, schema: &str) -> Result<u32> {
            let mut s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = s.iter().position(|(sub, sch)| sub == subject && sch == schema) {
                return Ok(i as u32 + 1);
            }
            s.push((subject.to_string(), schema.to_string()));
            Ok(s.len() as u32)
        }
        fn schema_by_id(&self, id: u32) -> Result<String> {
            let s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
            s.get(id as usize - 1).map(|x| x.1.clone()).ok_or_else(|| bad("no such schema"))
        }
        fn latest(&self, subject: &str) -> Result<(u32, String)> {
            let s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
            s.iter()
                .enumerate()
                .rev()
                .find(|(_, (sub, _))| sub == subject)
                .map(|(i, (_, sch))| (i as u32 + 1, sch.clone()))
                .ok_or_else(|| bad("no such subject"))
        }
    }

    #[test]
    fn round_trip_through_the_wire_format() {
        let registry = RegistryHandle(Arc::new(MemoryRegistry::default()));
        let columns = vec![
            Column { name: "A".into(), ty: SqlType::Int },
            Column { name: "B".into(), ty: SqlType::String },
            Column { name: "C".into(), ty: SqlType::Decimal { precision: 5, scale: 2 } },
            Column { name: "D".into(), ty: SqlType::Array(Box::new(SqlType::Bigint)) },
            Column { name: "E".into(), ty: SqlType::Struct(vec![("X".into(), SqlType::Double)]) },
            Column { name: "F".into(), ty: SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Boolean)) },
        ];
        let values = vec![
            Value::Int(-7),
            Value::Null,
            Value::Decimal(Decimal { unscaled: -12345, scale: 2 }),
            Value::Array(vec![Value::Bigint(1), Value::Bigint(300)]),
            Value::Struct(vec![Value::Double(1.5)]),
            Value::Map(BTreeMap::from([("k".to_string(), Value::Bool(true))])),
        ];
        let codec = AvroCodec::new(registry.clone(), "t-value".into());
        let mut buf = Vec::new();
        codec.encode(&columns, &values.iter().collect::<Vec<_>>(), &mut buf).unwrap();
        assert_eq!(&buf[..5], &[0, 0, 0, 0, 1]);
        let mut out = vec![Value::Null; columns.len()];
        let reader = AvroCodec::new(registry.clone(), "t-value".into());
        reader.decode_into(&columns, &buf, &mut out).unwrap();
        assert_eq!(out, values);
        let (_, latest) = registry.0.latest("t-value").unwrap();
        let inferred = AvroSchema::parse(&latest).unwrap().columns().unwrap();
        assert_eq!(inferred[0], Column { name: "A".into(), ty: SqlType::Int });
        assert!(reader.decode_into(&columns, b"\x01\x00\x00\x00\x01", &mut out).is_err());
        assert!(reader.decode_into(&columns, &buf[..8], &mut out).is_err());
    }

    #[test]
    fn decodes_with_the_writers_schema() {
        let registry = Arc::new(MemoryRegistry::default());
        let id = registry
            .register(
                "t-value",
                SchemaType::Avro,
                r#"{"type":"record","name":"R","fields":[{"name":"b","type":"string"},{"name":"a","type":"int"}]}"#,
            )
            .unwrap();
        let mut bytes = vec![0];
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&[0x04, b'h', b'i', 0x0a]);
        let columns =
            vec![Column { name: "A".into(), ty: SqlType::Bigint }, Column { name: "B".into(), ty: SqlType::String }];
        let codec = AvroCodec::new(RegistryHandle(registry), "t-value".into());
        let mut out = vec![Value::Null; 2];
        codec.decode_into(&columns, &bytes, &mut out).unwrap();
        assert_eq!(out, vec![Value::Bigint(5), Value::String("hi".into())]);
    }

    #[test]
    fn parses_named_types_and_logical_types() {
        let s = AvroSchema::parse(
            r#"{"type":"record","name":"R","namespace":"n","fields":[
                {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
                {"name":"inner","type":{"type":"record","name":"I","fields":[{"name":"v","type":"int"}]}},
                {"name":"again","type":["null","I"]},
                {"name":"color","type":{"type":"enum","name":"C","symbols":["RED","GREEN"]}}]}"#,
        )
        .unwrap();
        let cols = s.columns().unwrap();
        assert_eq!(cols[0].ty, SqlType::Timestamp);
        assert_eq!(cols[2].ty, SqlType::Struct(vec![("V".into(), SqlType::Int)]));
        assert_eq!(cols[3], Column { name: "COLOR".into(), ty: SqlType::String });
    }
}
