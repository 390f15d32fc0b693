//! Behaviour only the embedded log has: its files, segment rolling and index files, retention,
//! recovery from damage, the data directory lock and pipelined appends. What every backend must do
//! is the conformance suite's (`tests/conformance.rs`).

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

/// The directory side of topics (their behaviour is the conformance suite's): a deleted topic's
/// files are gone, and a topic created again under its name starts from empty files.
#[test]
fn deleted_topics_leave_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("orders", small(3)).unwrap();
    fill(&log, "orders", 40, 5);
    assert!(segments_of(dir.path(), "orders", 0, "log").len() > 1);
    log.delete_topic("orders").unwrap();
    assert!(!dir.path().join("topics").join("orders").exists());
    assert_eq!(std::fs::read_dir(dir.path().join("trash")).unwrap().count(), 0, "the trash keeps the topic");
    log.create_topic("orders", small(1)).unwrap();
    assert_eq!(segments_of(dir.path(), "orders", 0, "log").len(), 1);
    drop(log);
    let log = common::open(dir.path());
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

/// Group commit: a pipelined append is invisible until the flusher makes it durable.
#[test]
fn a_pipelined_append_is_invisible_until_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LogOptions::new(dir.path());
    options.durability = Durability::GroupCommit { interval: Duration::from_millis(50) };
    let log = EmbeddedLog::open(options).unwrap();
    log.create_topic("t", TopicConfig::default()).unwrap();
    log.append("t", 0, vec![common::record(None, Some("a"), None), common::record(None, Some("b"), None)]).unwrap();
    let result = log.append_pipelined("t", 0, &[common::record(None, Some("c"), None)]).unwrap();
    assert_eq!(result.base_offset, 2);
    assert_eq!(log.offsets("t", 0).unwrap().1, 2, "visible before it was durable");
    log.wait_durable("t", 0, result.last_offset).unwrap();
    assert_eq!(log.offsets("t", 0).unwrap().1, 3);
    log.shutdown().unwrap();
    assert!(matches!(log.append("t", 0, vec![Record::default()]), Err(LogError::Closed)));
}

/// Group commits wait for the flush together, not in line: twelve commits started at once under a
/// 300 ms group commit finish within six flush intervals (in line, each would wait for a flush of
/// its own: eleven intervals at least). Commits of one position racing each other leave the position the offsets
/// topic ends with, live and after reopening alike.
#[test]
fn concurrent_commits_share_a_group_commit_and_the_last_appended_wins() {
    let dir = tempfile::tempdir().unwrap();
    let interval = Duration::from_millis(300);
    let open = || {
        let mut options = LogOptions::new(dir.path());
        options.durability = Durability::GroupCommit { interval };
        EmbeddedLog::open(options).unwrap()
    };
    let log = open();
    log.create_topic("t", TopicConfig { partitions: 12, ..TopicConfig::default() }).unwrap();
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for p in 0..12u32 {
            let log = &log;
            scope.spawn(move || log.commit_offset(&format!("g{p}"), "t", p, 10 + u64::from(p), "").unwrap());
        }
    });
    let elapsed = started.elapsed();
    assert!(elapsed < interval * 6, "twelve concurrent commits took {elapsed:?}: they waited in line");
    for p in 0..12u32 {
        let committed = log.committed_offsets(&format!("g{p}")).unwrap();
        assert_eq!(committed.iter().map(|c| c.offset).collect::<Vec<_>>(), vec![10 + u64::from(p)]);
    }

    // Eight threads commit one position many times each; the map must agree with the log.
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            let log = &log;
            scope.spawn(move || {
                for i in 0..5u64 {
                    log.commit_offset("same", "t", 0, t * 100 + i, "").unwrap();
                }
            });
        }
    });
    let live = log.committed_offsets("same").unwrap();
    assert_eq!(live.len(), 1);
    log.shutdown().unwrap();
    drop(log);
    let reopened = open();
    let replayed = reopened.committed_offsets("same").unwrap();
    assert_eq!(
        live.iter().map(|c| c.offset).collect::<Vec<_>>(),
        replayed.iter().map(|c| c.offset).collect::<Vec<_>>(),
        "the live position is the one the offsets topic ends with"
    );
}

/// Group commit over more dirty partitions than the flusher has threads (its fsyncs are spread over
/// four): one write to every partition comes back, each partition durable, and every batch of a
/// second write is durable (and readable) the moment it returns.
#[test]
fn a_group_commit_over_many_partitions_makes_every_one_durable() {
    const PARTITIONS: u32 = 11;
    let dir = tempfile::tempdir().unwrap();
    let log = common::open(dir.path());
    log.create_topic("wide", small(PARTITIONS)).unwrap();
    let records: Vec<Record> = (0..PARTITIONS).map(|p| common::record(None, Some(&format!("v{p}")), None)).collect();
    for round in 0..2u64 {
        let refs: Vec<Vec<weft_log::RecordRef<'_>>> =
            records.iter().map(|r| vec![weft_log::RecordRef::from(r)]).collect();
        let batches: Vec<weft_log::PartitionBatch<'_>> = refs
            .iter()
            .enumerate()
            .map(|(p, records)| weft_log::PartitionBatch { partition: p as u32, records })
            .collect();
        // An append that never became durable would wait forever: it is given ten seconds.
        let (sent, appended) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| sent.send(log.append_partitions("wide", &batches)).unwrap());
            let results = appended.recv_timeout(Duration::from_secs(10)).expect("every partition made durable");
            for (p, result) in results.into_iter().enumerate() {
                assert_eq!(result.expect("appended").base_offset, round, "partition {p}");
                assert_eq!(log.offsets("wide", p as u32).unwrap().1, round + 1, "partition {p} durable and visible");
            }
        });
    }
    for p in 0..PARTITIONS {
        let values: Vec<Vec<u8>> = common::read_all(&*log, "wide", p).into_iter().filter_map(|r| r.value).collect();
        assert_eq!(values, vec![format!("v{p}").into_bytes(); 2], "partition {p}");
    }
}
