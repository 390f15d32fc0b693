//! A data product's records, read through its output port: a sample, reads by offset, time or cursor,
//! the live tail, and exports as JSON lines, CSV or Parquet.
//!
//! Every route names the product's output port (`?port=NAME` or `?port=NAME@MAJOR`; otherwise the
//! served port with the highest major version, which is where new consumers belong); the mesh resolves
//! it and reads through its one read path, so records have the one JSON shape of the topic routes. A
//! retired product's data is no longer served (403, 40302); a deprecated product's is, with
//! `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and, when it has a successor,
//! `Link: <...>; rel="successor-version"` headers.

use std::io::{self, Write};

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
use weft_mesh::catalog::Lifecycle;
use weft_mesh::export::ExportFormat;
use weft_mesh::read::{Resolved, Target};

use super::openapi::ErrorBody;
use super::records::{self, ReadQuery, ReadResponse, StartFrom, TailQuery};
use super::{call, Ctx, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

/// The most records a sample returns.
pub const MAX_SAMPLE: usize = 1000;
const DEFAULT_SAMPLE: usize = 10;
/// Bytes buffered before a chunk of an export goes to the client.
const EXPORT_CHUNK: usize = 64 * 1024;

fn product(id: String, port: Option<String>) -> Target {
    Target::Product { id, port }
}

/// The headers every answer about a deprecated product carries.
fn deprecation_headers(resolved: &Resolved) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let Some(served) = &resolved.served else { return headers };
    if let Lifecycle::Deprecated { sunset, successor, .. } = &served.product.lifecycle {
        // RFC 9745: the moment the deprecation took effect, as a structured-field date.
        let since = served.deprecated_at.unwrap_or(served.product.updated_at).div_euclid(1000);
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
    headers
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

fn with_headers(headers: HeaderMap, response: impl IntoResponse) -> Response {
    (headers, response).into_response()
}

async fn resolve(state: &AppState, target: Target) -> Result<Resolved, ApiError> {
    call(state, move |mesh| mesh.data().resolve(&target)).await
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
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody)))]
pub async fn sample(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<SampleQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_SAMPLE);
    if !(1..=MAX_SAMPLE).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be between 1 and {MAX_SAMPLE}, not {limit}")));
    }
    let (resolved, records) = call(&state, move |mesh| {
        let resolved = mesh.data().resolve(&product(id, query.port))?;
        let records = mesh.data().newest(ctx.principal(), &resolved.topic, limit)?;
        Ok((resolved, records))
    })
    .await?;
    let headers = deprecation_headers(&resolved);
    let (product, port) = match &resolved.served {
        Some(served) => (served.product.id().to_string(), served.port.name.clone()),
        None => (String::new(), String::new()),
    };
    let sample =
        Sample { product, port, topic: resolved.topic, records: records.iter().map(|r| r.to_json()).collect() };
    Ok(with_headers(headers, Json(sample)))
}

// ----- records -----

/// `GET /api/v1/products/{id}/records` parameters: those of the topic route, and `port`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductReadQuery {
    /// One partition (default: every partition, merged by timestamp).
    pub partition: Option<u32>,
    /// Start at this offset (needs a partition when the port's topic has several)...
    pub offset: Option<u64>,
    /// ...or at the earliest or latest (default earliest)...
    #[param(value_type = Option<String>)]
    pub from: Option<StartFrom>,
    /// ...or at the first record at or after this time (epoch milliseconds)...
    pub timestamp: Option<i64>,
    /// ...or where a previous read stopped: its `next` (`0:12,1:40`).
    pub cursor: Option<String>,
    /// 1 to 10000 (default 100).
    pub limit: Option<usize>,
    /// `true`: keys and values as their stored bytes, base64 (what a Kafka consumer receives).
    #[serde(default)]
    pub raw: bool,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// Records of the product's output port by offset, position, time or cursor, as
/// `GET /api/v1/topics/{topic}/records` answers.
#[utoipa::path(get, path = "/api/v1/products/{id}/records", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ProductReadQuery),
    responses((status = 200, description = "Records and where the next page starts", body = ReadResponse),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "A bad parameter (42201)", body = ErrorBody)))]
pub async fn records(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ProductReadQuery>,
) -> Result<Response, ApiError> {
    let ProductReadQuery { partition, offset, from, timestamp, cursor, limit, raw, port } = query;
    let resolved = resolve(&state, product(id.clone(), port.clone())).await?;
    let headers = deprecation_headers(&resolved);
    let read = ReadQuery { partition, offset, from, timestamp, cursor, limit, raw };
    let answer = records::read(&state, ctx, product(id, port), read).await?;
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
    /// The first record at or after this time (epoch milliseconds).
    pub timestamp: Option<i64>,
    /// A cursor (`0:12,1:40`), as an event id gives it.
    pub cursor: Option<String>,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// The live tail of the product's output port as server-sent events (one record per event, id = the
/// cursor after it).
#[utoipa::path(get, path = "/api/v1/products/{id}/records/stream", operation_id = "stream_product_records", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ProductTailQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses((status = 200, description = "Server-sent events", content_type = "text/event-stream", body = String),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ProductTailQuery>,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ProductTailQuery { partition, offset, from, timestamp, cursor, port } = query;
    let resolved = resolve(&state, product(id, port)).await?;
    let headers = deprecation_headers(&resolved);
    let tail = TailQuery { partition, offset, from, timestamp, cursor };
    let events = records::tail(&state, ctx, resolved, tail, &request_headers).await?;
    Ok(with_headers(headers, events))
}

// ----- export -----

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
#[utoipa::path(get, path = "/api/v1/products/{id}/export", operation_id = "export_product_data", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ExportQuery),
    responses((status = 200, description = "The file (Content-Disposition: attachment)", content_type = "application/octet-stream", body = String),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "A bad parameter (42201)", body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = query.format;
    // Settle everything that can fail before the first byte goes out: afterwards only the connection can say.
    let (resolved, job) = call(&state, move |mesh| {
        let resolved = mesh.data().resolve(&product(id, query.port))?;
        let job = mesh.prepare_export(&ctx, &resolved, format, query.from, query.to)?;
        Ok((resolved, job))
    })
    .await?;
    let mut headers = deprecation_headers(&resolved);
    let (extension, media_type) = format.file_type();
    if let Some(served) = &resolved.served {
        let file = format!("{}-{}-v{}.{extension}", served.product.id(), served.port.name, served.port.version.major);
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
            headers.insert(CONTENT_DISPOSITION, value);
        }
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(media_type));
    let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let mesh = state.mesh.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkSender { sender: sender.clone(), buffer: Vec::with_capacity(EXPORT_CHUNK) };
        let written = mesh.write_export(&job, &mut out).and_then(|()| out.flush());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sunset_dates_are_http_dates() {
        assert_eq!(http_date(2030, 12, 31), "Tue, 31 Dec 2030 00:00:00 GMT");
        assert_eq!(http_date(2024, 2, 29), "Thu, 29 Feb 2024 00:00:00 GMT");
        assert_eq!(http_date(2000, 1, 1), "Sat, 01 Jan 2000 00:00:00 GMT");
    }
}
