//! Streams and tables the engine knows, and how a record of one becomes a row.
//!
//! A source row is laid out as: key columns, value columns, then the pseudo-columns `ROWTIME`,
//! `ROWPARTITION`, `ROWOFFSET`, and for windowed sources `WINDOWSTART`, `WINDOWEND`.

use serde::{Deserialize, Serialize};
use weft_log::StoredRecord;

use crate::ast::SourceKind;
use crate::error::{Result, SqlError};
use crate::expr::{Scope, ScopeColumn};
use crate::format::{Column, Format, KeyCodec, ValueCodec, WindowType};
use crate::types::{SqlType, Value};

pub const ROWTIME: &str = "ROWTIME";
pub const ROWPARTITION: &str = "ROWPARTITION";
pub const ROWOFFSET: &str = "ROWOFFSET";
pub const WINDOWSTART: &str = "WINDOWSTART";
pub const WINDOWEND: &str = "WINDOWEND";

/// Names users may not give columns.
pub const RESERVED_COLUMNS: &[&str] = &[ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND];

/// The window of a windowed source's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub kind: WindowType,
    /// Size of time windows (their end is start + size); `None` for sessions.
    pub size_ms: Option<i64>,
    /// Time windows that hop (`HOPPING`) rather than tumble: only how messages name them.
    #[serde(default)]
    pub hopping: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Stream,
    Table,
}

impl From<SourceKind> for Kind {
    fn from(k: SourceKind) -> Kind {
        match k {
            SourceKind::Stream => Kind::Stream,
            SourceKind::Table => Kind::Table,
        }
    }
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stream => "STREAM",
            Kind::Table => "TABLE",
        }
    }
}

/// A stream or table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDef {
    pub name: String,
    pub kind: Kind,
    pub topic: String,
    pub key_columns: Vec<Column>,
    pub value_columns: Vec<Column>,
    pub key_format: Format,
    pub value_format: Format,
    #[serde(default)]
    pub unwrap_single_value: bool,
    /// The last `headers.len()` value columns are filled from the record's headers, not its value:
    /// `None` for a `HEADERS` column (every header, as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`),
    /// `Some(k)` for a `HEADER('k')` column (the last header `k`'s bytes).
    #[serde(default)]
    pub headers: Vec<Option<String>>,
    /// The character between a DELIMITED value's fields (`VALUE_DELIMITER`).
    #[serde(default = "comma")]
    pub value_delimiter: char,
    /// The character between a DELIMITED key's fields (`KEY_DELIMITER`).
    #[serde(default = "comma")]
    pub key_delimiter: char,
    /// The full names of the AVRO records derived for the key and the value
    /// (`KEY_SCHEMA_FULL_NAME`, `VALUE_AVRO_SCHEMA_FULL_NAME`); ksqlDB's default without.
    #[serde(default)]
    pub key_schema_full_name: Option<String>,
    #[serde(default)]
    pub value_schema_full_name: Option<String>,
    /// The registered value schema a C*AS pins (`VALUE_SCHEMA_ID`): its records are written with
    /// it, not with a schema derived from its columns. (Its keys are still written with their
    /// own: `KEY_SCHEMA_ID` is only checked against the key columns.)
    #[serde(default)]
    pub value_schema_id: Option<u32>,
    pub window: Option<WindowInfo>,
    /// The value column that gives the record time instead of the record timestamp.
    pub timestamp_column: Option<String>,
    pub timestamp_format: Option<String>,
    pub partitions: u32,
    /// The statement that created the source.
    pub statement: String,
    /// The persistent query writing the source, for CREATE ... AS SELECT.
    pub query_id: Option<String>,
    pub read_only: bool,
    /// Where AVRO schemas live (set by the engine; not persisted).
    #[serde(skip)]
    pub registry: Option<crate::registry::RegistryHandle>,
}

fn comma() -> char {
    ','
}

impl SourceDef {
    pub fn data_width(&self) -> usize {
        self.key_columns.len() + self.value_columns.len()
    }

    /// Width of a source row including pseudo-columns.
    pub fn row_width(&self) -> usize {
        self.data_width() + if self.window.is_some() { 5 } else { 3 }
    }

    pub fn rowtime_index(&self) -> usize {
        self.data_width()
    }

    /// The columns expressions over this source see, qualified by `qualifier`.
    pub fn scope(&self, qualifier: &str) -> Scope {
        let q = Some(qualifier.to_string());
        let mut columns: Vec<ScopeColumn> = self
            .key_columns
            .iter()
            .chain(&self.value_columns)
            .map(|c| ScopeColumn { qualifier: q.clone(), name: c.name.clone(), ty: c.ty.clone() })
            .collect();
        let mut pseudo = vec![(ROWTIME, SqlType::Bigint), (ROWPARTITION, SqlType::Int), (ROWOFFSET, SqlType::Bigint)];
        if self.window.is_some() {
            pseudo.push((WINDOWSTART, SqlType::Bigint));
            pseudo.push((WINDOWEND, SqlType::Bigint));
        }
        for (name, ty) in pseudo {
            columns.push(ScopeColumn { qualifier: q.clone(), name: name.to_string(), ty });
        }
        Scope { columns }
    }

    /// Whether `name` is a key column.
    pub fn is_key(&self, name: &str) -> bool {
        self.key_columns.iter().any(|c| c.name == name)
    }

    /// The key codec; a source's (not a sink's) writes with a registered schema that fits.
    pub fn key_codec(&self) -> KeyCodec {
        KeyCodec::writing(
            self.key_format,
            self.key_columns.clone(),
            self.window.map(|w| w.kind),
            self.registry.as_ref(),
            &self.topic,
            self.query_id.is_none(),
            self.key_schema_full_name.as_deref(),
        )
        .delimited_by(self.key_delimiter)
    }

    /// The value columns the record's value holds (all but the header columns).
    pub fn encoded_value_columns(&self) -> &[Column] {
        &self.value_columns[..self.value_columns.len().saturating_sub(self.headers.len())]
    }

    /// The value columns filled from record headers, with the header key of each.
    pub fn header_columns(&self) -> impl Iterator<Item = (&Column, Option<&str>)> {
        self.value_columns[self.encoded_value_columns().len()..].iter().zip(self.headers.iter().map(Option::as_deref))
    }

    /// The value codec; a source's (not a sink's) writes with a registered schema that fits.
    pub fn value_codec(&self) -> ValueCodec {
        let columns = self.encoded_value_columns();
        let unwrapped = self.unwrap_single_value && columns.len() == 1;
        ValueCodec {
            format: self.value_format,
            columns: columns.to_vec(),
            unwrapped,
            delimiter: self.value_delimiter,
            needed: Vec::new(),
            names_unique_but_for_case: Default::default(),
            schema: match (self.value_format, &self.registry) {
                (Format::Avro, Some(r)) => Some(std::sync::Arc::new(crate::registry::SchemaCodec::Avro(
                    crate::avro::AvroCodec::new(r.clone(), format!("{}-value", self.topic))
                        .unwrapped(unwrapped)
                        .prefer_registered(self.query_id.is_none())
                        .pinned(self.value_schema_id)
                        .named(self.value_schema_full_name.as_deref()),
                ))),
                (Format::JsonSr, Some(r)) => Some(std::sync::Arc::new(crate::registry::SchemaCodec::JsonSr(
                    crate::registry::JsonSrWriter::new(r.clone(), format!("{}-value", self.topic))
                        .unwrapped(unwrapped)
                        .prefer_registered(self.query_id.is_none())
                        .pinned(self.value_schema_id),
                ))),
                (Format::Protobuf, Some(r)) => Some(std::sync::Arc::new(crate::registry::SchemaCodec::Protobuf(
                    crate::protobuf::ProtobufCodec::registered(r.clone(), format!("{}-value", self.topic))
                        .prefer_registered(self.query_id.is_none())
                        .pinned(self.value_schema_id)
                        .named(self.value_schema_full_name.as_deref())
                        .nullable(crate::protobuf::nullable_of(&self.statement, "VALUE")),
                ))),
                (Format::ProtobufNoSr, _) => Some(std::sync::Arc::new(crate::registry::SchemaCodec::Protobuf(
                    crate::protobuf::ProtobufCodec::without_registry()
                        .named(self.value_schema_full_name.as_deref())
                        .nullable(crate::protobuf::nullable_of(&self.statement, "VALUE")),
                ))),
                _ => None,
            },
        }
    }

    pub fn reader(&self) -> Result<SourceReader> {
        let timestamp = match &self.timestamp_column {
            Some(name) => {
                let index = self
                    .value_columns
                    .iter()
                    .position(|c| &c.name == name)
                    .map(|i| i + self.key_columns.len())
                    .or_else(|| self.key_columns.iter().position(|c| &c.name == name))
                    .ok_or_else(|| SqlError::analysis(format!("TIMESTAMP column '{name}' does not exist")))?;
                Some((index, self.timestamp_format.clone()))
            }
            None => None,
        };
        Ok(SourceReader {
            key: self.key_codec(),
            value: self.value_codec(),
            headers: self.headers.clone(),
            key_width: self.key_columns.len(),
            width: self.row_width(),
            data_width: self.data_width(),
            window: self.window,
            timestamp,
        })
    }
}

/// The record time a TIMESTAMP column gives (a number of milliseconds, a TIMESTAMP, or text in
/// `format`). A null, unparsable or negative time is an error: Kafka Streams skips such records
/// (ksqlDB's extractor, with `ksql.timestamp.throw.on.invalid` off, logs and skips them), on the
/// way in and, for a sink's TIMESTAMP column, on the way out.
pub fn column_timestamp(v: &Value, format: Option<&str>) -> std::result::Result<i64, DecodeError> {
    let ms = match (v, format) {
        (Value::Bigint(ms) | Value::Timestamp(ms), _) => *ms,
        (Value::Int(ms), _) => i64::from(*ms),
        (Value::String(s), Some(fmt)) => crate::functions::parse_millis(s, fmt, 0).ok_or_else(|| {
            DecodeError::InvalidTimestamp(format!("cannot parse timestamp '{s}' with format '{fmt}'"))
        })?,
        (Value::String(s), None) => s
            .parse::<i64>()
            .ok()
            .or_else(|| crate::functions::parse_iso_timestamp(s))
            .ok_or_else(|| DecodeError::InvalidTimestamp(format!("cannot parse timestamp '{s}'")))?,
        (Value::Null, _) => return Err(DecodeError::InvalidTimestamp("the TIMESTAMP column is null".into())),
        (other, _) => return Err(DecodeError::InvalidTimestamp(format!("invalid TIMESTAMP column value {other:?}"))),
    };
    if ms < 0 {
        return Err(DecodeError::NegativeTimestamp(ms));
    }
    Ok(ms)
}

/// Why a record gave no row. Each is counted and the record skipped, as ksqlDB's processing log
/// does, except an invalid timestamp under `ksql.timestamp.throw.on.invalid`, which stops the query
/// (the runtime decides, see [`DecodeError::fails_query`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The key or value does not read in the source's format (ksqlDB's deserialization handler
    /// logs and continues).
    #[error("{0}")]
    Format(String),
    /// The TIMESTAMP column is null or not a time: ksqlDB's timestamp extractor threw.
    #[error("{0}")]
    InvalidTimestamp(String),
    /// The TIMESTAMP column gives a time before the epoch, which Kafka Streams skips (its extractor
    /// did not fail, so this never stops a query).
    #[error("the TIMESTAMP column gives a negative time ({0})")]
    NegativeTimestamp(i64),
}

impl DecodeError {
    /// Whether this stops the query when `ksql.timestamp.throw.on.invalid` is on.
    pub fn fails_query(&self, throw_on_invalid_timestamp: bool) -> bool {
        throw_on_invalid_timestamp && matches!(self, DecodeError::InvalidTimestamp(_))
    }

    /// The error that stops the query over `record`: Kafka Streams' words for a timestamp
    /// extractor that threw, which ksqlDB's tests expect.
    pub fn into_query_error(self, topic: &str, partition: u32, offset: u64) -> SqlError {
        SqlError::TimestampExtractor { record: format!("{topic}-{partition}@{offset}"), reason: self.to_string() }
    }
}

impl From<SqlError> for DecodeError {
    fn from(e: SqlError) -> DecodeError {
        DecodeError::Format(e.to_string())
    }
}

/// A header column's value: every header of the record as `{KEY, VALUE}` structs (`key` `None`), or
/// the bytes of the last header named `key` (null without one). The engine's own bookkeeping header
/// is no user data and never shown.
fn header_value(headers: &[weft_log::Header], key: Option<&str>) -> Value {
    let mut user = headers.iter().filter(|h| h.key != crate::runtime::ORIGIN_HEADER);
    let bytes = |h: &weft_log::Header| h.value.clone().map_or(Value::Null, Value::Bytes);
    match key {
        None => Value::Array(user.map(|h| Value::Struct(vec![Value::String(h.key.clone()), bytes(h)])).collect()),
        Some(k) => user.rfind(|h| h.key == k).map_or(Value::Null, bytes),
    }
}

/// The type of a `HEADERS` column.
pub fn headers_type() -> SqlType {
    SqlType::Array(Box::new(SqlType::Struct(vec![("KEY".into(), SqlType::String), ("VALUE".into(), SqlType::Bytes)])))
}

/// What decoding one record gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// The row is filled in.
    Row,
    /// A null value: a table deletion (the key columns and pseudo-columns are filled in).
    Tombstone,
}

/// Decodes records of one source into rows.
#[derive(Debug, Clone)]
pub struct SourceReader {
    key: KeyCodec,
    value: ValueCodec,
    /// The header columns, last among the value columns (see [`SourceDef::headers`]).
    headers: Vec<Option<String>>,
    key_width: usize,
    data_width: usize,
    width: usize,
    window: Option<WindowInfo>,
    timestamp: Option<(usize, Option<String>)>,
}

impl SourceReader {
    pub fn width(&self) -> usize {
        self.width
    }

    /// Restricts JSON decoding to the columns `mask` (over the source row) marks; the others are
    /// skipped without being materialized. The TIMESTAMP column is always decoded.
    pub fn set_needed(&mut self, mask: &[bool]) {
        let mut needed: Vec<bool> = (0..self.data_width - self.key_width - self.headers.len())
            .map(|i| mask.get(self.key_width + i).copied().unwrap_or(true))
            .collect();
        if let Some((ts, _)) = &self.timestamp {
            if let Some(slot) = ts.checked_sub(self.key_width).and_then(|i| needed.get_mut(i)) {
                *slot = true;
            }
        }
        self.value.needed = needed;
    }

    /// Decodes `record` of `partition` into `row` (resized to the source's row width).
    pub fn decode(
        &self,
        record: &StoredRecord,
        partition: u32,
        row: &mut Vec<Value>,
    ) -> std::result::Result<Decoded, DecodeError> {
        // Slots are overwritten in place so string buffers are reused from record to record.
        if row.len() != self.width {
            row.clear();
            row.resize(self.width, Value::Null);
        }
        let bounds = self.key.decode_into(record.key.as_deref(), &mut row[..self.key_width])?;
        let values = &mut row[self.key_width..self.data_width];
        let (values, header_slots) = values.split_at_mut(values.len() - self.headers.len());
        let outcome = match &record.value {
            Some(v) => {
                if let Err(e) = self.value.decode_into(v, values) {
                    values.iter_mut().for_each(|v| *v = Value::Null);
                    return Err(e.into());
                }
                Decoded::Row
            }
            None => {
                values.iter_mut().for_each(|v| *v = Value::Null);
                Decoded::Tombstone
            }
        };
        for (slot, key) in header_slots.iter_mut().zip(&self.headers) {
            *slot = header_value(&record.headers, key.as_deref());
        }
        let mut rowtime = record.timestamp;
        if let (Some((index, format)), Decoded::Row) = (&self.timestamp, outcome) {
            rowtime = column_timestamp(&row[*index], format.as_deref())?;
        }
        let d = self.data_width;
        row[d] = Value::Bigint(rowtime);
        row[d + 1] = Value::Int(partition as i32);
        row[d + 2] = Value::Bigint(record.offset as i64);
        if let Some(w) = self.window {
            match bounds {
                Some(b) => {
                    let end = match w.size_ms {
                        Some(size) => b.start + size,
                        None => b.end,
                    };
                    row[d + 3] = Value::Bigint(b.start);
                    row[d + 4] = Value::Bigint(end);
                }
                None => {
                    row[d + 3] = Value::Null;
                    row[d + 4] = Value::Null;
                }
            }
        }
        Ok(outcome)
    }
}
