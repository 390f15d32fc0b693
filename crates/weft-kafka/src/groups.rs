//! Consumer-group positions, kept as the embedded log keeps them: records of the compacted
//! internal topic `_weft_consumer_offsets`, keyed `group NUL topic NUL partition`, valued with the
//! JSON of a [`CommittedOffset`] (a tombstone forgets a position). Every call first reads what
//! was appended since the last (by any server on the cluster), so positions are shared.
//!
//! Not Kafka's group coordinator: its `OffsetFetch` has no commit time, and Kafka tools do not
//! see these positions. Consumer groups that Kafka clients join (persistent queries shared among
//! servers) are a later step of the Kafka backend.

use std::collections::BTreeMap;
use std::sync::Mutex;

use weft_log::{CommittedOffset, LogError, ReadLimits, Record, Result, StoredRecord, TopicConfig};

use crate::{now_ms, Shared};

/// The internal topic holding consumer-group positions (the embedded log's name).
pub const OFFSETS_TOPIC: &str = "_weft_consumer_offsets";

type Key = (String, String, u32);

#[derive(Default)]
pub(crate) struct Groups {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The next offset of the offsets topic to read.
    next: u64,
    positions: BTreeMap<Key, CommittedOffset>,
}

/// Creates the offsets topic when it is missing and reads it.
pub(crate) fn open(shared: &Shared) -> Result<()> {
    match shared.admin.create(OFFSETS_TOPIC, &TopicConfig::compacted(1)) {
        Ok(()) | Err(LogError::TopicExists(_)) => {}
        Err(error) => return Err(error),
    }
    let mut state = lock(shared);
    catch_up(shared, &mut state)
}

pub(crate) fn validate_group(group: &str) -> Result<()> {
    if group.is_empty() || group.len() > 255 || group.chars().any(char::is_control) {
        return Err(LogError::InvalidGroup(group.to_string()));
    }
    Ok(())
}

pub(crate) fn commit(
    shared: &Shared,
    group: &str,
    topic: &str,
    partition: u32,
    offset: u64,
    metadata: &str,
) -> Result<CommittedOffset> {
    let committed = CommittedOffset {
        topic: topic.to_string(),
        partition,
        offset,
        metadata: metadata.to_string(),
        commit_timestamp: now_ms(),
    };
    let value = serde_json::to_vec(&committed)
        .map_err(|e| LogError::InvalidRecord { index: 0, reason: format!("unencodable offset: {e}") })?;
    let record = Record { key: Some(key(group, topic, partition)), value: Some(value), ..Record::default() };
    let mut state = lock(shared);
    append(shared, vec![record])?;
    catch_up(shared, &mut state)?;
    Ok(committed)
}

/// A group's positions, sorted by topic and partition.
pub(crate) fn committed(shared: &Shared, group: &str) -> Result<Vec<CommittedOffset>> {
    let mut state = lock(shared);
    catch_up(shared, &mut state)?;
    Ok(state.positions.iter().filter(|((g, _, _), _)| g == group).map(|(_, c)| c.clone()).collect())
}

/// Forgets every position in `topic` (it was deleted), with one tombstone each.
pub(crate) fn forget_topic(shared: &Shared, topic: &str) -> Result<()> {
    let mut state = lock(shared);
    catch_up(shared, &mut state)?;
    let tombstones: Vec<Record> = state
        .positions
        .keys()
        .filter(|(_, t, _)| t == topic)
        .map(|(g, t, p)| Record { key: Some(key(g, t, *p)), ..Record::default() })
        .collect();
    if tombstones.is_empty() {
        return Ok(());
    }
    append(shared, tombstones)?;
    catch_up(shared, &mut state)
}

fn append(shared: &Shared, records: Vec<Record>) -> Result<()> {
    let config = shared.admin.topic(OFFSETS_TOPIC)?;
    let result = shared.producer.append(&shared.options, OFFSETS_TOPIC, 0, &config, records)?;
    shared.watches.raise(OFFSETS_TOPIC, 0, result.last_offset + 1);
    Ok(())
}

/// Applies what the offsets topic gained since the last read.
fn catch_up(shared: &Shared, state: &mut State) -> Result<()> {
    let (earliest, high) = shared.readers.watermarks(OFFSETS_TOPIC, 0)?;
    state.next = state.next.max(earliest);
    while state.next < high {
        let limits = ReadLimits { max_records: 10_000, max_bytes: 4 << 20 };
        let read = shared.readers.read(OFFSETS_TOPIC, 0, state.next, limits)?;
        for record in &read.records {
            apply(state, record);
        }
        if read.next_offset <= state.next {
            break;
        }
        state.next = read.next_offset;
    }
    Ok(())
}

fn apply(state: &mut State, record: &StoredRecord) {
    let Some(key) = record.key.as_deref().and_then(parse_key) else {
        tracing::warn!(offset = record.offset, "unreadable key in {OFFSETS_TOPIC}");
        return;
    };
    match record.value.as_deref().map(serde_json::from_slice::<CommittedOffset>) {
        None => {
            state.positions.remove(&key);
        }
        Some(Ok(committed)) => {
            state.positions.insert(key, committed);
        }
        Some(Err(error)) => tracing::warn!(offset = record.offset, %error, "unreadable value in {OFFSETS_TOPIC}"),
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.groups.state.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(group: &str, topic: &str, partition: u32) -> Vec<u8> {
    format!("{group}\u{0}{topic}\u{0}{partition}").into_bytes()
}

fn parse_key(bytes: &[u8]) -> Option<Key> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.split('\u{0}');
    let (group, topic, partition) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?);
    Some((group.to_string(), topic.to_string(), partition))
}
