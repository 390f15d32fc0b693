//! Helpers shared by the unit tests of several modules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use weft_log::{
    AppendResult, CommittedOffset, EventLog, LogError, ReadLimits, ReadResult, Record, StoredRecord, TopicConfig,
    TopicDescription,
};

/// Test support: variations of valid payloads (each field removed, retyped, or an extra one added) to
/// check that the fast path of validation agrees with the exact one.
pub(crate) fn mutations(value: &serde_json::Value) -> Vec<serde_json::Value> {
    use serde_json::{json, Value};
    let replacements = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(3_000_000_000i64),
        json!(""),
        json!("x"),
        json!("2024-01-01T00:00:00Z"),
        json!([]),
        json!([1]),
        json!({}),
        json!({"int": 1}),
    ];
    let mut out = vec![value.clone()];
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let mut removed = map.clone();
                removed.remove(key);
                out.push(Value::Object(removed));
                for replacement in &replacements {
                    let mut changed = map.clone();
                    changed.insert(key.clone(), replacement.clone());
                    out.push(Value::Object(changed));
                }
                for nested in mutations(inner).into_iter().skip(1).take(40) {
                    let mut changed = map.clone();
                    changed.insert(key.clone(), nested);
                    out.push(Value::Object(changed));
                }
            }
            let mut extra = map.clone();
            extra.insert("unexpected".into(), json!(1));
            out.push(Value::Object(extra));
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                for replacement in &replacements {
                    let mut changed = items.clone();
                    changed[i] = replacement.clone();
                    out.push(Value::Array(changed));
                }
                for nested in mutations(inner).into_iter().skip(1).take(20) {
                    let mut changed = items.clone();
                    changed[i] = nested;
                    out.push(Value::Array(changed));
                }
            }
            out.push(Value::Array(Vec::new()));
        }
        _ => out.extend(replacements.iter().cloned()),
    }
    out
}

/// A small deterministic generator (xorshift), so robustness tests need no dependency and replay exactly.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Replaces one random node of `value` (found by a random walk) with a random JSON value, drawn from
/// values that tend to break schema parsers: wrong kinds, negatives, huge numbers, odd names.
pub(crate) fn mutate_randomly(value: &mut serde_json::Value, rng: &mut Rng) {
    use serde_json::{json, Value};
    let replacements = [
        json!(null),
        json!(-1),
        json!(0),
        json!(1e300),
        json!(18446744073709551615u64),
        json!(""),
        json!("int"),
        json!("record"),
        json!("a.b.C"),
        json!("#/definitions/x"),
        json!("#"),
        json!([]),
        json!(["null", "string"]),
        json!({}),
        json!({"type": "array"}),
        json!({"$ref": "#"}),
        json!(true),
        json!(false),
        json!("^(a+)+$"),
        json!("date-time"),
    ];
    let mut cursor = value;
    loop {
        let descend = rng.below(3) != 0;
        let next_index = match cursor {
            Value::Object(map) if descend && !map.is_empty() => Some(rng.below(map.len())),
            Value::Array(items) if descend && !items.is_empty() => Some(rng.below(items.len())),
            _ => None,
        };
        match (next_index, cursor) {
            (Some(i), Value::Object(map)) => {
                let key = map.keys().nth(i).cloned().unwrap_or_default();
                if rng.below(5) == 0 {
                    map.remove(&key);
                    return;
                }
                cursor = map.get_mut(&key).expect("key exists");
            }
            (Some(i), Value::Array(items)) => cursor = &mut items[i],
            (_, slot) => {
                *slot = replacements[rng.below(replacements.len())].clone();
                return;
            }
        }
    }
}

/// What the next append does.
pub(crate) const APPEND_OK: u8 = 0;
/// Fails without writing.
pub(crate) const APPEND_FAILS: u8 = 1;
/// Writes the records but reports a failure (a timeout after the write landed).
pub(crate) const APPEND_LANDS_BUT_FAILS: u8 = 2;

/// A topic's config, its records, and the next offset.
type MemoryTopic = (TopicConfig, Vec<StoredRecord>, u64);

/// An in-memory [`EventLog`] whose next append can be made to fail, and whose topics can be compacted.
#[derive(Default)]
pub(crate) struct MemoryLog {
    topics: Mutex<HashMap<String, MemoryTopic>>,
    pub(crate) next_append: AtomicU8,
}

impl MemoryLog {
    pub(crate) fn new() -> Arc<MemoryLog> {
        Arc::new(MemoryLog::default())
    }

    /// Keeps only the latest record per key, and drops keys whose latest record is a tombstone.
    pub(crate) fn compact(&self, topic: &str) {
        let mut topics = self.topics.lock().unwrap();
        let (_, records, _) = topics.get_mut(topic).unwrap();
        let mut latest: HashMap<Option<Vec<u8>>, u64> = HashMap::new();
        for record in records.iter() {
            latest.insert(record.key.clone(), record.offset);
        }
        records.retain(|r| latest[&r.key] == r.offset && r.value.is_some());
    }

    pub(crate) fn record_count(&self, topic: &str) -> usize {
        self.topics.lock().unwrap()[topic].1.len()
    }
}

fn no_topic(name: &str) -> LogError {
    LogError::TopicNotFound(name.to_string())
}

impl EventLog for MemoryLog {
    fn create_topic(&self, name: &str, config: TopicConfig) -> weft_log::Result<TopicDescription> {
        let mut topics = self.topics.lock().unwrap();
        if topics.contains_key(name) {
            return Err(LogError::TopicExists(name.to_string()));
        }
        topics.insert(name.to_string(), (config.clone(), Vec::new(), 0));
        Ok(TopicDescription { name: name.to_string(), config, partitions: Vec::new() })
    }

    fn delete_topic(&self, name: &str) -> weft_log::Result<()> {
        self.topics.lock().unwrap().remove(name).map(|_| ()).ok_or_else(|| no_topic(name))
    }

    fn list_topics(&self) -> Vec<String> {
        self.topics.lock().unwrap().keys().cloned().collect()
    }

    fn describe_topic(&self, name: &str) -> weft_log::Result<TopicDescription> {
        let config = self.topic_config(name)?;
        Ok(TopicDescription { name: name.to_string(), config, partitions: Vec::new() })
    }

    fn topic_config(&self, name: &str) -> weft_log::Result<TopicConfig> {
        self.topics.lock().unwrap().get(name).map(|t| t.0.clone()).ok_or_else(|| no_topic(name))
    }

    fn append(&self, topic: &str, _partition: u32, records: Vec<Record>) -> weft_log::Result<AppendResult> {
        let behaviour = self.next_append.swap(APPEND_OK, Ordering::SeqCst);
        if behaviour == APPEND_FAILS {
            return Err(LogError::Closed);
        }
        let mut topics = self.topics.lock().unwrap();
        let (_, stored, next) = topics.get_mut(topic).ok_or_else(|| no_topic(topic))?;
        let base_offset = *next;
        for record in records {
            stored.push(StoredRecord {
                offset: *next,
                timestamp: 0,
                key: record.key,
                value: record.value,
                headers: record.headers,
            });
            *next += 1;
        }
        if behaviour == APPEND_LANDS_BUT_FAILS {
            return Err(LogError::Closed);
        }
        Ok(AppendResult { partition: 0, base_offset, last_offset: *next - 1, first_timestamp: 0, append_time: 0 })
    }

    fn read(&self, topic: &str, _partition: u32, offset: u64, limits: ReadLimits) -> weft_log::Result<ReadResult> {
        let topics = self.topics.lock().unwrap();
        let (_, stored, next) = topics.get(topic).ok_or_else(|| no_topic(topic))?;
        let records: Vec<StoredRecord> =
            stored.iter().filter(|r| r.offset >= offset).take(limits.max_records.min(3)).cloned().collect();
        let next_offset = records.last().map_or(offset.max(*next), |r| r.offset + 1);
        Ok(ReadResult { records, next_offset, high_watermark: *next, log_start_offset: 0 })
    }

    fn offset_for_timestamp(&self, _: &str, _: u32, _: i64) -> weft_log::Result<Option<u64>> {
        Ok(None)
    }

    fn offsets(&self, topic: &str, _partition: u32) -> weft_log::Result<(u64, u64)> {
        let topics = self.topics.lock().unwrap();
        topics.get(topic).map(|t| (0, t.2)).ok_or_else(|| no_topic(topic))
    }

    fn subscribe(&self, _: &str, _: u32) -> weft_log::Result<tokio::sync::watch::Receiver<u64>> {
        Err(LogError::Closed)
    }

    fn commit_offset(&self, _: &str, _: &str, _: u32, _: u64, _: &str) -> weft_log::Result<CommittedOffset> {
        Err(LogError::Closed)
    }

    fn committed_offsets(&self, _: &str) -> weft_log::Result<Vec<CommittedOffset>> {
        Ok(Vec::new())
    }

    // A test double, not a backend: nothing to trim, flush or stop.
    fn run_maintenance(&self) -> weft_log::Result<()> {
        Ok(())
    }

    fn shutdown(&self) -> weft_log::Result<()> {
        Ok(())
    }
}
