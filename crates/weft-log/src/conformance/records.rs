//! Appends: offsets, exact read-back, refused batches, concurrent writers.

use std::sync::Arc;

use super::{assert_err, kept_forever, now_ms, read_all, record, LogHarness};
use crate::{CleanupPolicy, Header, LogError, PartitionBatch, Record, RecordRef, TimestampType, TopicConfig};

/// Offsets are assigned densely from 0 in each partition, independently of the other
/// partitions; `append` reports where its batch landed, and `offsets` and `describe_topic` report
/// the high watermark one past the last record.
pub fn offsets_are_dense<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(3)).expect("create 't'");
    let mut next = [0u64; 3];
    for (i, (partition, size)) in [(0u32, 1usize), (1, 5), (0, 3), (2, 40), (0, 1), (1, 2), (0, 120)].iter().enumerate()
    {
        let records = (0..*size).map(|j| record(None, Some(&format!("{i}-{j}")), None)).collect();
        let result = log.append("t", *partition, records).expect("append");
        let expected_base = next[*partition as usize];
        assert_eq!(result.partition, *partition, "append {i} reports another partition");
        assert_eq!(result.base_offset, expected_base, "append {i} to partition {partition}: base offset");
        assert_eq!(result.last_offset, expected_base + *size as u64 - 1, "append {i}: last offset");
        next[*partition as usize] += *size as u64;
        assert_eq!(log.offsets("t", *partition).expect("offsets"), (0, next[*partition as usize]));
    }
    let description = log.describe_topic("t").expect("describe 't'");
    for p in &description.partitions {
        assert_eq!(p.latest_offset, next[p.partition as usize], "describe: partition {}", p.partition);
        assert_eq!(p.earliest_offset, 0, "describe: partition {}", p.partition);
        let records = read_all(&*log, "t", p.partition, 7);
        let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..next[p.partition as usize]).collect::<Vec<_>>(), "partition {}", p.partition);
    }
}

/// `append_partitions` lands each batch as `append` would, in the order given (two batches of one
/// partition one after the other), reads back exactly what was borrowed, and a batch that cannot be
/// appended (a missing partition) fails alone.
pub fn multi_partition_appends<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(3)).expect("create 't'");
    log.append("t", 2, vec![record(None, Some("before"), None)]).expect("append to partition 2");
    let owned: Vec<Vec<Record>> = (0..4)
        .map(|b| (0..b + 1).map(|i| record(Some(&format!("k{b}")), Some(&format!("v{b}-{i}")), None)).collect())
        .collect();
    let borrowed: Vec<Vec<RecordRef<'_>>> =
        owned.iter().map(|batch| batch.iter().map(RecordRef::from).collect()).collect();
    let batches: Vec<PartitionBatch<'_>> = [0u32, 2, 0, 7]
        .iter()
        .zip(&borrowed)
        .map(|(&partition, records)| PartitionBatch { partition, records })
        .collect();
    let results = log.append_partitions("t", &batches);
    assert_eq!(results.len(), 4, "one result per batch");
    let offsets: Vec<(u32, u64, u64)> = results[..3]
        .iter()
        .map(|r| r.as_ref().map(|r| (r.partition, r.base_offset, r.last_offset)).expect("batch appended"))
        .collect();
    assert_eq!(offsets, [(0, 0, 0), (2, 1, 2), (0, 1, 3)], "where the batches landed");
    assert!(matches!(results[3], Err(LogError::PartitionNotFound { partition: 7, .. })), "{:?}", results[3]);
    let values = |partition| -> Vec<Option<Vec<u8>>> {
        read_all(&*log, "t", partition, 10).into_iter().map(|r| r.value).collect()
    };
    let expected =
        |values: &[&str]| -> Vec<Option<Vec<u8>>> { values.iter().map(|v| Some(v.as_bytes().to_vec())).collect() };
    assert_eq!(values(0), expected(&["v0-0", "v2-0", "v2-1", "v2-2"]), "partition 0");
    assert_eq!(values(1), expected(&[]), "partition 1");
    assert_eq!(values(2), expected(&["before", "v1-0", "v1-1"]), "partition 2");
    assert_eq!(log.offsets("t", 0).expect("offsets"), (0, 4), "partition 0's high watermark");
}

/// Appends racing on one partition from several threads each land as one contiguous run of
/// offsets, and together cover the partition densely, with nothing lost or duplicated.
pub fn concurrent_appends_are_dense<H: LogHarness>(harness: &H) {
    const THREADS: usize = 4;
    const BATCHES: usize = 25;
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(1)).expect("create 't'");
    let results: Vec<Vec<(u64, u64, String)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let log = Arc::clone(&log);
                scope.spawn(move || {
                    (0..BATCHES)
                        .map(|batch| {
                            let size = 1 + (thread + batch) % 4;
                            let tag = format!("{thread}-{batch}");
                            let records = (0..size).map(|i| record(Some(&tag), Some(&i.to_string()), None)).collect();
                            let result = log.append("t", 0, records).expect("concurrent append");
                            (result.base_offset, result.last_offset, tag)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("appending thread panicked")).collect()
    });
    let stored = read_all(&*log, "t", 0, 50);
    let mut covered = 0u64;
    let mut batches: Vec<&(u64, u64, String)> = results.iter().flatten().collect();
    batches.sort();
    for (base, last, tag) in batches {
        assert_eq!(*base, covered, "batches do not tile the partition: a batch starts at {base}, expected {covered}");
        for offset in *base..=*last {
            let r = &stored[offset as usize];
            assert_eq!(r.key.as_deref(), Some(tag.as_bytes()), "offset {offset} holds another batch's record");
            assert_eq!(r.value.as_deref(), Some((offset - base).to_string().as_bytes()), "offset {offset} order");
        }
        covered = last + 1;
    }
    assert_eq!(covered, stored.len() as u64, "records without an acknowledged append");
}

/// Keys, values and headers come back byte for byte (null and empty kept apart, header order and
/// duplicates kept), producer timestamps (from 0 on, as Kafka allows, or from the backend's
/// [`Capabilities::earliest_timestamp`](super::Capabilities)) are kept on `CreateTime` topics,
/// records without one get the append time, and `LogAppendTime` topics stamp every record with the
/// append time.
pub fn records_read_back_exactly<H: LogHarness>(harness: &H) {
    let earliest = harness.capabilities().earliest_timestamp;
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(1)).expect("create 't'");
    let binary: Vec<u8> = (0..=255).collect();
    let headers = vec![
        Header { key: "trace".into(), value: Some(b"abc".to_vec()) },
        Header { key: "nothing".into(), value: None },
        Header { key: "empty".into(), value: Some(Vec::new()) },
        Header { key: "trace".into(), value: Some(binary.clone()) },
        Header { key: String::new(), value: Some(vec![0]) },
        Header { key: "ünïcode".into(), value: Some("ünïcode".as_bytes().to_vec()) },
    ];
    let sent = vec![
        Record { key: Some(b"k".to_vec()), value: Some(b"v".to_vec()), headers: headers.clone(), timestamp: Some(42) },
        Record { key: None, value: None, headers: Vec::new(), timestamp: Some(earliest + 1) },
        Record { key: Some(Vec::new()), value: Some(Vec::new()), headers: Vec::new(), timestamp: Some(earliest) },
        Record { key: Some(binary.clone()), value: Some(vec![0xAB; 70_000]), headers: Vec::new(), timestamp: None },
        Record { key: None, value: Some(binary.clone()), headers, timestamp: Some(i64::MAX / 2) },
    ];
    let before = now_ms();
    let result = log.append("t", 0, sent.clone()).expect("append");
    let after = now_ms();
    assert!(
        (before..=after).contains(&result.append_time),
        "append_time {} is not the time of the append ({before}..={after})",
        result.append_time
    );
    assert_eq!(result.first_timestamp, 42, "first_timestamp is not the first record's timestamp");
    let stored = read_all(&*log, "t", 0, 2);
    assert_eq!(stored.len(), sent.len());
    for (i, (s, r)) in stored.iter().zip(&sent).enumerate() {
        assert_eq!(s.offset, i as u64);
        assert_eq!(s.key, r.key, "record {i}: key");
        assert_eq!(s.value, r.value, "record {i}: value");
        assert_eq!(s.headers, r.headers, "record {i}: headers");
        assert_eq!(s.timestamp, r.timestamp.unwrap_or(result.append_time), "record {i}: timestamp");
    }

    let mut config = kept_forever(1);
    config.timestamp_type = TimestampType::LogAppendTime;
    log.create_topic("stamped", config).expect("create a LogAppendTime topic");
    let result = log.append("stamped", 0, sent.clone()).expect("append");
    for (i, s) in read_all(&*log, "stamped", 0, 10).iter().enumerate() {
        assert_eq!(s.timestamp, result.append_time, "LogAppendTime record {i} keeps another timestamp");
    }
    assert_eq!(result.first_timestamp, result.append_time);
}

/// Batches the log refuses leave the partition as it was: an empty batch, a record without a key
/// on a compacted topic (naming its index), a batch larger than the backend accepts, and a record
/// stamped before the backend's [`Capabilities::earliest_timestamp`](super::Capabilities).
pub fn bad_appends_write_nothing<H: LogHarness>(harness: &H) {
    let earliest = harness.capabilities().earliest_timestamp;
    let place = harness.new_place();
    let log = harness.open(&place);
    let compacted = TopicConfig { cleanup_policy: CleanupPolicy::Compact, ..kept_forever(1) };
    log.create_topic("c", compacted).expect("create a compacted topic");
    log.append("c", 0, vec![record(Some("a"), Some("0"), None)]).expect("append a keyed record");
    let keyless = vec![record(Some("a"), Some("1"), None), record(None, Some("2"), None)];
    assert_err!(log.append("c", 0, keyless), LogError::InvalidRecord { index: 1, .. }, "a keyless record, compacted");
    assert_err!(log.append("c", 0, Vec::new()), LogError::EmptyBatch, "an empty batch");
    // More than any backend takes in one batch (calloc'd: the pages are never touched).
    let huge = vec![Record { key: Some(b"a".to_vec()), value: Some(vec![0; 256 << 20]), ..Record::default() }];
    assert_err!(log.append("c", 0, huge), LogError::BatchTooLarge { .. }, "a 256 MiB batch");
    if earliest > 0 {
        let early =
            vec![record(Some("a"), Some("4"), Some(earliest)), record(Some("a"), Some("5"), Some(earliest - 1))];
        assert_err!(
            log.append("c", 0, early),
            LogError::InvalidRecord { index: 1, .. },
            "a timestamp before the earliest"
        );
    }
    assert_eq!(log.offsets("c", 0).expect("offsets"), (0, 1), "a refused batch changed the partition");
    let next = log.append("c", 0, vec![record(Some("b"), Some("3"), None)]).expect("append after refusals");
    assert_eq!(next.base_offset, 1, "a refused batch used up offsets");
    let values: Vec<_> = read_all(&*log, "c", 0, 10).into_iter().map(|r| r.value).collect();
    assert_eq!(values, vec![Some(b"0".to_vec()), Some(b"3".to_vec())]);
}
