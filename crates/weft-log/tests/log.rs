//! Behaviour of the embedded log: topics, rolling, retention, recovery from damage, consumer
//! offsets, durability modes and notifications.

mod common;

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_log::{Durability, EmbeddedLog, EventLog, LogError, LogOptions, ReadLimits, Record, TopicConfig};

fn segments_of(dir: &Path, topic: &str, partition: u32, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("topics").join(topic).join(partition.to_string()))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn fill(log: &EmbeddedLog, topic: &str, batches: usize, per_batch: usize) {
    for b in 0..batches {
        let records = (0..per_batch)
            .map(|i| {
                common::record(Some(&format!("k{}", (b * per_batch + i) % 10)), Some(&format!("value-{b}-{i}")), None)
            })
            .collect();
        log.append(topic, 0, records).unwrap();
    }
}

fn small(partitions: u32) -> TopicConfig {
    TopicConfig { partitions, segment_bytes: 1024, retention_ms: None, ..TopicConfig::default() }
}

#[test]
fn topics_are_created_listed_described_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    let description = log.create_topic("orders", TopicConfig { partitions: 3, ..TopicConfig::default() }).unwrap();
    assert_eq!(description.partitions.len(), 3);
    assert!(matches!(log.create_topic("orders", TopicConfig::default()), Err(LogError::TopicExists(_))));
    assert!(matches!(log.create_topic("bad name", TopicConfig::default()), Err(LogError::InvalidTopicName { .. })));
    assert!(matches!(
        log.create_topic("zero", TopicConfig { partitions: 0, ..TopicConfig::default() }),
        Err(LogError::InvalidConfig { .. })
    ));
    assert_eq!(log.list_topics(), vec!["_weft_consumer_offsets".to_string(), "orders".to_string()]);
    log.append("orders", 2, vec![common::record(None, Some("x"), None)]).unwrap();
    assert!(matches!(
        log.append("orders", 3, vec![common::record(None, Some("x"), None)]),
        Err(LogError::PartitionNotFound { partition: 3, partitions: 3, .. })
    ));
    assert_eq!(log.describe_topic("orders").unwrap().partitions[2].latest_offset, 1);
    drop(log);

    let log = common::open(dir.path());
    assert_eq!(log.describe_topic("orders").unwrap().partitions[2].latest_offset, 1);
    log.delete_topic("orders").unwrap();
    assert!(matches!(log.describe_topic("orders"), Err(LogError::TopicNotFound(_))));
    assert!(log.delete_topic("_weft_consumer_offsets").is_err());
    assert!(!dir.path().join("topics").join("orders").exists());
    // A topic of the same name starts afresh.
    log.create_topic("orders", TopicConfig::default()).unwrap();
    assert_eq!(log.offsets("orders", 0).unwrap(), (0, 0));
}

#[test]
fn a_data_directory_has_one_owner() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    let second = EmbeddedLog::open(LogOptions::new(dir.path()));
    assert!(second.is_err_and(|e| e.to_string().contains("in use")));
    drop(log);
    common::open(dir.path());
}

#[test]
fn bad_appends_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("c", TopicConfig::compacted(1)).unwrap();
    let err = log
        .append("c", 0, vec![common::record(Some("a"), Some("1"), None), common::record(None, Some("2"), None)])
        .unwrap_err();
    assert!(matches!(err, LogError::InvalidRecord { index: 1, .. }), "{err}");
    assert!(matches!(log.append("c", 0, vec![]), Err(LogError::EmptyBatch)));
    assert_eq!(log.offsets("c", 0).unwrap(), (0, 0));
    assert!(matches!(log.append("missing", 0, vec![Record::default()]), Err(LogError::TopicNotFound(_))));
}

#[test]
fn reads_outside_the_log_are_out_of_range_and_reads_at_the_end_are_empty() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    fill(&log, "t", 1, 5);
    let at_end = log.read("t", 0, 5, ReadLimits::default()).unwrap();
    assert!(at_end.records.is_empty());
    assert_eq!((at_end.next_offset, at_end.high_watermark), (5, 5));
    let err = log.read("t", 0, 6, ReadLimits::default()).unwrap_err();
    assert!(matches!(err, LogError::OffsetOutOfRange { requested: 6, earliest: 0, latest: 5, .. }), "{err}");
    // max_bytes is soft: one record always comes back.
    let one = log.read("t", 0, 0, ReadLimits { max_records: 10, max_bytes: 1 }).unwrap();
    assert_eq!(one.records.len(), 1);
}

#[test]
fn segments_roll_and_sealed_indexes_are_written_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("t", small(1)).unwrap();
    fill(&log, "t", 40, 5);
    let before = common::read_all(&*log, "t", 0);
    assert_eq!(before.len(), 200);
    drop(log);
    let logs = segments_of(dir.path(), "t", 0, "log");
    let indexes = segments_of(dir.path(), "t", 0, "index");
    assert!(logs.len() > 3, "expected several segments, got {}", logs.len());
    // Every sealed segment (all but the active one) has its index files.
    assert_eq!(indexes.len(), logs.len() - 1);
    // Missing and damaged index files are rebuilt from the log.
    std::fs::remove_file(&indexes[0]).unwrap();
    std::fs::write(&indexes[1], b"garbage").unwrap();
    std::fs::remove_file(segments_of(dir.path(), "t", 0, "timeindex")[2].clone()).unwrap();
    let log = common::open(dir.path());
    assert_eq!(common::read_all(&*log, "t", 0), before);
    for probe in [0u64, 7, 55, 123, 199] {
        let read = log.read("t", 0, probe, ReadLimits { max_records: 1, max_bytes: 1 << 20 }).unwrap();
        assert_eq!(read.records[0], before[probe as usize]);
    }
    drop(log);
    assert_eq!(segments_of(dir.path(), "t", 0, "index").len(), logs.len() - 1);
}

fn active_segment(dir: &Path) -> PathBuf {
    segments_of(dir, "t", 0, "log").pop().unwrap()
}

/// A closed log whose topic `t` holds 10 batches of 3 records in one segment: the records, the
/// segment file and its length, ready to be damaged.
fn closed_log_of_ten_batches() -> (tempfile::TempDir, Vec<weft_log::StoredRecord>, PathBuf, u64) {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    fill(&log, "t", 10, 3);
    let before = common::read_all(&*log, "t", 0);
    drop(log);
    let path = active_segment(dir.path());
    let len = std::fs::metadata(&path).unwrap().len();
    (dir, before, path, len)
}

#[test]
fn a_torn_tail_is_truncated_and_appends_continue() {
    let (dir, before, path, len) = closed_log_of_ten_batches();
    // Cut the last batch in half, and add junk that looks like nothing.
    OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 20).unwrap();
    let log = common::open(dir.path());
    let after = common::read_all(&*log, "t", 0);
    assert_eq!(after, before[..27]);
    assert!(std::fs::metadata(&path).unwrap().len() < len - 20, "torn bytes were not truncated");
    let next = log.append("t", 0, vec![common::record(None, Some("new"), None)]).unwrap();
    assert_eq!(next.base_offset, 27);
    drop(log);
    let log = common::open(dir.path());
    assert_eq!(common::read_all(&*log, "t", 0).len(), 28);
}

#[test]
fn flipped_bytes_at_the_tail_are_never_served() {
    let (dir, before, path, len) = closed_log_of_ten_batches();
    let mut file = OpenOptions::new().write(true).read(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(len - 5)).unwrap();
    file.write_all(b"XXXX").unwrap();
    drop(file);
    let log = common::open(dir.path());
    assert_eq!(common::read_all(&*log, "t", 0), before[..27]);
    // Garbage appended after valid batches is dropped too.
    drop(log);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&[0xAB; 100]).unwrap();
    drop(file);
    let log = common::open(dir.path());
    assert_eq!(common::read_all(&*log, "t", 0), before[..27]);
}

#[test]
fn corruption_inside_a_sealed_segment_is_an_error_not_data() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("t", small(1)).unwrap();
    fill(&log, "t", 40, 5);
    drop(log);
    let first = segments_of(dir.path(), "t", 0, "log")[0].clone();
    let mut file = OpenOptions::new().write(true).open(&first).unwrap();
    file.seek(SeekFrom::Start(100)).unwrap();
    file.write_all(b"corrupt!").unwrap();
    drop(file);
    let log = common::open(dir.path());
    let err = log.read("t", 0, 0, ReadLimits::default()).unwrap_err();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
    // Data in later segments is still served.
    let tail = log.read("t", 0, 150, ReadLimits::default()).unwrap();
    assert_eq!(tail.records[0].offset, 150);
}

#[test]
fn retention_deletes_whole_old_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    let config = TopicConfig { retention_bytes: Some(3000), ..small(1) };
    log.create_topic("t", config).unwrap();
    fill(&log, "t", 40, 5);
    let (size_before, segments_before) = {
        let d = log.describe_topic("t").unwrap();
        (d.partitions[0].size_bytes, d.partitions[0].segments)
    };
    log.run_maintenance().unwrap();
    let p = &log.describe_topic("t").unwrap().partitions[0];
    assert!(p.segments < segments_before);
    assert!(p.size_bytes >= 3000 && p.size_bytes < size_before, "size {} of {}", p.size_bytes, size_before);
    assert!(p.earliest_offset > 0);
    assert_eq!(p.latest_offset, 200);
    let err = log.read("t", 0, 0, ReadLimits::default()).unwrap_err();
    assert!(matches!(err, LogError::OffsetOutOfRange { .. }));
    let kept = common::read_all(&*log, "t", 0);
    assert_eq!(kept.first().unwrap().offset, p.earliest_offset);
    assert_eq!(kept.len() as u64, 200 - p.earliest_offset);

    // Time retention: records stamped long ago go; the active segment always stays.
    let config = TopicConfig { retention_ms: Some(60_000), ..small(1) };
    log.create_topic("old", config).unwrap();
    for i in 0..40 {
        let r = (0..5).map(|j| common::record(None, Some(&format!("{i}-{j}")), Some(1_000 + i))).collect();
        log.append("old", 0, r).unwrap();
    }
    log.run_maintenance().unwrap();
    let p = &log.describe_topic("old").unwrap().partitions[0];
    assert_eq!(p.segments, 1);
    assert!(p.earliest_offset > 0 && p.earliest_offset < 200);
    drop(log);
    let log = common::open(dir.path());
    assert_eq!(log.describe_topic("old").unwrap().partitions[0].earliest_offset, p.earliest_offset);
}

#[test]
fn consumer_offsets_are_durable_and_follow_their_topic() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("a", TopicConfig { partitions: 2, ..TopicConfig::default() }).unwrap();
    log.create_topic("b", TopicConfig::default()).unwrap();
    log.commit_offset("g1", "a", 1, 10, "m").unwrap();
    log.commit_offset("g1", "a", 1, 12, "").unwrap();
    log.commit_offset("g1", "b", 0, 3, "").unwrap();
    log.commit_offset("g2", "a", 0, 1, "").unwrap();
    assert!(matches!(log.commit_offset("", "a", 0, 1, ""), Err(LogError::InvalidGroup(_))));
    assert!(matches!(log.commit_offset("g1", "a", 5, 1, ""), Err(LogError::PartitionNotFound { .. })));
    assert!(matches!(log.commit_offset("g1", "zz", 0, 1, ""), Err(LogError::TopicNotFound(_))));
    drop(log);
    let log = common::open(dir.path());
    let g1: Vec<(String, u32, u64)> =
        log.committed_offsets("g1").unwrap().into_iter().map(|c| (c.topic, c.partition, c.offset)).collect();
    assert_eq!(g1, vec![("a".into(), 1, 12), ("b".into(), 0, 3)]);
    log.delete_topic("a").unwrap();
    drop(log);
    let log = common::open(dir.path());
    assert_eq!(log.committed_offsets("g1").unwrap().len(), 1);
    assert!(log.committed_offsets("g2").unwrap().is_empty());
}

#[test]
fn every_batch_durability_and_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LogOptions::new(dir.path());
    options.durability = Durability::EveryBatch;
    let log = EmbeddedLog::open(options).unwrap();
    log.create_topic("t", TopicConfig::default()).unwrap();
    let mut rx = log.subscribe("t", 0).unwrap();
    assert_eq!(*rx.borrow_and_update(), 0);
    log.append("t", 0, vec![common::record(None, Some("a"), None), common::record(None, Some("b"), None)]).unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 2);
    // Group commit: a pipelined append is invisible until the flusher makes it durable.
    drop(log);
    let mut options = LogOptions::new(dir.path());
    options.durability = Durability::GroupCommit { interval: Duration::from_millis(50) };
    let log = EmbeddedLog::open(options).unwrap();
    let result = log.append_pipelined("t", 0, &[common::record(None, Some("c"), None)]).unwrap();
    assert_eq!(result.base_offset, 2);
    assert_eq!(log.offsets("t", 0).unwrap().1, 2, "visible before it was durable");
    log.wait_durable("t", 0, result.last_offset).unwrap();
    assert_eq!(log.offsets("t", 0).unwrap().1, 3);
    log.shutdown().unwrap();
    assert!(matches!(log.append("t", 0, vec![Record::default()]), Err(LogError::Closed)));
}

#[test]
fn log_append_time_overrides_producer_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    let mut config = TopicConfig::default();
    config.set("message.timestamp.type", "LogAppendTime").unwrap();
    log.create_topic("t", config).unwrap();
    let result = log.append("t", 0, vec![common::record(None, Some("a"), Some(5))]).unwrap();
    let read = log.read("t", 0, 0, ReadLimits::default()).unwrap();
    assert_ne!(read.records[0].timestamp, 5);
    assert_eq!(read.records[0].timestamp, result.first_timestamp);
}
