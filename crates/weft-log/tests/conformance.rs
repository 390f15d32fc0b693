//! `EmbeddedLog` against the conformance suite every backend must pass, in both durability
//! modes; and the suite against deliberately broken backends, to show that it catches them.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use weft_log::conformance::{self, Capabilities, LogHarness};
use weft_log::{
    AppendResult, CommittedOffset, Durability, EmbeddedLog, EventLog, LogError, LogOptions, ReadLimits, ReadResult,
    Record, Result, TopicConfig, TopicDescription,
};

/// Opens embedded logs in temporary directories.
struct Embedded {
    durability: Durability,
    /// `None` keeps the default.
    max_open_files: Option<usize>,
}

impl Embedded {
    fn open_log(&self, dir: &std::path::Path) -> Arc<EmbeddedLog> {
        let mut options = LogOptions::new(dir);
        options.durability = self.durability;
        // Maintenance runs when the suite asks for it, not behind its back.
        options.maintenance_interval = Duration::from_secs(3600);
        if let Some(max) = self.max_open_files {
            options.max_open_files = max;
        }
        EmbeddedLog::open(options).expect("open the embedded log")
    }
}

impl LogHarness for Embedded {
    type Place = tempfile::TempDir;

    fn new_place(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary data directory")
    }

    fn open(&self, place: &tempfile::TempDir) -> Arc<dyn EventLog> {
        self.open_log(place.path())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { compacts_on_maintenance: true, ..Capabilities::default() }
    }
}

const GROUP_COMMIT_MS: Durability = Durability::GroupCommit { interval: Duration::from_millis(1) };
const GROUP_COMMIT: Embedded = Embedded { durability: GROUP_COMMIT_MS, max_open_files: None };
const EVERY_BATCH: Embedded = Embedded { durability: Durability::EveryBatch, max_open_files: None };
/// Two open segment files for the whole log: nearly every read and append reopens a file, and
/// compaction and retention retire files that are closed as often as open.
const TWO_OPEN_FILES: Embedded = Embedded { durability: GROUP_COMMIT_MS, max_open_files: Some(2) };

#[test]
fn group_commit_log_passes_the_conformance_suite() {
    conformance::run_all(&GROUP_COMMIT);
}

#[test]
fn every_batch_log_passes_the_conformance_suite() {
    conformance::run_all(&EVERY_BATCH);
}

#[test]
fn a_log_with_two_open_files_passes_the_conformance_suite() {
    conformance::run_all(&TWO_OPEN_FILES);
}

/// One way of breaking the contract.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// Reads lose every record's headers.
    LosesHeaders,
    /// A read past the high watermark answers an empty read instead of `OffsetOutOfRange`.
    EmptyPastTheEnd,
    /// `shutdown` flushes but leaves the log open.
    StaysOpen,
    /// Reads of more than 8 records skip the 8th.
    SkipsARecord,
    /// Maintenance does nothing, though the harness claims it compacts.
    NeverCompacts,
    /// Deleting a topic leaves its subscriptions open.
    KeepsSubscriptions,
}

/// An embedded log with one flaw.
struct Broken {
    inner: Arc<EmbeddedLog>,
    flaw: Flaw,
    /// Subscriptions kept alive past deletion (`Flaw::KeepsSubscriptions`).
    kept: Arc<std::sync::Mutex<Vec<tokio::sync::watch::Sender<u64>>>>,
}

impl EventLog for Broken {
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<TopicDescription> {
        self.inner.create_topic(name, config)
    }
    fn delete_topic(&self, name: &str) -> Result<()> {
        self.inner.delete_topic(name)
    }
    fn list_topics(&self) -> Vec<String> {
        self.inner.list_topics()
    }
    fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        self.inner.describe_topic(name)
    }
    fn topic_config(&self, name: &str) -> Result<TopicConfig> {
        self.inner.topic_config(name)
    }
    fn append(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<AppendResult> {
        self.inner.append(topic, partition, records)
    }
    fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> Result<ReadResult> {
        let mut read = match self.inner.read(topic, partition, offset, limits) {
            Err(LogError::OffsetOutOfRange { latest, .. }) if self.flaw == Flaw::EmptyPastTheEnd => {
                return Ok(ReadResult {
                    records: vec![],
                    next_offset: offset,
                    high_watermark: latest,
                    log_start_offset: 0,
                })
            }
            other => other?,
        };
        match self.flaw {
            Flaw::LosesHeaders => read.records.iter_mut().for_each(|r| r.headers.clear()),
            Flaw::SkipsARecord if read.records.len() > 8 => {
                read.records.remove(7);
            }
            _ => {}
        }
        Ok(read)
    }
    fn offset_for_timestamp(&self, topic: &str, partition: u32, timestamp: i64) -> Result<Option<u64>> {
        self.inner.offset_for_timestamp(topic, partition, timestamp)
    }
    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        self.inner.offsets(topic, partition)
    }
    fn subscribe(&self, topic: &str, partition: u32) -> Result<tokio::sync::watch::Receiver<u64>> {
        if self.flaw != Flaw::KeepsSubscriptions {
            return self.inner.subscribe(topic, partition);
        }
        // A subscription the log forgets to end: a channel of its own, fed from the real one,
        // whose sender is kept when the real one closes.
        let mut inner = self.inner.subscribe(topic, partition)?;
        let (tx, rx) = tokio::sync::watch::channel(*inner.borrow_and_update());
        let kept = Arc::clone(&self.kept);
        std::thread::spawn(move || {
            while let Ok(changed) = inner.has_changed() {
                if changed {
                    tx.send_replace(*inner.borrow_and_update());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            kept.lock().expect("kept subscriptions").push(tx);
        });
        Ok(rx)
    }
    fn commit_offset(&self, g: &str, t: &str, p: u32, offset: u64, metadata: &str) -> Result<CommittedOffset> {
        self.inner.commit_offset(g, t, p, offset, metadata)
    }
    fn committed_offsets(&self, group: &str) -> Result<Vec<CommittedOffset>> {
        self.inner.committed_offsets(group)
    }
    fn run_maintenance(&self) -> Result<()> {
        match self.flaw {
            Flaw::NeverCompacts => Ok(()),
            _ => self.inner.run_maintenance(),
        }
    }
    fn shutdown(&self) -> Result<()> {
        match self.flaw {
            Flaw::StaysOpen => Ok(()),
            _ => self.inner.shutdown(),
        }
    }
}

struct BrokenHarness(Flaw);

impl LogHarness for BrokenHarness {
    type Place = tempfile::TempDir;

    fn new_place(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary data directory")
    }

    fn open(&self, place: &tempfile::TempDir) -> Arc<dyn EventLog> {
        let inner = GROUP_COMMIT.open_log(place.path());
        Arc::new(Broken { inner, flaw: self.0, kept: Default::default() })
    }

    fn capabilities(&self) -> Capabilities {
        GROUP_COMMIT.capabilities()
    }

    fn property_cases(&self) -> u32 {
        8
    }
}

/// Runs `property` against a log with `flaw` and returns its failure message.
fn failure_of(property: conformance::Property<BrokenHarness>, flaw: Flaw) -> String {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| property(&BrokenHarness(flaw))));
    let payload = outcome.expect_err("the conformance suite passed a broken backend");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn the_suite_catches_broken_backends() {
    let cases: [(conformance::Property<BrokenHarness>, Flaw, &str); 7] = [
        (conformance::records_read_back_exactly, Flaw::LosesHeaders, "headers"),
        (conformance::model_appends_reads_and_reopens, Flaw::LosesHeaders, "headers"),
        (conformance::reads_at_and_past_the_end, Flaw::EmptyPastTheEnd, "OffsetOutOfRange"),
        (conformance::shutdown_closes_the_log, Flaw::StaysOpen, "after shutdown"),
        (conformance::model_appends_reads_and_reopens, Flaw::SkipsARecord, "model test"),
        (conformance::compaction_keeps_the_latest_record_per_key, Flaw::NeverCompacts, "superseded"),
        (conformance::subscriptions_follow_the_high_watermark, Flaw::KeepsSubscriptions, "did not end"),
    ];
    for (property, flaw, expected) in cases {
        let message = failure_of(property, flaw);
        assert!(message.contains(expected), "failure does not mention {expected:?}: {message}");
    }
}
