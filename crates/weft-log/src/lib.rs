//! Weft's event log: the durable, replayable store under every data product and all platform state.
//!
//! A log holds *topics*; a topic has a fixed number of *partitions*; a partition is an append-only
//! sequence of records addressed by dense, monotonically increasing offsets (compaction may later
//! leave gaps, never reorder). The [`EventLog`] trait is the contract the rest of Weft programs
//! against; [`EmbeddedLog`] implements it on a local data directory, and a Kafka backend can
//! implement the same trait.
//!
//! Invariants every backend keeps:
//! - an append returns only once its records are durable under the configured [`Durability`];
//! - readers never see a record that is not yet durable, so nothing a consumer saw can vanish in a crash;
//! - a record is served exactly as it was appended, or not at all (checksums are verified on read).
//!
//! This crate knows nothing of schemas, products or SQL.
//!
//! # Conformance
//!
//! Any backend must pass `weft_log::conformance` (cargo feature `conformance`): one function per
//! property of the [`EventLog`] contract (topics and their errors, dense offsets, exact read-back,
//! read limits, the end of the log, timestamp lookups, subscriptions, consumer groups, persistence
//! across reopen, shutdown, compaction, and a proptest model of random histories), run against any
//! backend through a small `LogHarness` that opens and reopens it. `tests/conformance.rs` runs the
//! suite against [`EmbeddedLog`] in both durability modes; the embedded backend's own tests (segment
//! files, torn tails, corruption, index rebuild, retention, crashes) stay beside it in `tests/`.

mod batch;
#[cfg(feature = "conformance")]
pub mod conformance;
mod embedded;
mod error;
mod files;
pub mod group_offsets;
mod partition;
mod partitioner;
mod segment;
mod topic;

pub use embedded::{Durability, EmbeddedLog, LogOptions};
pub use error::LogError;
pub use partitioner::{partition_for, partition_for_key, StickyPartitions};
pub use topic::{validate_topic_name, CleanupPolicy, TimestampType, TopicConfig};

/// Result alias of this crate.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// Topics whose names start with this prefix hold the platform's own state.
pub const INTERNAL_TOPIC_PREFIX: &str = "_weft";

/// Whether `topic` holds the platform's own state (clients may read it; only the component that owns
/// it writes it).
pub fn is_internal_topic(topic: &str) -> bool {
    topic.starts_with(INTERNAL_TOPIC_PREFIX)
}

/// A record header: a name and an optional opaque value (Kafka semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// A record as a producer hands it to the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<Header>,
    /// Producer-given timestamp in epoch milliseconds; `None` means "use the append time".
    /// Ignored when the topic's [`TimestampType`] is `LogAppendTime`.
    pub timestamp: Option<i64>,
}

/// A record borrowed from its producer's buffers: what [`EventLog::append_partitions`] takes, so a
/// caller that holds the bytes already (a request's body) hands them over without copying each
/// record's key and value into a [`Record`] of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [Header],
    /// As [`Record::timestamp`].
    pub timestamp: Option<i64>,
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    fn from(record: &'a Record) -> Self {
        RecordRef {
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &record.headers,
            timestamp: record.timestamp,
        }
    }
}

impl RecordRef<'_> {
    /// The record with its bytes copied.
    pub fn to_record(&self) -> Record {
        Record {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.headers.to_vec(),
            timestamp: self.timestamp,
        }
    }
}

/// One partition's batch of a multi-partition append ([`EventLog::append_partitions`]).
#[derive(Debug, Clone, Copy)]
pub struct PartitionBatch<'a> {
    pub partition: u32,
    pub records: &'a [RecordRef<'a>],
}

/// Batches a default [`EventLog::append_partitions`] appends at once, each on a thread of its own.
const APPEND_THREADS: usize = 8;

/// A record as the log stores and serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: u64,
    /// Epoch milliseconds.
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<Header>,
}

/// Where an acknowledged batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    pub partition: u32,
    /// Offset of the first record of the batch.
    pub base_offset: u64,
    /// Offset of the last record of the batch.
    pub last_offset: u64,
    /// Timestamp assigned to the batch's first record (append time or producer time).
    pub first_timestamp: i64,
    /// The append time: the timestamp of every record that had none, or of all records of a
    /// `LogAppendTime` topic.
    pub append_time: i64,
}

/// What a read returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    pub records: Vec<StoredRecord>,
    /// The offset to read from next.
    pub next_offset: u64,
    /// One past the last durable offset of the partition at the time of the read.
    pub high_watermark: u64,
    /// The first offset still held (retention may have removed earlier ones).
    pub log_start_offset: u64,
}

/// Limits of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    pub max_records: usize,
    /// Soft limit: at least one record is returned even when it is larger.
    pub max_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits { max_records: 500, max_bytes: 4 * 1024 * 1024 }
    }
}

/// The state of one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionDescription {
    pub partition: u32,
    pub earliest_offset: u64,
    /// One past the last durable offset (the high watermark).
    pub latest_offset: u64,
    pub size_bytes: u64,
    pub segments: usize,
}

/// The state of one topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicDescription {
    pub name: String,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionDescription>,
}

/// A consumer group's committed position in one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: u32,
    /// The next offset the group will read.
    pub offset: u64,
    #[serde(default)]
    pub metadata: String,
    /// Epoch milliseconds of the commit.
    pub commit_timestamp: i64,
}

/// The contract every event-log backend keeps (see the crate documentation for its invariants).
///
/// Calls may block on disk or network I/O: async callers run them on a blocking thread pool.
/// [`EventLog::subscribe`] is the one way to *wait* for new records without polling.
///
/// Everything a server needs from a running log is here, including [`EventLog::run_maintenance`]
/// and [`EventLog::shutdown`]; only opening a log is backend-specific (its options differ), and so
/// is [`EmbeddedLog::append_pipelined`] with [`EmbeddedLog::wait_durable`]: they hand out offsets
/// before durability, which a Kafka producer cannot (it learns offsets from the acknowledgement).
/// What an implementation must do is executable: `weft_log::conformance` (feature `conformance`).
pub trait EventLog: Send + Sync + 'static {
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<TopicDescription>;
    /// Deletes the topic and all its data. Internal topics are refused.
    fn delete_topic(&self, name: &str) -> Result<()>;
    /// Deletes an internal topic the platform made for something that is gone (a terminated
    /// query's changelog); other topics are refused. A backend that cannot refuses every topic.
    fn delete_internal_topic(&self, name: &str) -> Result<()> {
        Err(LogError::InternalTopic(name.to_string()))
    }
    /// Topic names, sorted.
    fn list_topics(&self) -> Vec<String>;
    fn describe_topic(&self, name: &str) -> Result<TopicDescription>;
    fn topic_config(&self, name: &str) -> Result<TopicConfig>;

    /// Appends `records` to one partition as one checksummed batch and returns once it is durable.
    fn append(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<AppendResult>;

    /// Appends one batch to each of several partitions of `topic`, each batch exactly as
    /// [`EventLog::append`] appends it (checksummed, atomic on its own), and returns once every batch
    /// is durable or has failed: each batch's result, in the order given. Batches of one partition
    /// given twice are appended in order. Should one fail, others may have been written, as with any
    /// multi-partition Kafka produce.
    ///
    /// The default copies each batch and calls [`EventLog::append`] for up to eight batches at once,
    /// each on a thread of its own, so their waits for durability overlap; a backend that can write
    /// several batches before waiting for their durability (the embedded log) does so instead.
    fn append_partitions(&self, topic: &str, batches: &[PartitionBatch<'_>]) -> Vec<Result<AppendResult>> {
        append_partitions_on_threads(self, topic, batches)
    }

    /// Reads durable records starting at `offset` (the first record at or after it, since compaction
    /// may have removed `offset` itself). Reading at the high watermark returns no records.
    fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> Result<ReadResult>;

    /// The first offset whose record timestamp is at or after `timestamp` (epoch ms), or `None` when
    /// every durable record is older.
    fn offset_for_timestamp(&self, topic: &str, partition: u32, timestamp: i64) -> Result<Option<u64>>;

    /// `(earliest, latest)`: the log start offset and the high watermark.
    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)>;

    /// A receiver of the partition's high watermark, updated whenever new records become durable.
    fn subscribe(&self, topic: &str, partition: u32) -> Result<tokio::sync::watch::Receiver<u64>>;

    /// Durably records that `group` has consumed `topic`/`partition` up to (not including) `offset`.
    fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: &str,
    ) -> Result<CommittedOffset>;
    /// All committed positions of a group, sorted by topic and partition.
    fn committed_offsets(&self, group: &str) -> Result<Vec<CommittedOffset>>;

    /// Applies retention (`retention.ms`, `retention.bytes`) and compaction now, instead of waiting
    /// for the backend's own schedule; returns once that pass is over.
    ///
    /// Every backend keeps: the newest records of a partition (its active segment, in a segmented
    /// backend) are never removed; retention moves the log start offset forward and never past the
    /// high watermark; compaction removes only records superseded by a later record of the same key
    /// (and keys whose latest record is a tombstone), never reorders or renumbers what stays. A
    /// backend whose broker runs retention and compaction on its own schedule (Kafka) may return
    /// `Ok(())` without doing anything: callers use this to trim sooner, never to be correct.
    fn run_maintenance(&self) -> Result<()>;

    /// Closes the log: makes pending appends durable, stops the backend's background work, ends
    /// every subscription (their receivers report the sender closed) and wakes callers waiting for
    /// durability. Returns the first error met while flushing.
    ///
    /// Every backend keeps: once `shutdown` has returned, every call that can fail fails with
    /// [`LogError::Closed`] (and [`EventLog::list_topics`], which cannot fail, lists nothing);
    /// calling `shutdown` again returns `Ok(())`; everything acknowledged before it is found again
    /// when the same log is opened anew. Dropping the last handle of an open log should shut it
    /// down too, but callers that want to see flush errors call this.
    fn shutdown(&self) -> Result<()>;
}

/// [`EventLog::append_partitions`] by [`EventLog::append`] on copies of the batches, up to
/// [`APPEND_THREADS`] at once, each on a thread of its own (the trait's default).
pub(crate) fn append_partitions_on_threads<L: EventLog + ?Sized>(
    log: &L,
    topic: &str,
    batches: &[PartitionBatch<'_>],
) -> Vec<Result<AppendResult>> {
    let append = |batch: &PartitionBatch<'_>| {
        log.append(topic, batch.partition, batch.records.iter().map(RecordRef::to_record).collect())
    };
    let append = &append;
    if batches.len() <= 1 {
        return batches.iter().map(append).collect();
    }
    // Batches of one partition stay on one thread, in order.
    let workers = batches.len().min(APPEND_THREADS);
    let mut shares: Vec<Vec<usize>> = vec![Vec::new(); workers];
    for (i, batch) in batches.iter().enumerate() {
        shares[batch.partition as usize % workers].push(i);
    }
    let mut results: Vec<Option<Result<AppendResult>>> = (0..batches.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .filter(|share| !share.is_empty())
            .map(|share| scope.spawn(move || share.into_iter().map(|i| (i, append(&batches[i]))).collect::<Vec<_>>()))
            .collect();
        for handle in handles {
            // A panicking backend's batches report the log closed rather than vanish.
            for (i, result) in handle.join().unwrap_or_default() {
                results[i] = Some(result);
            }
        }
    });
    results.into_iter().map(|result| result.unwrap_or(Err(LogError::Closed))).collect()
}
