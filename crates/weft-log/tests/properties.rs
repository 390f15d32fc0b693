//! Property tests of the log's invariants against a simple in-memory model.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use weft_log::{EventLog, Header, ReadLimits, Record, TopicConfig};

#[derive(Debug, Clone)]
struct GenRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: i64,
}

impl GenRecord {
    fn to_record(&self) -> Record {
        Record {
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.iter().map(|(k, v)| Header { key: k.clone(), value: v.clone() }).collect(),
            timestamp: Some(self.timestamp),
        }
    }
}

fn gen_record(keys: u8) -> impl Strategy<Value = GenRecord> {
    (
        proptest::option::weighted(0.9, (0..keys).prop_map(|k| format!("key-{k}").into_bytes())),
        proptest::option::weighted(0.85, proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(
            ("[a-z]{1,8}", proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20))),
            0..3,
        ),
        0i64..10_000,
    )
        .prop_map(|(key, value, headers, timestamp)| GenRecord { key, value, headers, timestamp })
}

fn small_segments(partitions: u32) -> TopicConfig {
    TopicConfig { partitions, segment_bytes: 2048, retention_ms: None, ..TopicConfig::default() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Offsets are dense and monotonic, every acknowledged record reads back identically (before and
    /// after a restart), reads from any offset agree with the model, and timestamp lookup finds the
    /// first offset at or after the timestamp.
    #[test]
    fn appended_records_read_back_exactly(
        batches in proptest::collection::vec(proptest::collection::vec(gen_record(20), 1..40), 1..25),
        probes in proptest::collection::vec((any::<prop::sample::Index>(), 1usize..60), 1..10),
        times in proptest::collection::vec(-10i64..10_100, 1..10),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let model: Vec<GenRecord> = batches.iter().flatten().cloned().collect();
        {
            let log = common::open(dir.path());
            log.create_topic("t", small_segments(1)).unwrap();
            let mut expected_next = 0;
            for batch in &batches {
                let records: Vec<Record> = batch.iter().map(GenRecord::to_record).collect();
                let result = log.append("t", 0, records).unwrap();
                prop_assert_eq!(result.base_offset, expected_next);
                prop_assert_eq!(result.last_offset, expected_next + batch.len() as u64 - 1);
                expected_next += batch.len() as u64;
            }
            check_against_model(&*log, &model, &probes, &times)?;
        }
        let log = common::open(dir.path());
        check_against_model(&*log, &model, &probes, &times)?;
    }

    /// After compaction, the log holds exactly the latest value of every key whose latest record is
    /// not a tombstone, each once, at its original offset.
    #[test]
    fn compaction_keeps_exactly_the_latest_value_per_key(
        batches in proptest::collection::vec(proptest::collection::vec(gen_record(12), 1..30), 1..20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = common::open(dir.path());
        let config = TopicConfig { segment_bytes: 2048, ..TopicConfig::compacted(1) };
        log.create_topic("c", config).unwrap();
        let mut latest: BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)> = BTreeMap::new();
        let mut offset = 0u64;
        for batch in &batches {
            let records: Vec<Record> = batch
                .iter()
                .map(|r| Record { key: Some(r.key.clone().unwrap_or_else(|| b"nokey".to_vec())), ..r.to_record() })
                .collect();
            for r in &records {
                latest.insert(r.key.clone().unwrap(), (offset, r.value.clone()));
                offset += 1;
            }
            log.append("c", 0, records).unwrap();
        }
        // A record as large as a segment rolls the active segment, so everything before it is sealed.
        let sentinel = common::record(Some("sentinel"), Some(&"s".repeat(2100)), None);
        log.append("c", 0, vec![sentinel]).unwrap();
        log.run_maintenance().unwrap();

        let all = common::read_all(&*log, "c", 0);
        let (sentinel, compacted) = all.split_last().unwrap();
        prop_assert_eq!(sentinel.key.as_deref(), Some(&b"sentinel"[..]));
        let expected: Vec<(u64, Vec<u8>, Option<Vec<u8>>)> = {
            let mut v: Vec<_> = latest
                .iter()
                .filter(|(_, (_, value))| value.is_some())
                .map(|(k, (o, value))| (*o, k.clone(), value.clone()))
                .collect();
            v.sort();
            v
        };
        let actual: Vec<(u64, Vec<u8>, Option<Vec<u8>>)> =
            compacted.iter().map(|r| (r.offset, r.key.clone().unwrap(), r.value.clone())).collect();
        prop_assert_eq!(actual, expected);
        // Reading from an offset compaction removed starts at the next surviving record.
        if let Some(first) = compacted.first() {
            let read = log.read("c", 0, 0, ReadLimits::default()).unwrap();
            prop_assert_eq!(read.records[0].offset, first.offset);
        }
        // The compacted state survives a restart.
        drop(log);
        let log = common::open(dir.path());
        prop_assert_eq!(common::read_all(&*log, "c", 0), all);
    }
}

fn check_against_model(
    log: &dyn EventLog,
    model: &[GenRecord],
    probes: &[(prop::sample::Index, usize)],
    times: &[i64],
) -> Result<(), TestCaseError> {
    let all = common::read_all(log, "t", 0);
    prop_assert_eq!(all.len(), model.len());
    for (i, (stored, expected)) in all.iter().zip(model).enumerate() {
        prop_assert_eq!(stored.offset, i as u64);
        prop_assert_eq!(stored.timestamp, expected.timestamp);
        prop_assert_eq!(&stored.key, &expected.key);
        prop_assert_eq!(&stored.value, &expected.value);
        prop_assert_eq!(&stored.to_owned_headers(), &expected.headers);
    }
    prop_assert_eq!(log.offsets("t", 0).unwrap(), (0, model.len() as u64));
    for (index, max_records) in probes {
        let start = index.index(model.len());
        let read =
            log.read("t", 0, start as u64, ReadLimits { max_records: *max_records, max_bytes: 1 << 20 }).unwrap();
        let expected_len = (*max_records).min(model.len() - start);
        prop_assert_eq!(read.records.len(), expected_len);
        prop_assert_eq!(read.records.first().map(|r| r.offset), Some(start as u64));
        prop_assert_eq!(read.next_offset, (start + expected_len) as u64);
    }
    for &t in times {
        let expected = model.iter().position(|r| r.timestamp >= t).map(|p| p as u64);
        prop_assert_eq!(log.offset_for_timestamp("t", 0, t).unwrap(), expected, "timestamp {}", t);
    }
    Ok(())
}

trait OwnedHeaders {
    fn to_owned_headers(&self) -> Vec<(String, Option<Vec<u8>>)>;
}

impl OwnedHeaders for weft_log::StoredRecord {
    fn to_owned_headers(&self) -> Vec<(String, Option<Vec<u8>>)> {
        self.headers.iter().map(|h| (h.key.clone(), h.value.clone())).collect()
    }
}
