//! Reads: records from an offset (a consumer assigned to the partition at that offset, from a
//! pool), the watermarks, and offsets by timestamp (Kafka's `ListOffsets`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use weft_log::{Header, LogError, ReadLimits, ReadResult, Result, StoredRecord};

use crate::admin::client_error;
use crate::{log_error, offset_u64, to_i32, KafkaOptions};

/// Consumers kept for reuse between reads; more are made when reads overlap, and dropped beyond it.
const POOLED_READERS: usize = 8;

pub(crate) struct Readers {
    config: ClientConfig,
    pool: Mutex<Vec<BaseConsumer>>,
    /// Watermarks and timestamp lookups (requests that need no assignment).
    lookups: BaseConsumer,
    timeout: Duration,
}

impl Readers {
    pub fn new(options: &KafkaOptions) -> Result<Readers> {
        let mut config = options.client_config();
        config
            // librdkafka assigns partitions only to a consumer with a group; this one never joins
            // it nor commits (positions live in _weft_consumer_offsets).
            .set("group.id", "_weft_reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("allow.auto.create.topics", "false")
            // The end of the partition is reported as an event, so a read stops there at once.
            .set("enable.partition.eof", "true")
            // Records of aborted transactions would be skipped under read_committed, leaving gaps
            // this log does not expect; Weft itself never produces transactionally.
            .set("isolation.level", "read_uncommitted")
            // A read wants a few hundred records, not librdkafka's default prefetch of 100,000.
            .set("queued.min.messages", "1000")
            .set("queued.max.messages.kbytes", "8192");
        let lookups = config.create().map_err(|e| client_error("the lookup client", &e))?;
        Ok(Readers { config, pool: Mutex::new(Vec::new()), lookups, timeout: options.timeout })
    }

    /// `(log start offset, high watermark)` of the partition.
    pub fn watermarks(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        let (low, high) = self
            .lookups
            .fetch_watermarks(topic, to_i32(partition)?, self.timeout)
            .map_err(|e| log_error(topic, "reading the watermarks of", &e))?;
        let high = offset_u64(high);
        Ok((offset_u64(low).min(high), high))
    }

    /// The latest offsets of many partitions in one request (`ListOffsets` at `LATEST`).
    pub fn latest(&self, partitions: &[(String, u32)]) -> Result<Vec<((String, u32), u64)>> {
        let mut list = TopicPartitionList::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            list.add_partition_offset(topic, to_i32(*partition)?, Offset::End)
                .map_err(|e| LogError::Backend(format!("listing offsets: {e}")))?;
        }
        let answered = self
            .lookups
            .offsets_for_times(list, self.timeout)
            .map_err(|e| LogError::Backend(format!("listing the latest offsets: {e}")))?;
        Ok(answered
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                Offset::Offset(latest) => Some(((e.topic().to_string(), e.partition() as u32), offset_u64(latest))),
                _ => None,
            })
            .collect())
    }

    pub fn offset_for_timestamp(&self, topic: &str, partition: u32, timestamp: i64) -> Result<Option<u64>> {
        // Negative timestamps name special positions in ListOffsets (-1 latest, -2 earliest); no
        // record is older than 0, so asking for 0 answers the same question.
        let mut list = TopicPartitionList::with_capacity(1);
        list.add_partition_offset(topic, to_i32(partition)?, Offset::Offset(timestamp.max(0)))
            .map_err(|e| LogError::Backend(format!("looking up a timestamp: {e}")))?;
        let answered = self
            .lookups
            .offsets_for_times(list, self.timeout)
            .map_err(|e| log_error(topic, "looking up a timestamp in", &e))?;
        let elements = answered.elements();
        let Some(element) = elements.first() else {
            return Err(LogError::Backend(format!("no answer to a timestamp lookup in '{topic}'")));
        };
        element.error().map_err(|e| log_error(topic, "looking up a timestamp in", &e))?;
        let Offset::Offset(found) = element.offset() else { return Ok(None) };
        let (earliest, high) = self.watermarks(topic, partition)?;
        let found = offset_u64(found);
        if found >= high {
            return Ok(None);
        }
        // Kafka answers -1 when no record is that new; some brokers (tansu) answer the first offset
        // instead, with no record timestamp. The first offset is then checked against its record.
        if found <= earliest {
            let first = self.read(topic, partition, found, ReadLimits { max_records: 1, max_bytes: 1 })?;
            if first.records.first().is_none_or(|r| r.timestamp < timestamp) {
                return Ok(None);
            }
        }
        Ok(Some(found))
    }

    pub fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> Result<ReadResult> {
        let (earliest, high) = self.watermarks(topic, partition)?;
        if offset > high || offset < earliest {
            return Err(LogError::OffsetOutOfRange {
                topic: topic.to_string(),
                partition,
                requested: offset,
                earliest,
                latest: high,
            });
        }
        let empty =
            ReadResult { records: Vec::new(), next_offset: offset, high_watermark: high, log_start_offset: earliest };
        if offset == high || limits.max_records == 0 {
            return Ok(empty);
        }
        let consumer = self.take()?;
        let outcome = self.fetch(&consumer, topic, partition, offset, high, limits);
        // A consumer whose assignment cannot be dropped is not reused.
        if consumer.unassign().is_ok() {
            let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < POOLED_READERS {
                pool.push(consumer);
            }
        }
        let (records, next_offset) = outcome?;
        Ok(ReadResult { records, next_offset, ..empty })
    }

    fn take(&self) -> Result<BaseConsumer> {
        if let Some(consumer) = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(consumer);
        }
        self.config.create().map_err(|e| client_error("a reader", &e))
    }

    /// Records from `offset` within `limits`, below `high`, and the offset to read from next.
    fn fetch(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        partition: u32,
        offset: u64,
        high: u64,
        limits: ReadLimits,
    ) -> Result<(Vec<StoredRecord>, u64)> {
        let kafka_partition = to_i32(partition)?;
        let mut assignment = TopicPartitionList::with_capacity(1);
        let start = i64::try_from(offset).map_err(|_| LogError::Backend(format!("offset {offset} beyond Kafka's")))?;
        assignment
            .add_partition_offset(topic, kafka_partition, Offset::Offset(start))
            .map_err(|e| LogError::Backend(format!("assigning {topic}/{partition}: {e}")))?;
        consumer.assign(&assignment).map_err(|e| log_error(topic, "assigning a partition of", &e))?;

        let deadline = Instant::now() + self.timeout;
        let mut records: Vec<StoredRecord> = Vec::new();
        let mut bytes = 0usize;
        let mut next = offset;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if records.is_empty() {
                    return Err(LogError::Backend(format!(
                        "no records from {topic}/{partition} at offset {offset} within {:?}",
                        self.timeout
                    )));
                }
                return Ok((records, next));
            }
            match consumer.poll(left.min(Duration::from_millis(100))) {
                None => continue,
                Some(Err(KafkaError::PartitionEOF(_))) => return Ok((records, high.max(next))),
                Some(Err(error)) => return Err(log_error(topic, "reading", &error)),
                Some(Ok(message)) => {
                    // Anything before `next` is left over from an earlier assignment or a retry.
                    if message.topic() != topic || message.partition() != kafka_partition || message.offset() < 0 {
                        continue;
                    }
                    let at = offset_u64(message.offset());
                    if at < next {
                        continue;
                    }
                    let size = message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len);
                    if !records.is_empty() && bytes + size > limits.max_bytes {
                        return Ok((records, next));
                    }
                    bytes += size;
                    records.push(stored(&message, at));
                    next = at + 1;
                    if records.len() >= limits.max_records || next >= high {
                        return Ok((records, next));
                    }
                }
            }
        }
    }
}

fn stored(message: &BorrowedMessage<'_>, offset: u64) -> StoredRecord {
    let headers = message
        .headers()
        .map(|headers| {
            headers.iter().map(|h| Header { key: h.key.to_string(), value: h.value.map(<[u8]>::to_vec) }).collect()
        })
        .unwrap_or_default();
    StoredRecord {
        offset,
        timestamp: message.timestamp().to_millis().unwrap_or(0),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
    }
}
