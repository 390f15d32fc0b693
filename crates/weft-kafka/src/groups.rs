//! Consumer-group positions, kept as the embedded log keeps them ([`weft_log::group_offsets`]:
//! records of the compacted internal topic `_weft_consumer_offsets`). Every call first reads what
//! was appended since the last (by any server on the cluster), so positions are shared.
//!
//! Not Kafka's group coordinator: its `OffsetFetch` has no commit time, and Kafka tools do not
//! see these positions. Consumer groups that Kafka clients join (persistent queries shared among
//! servers) are a later step of the Kafka backend.

use std::sync::Mutex;

use weft_log::group_offsets::{self, Positions};
pub use weft_log::group_offsets::{validate_group, OFFSETS_TOPIC};
use weft_log::{CommittedOffset, LogError, ReadLimits, Record, Result, TopicConfig};

use crate::{now_ms, Shared};

#[derive(Default)]
pub(crate) struct Groups {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The next offset of the offsets topic to read.
    next: u64,
    positions: Positions,
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

pub(crate) fn commit(
    shared: &Shared,
    group: &str,
    topic: &str,
    partition: u32,
    offset: u64,
    metadata: &str,
) -> Result<CommittedOffset> {
    let (committed, record) = group_offsets::commit_record(group, topic, partition, offset, metadata, now_ms())?;
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
        .map(|(g, t, p)| group_offsets::forget_record(g, t, *p))
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
            group_offsets::apply(&mut state.positions, record);
        }
        if read.next_offset <= state.next {
            break;
        }
        state.next = read.next_offset;
    }
    Ok(())
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.groups.state.lock().unwrap_or_else(|e| e.into_inner())
}
