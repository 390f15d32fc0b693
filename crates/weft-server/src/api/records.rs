//! `/api/v1/topics/{topic}/records`: produce, read, and tail records; reads and tails of products
//! (`product_data`) share this module's read and tail code.
//!
//! Records have one JSON shape, [`weft_mesh::records::DataRecord::to_json`]; the mesh's write and read
//! paths do the encoding and decoding.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::contracts::Violation;
use weft_mesh::raw_json::RawJsonRecord;
use weft_mesh::read::{Page, PageRequest, Positions, Resolved, Start, TailCursor, Target};
use weft_mesh::records::JsonRecord;
use weft_mesh::RequestContext;
use weft_mesh::{Outcome, Produced};

use super::{call, parse_json, Ctx, PathParam, QueryParams, RawBody};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// Records returned by a read that gives no `limit`.
pub const DEFAULT_READ_LIMIT: usize = 100;
/// Records fetched per partition and log read while tailing.
const TAIL_BATCH: usize = 500;
/// How often a live tail sends a comment so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Where one record of a produce request went: its place in the topic, or, when it broke its port's
/// rules under the `dead-letter` policy, its place in the product's dead-letter topic and why.
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct ProducedOffset {
    pub partition: u32,
    pub offset: u64,
    pub timestamp: i64,
    /// The dead-letter topic the record went to instead of the topic (absent when it was written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
    /// The rules it broke (absent when it was written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProduceResponse {
    /// One entry per request record, in request order.
    pub offsets: Vec<ProducedOffset>,
    /// Records written to the topic.
    pub accepted: usize,
    /// Records sent to the product's dead-letter topic (listed in `offsets` with their violations).
    pub dead_lettered: usize,
}

/// `POST /api/v1/topics/{topic}/records`: the whole request is checked and encoded before anything is
/// appended (a bad record refuses it all), then appended as one batch per partition.
#[utoipa::path(post, path = "/api/v1/topics/{topic}/records", tag = "records",
    params(("topic" = String, Path, description = "The topic name"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who writes (default anonymous)")),
    request_body = Vec<JsonRecord>,
    responses((status = 200, description = "Each record's partition, offset and timestamp, in request order", body = ProduceResponse),
        (status = 403, description = "An internal topic (40301)", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Too large (41301) or too many records (41302)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A record that does not fit (42204), or the product's port has no schema yet (42209)", body = crate::api::openapi::ErrorBody)))]
pub async fn produce(
    State(state): State<AppState>,
    PathParam(topic): PathParam,
    Ctx(ctx): Ctx,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let max_records = state.limits.max_records_per_request;
    let mesh = state.mesh.clone();
    // Reading the body is work for the blocking pool too: a request carries thousands of records.
    let produced = tokio::task::spawn_blocking(move || -> Result<Produced, ApiError> {
        // Records whose values can be stored as sent are read without building JSON trees; any
        // other body (and a bad one, whose error must say which record and field) the usual way.
        if let Some(records) = RawJsonRecord::parse_request(&body) {
            check_record_count(records.len(), max_records)?;
            return Ok(mesh.produce_raw(&ctx, &topic, records)?);
        }
        let records: Vec<JsonRecord> = parse_json(&body)?;
        check_record_count(records.len(), max_records)?;
        Ok(mesh.produce(&ctx, &topic, records)?)
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::new(ErrorCode::Internal, format!("a platform call failed: {e}"))))?;
    let body = ProduceResponse::from(produced).to_json();
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

impl From<Produced> for ProduceResponse {
    fn from(produced: Produced) -> ProduceResponse {
        let dead_letters = produced.dead_letter_topic;
        let mut response =
            ProduceResponse { offsets: Vec::with_capacity(produced.outcomes.len()), accepted: 0, dead_lettered: 0 };
        for outcome in produced.outcomes {
            let entry = match outcome {
                Outcome::Written(p) => {
                    response.accepted += 1;
                    ProducedOffset {
                        partition: p.partition,
                        offset: p.offset,
                        timestamp: p.timestamp,
                        dead_letter_topic: None,
                        violations: None,
                    }
                }
                Outcome::DeadLettered { place, violations } => {
                    response.dead_lettered += 1;
                    ProducedOffset {
                        partition: place.partition,
                        offset: place.offset,
                        timestamp: place.timestamp,
                        dead_letter_topic: dead_letters.clone(),
                        violations: Some(violations),
                    }
                }
                // Only a replay of dead letters leaves records refused without an error.
                Outcome::Refused { .. } => continue,
            };
            response.offsets.push(entry);
        }
        response
    }
}

impl ProduceResponse {
    /// The response as `serde_json` writes it (compact), written by hand: a produce request answers
    /// with one small object per record, and serializing them through serde cost a sixth of the
    /// server's CPU per record. An entry with a dead-letter topic or violations goes through serde.
    fn to_json(&self) -> Vec<u8> {
        const WRITTEN_ENTRY_BYTES: usize = 64;
        let mut out = Vec::with_capacity(64 + self.offsets.len() * WRITTEN_ENTRY_BYTES);
        let mut numbers = itoa::Buffer::new();
        out.extend_from_slice(b"{\"offsets\":[");
        for (n, entry) in self.offsets.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            if entry.dead_letter_topic.is_some() || entry.violations.is_some() {
                // Writing to a Vec cannot fail, nor can serializing these plain fields.
                let _ = serde_json::to_writer(&mut out, entry);
                continue;
            }
            out.extend_from_slice(b"{\"partition\":");
            out.extend_from_slice(numbers.format(entry.partition).as_bytes());
            out.extend_from_slice(b",\"offset\":");
            out.extend_from_slice(numbers.format(entry.offset).as_bytes());
            out.extend_from_slice(b",\"timestamp\":");
            out.extend_from_slice(numbers.format(entry.timestamp).as_bytes());
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"accepted\":");
        out.extend_from_slice(numbers.format(self.accepted).as_bytes());
        out.extend_from_slice(b",\"dead_lettered\":");
        out.extend_from_slice(numbers.format(self.dead_lettered).as_bytes());
        out.push(b'}');
        out
    }
}

/// Refuses a produce request with no records or more than the server takes.
fn check_record_count(count: usize, max_records: usize) -> Result<(), ApiError> {
    if count == 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidRecord,
            "the request holds no records: send a JSON array of records",
        ));
    }
    if count > max_records {
        return Err(ApiError::new(
            ErrorCode::TooManyRecords,
            format!(
                "the request holds {count} records; the server takes at most {max_records} per request (max_records_per_request)"
            ),
        ));
    }
    Ok(())
}

/// Where a read or tail starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    Earliest,
    Latest,
}

/// `GET /api/v1/topics/{topic}/records` parameters: one of `offset`, `from`, `timestamp`, `cursor`
/// (default `from=earliest`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// One partition (default: every partition, merged by timestamp).
    pub partition: Option<u32>,
    /// Start at this offset (needs a partition when the topic has several)...
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
    /// `true`: keys and values as their stored bytes, base64 (what a Kafka consumer receives), not
    /// decoded.
    #[serde(default)]
    pub raw: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadResponse {
    /// `{"partition", "offset", "timestamp", "key", "value", "headers"}`, with `key_encoding` /
    /// `value_encoding` (`"base64"`), `key_schema_id` / `value_schema_id` and `header_encodings` when
    /// they apply.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Value>,
    /// Where the next page starts: pass it as `cursor`.
    pub next: String,
    /// The next offset, when one partition was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
    /// One past the last durable offset, when one partition was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_watermark: Option<u64>,
}

impl ReadResponse {
    pub(crate) fn from_page(page: Page) -> ReadResponse {
        let single = page.next.0.len() == 1;
        ReadResponse {
            records: page.records.iter().map(|r| r.to_json()).collect(),
            next: page.next.to_string(),
            next_offset: if single { page.next.0.values().next().copied() } else { None },
            high_watermark: if single { page.high_watermarks.0.values().next().copied() } else { None },
        }
    }
}

/// The start a read's parameters name (at most one of them).
fn start_of(
    offset: Option<u64>,
    from: Option<StartFrom>,
    timestamp: Option<i64>,
    cursor: Option<&str>,
    default: Start,
) -> Result<Start, ApiError> {
    let given = [offset.is_some(), from.is_some(), timestamp.is_some(), cursor.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(ApiError::invalid("give at most one of the query parameters offset, from, timestamp and cursor"));
    }
    Ok(match (offset, from, timestamp, cursor) {
        (Some(offset), ..) => Start::Offset(offset),
        (_, Some(StartFrom::Earliest), ..) => Start::Earliest,
        (_, Some(StartFrom::Latest), ..) => Start::Latest,
        (_, _, Some(timestamp), _) => Start::Timestamp(timestamp),
        (_, _, _, Some(cursor)) => {
            Start::Positions(cursor.parse().map_err(|e| ApiError::invalid(format!("invalid cursor: {e}")))?)
        }
        _ => default,
    })
}

/// `GET /api/v1/topics/{topic}/records`.
#[utoipa::path(get, path = "/api/v1/topics/{topic}/records", tag = "records",
    params(("topic" = String, Path, description = "The topic name"), ReadQuery),
    responses((status = 200, description = "Records and where the next page starts", body = ReadResponse),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody),
        (status = 416, description = "The offset is out of range (41601)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad parameter (42201)", body = crate::api::openapi::ErrorBody)))]
pub async fn consume(
    State(state): State<AppState>,
    PathParam(topic): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<Json<ReadResponse>, ApiError> {
    read(&state, ctx, Target::Topic(topic), query).await.map(Json)
}

/// One page of a topic or product (shared by the topic and product routes).
pub(crate) async fn read(
    state: &AppState,
    ctx: RequestContext,
    target: Target,
    query: ReadQuery,
) -> Result<ReadResponse, ApiError> {
    let start = start_of(query.offset, query.from, query.timestamp, query.cursor.as_deref(), Start::Earliest)?;
    let request = PageRequest {
        partition: query.partition,
        start,
        limit: query.limit.unwrap_or(DEFAULT_READ_LIMIT),
        raw: query.raw,
    };
    let page = call(state, move |mesh| {
        let resolved = mesh.data().resolve(&target)?;
        mesh.data().read_page(ctx.principal(), &resolved, &request)
    })
    .await?;
    Ok(ReadResponse::from_page(page))
}

/// `GET /api/v1/topics/{topic}/records/stream` parameters (default `from=latest`, every partition).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TailQuery {
    /// One partition (default: every partition).
    pub partition: Option<u32>,
    /// Start at this offset (one partition)...
    pub offset: Option<u64>,
    /// ...or at the earliest or latest (default latest)...
    #[param(value_type = Option<String>)]
    pub from: Option<StartFrom>,
    /// ...or at the first record at or after this time (epoch milliseconds)...
    pub timestamp: Option<i64>,
    /// ...or at a cursor (`0:12,1:40`), as an event id gives it.
    pub cursor: Option<String>,
}

/// `GET /api/v1/topics/{topic}/records/stream`: server-sent events, one record per `data:` line. The
/// event id is the cursor right after the record (`0:13,1:40`: the next offset of every partition
/// tailed), so a reconnecting `EventSource`'s `Last-Event-ID` resumes every partition where it stopped
/// (unless a start parameter is given). The response ends when the topic goes away or the server shuts
/// down.
#[utoipa::path(get, path = "/api/v1/topics/{topic}/records/stream", operation_id = "stream_topic_records", tag = "records",
    params(("topic" = String, Path, description = "The topic name"), TailQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (a cursor, or an offset of a one-partition tail)")),
    responses((status = 200, description = "Server-sent events, one record per event, id = the cursor after it", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    PathParam(topic): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<TailQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resolved = call(&state, move |mesh| mesh.data().resolve(&Target::Topic(topic))).await?;
    tail(&state, ctx, resolved, query, &headers).await
}

/// Where a tail starts: its parameters, else the `Last-Event-ID` of a reconnecting client, else the
/// latest records.
fn tail_start(resolved: &Resolved, query: &TailQuery, headers: &HeaderMap) -> Result<Start, ApiError> {
    let last_event_id = headers.get("last-event-id").and_then(|value| value.to_str().ok()).map(str::trim);
    let explicit =
        query.offset.is_some() || query.from.is_some() || query.timestamp.is_some() || query.cursor.is_some();
    match last_event_id.filter(|id| !id.is_empty() && !explicit) {
        // A one-partition tail's id used to be the record's offset: resume after it.
        Some(id) if id.parse::<u64>().is_ok() => {
            let single = query.partition.or((resolved.partitions == 1).then_some(0));
            match (single, id.parse::<u64>()) {
                (Some(_), Ok(offset)) => Ok(Start::Offset(offset.saturating_add(1))),
                _ => Err(ApiError::invalid(format!(
                    "Last-Event-ID {id} is an offset, but the tail covers {} partitions",
                    resolved.partitions
                ))),
            }
        }
        Some(id) => Ok(Start::Positions(
            id.parse::<Positions>().map_err(|e| ApiError::invalid(format!("invalid Last-Event-ID: {e}")))?,
        )),
        None => start_of(query.offset, query.from, query.timestamp, query.cursor.as_deref(), Start::Latest),
    }
}

/// How often an idle tail reads anyway, so that a revoked grant ends it within about this.
const GRANT_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The live tail of a resolved topic or product port (shared by the topic and product routes).
pub(crate) async fn tail(
    state: &AppState,
    ctx: RequestContext,
    resolved: Resolved,
    query: TailQuery,
    headers: &HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let start = tail_start(&resolved, &query, headers)?;
    let partition = query.partition;
    // Refused before the stream starts, as a status, rather than as its first event.
    let (principal, topic) = (ctx.principal().to_string(), resolved.topic.clone());
    call(state, move |mesh| mesh.data().check_read(&principal, &topic)).await?;
    // Subscribe before resolving the start so that nothing appended in between is missed.
    let (cursor, watermarks) = call(state, move |mesh| {
        let data = mesh.data();
        let probe = data.open_tail(&resolved, partition, &Start::Latest)?;
        let watermarks = data.subscribe(&probe)?;
        let cursor = data.open_tail(&resolved, partition, &start)?;
        Ok((cursor, watermarks))
    })
    .await?;
    let (sender, receiver) = mpsc::channel::<Event>(256);
    let tail =
        Tail { state: state.clone(), ctx, cursor, watermarks, shutdown: state.shutdown_receiver(), events: sender };
    tokio::spawn(tail.run());
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Follows a tail's partitions, sending each record as an event once it is durable.
struct Tail {
    state: AppState,
    ctx: RequestContext,
    cursor: TailCursor,
    watermarks: Vec<watch::Receiver<u64>>,
    shutdown: watch::Receiver<bool>,
    events: mpsc::Sender<Event>,
}

impl Tail {
    async fn run(mut self) {
        // Set once the log stops publishing a watermark (topic deleted, log closed): one last read
        // then tells the client why the tail ends.
        let mut last_read = false;
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            let cursor = self.cursor.clone();
            let ctx = self.ctx.clone();
            let read = call(&self.state, move |mesh| {
                let mut cursor = cursor;
                let records = mesh.data().tail_next(ctx.principal(), &mut cursor, TAIL_BATCH)?;
                Ok((cursor, records))
            })
            .await;
            let (cursor, records) = match read {
                Ok(read) => read,
                Err(error) => {
                    let data = serde_json::json!({"error_code": error.error_code(), "message": error.message});
                    let _ = self.events.send(Event::default().event("error").data(data.to_string())).await;
                    return;
                }
            };
            self.cursor = cursor;
            let got = !records.is_empty();
            for (record, after) in records {
                let event = Event::default().id(after.to_string()).data(record.to_json().to_string());
                if self.events.send(event).await.is_err() {
                    return;
                }
            }
            if got {
                continue;
            }
            if last_read {
                return;
            }
            match self.wait().await {
                Wait::NewRecords => {}
                Wait::WatermarkGone => last_read = true,
                Wait::Stop => return,
            }
        }
    }

    /// Waits until a watermark moves past the tail's position in its partition.
    async fn wait(&mut self) -> Wait {
        if self.watermarks.is_empty() {
            return Wait::Stop;
        }
        loop {
            for (receiver, position) in self.watermarks.iter_mut().zip(self.cursor.positions.0.values()) {
                if *receiver.borrow_and_update() > *position {
                    return Wait::NewRecords;
                }
            }
            let changed = futures_util::future::select_all(self.watermarks.iter_mut().map(|r| Box::pin(r.changed())));
            tokio::select! {
                (changed, _, _) = changed => if changed.is_err() { return Wait::WatermarkGone },
                // Read again now and then even without new records: the read checks the reader's
                // grant, so a revoked grant ends an idle tail too.
                _ = tokio::time::sleep(GRANT_RECHECK) => return Wait::NewRecords,
                _ = self.shutdown.changed() => return Wait::Stop,
                _ = self.events.closed() => return Wait::Stop,
            }
        }
    }
}

/// Why a tail stopped waiting.
enum Wait {
    NewRecords,
    /// The log dropped a partition's watermark sender.
    WatermarkGone,
    /// The client went away or the server is shutting down.
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_one_start_parameter() {
        assert_eq!(start_of(None, None, None, None, Start::Earliest).ok(), Some(Start::Earliest));
        assert_eq!(start_of(Some(3), None, None, None, Start::Earliest).ok(), Some(Start::Offset(3)));
        assert!(start_of(Some(3), Some(StartFrom::Latest), None, None, Start::Earliest).is_err());
        assert!(start_of(None, Some(StartFrom::Latest), Some(5), None, Start::Earliest).is_err());
        let cursor = start_of(None, None, None, Some("0:4,1:9"), Start::Earliest).expect("cursor");
        assert_eq!(cursor, Start::Positions("0:4,1:9".parse().expect("positions")));
        assert!(start_of(None, None, None, Some("0:x"), Start::Earliest).is_err());
    }

    /// The hand-written response is exactly serde's, for written and dead-lettered records alike
    /// (numbers at their extremes included).
    #[test]
    fn the_produce_response_is_written_as_serde_writes_it() {
        let placed = |partition, offset, timestamp| weft_mesh::Placed { partition, offset, timestamp };
        let violation = Violation { rule: "schema".into(), field: Some("value.\"a\"".into()), reason: "no\n".into() };
        let produced = Produced {
            outcomes: vec![
                Outcome::Written(placed(0, 0, 0)),
                Outcome::DeadLettered { place: placed(0, 7, -1), violations: vec![violation.clone()] },
                Outcome::Refused { violations: vec![violation] },
                Outcome::Written(placed(u32::MAX, u64::MAX, i64::MIN)),
                Outcome::Written(placed(3, 1_234_567, 1_765_000_000_123)),
            ],
            dead_letter_topic: Some("_weft_dead_letters.p".into()),
        };
        let response = ProduceResponse::from(produced);
        assert_eq!((response.accepted, response.dead_lettered, response.offsets.len()), (3, 1, 4));
        let expected = serde_json::to_string(&response).expect("serializes");
        assert_eq!(String::from_utf8(response.to_json()).expect("UTF-8"), expected);
        let empty = ProduceResponse { offsets: Vec::new(), accepted: 0, dead_lettered: 0 };
        assert_eq!(empty.to_json(), br#"{"offsets":[],"accepted":0,"dead_lettered":0}"#);
    }
}
