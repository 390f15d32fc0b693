//! `/api/v1/topics/{topic}/records`: produce, read, and tail records (their JSON form is in [`super::codec`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use utoipa::{IntoParams, ToSchema};
use weft_log::{partition_for_key, LogError, ReadLimits, Record, TimestampType};

use super::codec::{record_json, record_size, to_log_record};
use super::{blocking, parse_json, PathParam, QueryParams, RawBody};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// The most records one read returns.
pub const MAX_READ_LIMIT: usize = 10_000;
/// Records returned by a read that gives no `limit`.
pub const DEFAULT_READ_LIMIT: usize = 100;
/// Soft byte limit of one read (one record is returned even when larger).
pub(crate) const READ_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Records fetched per log read while tailing.
const TAIL_BATCH: usize = 500;
/// How often a live tail sends a comment so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One record of a produce request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProduceRecord {
    /// Any JSON; stored as its JSON text.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub key: Option<Value>,
    /// Any JSON; stored as its JSON text.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
    /// Header names to string values (`null` for a header without a value).
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// Epoch milliseconds; the server's clock when absent.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Target partition; otherwise chosen by key, or round-robin per request for records without key.
    #[serde(default)]
    pub partition: Option<u32>,
}

#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct ProducedOffset {
    pub partition: u32,
    pub offset: u64,
    pub timestamp: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProduceResponse {
    /// One entry per request record, in request order.
    pub offsets: Vec<ProducedOffset>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// The records bound for one partition, with their places in the request.
#[derive(Debug)]
struct PartitionBatch {
    partition: u32,
    indices: Vec<usize>,
    records: Vec<Record>,
}

/// A produce request that passed validation, grouped by partition.
#[derive(Debug)]
struct ProducePlan {
    batches: Vec<PartitionBatch>,
    records: usize,
    bytes: u64,
}

/// Validates every record and picks its partition; nothing is appended unless this succeeds.
///
/// Records without a timestamp get `now`: Kafka's producer stamps records on the client side too, and
/// it lets the answer report every record's timestamp, not just the batch's first.
fn plan_produce(
    request: Vec<ProduceRecord>,
    topic: &str,
    partitions: u32,
    sticky_partition: u32,
    now: i64,
) -> Result<ProducePlan, ApiError> {
    let mut batches: BTreeMap<u32, PartitionBatch> = BTreeMap::new();
    let mut bytes = 0u64;
    let records = request.len();
    for (index, item) in request.into_iter().enumerate() {
        if let Some(partition) = item.partition.filter(|&partition| partition >= partitions) {
            return Err(ApiError::new(
                ErrorCode::PartitionNotFound,
                format!(
                    "invalid record at [{index}].partition: topic '{topic}' has no partition {partition} (it has {partitions})"
                ),
            ));
        }
        if let Some(timestamp) = item.timestamp.filter(|&timestamp| timestamp < 0) {
            return Err(ApiError::new(
                ErrorCode::InvalidRecord,
                format!("invalid record at [{index}].timestamp: {timestamp} is negative; use epoch milliseconds"),
            ));
        }
        let record = to_log_record(item.key, item.value, item.headers, Some(item.timestamp.unwrap_or(now))).map_err(
            |reason| ApiError::new(ErrorCode::InvalidRecord, format!("invalid record at [{index}]: {reason}")),
        )?;
        let partition = match (item.partition, &record.key) {
            (Some(partition), _) => partition,
            (None, Some(key)) => partition_for_key(key, partitions),
            (None, None) => sticky_partition,
        };
        bytes += record_size(&record) as u64;
        let batch = batches.entry(partition).or_insert_with(|| PartitionBatch {
            partition,
            indices: Vec::new(),
            records: Vec::new(),
        });
        batch.indices.push(index);
        batch.records.push(record);
    }
    Ok(ProducePlan { batches: batches.into_values().collect(), records, bytes })
}

/// `POST /api/v1/topics/{topic}/records`: validates the whole request, then appends one batch per
/// partition. Partitions are appended concurrently, each append waiting for its own fsync; should one
/// of them fail (an I/O error: everything a client can get wrong was refused before), the others may
/// still have been written, as with any multi-partition Kafka produce.
#[utoipa::path(post, path = "/api/v1/topics/{topic}/records", tag = "records",
    params(("topic" = String, Path, description = "The topic name")),
    request_body = Vec<ProduceRecord>,
    responses((status = 200, description = "Each record's partition, offset and timestamp, in request order", body = ProduceResponse),
        (status = 403, description = "An internal topic (40301)", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody),
        (status = 413, description = "Too large (41301) or too many records (41302)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "An invalid record (42204)", body = crate::api::openapi::ErrorBody)))]
pub async fn produce(
    State(state): State<AppState>,
    PathParam(topic): PathParam,
    RawBody(body): RawBody,
) -> Result<Json<ProduceResponse>, ApiError> {
    super::refuse_internal(&topic)?;
    let log = state.log.clone();
    let name = topic.clone();
    let config = blocking(move || log.topic_config(&name)).await?;
    let request: Vec<ProduceRecord> = parse_json(&body)?;
    if request.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRecord,
            "the request holds no records: send a JSON array of records",
        ));
    }
    let max_records = state.limits.max_records_per_request;
    if request.len() > max_records {
        return Err(ApiError::new(
            ErrorCode::TooManyRecords,
            format!(
                "the request holds {} records; the server takes at most {max_records} per request (max_records_per_request)",
                request.len(),
            ),
        ));
    }
    let sticky_partition = state.round_robin.fetch_add(1, Ordering::Relaxed) % config.partitions.max(1);
    let plan = plan_produce(request, &topic, config.partitions, sticky_partition, now_ms())?;

    let mut appends = Vec::with_capacity(plan.batches.len());
    for PartitionBatch { partition, indices, records } in plan.batches {
        let log = state.log.clone();
        let topic = topic.clone();
        let metrics = state.metrics.clone();
        let timestamps: Vec<i64> = records.iter().map(|record| record.timestamp.unwrap_or_default()).collect();
        let append = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = log.append(&topic, partition, records);
            metrics.append_latency.observe(started.elapsed());
            result
        });
        appends.push((indices, timestamps, append));
    }
    let mut offsets: Vec<Option<ProducedOffset>> = (0..plan.records).map(|_| None).collect();
    let mut failure = None;
    for (indices, timestamps, append) in appends {
        let appended = match append.await {
            Ok(Ok(appended)) => appended,
            Ok(Err(error)) => {
                failure = failure.or(Some(ApiError::from(error)));
                continue;
            }
            Err(error) => {
                failure = failure.or(Some(ApiError::new(ErrorCode::Internal, format!("an append failed: {error}"))));
                continue;
            }
        };
        for (n, (index, timestamp)) in indices.into_iter().zip(timestamps).enumerate() {
            let timestamp = match config.timestamp_type {
                TimestampType::LogAppendTime => appended.first_timestamp,
                TimestampType::CreateTime => timestamp,
            };
            offsets[index] = Some(ProducedOffset {
                partition: appended.partition,
                offset: appended.base_offset + n as u64,
                timestamp,
            });
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    state.metrics.produced_records.add(plan.records as u64);
    state.metrics.produced_bytes.add(plan.bytes);
    Ok(Json(ProduceResponse { offsets: offsets.into_iter().flatten().collect() }))
}

/// Where a read or tail starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    Earliest,
    Latest,
}

/// `GET /api/v1/topics/{topic}/records` parameters: one of `offset`, `from`, `timestamp` (default `from=earliest`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Needed when the topic has several partitions.
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadResponse {
    /// `{"partition", "offset", "timestamp", "key", "value", "headers"}` (see `api/codec.rs`).
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Value>,
    pub next_offset: u64,
    pub high_watermark: u64,
}

/// Where to start reading a partition, resolved against the log.
#[derive(Debug, Clone, Copy)]
enum Start {
    Offset(u64),
    From(StartFrom),
    Timestamp(i64),
}

impl Start {
    fn from_params(offset: Option<u64>, from: Option<StartFrom>, timestamp: Option<i64>) -> Result<Start, ApiError> {
        match (offset, from, timestamp) {
            (Some(offset), None, None) => Ok(Start::Offset(offset)),
            (None, Some(from), None) => Ok(Start::From(from)),
            (None, None, Some(timestamp)) => Ok(Start::Timestamp(timestamp)),
            (None, None, None) => Ok(Start::From(StartFrom::Earliest)),
            _ => Err(ApiError::invalid("give at most one of the query parameters offset, from and timestamp")),
        }
    }

    /// Runs on the blocking pool.
    fn resolve(self, log: &dyn weft_log::EventLog, topic: &str, partition: u32) -> Result<u64, LogError> {
        match self {
            Start::Offset(offset) => Ok(offset),
            Start::From(StartFrom::Earliest) => log.offsets(topic, partition).map(|(earliest, _)| earliest),
            Start::From(StartFrom::Latest) => log.offsets(topic, partition).map(|(_, latest)| latest),
            Start::Timestamp(timestamp) => match log.offset_for_timestamp(topic, partition, timestamp)? {
                Some(offset) => Ok(offset),
                None => log.offsets(topic, partition).map(|(_, latest)| latest),
            },
        }
    }
}

/// The partition a request names, or partition 0 of a one-partition topic.
async fn single_partition(state: &AppState, topic: &str, partition: Option<u32>) -> Result<u32, ApiError> {
    let log = state.log.clone();
    let name = topic.to_string();
    let partitions = blocking(move || log.topic_config(&name)).await?.partitions;
    match partition {
        Some(partition) if partition < partitions => Ok(partition),
        Some(partition) => Err(LogError::PartitionNotFound { topic: topic.to_string(), partition, partitions }.into()),
        None if partitions == 1 => Ok(0),
        None => Err(ApiError::invalid(format!(
            "topic '{topic}' has {partitions} partitions: give the query parameter partition (0 to {})",
            partitions - 1
        ))),
    }
}

/// `GET /api/v1/topics/{topic}/records`.
#[utoipa::path(get, path = "/api/v1/topics/{topic}/records", tag = "records",
    params(("topic" = String, Path, description = "The topic name"), ReadQuery),
    responses((status = 200, description = "Records and the next offset", body = ReadResponse),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody),
        (status = 416, description = "The offset is out of range (41601)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad parameter (42201)", body = crate::api::openapi::ErrorBody)))]
pub async fn consume(
    State(state): State<AppState>,
    PathParam(topic): PathParam,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<Json<ReadResponse>, ApiError> {
    read_records(&state, topic, query).await.map(Json)
}

/// Reads one partition of `topic` (shared by the topic and data product routes).
pub(crate) async fn read_records(state: &AppState, topic: String, query: ReadQuery) -> Result<ReadResponse, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_READ_LIMIT);
    if !(1..=MAX_READ_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be between 1 and {MAX_READ_LIMIT}, not {limit}")));
    }
    let start = Start::from_params(query.offset, query.from, query.timestamp)?;
    let partition = single_partition(state, &topic, query.partition).await?;
    let log = state.log.clone();
    let metrics = state.metrics.clone();
    let read = blocking(move || {
        let offset = start.resolve(log.as_ref(), &topic, partition)?;
        let started = Instant::now();
        let read = log.read(&topic, partition, offset, ReadLimits { max_records: limit, max_bytes: READ_MAX_BYTES });
        metrics.read_latency.observe(started.elapsed());
        read
    })
    .await?;
    state.metrics.consumed_records.add(read.records.len() as u64);
    Ok(ReadResponse {
        records: read.records.iter().map(|record| record_json(partition, record)).collect(),
        next_offset: read.next_offset,
        high_watermark: read.high_watermark,
    })
}

/// `GET /api/v1/topics/{topic}/records/stream` parameters (default `from=latest`, every partition).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TailQuery {
    /// One partition (default: every partition).
    pub partition: Option<u32>,
    pub offset: Option<u64>,
    /// earliest or latest (default latest).
    #[param(value_type = Option<String>)]
    pub from: Option<StartFrom>,
}

/// `GET /api/v1/topics/{topic}/records/stream`: server-sent events, one record per `data:` line, event
/// id = offset. With no partition every partition is tailed (the record's `partition` field tells them
/// apart). A reconnecting `EventSource` sends `Last-Event-ID`; a one-partition tail then resumes after
/// that offset (unless `offset` or `from` is given). The response ends when the topic goes away or the
/// server shuts down.
#[utoipa::path(get, path = "/api/v1/topics/{topic}/records/stream", tag = "records",
    params(("topic" = String, Path, description = "The topic name"), TailQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume a one-partition tail after this offset")),
    responses((status = 200, description = "Server-sent events, one record per event, id = offset", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    PathParam(topic): PathParam,
    QueryParams(query): QueryParams<TailQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    tail(&state, topic, query, &headers).await
}

/// The live tail of `topic` (shared by the topic and data product routes).
pub(crate) async fn tail(
    state: &AppState,
    topic: String,
    query: TailQuery,
    headers: &HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let log = state.log.clone();
    let name = topic.clone();
    let partitions = blocking(move || log.topic_config(&name)).await?.partitions;
    let single = query.partition.is_some() || partitions == 1;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .filter(|_| single);
    let start = match (query.offset, query.from, last_event_id) {
        (Some(_), Some(_), _) => {
            return Err(ApiError::invalid("give at most one of the query parameters offset and from"))
        }
        (Some(offset), None, _) => Start::Offset(offset),
        (None, Some(from), _) => Start::From(from),
        (None, None, Some(last)) => Start::Offset(last.saturating_add(1)),
        (None, None, None) => Start::From(StartFrom::Latest),
    };
    let tailed: Vec<u32> = match query.partition {
        Some(_) => vec![single_partition(state, &topic, query.partition).await?],
        None if matches!(start, Start::Offset(_)) && partitions > 1 => {
            return Err(ApiError::invalid(format!(
                "offset needs a partition: topic '{topic}' has {partitions} partitions"
            )))
        }
        None => (0..partitions).collect(),
    };
    // Subscribe before resolving the start so that nothing appended in between is missed.
    let log = state.log.clone();
    let name = topic.clone();
    let positions = blocking(move || {
        tailed
            .into_iter()
            .map(|partition| {
                let watermark = log.subscribe(&name, partition)?;
                Ok((partition, start.resolve(log.as_ref(), &name, partition)?, watermark))
            })
            .collect::<Result<Vec<_>, LogError>>()
    })
    .await?;

    let (sender, receiver) = mpsc::channel::<Event>(256);
    for (partition, offset, watermark) in positions {
        let tail = Tail {
            state: state.clone(),
            topic: topic.clone(),
            partition,
            offset,
            watermark,
            shutdown: state.shutdown_receiver(),
            events: sender.clone(),
        };
        tokio::spawn(tail.run());
    }
    drop(sender);
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Follows one partition, sending each record as an event once it is durable.
struct Tail {
    state: AppState,
    topic: String,
    partition: u32,
    offset: u64,
    watermark: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    events: mpsc::Sender<Event>,
}

impl Tail {
    async fn run(mut self) {
        // Set once the log stops publishing this partition's watermark (topic deleted, log closed):
        // one last read then tells the client why the tail ends.
        let mut last_read = false;
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            let read = match self.read().await {
                Ok(read) => read,
                // Retention removed records this tail had not reached yet: carry on from the oldest left.
                Err(LogError::OffsetOutOfRange { requested, earliest, .. }) if requested < earliest && !last_read => {
                    self.offset = earliest;
                    continue;
                }
                Err(error) => {
                    let error = ApiError::from(error);
                    let data = serde_json::json!({"error_code": error.error_code(), "message": error.message});
                    let _ = self.events.send(Event::default().event("error").data(data.to_string())).await;
                    return;
                }
            };
            for record in &read.records {
                let event = Event::default()
                    .id(record.offset.to_string())
                    .data(record_json(self.partition, record).to_string());
                self.state.metrics.consumed_records.add(1);
                if self.events.send(event).await.is_err() {
                    return;
                }
            }
            self.offset = self.offset.max(read.next_offset);
            if !read.records.is_empty() {
                continue;
            }
            if last_read {
                return;
            }
            match self.wait_beyond(read.high_watermark.max(self.offset)).await {
                Wait::NewRecords => {}
                Wait::WatermarkGone => last_read = true,
                Wait::Stop => return,
            }
        }
    }

    async fn read(&self) -> Result<weft_log::ReadResult, LogError> {
        let log = self.state.log.clone();
        let metrics = self.state.metrics.clone();
        let (topic, partition, offset) = (self.topic.clone(), self.partition, self.offset);
        let limits = ReadLimits { max_records: TAIL_BATCH, max_bytes: READ_MAX_BYTES };
        let read = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let read = log.read(&topic, partition, offset, limits);
            metrics.read_latency.observe(started.elapsed());
            read
        });
        read.await.unwrap_or(Err(LogError::Closed))
    }

    /// Waits until the high watermark passes `seen`.
    async fn wait_beyond(&mut self, seen: u64) -> Wait {
        loop {
            if *self.watermark.borrow_and_update() > seen {
                return Wait::NewRecords;
            }
            tokio::select! {
                changed = self.watermark.changed() => if changed.is_err() { return Wait::WatermarkGone },
                _ = self.shutdown.changed() => return Wait::Stop,
                _ = self.events.closed() => return Wait::Stop,
            }
        }
    }
}

/// Why a tail stopped waiting.
enum Wait {
    NewRecords,
    /// The log dropped the partition's watermark sender.
    WatermarkGone,
    /// The client went away or the server is shutting down.
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce_record(json: Value) -> ProduceRecord {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn plan_groups_by_partition_and_keeps_request_order() {
        let request = vec![
            produce_record(serde_json::json!({"value": 1})),
            produce_record(serde_json::json!({"value": 2, "partition": 0})),
            produce_record(serde_json::json!({"value": 3})),
            produce_record(serde_json::json!({"key": "k", "value": 4, "timestamp": 9})),
        ];
        let plan = plan_produce(request, "t", 3, 2, 1000).unwrap();
        assert_eq!(plan.records, 4);
        let key_partition = partition_for_key(b"\"k\"", 3);
        let mut expected: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (index, partition) in [(0, 2), (1, 0), (2, 2), (3, key_partition)] {
            expected.entry(partition).or_default().push(index);
        }
        let got: BTreeMap<u32, Vec<usize>> =
            plan.batches.iter().map(|batch| (batch.partition, batch.indices.clone())).collect();
        assert_eq!(got, expected);
        let timestamps: Vec<Option<i64>> =
            plan.batches.iter().flat_map(|batch| batch.records.iter().map(|r| r.timestamp)).collect();
        assert!(timestamps.contains(&Some(9)) && timestamps.iter().filter(|t| **t == Some(1000)).count() == 3);
    }

    #[test]
    fn plan_refuses_the_whole_request_for_one_bad_record() {
        let request = vec![
            produce_record(serde_json::json!({"value": 1})),
            produce_record(serde_json::json!({"value": 2, "partition": 3})),
        ];
        let error = plan_produce(request, "t", 3, 0, 0).unwrap_err();
        assert_eq!(error.code, ErrorCode::PartitionNotFound);
        assert!(error.message.contains("[1].partition"), "{}", error.message);
        let request = vec![produce_record(serde_json::json!({"timestamp": -1}))];
        assert_eq!(plan_produce(request, "t", 1, 0, 0).unwrap_err().code, ErrorCode::InvalidRecord);
    }

    #[test]
    fn at_most_one_start_parameter() {
        assert!(matches!(Start::from_params(None, None, None), Ok(Start::From(StartFrom::Earliest))));
        assert!(matches!(Start::from_params(Some(3), None, None), Ok(Start::Offset(3))));
        assert!(Start::from_params(Some(3), Some(StartFrom::Latest), None).is_err());
        assert!(Start::from_params(None, Some(StartFrom::Latest), Some(5)).is_err());
    }
}
