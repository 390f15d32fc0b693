//! Compaction of `cleanup.policy=compact` topics.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::model::{gen_record, GenRecord};
use super::{read_all, reopen, LogHarness};
use crate::{CleanupPolicy, ReadLimits, Record, TopicConfig};

/// Segment size of the compacted topic; the sentinel record is larger, so appending it seals
/// everything before it in backends that roll segments by size.
const SEGMENT_BYTES: u64 = 2048;

/// Maintenance of a compacted topic keeps the latest record of every key whose latest record is
/// not a tombstone, at its original offset and byte for byte; whatever it keeps is a record that
/// was appended there; offsets and the high watermark do not move; a read from a removed offset
/// starts at the next record kept; the result survives a reopen. With
/// [`Capabilities::compacts_on_maintenance`](super::Capabilities) it keeps nothing else.
pub fn compaction_keeps_the_latest_record_per_key<H: LogHarness>(harness: &H) {
    let config = Config { cases: harness.property_cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let batches = proptest::collection::vec(
        proptest::collection::vec(gen_record(12, harness.capabilities().earliest_timestamp), 1..30),
        1..20,
    );
    let outcome = runner.run(&batches, |batches| compact_and_check(harness, &batches));
    if let Err(failure) = outcome {
        panic!("compaction: {failure}");
    }
}

fn compact_and_check<H: LogHarness>(harness: &H, batches: &[Vec<GenRecord>]) -> Result<(), TestCaseError> {
    let exact = harness.capabilities().compacts_on_maintenance;
    let place = harness.new_place();
    let mut log = harness.open(&place);
    let config = TopicConfig {
        cleanup_policy: CleanupPolicy::Compact,
        retention_ms: None,
        segment_bytes: SEGMENT_BYTES,
        ..TopicConfig::default()
    };
    log.create_topic("c", config).map_err(fail)?;
    let mut appended: Vec<Record> = Vec::new();
    for batch in batches {
        // A compacted topic refuses records without a key.
        let records: Vec<Record> = batch
            .iter()
            .map(|r| Record { key: Some(r.key.clone().unwrap_or_else(|| b"nokey".to_vec())), ..r.to_record() })
            .collect();
        appended.extend(records.iter().cloned());
        log.append("c", 0, records).map_err(fail)?;
    }
    let sentinel = Record {
        key: Some(b"sentinel".to_vec()),
        value: Some(vec![b's'; SEGMENT_BYTES as usize + 52]),
        ..Record::default()
    };
    log.append("c", 0, vec![sentinel.clone()]).map_err(fail)?;
    appended.push(Record { timestamp: None, ..sentinel });
    let mut latest: BTreeMap<&[u8], u64> = BTreeMap::new();
    for (offset, r) in appended.iter().enumerate() {
        latest.insert(r.key.as_deref().unwrap_or_default(), offset as u64);
    }

    log.run_maintenance().map_err(fail)?;
    prop_assert_eq!(
        log.offsets("c", 0).map_err(fail)?.1,
        appended.len() as u64,
        "maintenance moved the high watermark"
    );
    let kept = read_all(&*log, "c", 0, 50);
    let mut previous = None;
    for r in &kept {
        prop_assert!(previous < Some(r.offset), "offsets out of order after compaction at {}", r.offset);
        previous = Some(r.offset);
        let original = &appended[r.offset as usize];
        prop_assert_eq!(&r.key, &original.key, "offset {}: key changed by compaction", r.offset);
        prop_assert_eq!(&r.value, &original.value, "offset {}: value changed by compaction", r.offset);
        prop_assert_eq!(&r.headers, &original.headers, "offset {}: headers changed by compaction", r.offset);
        if let Some(timestamp) = original.timestamp {
            prop_assert_eq!(r.timestamp, timestamp, "offset {}: timestamp changed by compaction", r.offset);
        }
    }
    let kept_offsets: Vec<u64> = kept.iter().map(|r| r.offset).collect();
    for (&key, &offset) in &latest {
        if appended[offset as usize].value.is_some() {
            prop_assert!(
                kept_offsets.binary_search(&offset).is_ok(),
                "the latest record of key {:?} (offset {}) is gone",
                String::from_utf8_lossy(key),
                offset
            );
        }
    }
    if exact {
        let expected: Vec<u64> = {
            let mut v: Vec<u64> = latest.values().copied().filter(|&o| appended[o as usize].value.is_some()).collect();
            v.sort_unstable();
            v
        };
        prop_assert_eq!(&kept_offsets, &expected, "compaction kept superseded records or tombstones");
    }
    if let Some(&first) = kept_offsets.first() {
        let read = log.read("c", 0, 0, ReadLimits::default()).map_err(fail)?;
        prop_assert_eq!(read.records.first().map(|r| r.offset), Some(first), "a read at 0 after compaction");
    }
    log = reopen(harness, &place, log);
    prop_assert_eq!(read_all(&*log, "c", 0, 50), kept, "the compacted partition changed across a reopen");
    Ok(())
}

fn fail(e: crate::LogError) -> TestCaseError {
    TestCaseError::fail(format!("log call failed: {e}"))
}
