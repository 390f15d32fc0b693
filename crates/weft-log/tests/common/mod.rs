//! Helpers shared by the log's integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions, ReadLimits, Record, StoredRecord};

/// Opens a log whose group commit is fast, so tests do not wait long on appends.
pub fn open(dir: &std::path::Path) -> Arc<EmbeddedLog> {
    let mut options = LogOptions::new(dir);
    options.durability = Durability::GroupCommit { interval: Duration::from_millis(1) };
    options.maintenance_interval = Duration::from_secs(3600);
    EmbeddedLog::open(options).expect("open log")
}

pub fn record(key: Option<&str>, value: Option<&str>, timestamp: Option<i64>) -> Record {
    Record {
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp,
    }
}

/// Every durable record of a partition, from the log start.
pub fn read_all(log: &dyn EventLog, topic: &str, partition: u32) -> Vec<StoredRecord> {
    let (mut offset, _) = log.offsets(topic, partition).expect("offsets");
    let mut out = Vec::new();
    loop {
        let batch =
            log.read(topic, partition, offset, ReadLimits { max_records: 1000, max_bytes: 1 << 20 }).expect("read");
        if batch.records.is_empty() {
            return out;
        }
        offset = batch.next_offset;
        out.extend(batch.records);
    }
}

/// Deterministic pseudo-random numbers (splitmix64), so tests need no extra crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
