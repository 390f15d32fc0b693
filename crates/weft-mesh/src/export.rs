//! Exports of a product's data as files: JSON lines, CSV and Parquet, written to any `Write` while
//! the records stream through the read path (nothing is held in memory beyond one Parquet row group).
//!
//! - JSON lines: one record per line, in the one JSON shape of records ([`DataRecord::to_json`]).
//! - CSV (RFC 4180): partition, offset, timestamp, key, then the value's top-level schema fields (or
//!   one `value` column of JSON when the schema is unknown or has no fields).
//! - Parquet: the same columns, typed from the schema's simple fields; other values as JSON text.

use std::io::{self, Write};

use serde_json::Value;
use weft_catalog::{FieldInfo, SchemaLookup};

use crate::context::RequestContext;
use crate::error::MeshError;
use crate::read::Resolved;
use crate::records::DataRecord;
use crate::schemas::RegistrySchemas;
use crate::Mesh;

/// Rows per Parquet row group.
const EXPORT_BATCH: usize = 5000;

/// An export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Parquet,
}

impl ExportFormat {
    /// The file extension and media type.
    pub fn file_type(self) -> (&'static str, &'static str) {
        match self {
            ExportFormat::Jsonl => ("jsonl", "application/jsonl"),
            ExportFormat::Csv => ("csv", "text/csv; charset=utf-8"),
            ExportFormat::Parquet => ("parquet", "application/vnd.apache.parquet"),
        }
    }
}

/// One export: settled (target resolved, columns known) before the first byte is written, so that
/// everything that can fail for the caller's reasons fails before a response starts.
pub struct Export {
    principal: String,
    topic: String,
    from: Option<i64>,
    to: Option<i64>,
    columns: Vec<Column>,
    format: ExportFormat,
}

impl Mesh {
    /// Prepares an export of `resolved` (records with timestamps in `[from, to)`) in `format`.
    pub fn prepare_export(
        &self,
        ctx: &RequestContext,
        resolved: &Resolved,
        format: ExportFormat,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Export, MeshError> {
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(MeshError::InvalidRequest(format!("from ({from}) is after to ({to})")));
            }
        }
        self.data().check_read(ctx.principal(), &resolved.topic)?;
        let fields = match &resolved.served {
            Some(served) => {
                RegistrySchemas::new(self.registry_arc()).latest_fields(&served.port.schema_subject).unwrap_or_default()
            }
            None => Vec::new(),
        };
        Ok(Export {
            principal: ctx.principal().to_string(),
            topic: resolved.topic.clone(),
            from,
            to,
            columns: value_columns(fields),
            format,
        })
    }

    /// Writes the export to `out`, partition by partition in offset order, up to the end each
    /// partition had when it was reached.
    pub fn write_export<W: Write + Send>(&self, export: &Export, out: &mut W) -> io::Result<()> {
        let data = self.data();
        let scan = |each: &mut dyn FnMut(DataRecord) -> io::Result<()>| {
            data.scan(&export.principal, &export.topic, export.from, export.to, &mut *each)
        };
        match export.format {
            ExportFormat::Jsonl => scan(&mut |record| {
                serde_json::to_writer(&mut *out, &record.to_json()).map_err(io_error)?;
                out.write_all(b"\n")
            }),
            ExportFormat::Csv => {
                let mut header: Vec<&str> = RECORD_COLUMNS.to_vec();
                header.extend(export.columns.iter().map(|c| c.name.as_str()));
                write_csv_row(out, header.into_iter().map(std::borrow::Cow::Borrowed))?;
                scan(&mut |record| {
                    let mut cells: Vec<std::borrow::Cow<'_, str>> = vec![
                        record.partition.to_string().into(),
                        record.offset.to_string().into(),
                        record.timestamp.to_string().into(),
                        cell_text(&record.key.json).into(),
                    ];
                    for column in &export.columns {
                        cells.push(cell_text(column.pick(&record.value.json)).into());
                    }
                    write_csv_row(out, cells.into_iter())
                })
            }
            ExportFormat::Parquet => {
                let mut writer = parquet_export::Writer::new(out, &export.columns)?;
                scan(&mut |record| writer.push(&record))?;
                writer.finish()
            }
        }
    }
}

impl From<MeshError> for io::Error {
    fn from(error: MeshError) -> io::Error {
        io::Error::other(error.to_string())
    }
}

/// The columns every export starts with.
const RECORD_COLUMNS: [&str; 4] = ["partition", "offset", "timestamp", "key"];

/// A column of an export after the record columns: a top-level field of the value schema, or the
/// whole value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    /// The value's field; `None` for the whole value.
    field: Option<String>,
    kind: ColumnKind,
}

impl Column {
    fn pick<'a>(&self, value: &'a Value) -> &'a Value {
        match &self.field {
            None => value,
            Some(field) => value.get(field).unwrap_or(&Value::Null),
        }
    }
}

/// The value's columns: the schema's top-level fields (a field named like a record column becomes
/// `value.NAME`), or one `value` column of JSON when the schema is unknown or has no fields.
fn value_columns(fields: Vec<FieldInfo>) -> Vec<Column> {
    let columns: Vec<Column> = fields
        .into_iter()
        .filter(|f| !f.name.contains('.'))
        .map(|f| Column {
            name: if RECORD_COLUMNS.contains(&f.name.as_str()) { format!("value.{}", f.name) } else { f.name.clone() },
            kind: ColumnKind::of(&f.field_type),
            field: Some(f.name),
        })
        .collect();
    if columns.is_empty() {
        vec![Column { name: "value".into(), field: None, kind: ColumnKind::Json }]
    } else {
        columns
    }
}

/// How a field is written to Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Text,
    Long,
    Double,
    Boolean,
    /// Anything else (records, arrays, maps, unions of several types): its JSON text.
    Json,
}

impl ColumnKind {
    /// From the type name the registry gives (`long`, `union<null, string>`, JSON Schema's `integer`...).
    fn of(type_name: &str) -> ColumnKind {
        let inner = type_name
            .strip_prefix("union<")
            .and_then(|rest| rest.strip_suffix('>'))
            .map(|branches| {
                let named: Vec<&str> = branches.split(", ").filter(|b| *b != "null").collect();
                if named.len() == 1 {
                    named[0]
                } else {
                    "union"
                }
            })
            .unwrap_or(type_name);
        match inner {
            "string" | "enum" => ColumnKind::Text,
            "long" | "int" | "integer" => ColumnKind::Long,
            "double" | "float" | "number" => ColumnKind::Double,
            "boolean" => ColumnKind::Boolean,
            _ => ColumnKind::Json,
        }
    }
}

fn io_error(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(error.to_string())
}

/// A JSON value as CSV cell text: strings as they are, `null` as nothing, anything else as JSON.
fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One CSV line (RFC 4180: CRLF line ends; cells with a comma, quote, CR or LF are quoted, quotes doubled).
fn write_csv_row<'a>(out: &mut impl Write, cells: impl Iterator<Item = std::borrow::Cow<'a, str>>) -> io::Result<()> {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if cell.contains([',', '"', '\r', '\n']) {
            out.write_all(b"\"")?;
            out.write_all(cell.replace('"', "\"\"").as_bytes())?;
            out.write_all(b"\"")?;
        } else {
            out.write_all(cell.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}

/// Parquet without arrow: the low-level column writers, one row group per [`EXPORT_BATCH`] rows.
mod parquet_export {
    use std::io::{self, Write};
    use std::sync::Arc;

    use parquet::basic::{ConvertedType, LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;
    use serde_json::Value;

    use super::{cell_text, io_error, Column, ColumnKind, EXPORT_BATCH};
    use crate::records::DataRecord;

    /// The values of one column in the current row group; `defined` holds definition levels (1 = present).
    enum Values {
        Int32(Vec<i32>),
        Int64(Vec<i64>),
        Double(Vec<f64>),
        Boolean(Vec<bool>),
        Text(Vec<ByteArray>),
    }

    struct Buffer {
        values: Values,
        defined: Vec<i16>,
        optional: bool,
    }

    pub(super) struct Writer<'a, W: Write + Send> {
        file: SerializedFileWriter<&'a mut W>,
        /// partition, offset, timestamp, key, then the value columns.
        buffers: Vec<Buffer>,
        columns: Vec<Column>,
        rows: usize,
    }

    fn field(name: &str, physical: Physical, repetition: Repetition) -> parquet::errors::Result<Type> {
        let builder = Type::primitive_type_builder(name, physical).with_repetition(repetition);
        let builder = match physical {
            Physical::BYTE_ARRAY => builder.with_logical_type(Some(LogicalType::String)),
            _ => builder,
        };
        builder.build()
    }

    impl<'a, W: Write + Send> Writer<'a, W> {
        pub fn new(out: &'a mut W, columns: &[Column]) -> io::Result<Self> {
            let mut fields = vec![
                field("partition", Physical::INT32, Repetition::REQUIRED),
                field("offset", Physical::INT64, Repetition::REQUIRED),
                Type::primitive_type_builder("timestamp", Physical::INT64)
                    .with_repetition(Repetition::REQUIRED)
                    .with_converted_type(ConvertedType::TIMESTAMP_MILLIS)
                    .build(),
                field("key", Physical::BYTE_ARRAY, Repetition::OPTIONAL),
            ];
            let mut buffers = vec![
                Buffer { values: Values::Int32(Vec::new()), defined: Vec::new(), optional: false },
                Buffer { values: Values::Int64(Vec::new()), defined: Vec::new(), optional: false },
                Buffer { values: Values::Int64(Vec::new()), defined: Vec::new(), optional: false },
                Buffer { values: Values::Text(Vec::new()), defined: Vec::new(), optional: true },
            ];
            for column in columns {
                let (physical, values) = match column.kind {
                    ColumnKind::Long => (Physical::INT64, Values::Int64(Vec::new())),
                    ColumnKind::Double => (Physical::DOUBLE, Values::Double(Vec::new())),
                    ColumnKind::Boolean => (Physical::BOOLEAN, Values::Boolean(Vec::new())),
                    ColumnKind::Text | ColumnKind::Json => (Physical::BYTE_ARRAY, Values::Text(Vec::new())),
                };
                fields.push(field(&column.name, physical, Repetition::OPTIONAL));
                buffers.push(Buffer { values, defined: Vec::new(), optional: true });
            }
            let fields =
                fields.into_iter().map(|f| f.map(Arc::new)).collect::<Result<Vec<_>, _>>().map_err(io_error)?;
            let schema = Type::group_type_builder("record").with_fields(fields).build().map_err(io_error)?;
            let properties = Arc::new(WriterProperties::builder().build());
            let file = SerializedFileWriter::new(out, Arc::new(schema), properties).map_err(io_error)?;
            Ok(Writer { file, buffers, columns: columns.to_vec(), rows: 0 })
        }

        pub fn push(&mut self, record: &DataRecord) -> io::Result<()> {
            let partition = i32::try_from(record.partition).unwrap_or(i32::MAX);
            push_value(&mut self.buffers[0], Some(Scalar::Int32(partition)));
            push_value(&mut self.buffers[1], Some(Scalar::Int64(i64::try_from(record.offset).unwrap_or(i64::MAX))));
            push_value(&mut self.buffers[2], Some(Scalar::Int64(record.timestamp)));
            let key = match &record.key.json {
                Value::Null => None,
                other => Some(Scalar::Text(cell_text(other))),
            };
            push_value(&mut self.buffers[3], key);
            let value = &record.value.json;
            for (i, column) in self.columns.iter().enumerate() {
                let scalar = match (column.kind, column.pick(value)) {
                    (_, Value::Null) => None,
                    (ColumnKind::Long, v) => v.as_i64().map(Scalar::Int64),
                    (ColumnKind::Double, v) => v.as_f64().map(Scalar::Double),
                    (ColumnKind::Boolean, v) => v.as_bool().map(Scalar::Boolean),
                    (ColumnKind::Text | ColumnKind::Json, v) => Some(Scalar::Text(cell_text(v))),
                };
                push_value(&mut self.buffers[4 + i], scalar);
            }
            self.rows += 1;
            if self.rows >= EXPORT_BATCH {
                self.write_row_group()?;
            }
            Ok(())
        }

        fn write_row_group(&mut self) -> io::Result<()> {
            if self.rows == 0 {
                return Ok(());
            }
            let mut group = self.file.next_row_group().map_err(io_error)?;
            for buffer in &mut self.buffers {
                let Some(mut column) = group.next_column().map_err(io_error)? else {
                    return Err(io_error("the Parquet schema has fewer columns than the export"));
                };
                let levels = buffer.optional.then_some(buffer.defined.as_slice());
                let written = match &buffer.values {
                    Values::Int32(v) => column.typed::<Int32Type>().write_batch(v, levels, None),
                    Values::Int64(v) => column.typed::<Int64Type>().write_batch(v, levels, None),
                    Values::Double(v) => column.typed::<DoubleType>().write_batch(v, levels, None),
                    Values::Boolean(v) => column.typed::<BoolType>().write_batch(v, levels, None),
                    Values::Text(v) => column.typed::<ByteArrayType>().write_batch(v, levels, None),
                };
                written.map_err(io_error)?;
                column.close().map_err(io_error)?;
                buffer.defined.clear();
                match &mut buffer.values {
                    Values::Int32(v) => v.clear(),
                    Values::Int64(v) => v.clear(),
                    Values::Double(v) => v.clear(),
                    Values::Boolean(v) => v.clear(),
                    Values::Text(v) => v.clear(),
                }
            }
            group.close().map_err(io_error)?;
            self.rows = 0;
            Ok(())
        }

        pub fn finish(mut self) -> io::Result<()> {
            self.write_row_group()?;
            self.file.close().map_err(io_error)?;
            Ok(())
        }
    }

    enum Scalar {
        Int32(i32),
        Int64(i64),
        Double(f64),
        Boolean(bool),
        Text(String),
    }

    /// Appends a value (or a null) to a column; a value of the wrong type is a null.
    fn push_value(buffer: &mut Buffer, scalar: Option<Scalar>) {
        let present = match (&mut buffer.values, scalar) {
            (Values::Int32(v), Some(Scalar::Int32(x))) => {
                v.push(x);
                true
            }
            (Values::Int64(v), Some(Scalar::Int64(x))) => {
                v.push(x);
                true
            }
            (Values::Double(v), Some(Scalar::Double(x))) => {
                v.push(x);
                true
            }
            (Values::Boolean(v), Some(Scalar::Boolean(x))) => {
                v.push(x);
                true
            }
            (Values::Text(v), Some(Scalar::Text(x))) => {
                v.push(ByteArray::from(x.into_bytes()));
                true
            }
            _ => false,
        };
        buffer.defined.push(i16::from(present));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut out = Vec::new();
        let cells = ["plain", "a,b", "say \"hi\"", "two\nlines", ""].map(std::borrow::Cow::Borrowed);
        write_csv_row(&mut out, cells.into_iter()).expect("write");
        assert_eq!(String::from_utf8(out).expect("utf-8"), "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
    }

    #[test]
    fn value_columns_never_clash_with_record_columns() {
        let fields = vec![
            FieldInfo::new("timestamp", "long", None),
            FieldInfo::new("value", "record Money", None),
            FieldInfo::new("value.amount", "double", None),
        ];
        let columns = value_columns(fields);
        let names: Vec<(&str, Option<&str>)> = columns.iter().map(|c| (c.name.as_str(), c.field.as_deref())).collect();
        assert_eq!(names, [("value.timestamp", Some("timestamp")), ("value", Some("value"))]);
        let record = serde_json::json!({"value": {"amount": 1}, "timestamp": 5});
        assert_eq!(columns[1].pick(&record), &serde_json::json!({"amount": 1}));
        let whole = value_columns(Vec::new());
        assert_eq!((whole.len(), whole[0].pick(&record)), (1, &record));
    }

    #[test]
    fn column_kinds_follow_schema_types() {
        assert_eq!(ColumnKind::of("string"), ColumnKind::Text);
        assert_eq!(ColumnKind::of("union<null, long>"), ColumnKind::Long);
        assert_eq!(ColumnKind::of("integer"), ColumnKind::Long);
        assert_eq!(ColumnKind::of("number"), ColumnKind::Double);
        assert_eq!(ColumnKind::of("boolean"), ColumnKind::Boolean);
        assert_eq!(ColumnKind::of("union<string, long>"), ColumnKind::Json);
        assert_eq!(ColumnKind::of("record Address"), ColumnKind::Json);
    }
}
