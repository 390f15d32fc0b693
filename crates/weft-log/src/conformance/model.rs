//! The model test: random appends, reads, lookups, commits and reopens, checked against a plain
//! in-memory model of what the log must hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{kept_forever, read_all, reopen, LogHarness};
use crate::{EventLog, Header, ReadLimits, Record};

const PARTITIONS: u32 = 2;

/// A record as generated: always with a producer timestamp, so the model knows every timestamp.
#[derive(Debug, Clone)]
pub(crate) struct GenRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<Header>,
    pub timestamp: i64,
}

impl GenRecord {
    pub fn to_record(&self) -> Record {
        Record {
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.clone(),
            timestamp: Some(self.timestamp),
        }
    }
}

/// Records with keys from `keys` distinct ones (10% without a key), values up to 300 bytes (15%
/// null), up to two headers, and timestamps in no particular order.
pub(crate) fn gen_record(keys: u8, earliest_timestamp: i64) -> impl Strategy<Value = GenRecord> {
    (
        proptest::option::weighted(0.9, (0..keys).prop_map(|k| format!("key-{k}").into_bytes())),
        proptest::option::weighted(0.85, proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(
            ("[a-z]{1,8}", proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20))),
            0..3,
        ),
        earliest_timestamp..earliest_timestamp + 10_000,
    )
        .prop_map(|(key, value, headers, timestamp)| GenRecord {
            key,
            value,
            headers: headers.into_iter().map(|(key, value)| Header { key, value }).collect(),
            timestamp,
        })
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        partition: u32,
        records: Vec<GenRecord>,
    },
    /// Reads from an offset picked among `0..=high watermark`; `max_bytes` of `None` means ample.
    Read {
        partition: u32,
        at: Index,
        max_records: usize,
        max_bytes: Option<usize>,
    },
    OffsetForTimestamp {
        partition: u32,
        timestamp: i64,
    },
    Commit {
        partition: u32,
        at: Index,
    },
    Reopen,
}

fn op(earliest_timestamp: i64) -> impl Strategy<Value = Op> {
    let partition = 0..PARTITIONS;
    prop_oneof![
        8 => (partition.clone(), proptest::collection::vec(gen_record(20, earliest_timestamp), 1..40))
            .prop_map(|(partition, records)| Op::Append { partition, records }),
        4 => (partition.clone(), any::<Index>(), 1usize..60, proptest::option::weighted(0.3, 1usize..2000))
            .prop_map(|(partition, at, max_records, max_bytes)| Op::Read { partition, at, max_records, max_bytes }),
        2 => (partition.clone(), earliest_timestamp - 10..earliest_timestamp + 10_100)
            .prop_map(|(partition, timestamp)| Op::OffsetForTimestamp { partition, timestamp }),
        1 => (partition, any::<Index>()).prop_map(|(partition, at)| Op::Commit { partition, at }),
        1 => Just(Op::Reopen),
    ]
}

/// What the log must hold.
#[derive(Default)]
struct Model {
    partitions: [Vec<GenRecord>; PARTITIONS as usize],
    commits: BTreeMap<u32, u64>,
}

/// Offsets are dense and monotonic, every acknowledged record reads back exactly from any offset
/// with any limits, timestamp lookups find the first offset at or after the timestamp, commits
/// are remembered, and all of it survives reopening, at any point of a random history.
pub fn model_appends_reads_and_reopens<H: LogHarness>(harness: &H) {
    let config = Config { cases: harness.property_cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let ops = proptest::collection::vec(op(harness.capabilities().earliest_timestamp), 1..40);
    let outcome = runner.run(&ops, |ops| run_history(harness, &ops));
    if let Err(failure) = outcome {
        panic!("model test: {failure}");
    }
}

fn run_history<H: LogHarness>(harness: &H, ops: &[Op]) -> Result<(), TestCaseError> {
    let place = harness.new_place();
    let mut log: Arc<dyn EventLog> = harness.open(&place);
    log.create_topic("t", kept_forever(PARTITIONS)).map_err(fail)?;
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Append { partition, records } => {
                let held = &mut model.partitions[*partition as usize];
                let result =
                    log.append("t", *partition, records.iter().map(GenRecord::to_record).collect()).map_err(fail)?;
                prop_assert_eq!(result.base_offset, held.len() as u64, "step {}: base offset", step);
                prop_assert_eq!(result.last_offset, (held.len() + records.len() - 1) as u64, "step {}", step);
                held.extend(records.iter().cloned());
            }
            Op::Read { partition, at, max_records, max_bytes } => {
                let held = &model.partitions[*partition as usize];
                let start = at.index(held.len() + 1);
                let limits = ReadLimits { max_records: *max_records, max_bytes: max_bytes.unwrap_or(1 << 20) };
                let read = log.read("t", *partition, start as u64, limits).map_err(fail)?;
                let remaining = held.len() - start;
                let n = read.records.len();
                prop_assert!(n <= (*max_records).min(remaining), "step {}: {} records past the limits", step, n);
                if max_bytes.is_none() {
                    prop_assert_eq!(n, (*max_records).min(remaining), "step {}: a read with ample bytes", step);
                } else if remaining > 0 {
                    prop_assert!(n >= 1, "step {}: a read under max_bytes returned nothing", step);
                }
                for (i, stored) in read.records.iter().enumerate() {
                    check_record(stored, (start + i) as u64, &held[start + i]).map_err(|e| at_step(step, e))?;
                }
                prop_assert_eq!(read.next_offset, (start + n) as u64, "step {}: next_offset", step);
                prop_assert_eq!(read.high_watermark, held.len() as u64, "step {}: high watermark", step);
                prop_assert_eq!(read.log_start_offset, 0, "step {}: log start", step);
            }
            Op::OffsetForTimestamp { partition, timestamp } => {
                let held = &model.partitions[*partition as usize];
                let expected = held.iter().position(|r| r.timestamp >= *timestamp).map(|p| p as u64);
                let found = log.offset_for_timestamp("t", *partition, *timestamp).map_err(fail)?;
                prop_assert_eq!(found, expected, "step {}: offset for timestamp {}", step, timestamp);
            }
            Op::Commit { partition, at } => {
                let offset = at.index(model.partitions[*partition as usize].len() + 1) as u64;
                log.commit_offset("model", "t", *partition, offset, &format!("step {step}")).map_err(fail)?;
                model.commits.insert(*partition, offset);
            }
            Op::Reopen => {
                log = reopen(harness, &place, log);
                check_everything(&*log, &model).map_err(|e| at_step(step, e))?;
            }
        }
    }
    check_everything(&*log, &model)
}

fn check_everything(log: &dyn EventLog, model: &Model) -> Result<(), TestCaseError> {
    for (partition, held) in model.partitions.iter().enumerate() {
        let partition = partition as u32;
        prop_assert_eq!(log.offsets("t", partition).map_err(fail)?, (0, held.len() as u64));
        let stored = read_all(log, "t", partition, 17);
        prop_assert_eq!(stored.len(), held.len(), "partition {}: record count", partition);
        for (i, (s, expected)) in stored.iter().zip(held).enumerate() {
            check_record(s, i as u64, expected)?;
        }
    }
    let commits: BTreeMap<u32, u64> =
        log.committed_offsets("model").map_err(fail)?.into_iter().map(|c| (c.partition, c.offset)).collect();
    prop_assert_eq!(&commits, &model.commits, "committed offsets");
    Ok(())
}

fn check_record(stored: &crate::StoredRecord, offset: u64, expected: &GenRecord) -> Result<(), TestCaseError> {
    prop_assert_eq!(stored.offset, offset);
    prop_assert_eq!(stored.timestamp, expected.timestamp, "offset {}: timestamp", offset);
    prop_assert_eq!(&stored.key, &expected.key, "offset {}: key", offset);
    prop_assert_eq!(&stored.value, &expected.value, "offset {}: value", offset);
    prop_assert_eq!(&stored.headers, &expected.headers, "offset {}: headers", offset);
    Ok(())
}

fn fail(e: crate::LogError) -> TestCaseError {
    TestCaseError::fail(format!("log call failed: {e}"))
}

fn at_step(step: usize, e: TestCaseError) -> TestCaseError {
    TestCaseError::fail(format!("after step {step}: {e}"))
}
