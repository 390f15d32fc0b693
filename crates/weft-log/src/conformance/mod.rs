//! The conformance suite: what every [`EventLog`] backend must do, as executable properties.
//!
//! The rest of Weft programs against the trait, so a backend is interchangeable only if it keeps
//! the trait's semantics, not just its signatures. Each public function here checks one property
//! against logs opened through a [`LogHarness`] and panics (a test failure) with a message naming
//! what broke; [`run_all`] runs every property. A backend's tests implement the harness and call
//! [`run_all`] once per configuration worth testing:
//!
//! ```ignore
//! struct KafkaHarness { brokers: String }
//!
//! impl weft_log::conformance::LogHarness for KafkaHarness {
//!     type Place = TestCluster; // what one log is: here a fresh cluster, dropped at the end
//!     fn new_place(&self) -> TestCluster { TestCluster::start(&self.brokers) }
//!     fn open(&self, place: &TestCluster) -> Arc<dyn EventLog> { KafkaLog::connect(place.config()) }
//! }
//!
//! #[test]
//! fn kafka_log_passes_the_conformance_suite() {
//!     weft_log::conformance::run_all(&KafkaHarness { brokers: "localhost:9092".into() });
//! }
//! ```
//!
//! The suite is behind the cargo feature `conformance`, so proptest stays out of normal builds.
//! What it deliberately leaves to each backend's own tests: the on-disk format, crash recovery,
//! retention (whose granularity is backend-specific) and performance.

mod compaction;
mod groups;
mod lifecycle;
mod model;
mod reads;
mod records;
mod subscriptions;
mod topics;

use std::sync::Arc;

pub use compaction::compaction_keeps_the_latest_record_per_key;
pub use groups::consumer_group_commits;
pub use lifecycle::{persistence_across_reopen, shutdown_closes_the_log};
pub use model::model_appends_reads_and_reopens;
pub use reads::{offset_for_timestamp, read_limits, reads_at_and_past_the_end};
pub use records::{
    bad_appends_write_nothing, concurrent_appends_are_dense, multi_partition_appends, offsets_are_dense,
    records_read_back_exactly,
};
pub use subscriptions::subscriptions_follow_the_high_watermark;
pub use topics::{missing_topics_and_partitions, topics_lifecycle};

use crate::{EventLog, ReadLimits, Record, StoredRecord, TopicConfig};

/// How the suite opens the backend under test.
///
/// Every property starts from a new [`LogHarness::Place`], so properties never see each other's
/// topics; a log must be usable as soon as [`LogHarness::open`] returns.
pub trait LogHarness {
    /// Where one log lives across reopenings: a data directory, a dedicated cluster, a namespace.
    /// Dropping it may delete the log.
    type Place;

    /// A new place holding an empty log (it may hold the backend's own internal topics).
    fn new_place(&self) -> Self::Place;

    /// Opens the log at `place`. The suite calls it again for the same place only after it has
    /// called [`EventLog::shutdown`] on the previous handle and dropped every handle it held, and
    /// expects the same log back: same topics, records and committed offsets.
    fn open(&self, place: &Self::Place) -> Arc<dyn EventLog>;

    /// Which optional behaviours the backend has.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Random cases of each property-based test (the model and compaction tests); each case opens
    /// and reopens logs, so a slow backend may ask for fewer.
    fn property_cases(&self) -> u32 {
        24
    }
}

/// Behaviours a backend may have beyond what every backend must do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The earliest producer timestamp the backend keeps as given; it refuses earlier ones with
    /// `InvalidRecord` rather than change them. Kafka keeps every timestamp from 0 on (0 is the
    /// default), but librdkafka reads a timestamp of 0 as "stamp this now", so a backend producing
    /// through it keeps timestamps from 1 on. The suite's records carry timestamps from this one.
    pub earliest_timestamp: i64,
    /// [`EventLog::run_maintenance`] compacts at once everything but the newest segment of a
    /// partition, and a partition starts a new segment when a batch would take its current one past
    /// `segment_bytes`. The suite then checks that a compacted topic holds exactly the latest record
    /// of each key after maintenance. Without it (a broker that compacts on its own schedule) the
    /// suite checks only that maintenance never loses a latest record nor alters what it keeps.
    pub compacts_on_maintenance: bool,
}

/// One property of the suite.
pub type Property<H> = fn(&H);

/// Every property, named, in the order [`run_all`] runs them.
pub fn properties<H: LogHarness>() -> Vec<(&'static str, Property<H>)> {
    vec![
        ("topics_lifecycle", topics_lifecycle::<H>),
        ("missing_topics_and_partitions", missing_topics_and_partitions::<H>),
        ("offsets_are_dense", offsets_are_dense::<H>),
        ("concurrent_appends_are_dense", concurrent_appends_are_dense::<H>),
        ("multi_partition_appends", multi_partition_appends::<H>),
        ("records_read_back_exactly", records_read_back_exactly::<H>),
        ("bad_appends_write_nothing", bad_appends_write_nothing::<H>),
        ("read_limits", read_limits::<H>),
        ("reads_at_and_past_the_end", reads_at_and_past_the_end::<H>),
        ("offset_for_timestamp", offset_for_timestamp::<H>),
        ("subscriptions_follow_the_high_watermark", subscriptions_follow_the_high_watermark::<H>),
        ("consumer_group_commits", consumer_group_commits::<H>),
        ("persistence_across_reopen", persistence_across_reopen::<H>),
        ("shutdown_closes_the_log", shutdown_closes_the_log::<H>),
        ("compaction_keeps_the_latest_record_per_key", compaction_keeps_the_latest_record_per_key::<H>),
        ("model_appends_reads_and_reopens", model_appends_reads_and_reopens::<H>),
    ]
}

/// Runs every property against the backend `harness` opens; panics at the first that fails.
pub fn run_all<H: LogHarness>(harness: &H) {
    for (name, property) in properties::<H>() {
        eprintln!("conformance: {name}");
        property(harness);
    }
}

/// Asserts that `$result` is an error matching `$pattern`, naming `$what` otherwise.
macro_rules! assert_err {
    ($result:expr, $pattern:pat, $what:expr) => {
        match $result {
            Err($pattern) => {}
            other => panic!("{}: expected Err({}), got {:?}", $what, stringify!($pattern), other),
        }
    };
}
pub(crate) use assert_err;

/// A topic kept forever (the suite's records carry timestamps from 1970) with the given
/// partitions and small segments, so segmented backends roll while the suite runs.
pub(crate) fn kept_forever(partitions: u32) -> TopicConfig {
    TopicConfig { partitions, retention_ms: None, segment_bytes: 2048, ..TopicConfig::default() }
}

pub(crate) fn record(key: Option<&str>, value: Option<&str>, timestamp: Option<i64>) -> Record {
    Record {
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp,
    }
}

/// Every record of a partition from its log start, read in pages of `page` records.
pub(crate) fn read_all(log: &dyn EventLog, topic: &str, partition: u32, page: usize) -> Vec<StoredRecord> {
    let (mut offset, end) = log.offsets(topic, partition).expect("offsets of a partition to read whole");
    let mut out = Vec::new();
    while offset < end {
        let batch = log
            .read(topic, partition, offset, ReadLimits { max_records: page, max_bytes: 1 << 20 })
            .expect("read of a partition from its log start");
        assert!(!batch.records.is_empty(), "read at {offset} below the high watermark {end} returned no records");
        assert!(batch.next_offset > offset, "read at {offset} did not advance next_offset");
        offset = batch.next_offset;
        out.extend(batch.records);
    }
    out
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Shuts `log` down, drops it and opens the same log again.
pub(crate) fn reopen<H: LogHarness>(harness: &H, place: &H::Place, log: Arc<dyn EventLog>) -> Arc<dyn EventLog> {
    log.shutdown().expect("clean shutdown before reopening");
    drop(log);
    harness.open(place)
}
