//! Appends: one batch to one partition through an idempotent producer with `acks=all`, returned
//! once every record is acknowledged.
//!
//! Offsets come from the acknowledgements. A batch lands as one contiguous run because this log
//! produces to a partition from one append at a time (a lock per partition) and the idempotent
//! producer keeps a partition's records in order across retries; a batch that the cluster took in
//! several produce requests is still contiguous unless another process produced to the same
//! partition between them, which `append` reports as an error. What is not atomic: a batch that
//! fails after part of it was acknowledged leaves that part in the log (Kafka makes several
//! requests atomic only with transactions, whose commit markers take offsets of their own and
//! would break the log's dense offsets).
//!
//! A producer that a failure leaves unable to produce is replaced. librdkafka's idempotent producer
//! that loses track of a request in flight (its broker died) bumps its epoch before producing again;
//! a cluster that refuses the bump (tansu 0.6 does) leaves it timing out every message or failed for
//! good, which a fresh producer id escapes. The records of the failed append may or may not be in
//! the log, as after any failed append.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders, Timestamp};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use weft_log::{AppendResult, CleanupPolicy, LogError, Record, Result, TimestampType, TopicConfig};

use crate::admin::client_error;
use crate::{log_error, now_ms, to_i32, KafkaOptions};

/// The earliest producer timestamp this log keeps: librdkafka reads a timestamp of 0 as "stamp
/// this record now", so 0 cannot be produced as itself and is refused rather than changed.
pub const EARLIEST_TIMESTAMP: i64 = 1;

/// Per-record overhead of Kafka's record format beyond key, value and headers, counted against
/// `max_batch_bytes` (varint lengths, attributes, deltas: at most about 20 bytes).
const RECORD_OVERHEAD: usize = 20;

/// One lock per partition appended to.
type PartitionLocks = Mutex<HashMap<(String, u32), Arc<Mutex<()>>>>;

pub(crate) struct Producer {
    /// The producer appends use; replaced when a failure leaves it unable to produce.
    current: RwLock<Arc<ThreadedProducer<Deliveries>>>,
    options: KafkaOptions,
    /// One append at a time per partition, so a batch's records are produced back to back.
    partitions: PartitionLocks,
    max_batch_bytes: usize,
}

impl Producer {
    pub fn new(options: &KafkaOptions) -> Result<Producer> {
        Ok(Producer {
            current: RwLock::new(Arc::new(Self::create(options)?)),
            options: options.clone(),
            partitions: Mutex::new(HashMap::new()),
            max_batch_bytes: options.max_batch_bytes,
        })
    }

    fn create(options: &KafkaOptions) -> Result<ThreadedProducer<Deliveries>> {
        let mut config = options.client_config();
        let message_max = (options.max_batch_bytes + 64 * 1024).max(1_000_000);
        // Set after the caller's properties: an append's guarantees rest on these.
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", options.timeout.as_millis().to_string())
            .set("message.max.bytes", message_max.to_string())
            .set("batch.size", message_max.to_string());
        if !options.config.contains_key("linger.ms") {
            // An append waits for its acknowledgement; waiting to fill batches only adds latency.
            config.set("linger.ms", "1");
        }
        config.create_with_context(Deliveries).map_err(|e| client_error("the producer", &e))
    }

    fn current(&self) -> Arc<ThreadedProducer<Deliveries>> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces `failed` with a fresh producer when `error` says it can no longer produce, unless
    /// another append has replaced it already.
    fn renew_after(&self, failed: &Arc<ThreadedProducer<Deliveries>>, error: &KafkaError) {
        let fatal = failed.client().fatal_error();
        let stuck = fatal.is_some()
            || matches!(
                error.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::MessageTimedOut
                        | RDKafkaErrorCode::Fatal
                        | RDKafkaErrorCode::OutOfOrderSequenceNumber
                        | RDKafkaErrorCode::UnknownProducerId
                        | RDKafkaErrorCode::InvalidProducerEpoch
                        | RDKafkaErrorCode::InvalidProducerIdMapping
                        | RDKafkaErrorCode::ProducerFenced
                        | RDKafkaErrorCode::Inconsistent
                )
            );
        if stuck {
            self.renew(failed, &error.to_string(), fatal);
        }
    }

    fn renew(
        &self,
        failed: &Arc<ThreadedProducer<Deliveries>>,
        reason: &str,
        fatal: Option<(RDKafkaErrorCode, String)>,
    ) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if !Arc::ptr_eq(&current, failed) {
            return;
        }
        match Self::create(&self.options) {
            Ok(fresh) => {
                tracing::warn!(reason, ?fatal, "replacing the Kafka producer after a failure it cannot recover from");
                // The old producer is dropped (its queue purged) once the appends using it return.
                *current = Arc::new(fresh);
            }
            Err(e) => tracing::warn!(%e, "cannot replace the Kafka producer"),
        }
    }

    pub fn append(
        &self,
        options: &KafkaOptions,
        topic: &str,
        partition: u32,
        config: &TopicConfig,
        records: Vec<Record>,
    ) -> Result<AppendResult> {
        self.validate(config, &records)?;
        let kafka_partition = to_i32(partition)?;
        let lock = {
            let mut partitions = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(partitions.entry((topic.to_string(), partition)).or_default())
        };
        let _one_at_a_time = lock.lock().unwrap_or_else(|e| e.into_inner());
        let producer = self.current();

        let append_time = now_ms();
        let count = records.len();
        let pending = Arc::new(Pending {
            state: Mutex::new(PendingState { remaining: count, acknowledged: vec![None; count], error: None }),
            done: Condvar::new(),
        });
        let mut first_timestamp = append_time;
        for (index, record) in records.iter().enumerate() {
            let timestamp = match (config.timestamp_type, record.timestamp) {
                (TimestampType::CreateTime, Some(timestamp)) => timestamp,
                // A broker that stamps LogAppendTime topics itself overwrites this; one that does
                // not still keeps the append time the trait promises.
                _ => append_time,
            };
            if index == 0 {
                first_timestamp = timestamp;
            }
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for header in &record.headers {
                headers = headers.insert(Header { key: &header.key, value: header.value.as_deref() });
            }
            let delivery = Box::new(Delivery { pending: Arc::clone(&pending), index });
            let mut message: BaseRecord<'_, [u8], [u8], Box<Delivery>> = BaseRecord::with_opaque_to(topic, delivery)
                .partition(kafka_partition)
                .timestamp(timestamp)
                .headers(headers);
            message.key = record.key.as_deref();
            message.payload = record.value.as_deref();
            if let Err(error) = send(&producer, message) {
                // The records before this one are queued: wait for them before answering.
                let mut state = pending.lock();
                state.remaining -= count - index;
                state.error.get_or_insert(error);
                break;
            }
        }

        let deadline = Instant::now() + options.timeout + Duration::from_secs(10);
        let mut state = pending.lock();
        while state.remaining > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(state);
                self.renew(&producer, "no acknowledgement within the message timeout", None);
                return Err(LogError::Backend(format!("no acknowledgement from the cluster for {topic}/{partition}")));
            }
            state = pending.done.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        if let Some(error) = &state.error {
            self.renew_after(&producer, error);
            return Err(match error.rdkafka_error_code() {
                Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                    LogError::BatchTooLarge { size: batch_size(&records), max: self.max_batch_bytes }
                }
                _ => log_error(topic, "producing to", error),
            });
        }
        let acknowledged: Vec<(i64, Timestamp)> = state.acknowledged.iter().flatten().copied().collect();
        let (Some(&(base, first)), Some(&(last, _))) = (acknowledged.first(), acknowledged.last()) else {
            return Err(LogError::Backend(format!("the cluster acknowledged no offsets for {topic}/{partition}")));
        };
        if acknowledged.len() != count || last - base != count as i64 - 1 || base < 0 {
            return Err(LogError::Backend(format!(
                "the batch to {topic}/{partition} landed at offsets {base}..={last}, interleaved with another \
                 producer's records"
            )));
        }
        let (first_timestamp, append_time) = match first {
            Timestamp::LogAppendTime(stamped) => (stamped, stamped),
            _ => (first_timestamp, append_time),
        };
        Ok(AppendResult { partition, base_offset: base as u64, last_offset: last as u64, first_timestamp, append_time })
    }

    fn validate(&self, config: &TopicConfig, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Err(LogError::EmptyBatch);
        }
        for (index, record) in records.iter().enumerate() {
            if config.cleanup_policy == CleanupPolicy::Compact && record.key.is_none() {
                return Err(LogError::InvalidRecord {
                    index,
                    reason: "the topic is compacted, so every record needs a key".into(),
                });
            }
            if let Some(timestamp) = record.timestamp.filter(|&t| t < EARLIEST_TIMESTAMP) {
                return Err(LogError::InvalidRecord {
                    index,
                    reason: format!(
                        "timestamp {timestamp} is before {EARLIEST_TIMESTAMP}, the earliest the Kafka backend \
                         keeps (librdkafka reads 0 as 'now')"
                    ),
                });
            }
        }
        let size = batch_size(records);
        if size > self.max_batch_bytes {
            return Err(LogError::BatchTooLarge { size, max: self.max_batch_bytes });
        }
        Ok(())
    }

    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.current().flush(timeout).map_err(|e| LogError::Backend(format!("flushing the producer: {e}")))
    }
}

/// Queues one record, waiting while librdkafka's queue is full.
fn send(
    producer: &ThreadedProducer<Deliveries>,
    mut message: BaseRecord<'_, [u8], [u8], Box<Delivery>>,
) -> Result<(), KafkaError> {
    loop {
        match producer.send(message) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                message = returned;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, _)) => return Err(error),
        }
    }
}

fn batch_size(records: &[Record]) -> usize {
    records
        .iter()
        .map(|r| {
            let headers: usize = r.headers.iter().map(|h| h.key.len() + h.value.as_ref().map_or(0, Vec::len)).sum();
            RECORD_OVERHEAD + r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len) + headers
        })
        .sum()
}

/// One append's records waiting for their acknowledgements.
struct Pending {
    state: Mutex<PendingState>,
    done: Condvar,
}

struct PendingState {
    remaining: usize,
    /// Offset and timestamp of each acknowledged record, by its index in the batch.
    acknowledged: Vec<Option<(i64, Timestamp)>>,
    error: Option<KafkaError>,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, PendingState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What librdkafka hands back with each record's delivery report.
struct Delivery {
    pending: Arc<Pending>,
    index: usize,
}

/// Routes delivery reports to the appends waiting for them.
struct Deliveries;

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        let mut state = delivery.pending.lock();
        match result {
            Ok(message) => {
                if let Some(slot) = state.acknowledged.get_mut(delivery.index) {
                    *slot = Some((message.offset(), message.timestamp()));
                }
            }
            Err((error, _)) => {
                state.error.get_or_insert_with(|| error.clone());
            }
        }
        state.remaining = state.remaining.saturating_sub(1);
        if state.remaining == 0 {
            delivery.pending.done.notify_all();
        }
    }
}
