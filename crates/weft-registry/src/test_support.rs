//! Helpers shared by the unit tests of several modules: an in-memory event log that can be told to fail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use weft_log::{
    AppendResult, CommittedOffset, EventLog, LogError, ReadLimits, ReadResult, Record, StoredRecord, TopicConfig,
    TopicDescription,
};

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
