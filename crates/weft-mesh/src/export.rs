//! Exports of a product's data as files: JSON lines, CSV and Parquet, written to any `Write` while
//! the records stream through the read path (nothing is held in memory beyond one Parquet row group).
//!
//! - JSON lines: one record per line, in the one JSON shape of records ([`DataRecord::to_json`]).
//! - CSV (RFC 4180): partition, offset, timestamp, key, then the value's top-level schema fields (or
//!   one `value` column of JSON when the schema is unknown or has no fields).
//! - Parquet: the same columns, typed from the schema (nested records, lists, maps, decimals, dates,
//!   timestamps; the mapping and what happens to values that do not fit are in [`parquet`]).

use std::io::{self, Write};

use serde_json::Value;
use weft_registry::VersionSpec;
use weft_schema::{FieldType, TypedField};

use crate::context::RequestContext;
use crate::error::MeshError;
use crate::read::Resolved;
use crate::records::DataRecord;
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
        let fields = resolved.served.as_ref().and_then(|served| self.latest_field_types(&served.port.schema_subject));
        Ok(Export {
            principal: ctx.principal().to_string(),
            topic: resolved.topic.clone(),
            from,
            to,
            columns: value_columns(fields),
            format,
        })
    }

    /// The top-level fields of a subject's latest schema; `None` when it has none or is not a record.
    fn latest_field_types(&self, subject: &str) -> Option<Vec<TypedField>> {
        let registry = self.registry_arc();
        let latest = registry.version(subject, VersionSpec::Latest, false).ok()?;
        registry.parsed_schema(latest.id).ok()?.field_types()
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
                let mut writer = parquet::Writer::new(out, &export.columns)?;
                scan(&mut |record| writer.push(&record))?;
                let unfit = writer.finish()?;
                if !unfit.is_empty() {
                    tracing::info!(topic = %export.topic, ?unfit, "values that did not fit their type were exported as null");
                }
                Ok(())
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
    /// The field's type in the schema ([`FieldType::Json`] for the whole value).
    ty: FieldType,
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
fn value_columns(fields: Option<Vec<TypedField>>) -> Vec<Column> {
    let columns: Vec<Column> = fields
        .unwrap_or_default()
        .into_iter()
        .map(|f| Column {
            name: if RECORD_COLUMNS.contains(&f.name.as_str()) { format!("value.{}", f.name) } else { f.name.clone() },
            field: Some(f.name),
            ty: f.ty,
        })
        .collect();
    if columns.is_empty() {
        vec![Column { name: "value".into(), field: None, ty: FieldType::Json }]
    } else {
        columns
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

mod parquet;

pub use parquet::UNFIT_KEY;

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
        let field = |name: &str, ty| TypedField { name: name.into(), ty, nullable: false };
        let fields = vec![
            field("timestamp", FieldType::Long),
            field("value", FieldType::Record(vec![field("amount", FieldType::Double)])),
        ];
        let columns = value_columns(Some(fields));
        let names: Vec<(&str, Option<&str>)> = columns.iter().map(|c| (c.name.as_str(), c.field.as_deref())).collect();
        assert_eq!(names, [("value.timestamp", Some("timestamp")), ("value", Some("value"))]);
        let record = serde_json::json!({"value": {"amount": 1}, "timestamp": 5});
        assert_eq!(columns[1].pick(&record), &serde_json::json!({"amount": 1}));
        let whole = value_columns(None);
        assert_eq!((whole.len(), whole[0].pick(&record), &whole[0].ty), (1, &record, &FieldType::Json));
    }
}
