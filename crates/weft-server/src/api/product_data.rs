//! A data product's records, read through its output port: a sample, reads by offset or time, the live
//! tail, and exports as JSON lines, CSV or Parquet.
//!
//! Every route resolves the product's output port (`?port=NAME` or `?port=NAME@MAJOR`; otherwise the
//! served port with the highest major version, which is where new consumers belong) to its topic, then reads the topic with
//! the same code as `/api/v1/topics/{topic}/records` ([`super::records`]), so records have the one JSON
//! shape [`super::codec::record_json`] gives them. A retired product's data is no longer served (403,
//! 40302); a deprecated product's is, with `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and, when it has a
//! successor, `Link: <...>; rel="successor-version"` headers.

use std::io::{self, Write};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use weft_catalog::{CatalogError, CatalogEvent, Lifecycle, OutputPort, PortStatus, Product, SchemaLookup};
use weft_log::{EventLog, LogError, ReadLimits, StoredRecord};

use super::codec::record_json;
use super::openapi::ErrorBody;
use super::records::{self, ReadQuery, ReadResponse, StartFrom, TailQuery};
use super::{blocking, PathParam, QueryParams};
use crate::error::ApiError;
use crate::schemas::RegistrySchemas;
use crate::AppState;

/// The most records a sample returns.
pub const MAX_SAMPLE: usize = 1000;
const DEFAULT_SAMPLE: usize = 10;
/// Records read per log call while exporting, and rows per Parquet row group.
const EXPORT_BATCH: usize = 5000;
/// Bytes buffered before a chunk of an export goes to the client.
const EXPORT_CHUNK: usize = 64 * 1024;

/// The product, the output port read and the headers every answer carries.
struct Served {
    product: Product,
    port: OutputPort,
    headers: HeaderMap,
}

/// The output port a read uses: the one `wanted` names (`NAME`, or `NAME@MAJOR` for an older major
/// version), else the served port with the highest version. Retired products serve no data.
pub(crate) fn pick_port(product: &Product, wanted: Option<&str>) -> Result<OutputPort, ApiError> {
    let id = product.id().to_string();
    if let Lifecycle::Retired = product.lifecycle {
        return Err(CatalogError::Forbidden {
            product: id,
            reason: "it is retired: its data is no longer served".into(),
        }
        .into());
    }
    let served: Vec<&OutputPort> =
        product.spec.output_ports.iter().filter(|p| p.status != PortStatus::Retired).collect();
    let chosen = match wanted {
        Some(wanted) => {
            let by_name = served.iter().filter(|p| p.name == wanted).max_by(|a, b| a.version.cmp(&b.version));
            let by_major = || {
                let (name, major) = wanted.rsplit_once('@')?;
                let major: u64 = major.parse().ok()?;
                served.iter().find(|p| p.name == name && p.version.major == major)
            };
            by_name.or_else(by_major)
        }
        None => served.iter().max_by(|a, b| a.version.cmp(&b.version)),
    };
    chosen.map(|p| (*p).clone()).ok_or_else(|| {
        let names: Vec<String> = served.iter().map(|p| format!("{} v{}", p.name, p.version)).collect();
        let reason = if names.is_empty() {
            format!("data product '{id}' has no served output port, so it has no data to read")
        } else {
            let name = wanted.unwrap_or_default();
            format!(
                "data product '{id}' has no served output port '{name}' (it has: {}; NAME@MAJOR picks a major version)",
                names.join(", ")
            )
        };
        CatalogError::InvalidInput { field: "port".into(), reason }.into()
    })
}

/// The port to read ([`pick_port`]) and the headers every answer carries. `deprecated_at` is when a
/// deprecated product was deprecated (epoch milliseconds), for the `Deprecation` header.
fn resolve(product: Product, port: Option<&str>, deprecated_at: Option<i64>) -> Result<Served, ApiError> {
    let chosen = pick_port(&product, port)?;
    let mut headers = HeaderMap::new();
    if let Lifecycle::Deprecated { sunset, successor, .. } = &product.lifecycle {
        // RFC 9745: the moment the deprecation took effect, as a structured-field date.
        let since = deprecated_at.unwrap_or(product.updated_at).div_euclid(1000);
        if let Ok(value) = HeaderValue::from_str(&format!("@{since}")) {
            headers.insert(HeaderName::from_static("deprecation"), value);
        }
        if let Ok(value) = HeaderValue::from_str(&http_date(sunset.year, sunset.month, sunset.day)) {
            headers.insert(HeaderName::from_static("sunset"), value);
        }
        if let Some(next) = successor {
            if let Ok(value) = HeaderValue::from_str(&format!("</api/v1/products/{next}>; rel=\"successor-version\"")) {
                headers.insert(HeaderName::from_static("link"), value);
            }
        }
    }
    Ok(Served { product, port: chosen, headers })
}

/// An RFC 7231 IMF-fixdate at midnight UTC: `Tue, 31 Dec 2030 00:00:00 GMT`.
fn http_date(year: u16, month: u8, day: u8) -> String {
    // Sakamoto's day of the week (0 = Sunday).
    const OFFSETS: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let m = usize::from(month.clamp(1, 12)) - 1;
    let y = i32::from(year) - i32::from(month < 3);
    let weekday = (y + y / 4 - y / 100 + y / 400 + OFFSETS[m] + i32::from(day)).rem_euclid(7) as usize;
    format!("{}, {day:02} {} {year:04} 00:00:00 GMT", DAYS[weekday], MONTHS[m])
}

async fn served(state: &AppState, id: String, port: Option<String>) -> Result<Served, ApiError> {
    let catalog = state.catalog.clone();
    let (product, deprecated_at) = blocking(move || {
        let product = catalog.product(&id)?;
        let deprecated_at = match product.lifecycle {
            Lifecycle::Deprecated { .. } => {
                catalog.product_history(&id)?.iter().rev().find_map(|entry| match &entry.event {
                    CatalogEvent::ProductStatusChanged { after: Lifecycle::Deprecated { .. }, .. } => Some(entry.at),
                    _ => None,
                })
            }
            _ => None,
        };
        Ok::<_, CatalogError>((product, deprecated_at))
    })
    .await?;
    resolve(product, port.as_deref(), deprecated_at)
}

fn with_headers(headers: HeaderMap, response: impl IntoResponse) -> Response {
    (headers, response).into_response()
}

// ----- sample -----

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SampleQuery {
    /// 1 to 1000 (default 10).
    pub limit: Option<usize>,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// `{"product", "port", "topic", "records"}`: records in the JSON shape of the topic routes.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Sample {
    pub product: String,
    pub port: String,
    pub topic: String,
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Value>,
}

/// The latest `limit` records across the port's partitions, oldest first.
#[utoipa::path(get, path = "/api/v1/products/{id}/sample", tag = "product data",
    params(("id" = String, Path, description = "The product id"), SampleQuery),
    responses((status = 200, description = "The latest records", body = Sample),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40402)", body = ErrorBody)))]
pub async fn sample(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<SampleQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_SAMPLE);
    if !(1..=MAX_SAMPLE).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be between 1 and {MAX_SAMPLE}, not {limit}")));
    }
    let Served { product, port, headers } = served(&state, id, query.port).await?;
    let log = state.log.clone();
    let topic = port.topic.clone();
    let mut latest: Vec<(u32, StoredRecord)> = blocking(move || {
        let partitions = log.topic_config(&topic)?.partitions;
        let mut latest = Vec::new();
        for partition in 0..partitions {
            let (earliest, end) = log.offsets(&topic, partition)?;
            let start = end.saturating_sub(limit as u64).max(earliest);
            if start >= end {
                continue;
            }
            let limits = ReadLimits { max_records: limit, max_bytes: records::READ_MAX_BYTES };
            let read = log.read(&topic, partition, start, limits)?;
            latest.extend(read.records.into_iter().map(|r| (partition, r)));
        }
        Ok::<_, LogError>(latest)
    })
    .await?;
    // Oldest first; keep the newest `limit`.
    latest.sort_by_key(|(partition, record)| (record.timestamp, *partition, record.offset));
    latest.drain(..latest.len().saturating_sub(limit));
    state.metrics.consumed_records.add(latest.len() as u64);
    let sample = Sample {
        product: product.id().to_string(),
        port: port.name,
        topic: port.topic,
        records: latest.iter().map(|(partition, record)| record_json(*partition, record)).collect(),
    };
    Ok(with_headers(headers, Json(sample)))
}

// ----- records -----

/// `GET /api/v1/products/{id}/records` parameters: those of the topic route, and `port`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductReadQuery {
    /// Needed when the port's topic has several partitions.
    pub partition: Option<u32>,
    /// Start at this offset...
    pub offset: Option<u64>,
    /// ...or at the earliest or latest (default earliest)...
    #[param(value_type = Option<String>)]
    pub from: Option<StartFrom>,
    /// ...or at the first record at or after this time (epoch milliseconds).
    pub timestamp: Option<i64>,
    /// 1 to 10000 (default 100).
    pub limit: Option<usize>,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// Records of the product's output port by offset, position or time, as `GET /api/v1/topics/{topic}/records` answers.
#[utoipa::path(get, path = "/api/v1/products/{id}/records", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ProductReadQuery),
    responses((status = 200, description = "Records and the next offset", body = ReadResponse),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40402)", body = ErrorBody),
        (status = 422, description = "A bad parameter or port (42201)", body = ErrorBody)))]
pub async fn records(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<ProductReadQuery>,
) -> Result<Response, ApiError> {
    let Served { port, headers, .. } = served(&state, id, query.port).await?;
    let read = ReadQuery {
        partition: query.partition,
        offset: query.offset,
        from: query.from,
        timestamp: query.timestamp,
        limit: query.limit,
    };
    let answer = records::read_records(&state, port.topic, read).await?;
    Ok(with_headers(headers, Json(answer)))
}

/// `GET /api/v1/products/{id}/records/stream` parameters: those of the topic route, and `port`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductTailQuery {
    /// One partition (default: every partition).
    pub partition: Option<u32>,
    pub offset: Option<u64>,
    /// earliest or latest (default latest).
    #[param(value_type = Option<String>)]
    pub from: Option<StartFrom>,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// The live tail of the product's output port as server-sent events (one record per event, id = offset).
#[utoipa::path(get, path = "/api/v1/products/{id}/records/stream", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ProductTailQuery),
    responses((status = 200, description = "Server-sent events", content_type = "text/event-stream", body = String),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40402)", body = ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<ProductTailQuery>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Served { port, headers, .. } = served(&state, id, query.port).await?;
    let tail = TailQuery { partition: query.partition, offset: query.offset, from: query.from };
    let events = records::tail(&state, port.topic, tail, &request_headers).await?;
    Ok(with_headers(headers, events))
}

// ----- export -----

/// An export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One record per line, in the JSON shape of the record routes.
    Jsonl,
    /// RFC 4180: partition, offset, timestamp, key, then the value's top-level schema fields (or `value`).
    Csv,
    /// Columns typed from the schema's simple fields; other values as JSON text.
    Parquet,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// jsonl, csv or parquet.
    #[param(value_type = String)]
    pub format: ExportFormat,
    /// Only records at or after this time (epoch milliseconds).
    pub from: Option<i64>,
    /// Only records before this time (epoch milliseconds).
    pub to: Option<i64>,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// The product's whole history (or the part between `from` and `to`) as a download, streamed:
/// partition by partition, in offset order.
#[utoipa::path(get, path = "/api/v1/products/{id}/export", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ExportQuery),
    responses((status = 200, description = "The file (Content-Disposition: attachment)", content_type = "application/octet-stream", body = String),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40402)", body = ErrorBody),
        (status = 422, description = "A bad parameter (42201)", body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from > to {
            return Err(ApiError::invalid(format!("from ({from}) is after to ({to})")));
        }
    }
    let Served { product, port, mut headers } = served(&state, id, query.port).await?;
    // Settle everything that can fail before the first byte goes out: afterwards only the connection can say.
    let log = state.log.clone();
    let topic = port.topic.clone();
    let partitions = blocking(move || log.topic_config(&topic)).await?.partitions;
    let lookup = RegistrySchemas::new(state.registry.clone());
    let subject = port.schema_subject.clone();
    let fields = blocking(move || Ok::<_, ApiError>(lookup.latest_fields(&subject))).await?;
    let columns = value_columns(fields.unwrap_or_default());

    let (extension, media_type) = match query.format {
        ExportFormat::Jsonl => ("jsonl", "application/jsonl"),
        ExportFormat::Csv => ("csv", "text/csv; charset=utf-8"),
        ExportFormat::Parquet => ("parquet", "application/vnd.apache.parquet"),
    };
    let file = format!("{}-{}-v{}.{extension}", product.id(), port.name, port.version.major);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(media_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(CONTENT_DISPOSITION, value);
    }

    let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let job = Export {
        log: state.log.clone(),
        topic: port.topic,
        partitions,
        from: query.from,
        to: query.to,
        columns,
        metrics: state.metrics.clone(),
    };
    let format = query.format;
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkSender { sender: sender.clone(), buffer: Vec::with_capacity(EXPORT_CHUNK) };
        let written = match format {
            ExportFormat::Jsonl => job.jsonl(&mut out),
            ExportFormat::Csv => job.csv(&mut out),
            ExportFormat::Parquet => job.parquet(&mut out),
        }
        .and_then(|()| out.flush());
        if let Err(e) = written {
            // The status line is gone: breaking the body is how the client learns the file is incomplete.
            let _ = sender.blocking_send(Err(e));
        }
    });
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(with_headers(headers, Body::from_stream(chunks)))
}

/// Sends what is written to the response body in chunks (the export runs on a blocking thread).
struct ChunkSender {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: Vec<u8>,
}

impl Write for ChunkSender {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= EXPORT_CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(EXPORT_CHUNK)));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
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
fn value_columns(fields: Vec<weft_catalog::FieldInfo>) -> Vec<Column> {
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

/// One export's reading side: every record of the topic between `from` and `to`.
struct Export {
    log: Arc<dyn EventLog>,
    topic: String,
    partitions: u32,
    from: Option<i64>,
    to: Option<i64>,
    columns: Vec<Column>,
    metrics: Arc<crate::Metrics>,
}

impl Export {
    /// Calls `each` with every record (as its JSON), partition by partition, up to the end each
    /// partition had when it was reached.
    fn for_each(&self, mut each: impl FnMut(Value) -> io::Result<()>) -> io::Result<()> {
        let limits = ReadLimits { max_records: EXPORT_BATCH, max_bytes: records::READ_MAX_BYTES };
        for partition in 0..self.partitions {
            let (earliest, end) = self.log.offsets(&self.topic, partition).map_err(io_error)?;
            let mut position = match self.from {
                Some(from) => {
                    self.log.offset_for_timestamp(&self.topic, partition, from).map_err(io_error)?.unwrap_or(end)
                }
                None => earliest,
            };
            while position < end {
                let read = match self.log.read(&self.topic, partition, position, limits) {
                    Ok(read) => read,
                    // Retention removed what was next: carry on from the oldest record left.
                    Err(LogError::OffsetOutOfRange { requested, earliest, .. }) if requested < earliest => {
                        position = earliest;
                        continue;
                    }
                    Err(e) => return Err(io_error(e)),
                };
                if read.records.is_empty() {
                    break;
                }
                for record in read.records.iter().take_while(|r| r.offset < end) {
                    let after_from = self.from.is_none_or(|from| record.timestamp >= from);
                    let before_to = self.to.is_none_or(|to| record.timestamp < to);
                    if after_from && before_to {
                        self.metrics.consumed_records.add(1);
                        each(record_json(partition, record))?;
                    }
                }
                position = read.next_offset;
            }
        }
        Ok(())
    }

    fn jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        self.for_each(|record| {
            serde_json::to_writer(&mut *out, &record).map_err(io_error)?;
            out.write_all(b"\n")
        })
    }

    fn csv(&self, out: &mut impl Write) -> io::Result<()> {
        let mut header: Vec<&str> = RECORD_COLUMNS.to_vec();
        header.extend(self.columns.iter().map(|c| c.name.as_str()));
        write_csv_row(out, header.into_iter().map(std::borrow::Cow::Borrowed))?;
        self.for_each(|record| {
            let mut cells: Vec<std::borrow::Cow<'_, str>> = vec![
                record["partition"].to_string().into(),
                record["offset"].to_string().into(),
                record["timestamp"].to_string().into(),
                cell_text(&record["key"]).into(),
            ];
            for column in &self.columns {
                cells.push(cell_text(column.pick(&record["value"])).into());
            }
            write_csv_row(out, cells.into_iter())
        })
    }

    fn parquet(&self, out: &mut ChunkSender) -> io::Result<()> {
        let mut writer = parquet_export::Writer::new(out, &self.columns)?;
        self.for_each(|record| writer.push(&record))?;
        writer.finish()
    }
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

        pub fn push(&mut self, record: &Value) -> io::Result<()> {
            let number = |v: &Value| v.as_i64().unwrap_or_default();
            push_value(&mut self.buffers[0], Some(Scalar::Int32(number(&record["partition"]) as i32)));
            push_value(&mut self.buffers[1], Some(Scalar::Int64(number(&record["offset"]))));
            push_value(&mut self.buffers[2], Some(Scalar::Int64(number(&record["timestamp"]))));
            let key = match &record["key"] {
                Value::Null => None,
                other => Some(Scalar::Text(cell_text(other))),
            };
            push_value(&mut self.buffers[3], key);
            let value = &record["value"];
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
    fn sunset_dates_are_http_dates() {
        assert_eq!(http_date(2030, 12, 31), "Tue, 31 Dec 2030 00:00:00 GMT");
        assert_eq!(http_date(2024, 2, 29), "Thu, 29 Feb 2024 00:00:00 GMT");
        assert_eq!(http_date(2000, 1, 1), "Sat, 01 Jan 2000 00:00:00 GMT");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut out = Vec::new();
        let cells = ["plain", "a,b", "say \"hi\"", "two\nlines", ""].map(std::borrow::Cow::Borrowed);
        write_csv_row(&mut out, cells.into_iter()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
    }

    #[test]
    fn value_columns_never_clash_with_record_columns() {
        let fields = vec![
            weft_catalog::FieldInfo::new("timestamp", "long", None),
            weft_catalog::FieldInfo::new("value", "record Money", None),
            weft_catalog::FieldInfo::new("value.amount", "double", None),
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
