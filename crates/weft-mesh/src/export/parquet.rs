//! Parquet without arrow: the schema's types as Parquet types, records shredded into column chunks
//! (Dremel's definition and repetition levels) for the low-level column writers, one row group per
//! [`EXPORT_BATCH`] rows.
//!
//! Types (Parquet's `LogicalTypes.md`):
//!
//! | schema ([`FieldType`]) | Parquet |
//! |---|---|
//! | boolean, int, long, float, double | `BOOLEAN`, `INT32`, `INT64`, `FLOAT`, `DOUBLE` |
//! | string (Avro enum and uuid too) | `BYTE_ARRAY` `STRING` |
//! | bytes, fixed | `BYTE_ARRAY` |
//! | decimal(p, s) | `DECIMAL(p, s)` on `INT32` (p ≤ 9), `INT64` (p ≤ 18), else `BYTE_ARRAY` |
//! | date | `INT32` `DATE` |
//! | time-millis, time-micros | `INT32` `TIME(MILLIS)`, `INT64` `TIME(MICROS)` |
//! | timestamp-*, local-timestamp-*, JSON Schema `date-time` | `INT64` `TIMESTAMP(unit, UTC or local)`; `date-time` in micros |
//! | record | group |
//! | array | `LIST` (three-level: `list` repeated, `element`) |
//! | map | `MAP` (`key_value` repeated, `key` a required string, `value`) |
//! | anything else | `BYTE_ARRAY` `STRING` holding the value's JSON text |
//!
//! Nullable fields are `OPTIONAL`, the others `REQUIRED`, except at the top: every value column is
//! `OPTIONAL`, since a tombstone (or a record written before the schema) has no such field.
//!
//! Values are read in the record's JSON form (Avro's JSON mapping: bytes and decimals as one code
//! point per byte; JSON Schema `date-time` and `date` as RFC 3339 text); timestamps and dates are also
//! read from text, decimals also from JSON numbers. **A value that does not fit its declared type**
//! (a string where a long belongs, a decimal with more digits than its precision, a timestamp that
//! does not parse) is written as null at the nearest nullable level that holds it (the field itself,
//! or the record, list or map it is in), and counted: the file's key-value metadata
//! `weft.export.unfit` is a JSON object of counts by field path (`{}` when everything fit), so an
//! export never fails halfway through a download, and never hides what it dropped.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, TimeUnit as ParquetUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde_json::Value;
use weft_schema::{FieldType, TimeUnit};

use super::{cell_text, io_error, Column, EXPORT_BATCH};
use crate::records::DataRecord;

/// The key-value metadata that counts the values written as null because they did not fit.
pub const UNFIT_KEY: &str = "weft.export.unfit";

/// How a leaf column's values are read from JSON and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Text,
    /// The value's JSON text (strings as they are).
    Json,
    Bytes,
    Decimal {
        precision: u32,
        scale: u32,
    },
    Date,
    Time(TimeUnit),
    Timestamp {
        unit: TimeUnit,
        utc: bool,
    },
}

impl Leaf {
    fn physical(self) -> Physical {
        match self {
            Leaf::Boolean => Physical::BOOLEAN,
            Leaf::Int | Leaf::Date | Leaf::Time(TimeUnit::Millis) => Physical::INT32,
            Leaf::Long | Leaf::Time(TimeUnit::Micros) | Leaf::Timestamp { .. } => Physical::INT64,
            Leaf::Float => Physical::FLOAT,
            Leaf::Double => Physical::DOUBLE,
            Leaf::Text | Leaf::Json | Leaf::Bytes => Physical::BYTE_ARRAY,
            Leaf::Decimal { precision, .. } if precision <= 9 => Physical::INT32,
            Leaf::Decimal { precision, .. } if precision <= 18 => Physical::INT64,
            Leaf::Decimal { .. } => Physical::BYTE_ARRAY,
        }
    }

    fn logical(self) -> Option<LogicalType> {
        let unit = |u| match u {
            TimeUnit::Millis => ParquetUnit::MILLIS,
            TimeUnit::Micros => ParquetUnit::MICROS,
        };
        match self {
            Leaf::Text | Leaf::Json => Some(LogicalType::String),
            Leaf::Decimal { precision, scale } => Some(LogicalType::decimal(scale as i32, precision as i32)),
            Leaf::Date => Some(LogicalType::Date),
            Leaf::Time(u) => Some(LogicalType::time(true, unit(u))),
            Leaf::Timestamp { unit: u, utc } => Some(LogicalType::timestamp(utc, unit(u))),
            Leaf::Boolean | Leaf::Int | Leaf::Long | Leaf::Float | Leaf::Double | Leaf::Bytes => None,
        }
    }

    /// The value as this leaf stores it; `None` when it does not fit.
    fn convert(self, value: &Value) -> Option<Scalar> {
        Some(match self {
            Leaf::Boolean => Scalar::Boolean(value.as_bool()?),
            Leaf::Int => Scalar::Int32(i32::try_from(integer(value)?).ok()?),
            Leaf::Long => Scalar::Int64(integer(value)?),
            // An Avro float reaches JSON as the double of that float, so this is exact.
            Leaf::Float => Scalar::Float(value.as_f64()? as f32),
            Leaf::Double => Scalar::Double(value.as_f64()?),
            Leaf::Text => Scalar::Bytes(value.as_str()?.as_bytes().to_vec()),
            Leaf::Json => Scalar::Bytes(cell_text(value).into_bytes()),
            Leaf::Bytes => Scalar::Bytes(latin1(value.as_str()?)?),
            Leaf::Decimal { precision, scale } => {
                let unscaled = match value {
                    Value::String(text) => unscaled_of_bytes(&latin1(text)?)?,
                    Value::Number(n) => unscaled_of_text(&n.to_string(), scale)?,
                    _ => return None,
                };
                if precision <= 38 && unscaled.unsigned_abs() >= 10u128.pow(precision) {
                    return None;
                }
                match self.physical() {
                    Physical::INT32 => Scalar::Int32(i32::try_from(unscaled).ok()?),
                    Physical::INT64 => Scalar::Int64(i64::try_from(unscaled).ok()?),
                    _ => Scalar::Bytes(minimal_bytes(unscaled)),
                }
            }
            Leaf::Date => Scalar::Int32(match value {
                Value::String(text) => i32::try_from(parse_date(text)?).ok()?,
                other => i32::try_from(integer(other)?).ok()?,
            }),
            Leaf::Time(TimeUnit::Millis) => Scalar::Int32(i32::try_from(integer(value)?).ok()?),
            Leaf::Time(TimeUnit::Micros) => Scalar::Int64(integer(value)?),
            Leaf::Timestamp { unit, .. } => Scalar::Int64(match value {
                Value::String(text) => {
                    let micros = parse_timestamp_micros(text)?;
                    match unit {
                        TimeUnit::Micros => micros,
                        TimeUnit::Millis => micros.div_euclid(1000),
                    }
                }
                other => integer(other)?,
            }),
        })
    }
}

/// A JSON number that is a whole number within `i64` (`3.0` counts: JSON does not tell them apart).
fn integer(value: &Value) -> Option<i64> {
    let number = value.as_number()?;
    number.as_i64().or_else(|| {
        let f = number.as_f64()?;
        (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
    })
}

/// Avro's JSON encoding of bytes: one code point 0-255 per byte.
fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// An Avro decimal's bytes: the unscaled value, two's complement, big-endian.
fn unscaled_of_bytes(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut full = if negative { [0xff; 16] } else { [0; 16] };
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(full))
}

/// A decimal number's text (`-12.5`, `3e2`) as an unscaled value of `scale` digits after the point;
/// `None` when it has more digits after the point than that (rounding would change the value).
fn unscaled_of_text(text: &str, scale: u32) -> Option<i128> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let fraction = fraction.trim_end_matches('0');
    let digits: String = [whole, fraction].concat();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // value = digits × 10^(exponent - len(fraction)); unscaled = value × 10^scale.
    let shift = i64::from(scale) + i64::from(exponent) - fraction.len() as i64;
    let digits = digits.parse::<i128>().ok()?;
    let unscaled = match u32::try_from(shift) {
        Ok(up) => digits.checked_mul(10i128.checked_pow(up)?)?,
        Err(_) => {
            let down = 10i128.checked_pow(u32::try_from(-shift).ok()?)?;
            (digits % down == 0).then_some(digits / down)?
        }
    };
    Some(if negative { -unscaled } else { unscaled })
}

/// The shortest two's-complement big-endian bytes of `value` (Parquet's `DECIMAL` on `BYTE_ARRAY`).
fn minimal_bytes(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (head, next) = (bytes[start], bytes[start + 1]);
        let redundant = (head == 0 && next & 0x80 == 0) || (head == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(weft_sql::functions::days_from_civil(i64::from(year), month, day))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// An RFC 3339 date-time (`2024-05-01T12:30:00.123456Z`, `...+02:00`; JSON Schema's `date-time`) as
/// microseconds since the epoch, UTC. Digits after the sixth of a fraction are dropped.
fn parse_timestamp_micros(text: &str) -> Option<i64> {
    let days = parse_date(text.get(..10)?)?;
    let rest = text.get(10..)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let bytes = rest.as_bytes();
    if bytes.len() < 8 || bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let two = |at: usize| -> Option<i64> {
        let part = rest.get(at..at + 2)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (hour, minute, second) = (two(0)?, two(3)?, two(6)?);
    // 60 is a leap second, which POSIX time folds into the next.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &rest[8..];
    let mut micros = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, digit) in fraction.bytes().take(6).take(digits).enumerate() {
            micros += i64::from(digit - b'0') * 10i64.pow(5 - i as u32);
        }
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zone = &rest[1..];
            if zone.len() != 5 || zone.as_bytes()[2] != b':' {
                return None;
            }
            let hours: i64 = zone[..2].parse().ok()?;
            let minutes: i64 = zone[3..].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

/// A node of the export's Parquet schema below the record: a field, a list's element or a map's value.
#[derive(Debug)]
struct Node {
    /// The field's path, for the count of unfit values (`address.city`, `tags.element`).
    path: String,
    /// The JSON member read at this node (unused for list elements and map values).
    name: String,
    optional: bool,
    shape: Shape,
    /// The leaf columns under this node (leaves are numbered in schema order).
    leaves: Range<usize>,
}

#[derive(Debug)]
enum Shape {
    Leaf {
        column: usize,
        leaf: Leaf,
    },
    Group(Vec<Node>),
    /// `rep` is the repetition level of the repeated `list` group.
    List {
        element: Box<Node>,
        rep: i16,
    },
    Map {
        key: usize,
        value: Box<Node>,
        rep: i16,
    },
}

/// The values and levels of one leaf column in the current row group.
struct ColumnBuffer {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
    max_def: i16,
    max_rep: i16,
}

enum Values {
    Boolean(Vec<bool>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Double(Vec<f64>),
    Bytes(Vec<ByteArray>),
}

impl Values {
    fn of(physical: Physical) -> Values {
        match physical {
            Physical::BOOLEAN => Values::Boolean(Vec::new()),
            Physical::INT32 => Values::Int32(Vec::new()),
            Physical::INT64 => Values::Int64(Vec::new()),
            Physical::FLOAT => Values::Float(Vec::new()),
            Physical::DOUBLE => Values::Double(Vec::new()),
            _ => Values::Bytes(Vec::new()),
        }
    }

    fn clear(&mut self) {
        match self {
            Values::Boolean(v) => v.clear(),
            Values::Int32(v) => v.clear(),
            Values::Int64(v) => v.clear(),
            Values::Float(v) => v.clear(),
            Values::Double(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
        }
    }
}

enum Scalar {
    Boolean(bool),
    Int32(i32),
    Int64(i64),
    Float(f32),
    Double(f64),
    Bytes(Vec<u8>),
}

/// Builds the Parquet schema and the matching nodes and column buffers, leaves numbered in schema order.
struct SchemaBuilder {
    columns: Vec<ColumnBuffer>,
}

impl SchemaBuilder {
    fn leaf(
        &mut self,
        name: &str,
        leaf: Leaf,
        repetition: Repetition,
        def: i16,
        rep: i16,
    ) -> io::Result<(Type, usize)> {
        let mut builder = Type::primitive_type_builder(name, leaf.physical())
            .with_repetition(repetition)
            .with_logical_type(leaf.logical());
        if let Leaf::Decimal { precision, scale } = leaf {
            builder = builder.with_precision(precision as i32).with_scale(scale as i32);
        }
        let ty = builder.build().map_err(io_error)?;
        self.columns.push(ColumnBuffer {
            values: Values::of(leaf.physical()),
            def: Vec::new(),
            rep: Vec::new(),
            max_def: def,
            max_rep: rep,
        });
        Ok((ty, self.columns.len() - 1))
    }

    /// The node of a field whose parent has definition level `def` and repetition level `rep`.
    fn node(
        &mut self,
        path: String,
        name: &str,
        ty: &FieldType,
        optional: bool,
        def: i16,
        rep: i16,
    ) -> io::Result<(Type, Node)> {
        let repetition = if optional { Repetition::OPTIONAL } else { Repetition::REQUIRED };
        let def = def + i16::from(optional);
        let first = self.columns.len();
        let simple = match ty {
            FieldType::Boolean => Some(Leaf::Boolean),
            FieldType::Int => Some(Leaf::Int),
            FieldType::Long => Some(Leaf::Long),
            FieldType::Float => Some(Leaf::Float),
            FieldType::Double => Some(Leaf::Double),
            FieldType::String => Some(Leaf::Text),
            FieldType::Bytes => Some(Leaf::Bytes),
            FieldType::Decimal { precision, scale } => Some(Leaf::Decimal { precision: *precision, scale: *scale }),
            FieldType::Date => Some(Leaf::Date),
            FieldType::Time(unit) => Some(Leaf::Time(*unit)),
            FieldType::Timestamp { unit, utc } => Some(Leaf::Timestamp { unit: *unit, utc: *utc }),
            FieldType::Json => Some(Leaf::Json),
            FieldType::Record(_) | FieldType::Array(_) | FieldType::Map(_) => None,
        };
        let (parquet_type, shape) = if let Some(leaf) = simple {
            let (parquet_type, column) = self.leaf(name, leaf, repetition, def, rep)?;
            (parquet_type, Shape::Leaf { column, leaf })
        } else {
            match ty {
                FieldType::Record(fields) => {
                    let mut types = Vec::with_capacity(fields.len());
                    let mut children = Vec::with_capacity(fields.len());
                    for field in fields {
                        let (t, child) = self.node(
                            format!("{path}.{}", field.name),
                            &field.name,
                            &field.ty,
                            field.nullable,
                            def,
                            rep,
                        )?;
                        types.push(Arc::new(t));
                        children.push(child);
                    }
                    let group = Type::group_type_builder(name).with_repetition(repetition).with_fields(types);
                    (group.build().map_err(io_error)?, Shape::Group(children))
                }
                FieldType::Array(element) => {
                    let (element_type, element) = self.node(
                        format!("{path}.element"),
                        "element",
                        &element.ty,
                        element.nullable,
                        def + 1,
                        rep + 1,
                    )?;
                    let list = Type::group_type_builder("list")
                        .with_repetition(Repetition::REPEATED)
                        .with_fields(vec![Arc::new(element_type)])
                        .build()
                        .map_err(io_error)?;
                    let group = Type::group_type_builder(name)
                        .with_repetition(repetition)
                        .with_logical_type(Some(LogicalType::List))
                        .with_fields(vec![Arc::new(list)]);
                    (group.build().map_err(io_error)?, Shape::List { element: Box::new(element), rep: rep + 1 })
                }
                FieldType::Map(value) => {
                    let (key_type, key) = self.leaf("key", Leaf::Text, Repetition::REQUIRED, def + 1, rep + 1)?;
                    let (value_type, value) =
                        self.node(format!("{path}.value"), "value", &value.ty, value.nullable, def + 1, rep + 1)?;
                    let entries = Type::group_type_builder("key_value")
                        .with_repetition(Repetition::REPEATED)
                        .with_fields(vec![Arc::new(key_type), Arc::new(value_type)])
                        .build()
                        .map_err(io_error)?;
                    let group = Type::group_type_builder(name)
                        .with_repetition(repetition)
                        .with_logical_type(Some(LogicalType::Map))
                        .with_fields(vec![Arc::new(entries)]);
                    (group.build().map_err(io_error)?, Shape::Map { key, value: Box::new(value), rep: rep + 1 })
                }
                _ => return Err(io_error("a simple type reached the nested types")),
            }
        };
        let node = Node { path, name: name.to_string(), optional, shape, leaves: first..self.columns.len() };
        Ok((parquet_type, node))
    }
}

/// Whether a non-null value fits a node, down to (not into) its nullable descendants, which take a
/// null of their own when theirs does not fit.
fn fits(node: &Node, value: &Value) -> bool {
    let fits_child = |child: &Node, value: Option<&Value>| match value.filter(|v| !v.is_null()) {
        None => child.optional,
        Some(v) => child.optional || fits(child, v),
    };
    match &node.shape {
        Shape::Leaf { leaf, .. } => leaf.convert(value).is_some(),
        Shape::Group(children) => {
            value.as_object().is_some_and(|object| children.iter().all(|c| fits_child(c, object.get(&c.name))))
        }
        Shape::List { element, .. } => {
            value.as_array().is_some_and(|items| items.iter().all(|item| fits_child(element, Some(item))))
        }
        Shape::Map { value: inner, .. } => {
            value.as_object().is_some_and(|entries| entries.values().all(|v| fits_child(inner, Some(v))))
        }
    }
}

pub(super) struct Writer<'a, W: Write + Send> {
    file: SerializedFileWriter<&'a mut W>,
    /// partition, offset, timestamp, key, then the leaves of the value columns.
    columns: Vec<ColumnBuffer>,
    /// One per value column (after the four record columns).
    nodes: Vec<Node>,
    /// For the whole-value column (no schema): the node reads the value itself, not a member.
    fields: Vec<Option<String>>,
    rows: usize,
    unfit: BTreeMap<String, u64>,
}

impl<'a, W: Write + Send> Writer<'a, W> {
    pub fn new(out: &'a mut W, columns: &[Column]) -> io::Result<Self> {
        let mut builder = SchemaBuilder { columns: Vec::new() };
        let millis = Leaf::Timestamp { unit: TimeUnit::Millis, utc: true };
        let mut types = vec![
            builder.leaf("partition", Leaf::Int, Repetition::REQUIRED, 0, 0)?.0,
            builder.leaf("offset", Leaf::Long, Repetition::REQUIRED, 0, 0)?.0,
            builder.leaf("timestamp", millis, Repetition::REQUIRED, 0, 0)?.0,
            builder.leaf("key", Leaf::Text, Repetition::OPTIONAL, 1, 0)?.0,
        ];
        let mut nodes = Vec::with_capacity(columns.len());
        for column in columns {
            let (ty, node) = builder.node(column.name.clone(), &column.name, &column.ty, true, 0, 0)?;
            types.push(ty);
            nodes.push(node);
        }
        let schema = Type::group_type_builder("record")
            .with_fields(types.into_iter().map(Arc::new).collect())
            .build()
            .map_err(io_error)?;
        let properties = Arc::new(WriterProperties::builder().build());
        let file = SerializedFileWriter::new(out, Arc::new(schema), properties).map_err(io_error)?;
        Ok(Writer {
            file,
            columns: builder.columns,
            nodes,
            fields: columns.iter().map(|c| c.field.clone()).collect(),
            rows: 0,
            unfit: BTreeMap::new(),
        })
    }

    pub fn push(&mut self, record: &DataRecord) -> io::Result<()> {
        let partition = i32::try_from(record.partition).unwrap_or(i32::MAX);
        self.put(0, Some(Scalar::Int32(partition)), 0, 0);
        self.put(1, Some(Scalar::Int64(i64::try_from(record.offset).unwrap_or(i64::MAX))), 0, 0);
        self.put(2, Some(Scalar::Int64(record.timestamp)), 0, 0);
        match &record.key.json {
            Value::Null => self.put(3, None, 0, 0),
            other => self.put(3, Some(Scalar::Bytes(cell_text(other).into_bytes())), 1, 0),
        }
        let value = &record.value.json;
        // The nodes are read while the buffers are written: out of `self` for the loop.
        let nodes = std::mem::take(&mut self.nodes);
        let fields = std::mem::take(&mut self.fields);
        let mut result = Ok(());
        for (node, field) in nodes.iter().zip(&fields) {
            let picked = match field {
                None => Some(value),
                Some(name) => value.get(name),
            };
            result = self.shred(node, picked, 0, 0);
            if result.is_err() {
                break;
            }
        }
        self.nodes = nodes;
        self.fields = fields;
        result?;
        self.rows += 1;
        if self.rows >= EXPORT_BATCH {
            self.write_row_group()?;
        }
        Ok(())
    }

    /// Appends one value (or a null) and its levels to a leaf column.
    fn put(&mut self, column: usize, scalar: Option<Scalar>, def: i16, rep: i16) {
        let buffer = &mut self.columns[column];
        buffer.def.push(def);
        buffer.rep.push(rep);
        match (&mut buffer.values, scalar) {
            (Values::Boolean(v), Some(Scalar::Boolean(x))) => v.push(x),
            (Values::Int32(v), Some(Scalar::Int32(x))) => v.push(x),
            (Values::Int64(v), Some(Scalar::Int64(x))) => v.push(x),
            (Values::Float(v), Some(Scalar::Float(x))) => v.push(x),
            (Values::Double(v), Some(Scalar::Double(x))) => v.push(x),
            (Values::Bytes(v), Some(Scalar::Bytes(x))) => v.push(ByteArray::from(x)),
            _ => {}
        }
    }

    /// Every leaf under `node` gets a null defined up to `def`.
    fn nulls(&mut self, node: &Node, def: i16, rep: i16) {
        for column in node.leaves.clone() {
            self.put(column, None, def, rep);
        }
    }

    fn unfit(&mut self, node: &Node) {
        *self.unfit.entry(node.path.clone()).or_default() += 1;
    }

    /// Writes `value` at `node`, whose parent is defined to level `def`; `rep` is the repetition level
    /// of the first value written (Dremel's record shredding).
    fn shred(&mut self, node: &Node, value: Option<&Value>, def: i16, rep: i16) -> io::Result<()> {
        let value = value.filter(|v| !v.is_null());
        let def = match (node.optional, value) {
            (true, None) => {
                self.nulls(node, def, rep);
                return Ok(());
            }
            // A nullable leaf is converted once, below; a nested value is checked whole here so
            // that nothing of it is written when it is written as null.
            (true, Some(v)) if !matches!(node.shape, Shape::Leaf { .. }) && !fits(node, v) => {
                self.unfit(node);
                self.nulls(node, def, rep);
                return Ok(());
            }
            (true, Some(_)) => def + 1,
            (false, Some(_)) => def,
            // `fits` on the nearest nullable ancestor (every value column is one) rules this out.
            (false, None) => return Err(io_error(format!("the required field {} has no value", node.path))),
        };
        let Some(value) = value else { return Ok(()) };
        match &node.shape {
            Shape::Leaf { column, leaf } => match leaf.convert(value) {
                Some(scalar) => self.put(*column, Some(scalar), def, rep),
                None if node.optional => {
                    self.unfit(node);
                    self.put(*column, None, def - 1, rep);
                }
                None => return Err(io_error(format!("the required field {} does not fit its type", node.path))),
            },
            Shape::Group(children) => {
                for child in children {
                    self.shred(child, value.get(&child.name), def, rep)?;
                }
            }
            Shape::List { element, rep: list_rep } => {
                let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
                if items.is_empty() {
                    self.nulls(node, def, rep);
                }
                for (i, item) in items.iter().enumerate() {
                    self.shred(element, Some(item), def + 1, if i == 0 { rep } else { *list_rep })?;
                }
            }
            Shape::Map { key, value: inner, rep: map_rep } => {
                let empty = serde_json::Map::new();
                let entries = value.as_object().unwrap_or(&empty);
                if entries.is_empty() {
                    self.nulls(node, def, rep);
                }
                for (i, (name, item)) in entries.iter().enumerate() {
                    let r = if i == 0 { rep } else { *map_rep };
                    self.put(*key, Some(Scalar::Bytes(name.as_bytes().to_vec())), def + 1, r);
                    self.shred(inner, Some(item), def + 1, r)?;
                }
            }
        }
        Ok(())
    }

    fn write_row_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.file.next_row_group().map_err(io_error)?;
        for buffer in &mut self.columns {
            let Some(mut column) = group.next_column().map_err(io_error)? else {
                return Err(io_error("the Parquet schema has fewer columns than the export"));
            };
            let def = (buffer.max_def > 0).then_some(buffer.def.as_slice());
            let rep = (buffer.max_rep > 0).then_some(buffer.rep.as_slice());
            let written = match &buffer.values {
                Values::Boolean(v) => column.typed::<BoolType>().write_batch(v, def, rep),
                Values::Int32(v) => column.typed::<Int32Type>().write_batch(v, def, rep),
                Values::Int64(v) => column.typed::<Int64Type>().write_batch(v, def, rep),
                Values::Float(v) => column.typed::<FloatType>().write_batch(v, def, rep),
                Values::Double(v) => column.typed::<DoubleType>().write_batch(v, def, rep),
                Values::Bytes(v) => column.typed::<ByteArrayType>().write_batch(v, def, rep),
            };
            written.map_err(io_error)?;
            column.close().map_err(io_error)?;
            buffer.def.clear();
            buffer.rep.clear();
            buffer.values.clear();
        }
        group.close().map_err(io_error)?;
        self.rows = 0;
        Ok(())
    }

    /// Writes the last row group and the footer; returns the counts of unfit values by field path.
    pub fn finish(mut self) -> io::Result<BTreeMap<String, u64>> {
        self.write_row_group()?;
        let counts = serde_json::to_string(&self.unfit).map_err(io_error)?;
        self.file.append_key_value_metadata(KeyValue::new(UNFIT_KEY.to_string(), counts));
        self.file.close().map_err(io_error)?;
        Ok(self.unfit)
    }
}

#[cfg(test)]
mod tests;
