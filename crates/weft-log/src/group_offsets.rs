//! How consumer-group positions are kept in a log, the one format every backend that keeps them
//! there shares (the embedded log, and the Kafka backend, which keeps them beside Kafka's own): the
//! records of the compacted internal topic [`OFFSETS_TOPIC`], keyed `group NUL topic NUL partition`
//! and valued with the JSON of a [`CommittedOffset`]; a tombstone forgets a position.

use std::collections::BTreeMap;

use crate::{CommittedOffset, LogError, Record, Result, StoredRecord};

/// The internal topic holding consumer-group positions.
pub const OFFSETS_TOPIC: &str = "_weft_consumer_offsets";

/// A position's identity: group, topic, partition.
pub type PositionKey = (String, String, u32);

/// Every position, by group, topic and partition.
pub type Positions = BTreeMap<PositionKey, CommittedOffset>;

/// Refuses a group name that is empty, longer than 255 bytes or holds a control character.
pub fn validate_group(group: &str) -> Result<()> {
    if group.is_empty() || group.len() > 255 || group.chars().any(char::is_control) {
        return Err(LogError::InvalidGroup(group.to_string()));
    }
    Ok(())
}

/// A position of `group` committed at `now` (epoch milliseconds), and the record that commits it.
pub fn commit_record(
    group: &str,
    topic: &str,
    partition: u32,
    offset: u64,
    metadata: &str,
    now: i64,
) -> Result<(CommittedOffset, Record)> {
    let committed = CommittedOffset {
        topic: topic.to_string(),
        partition,
        offset,
        metadata: metadata.to_string(),
        commit_timestamp: now,
    };
    let value = serde_json::to_vec(&committed)
        .map_err(|e| LogError::InvalidRecord { index: 0, reason: format!("unencodable offset: {e}") })?;
    let record = Record { key: Some(key(group, topic, partition)), value: Some(value), ..Record::default() };
    Ok((committed, record))
}

/// The tombstone that forgets a position.
pub fn forget_record(group: &str, topic: &str, partition: u32) -> Record {
    Record { key: Some(key(group, topic, partition)), ..Record::default() }
}

/// Applies one record of the offsets topic to `positions`; an unreadable record is skipped with a
/// warning (a newer format, or damage the log's checksums did not see).
pub fn apply(positions: &mut Positions, record: &StoredRecord) {
    let Some(key) = record.key.as_deref().and_then(parse_key) else {
        tracing::warn!(offset = record.offset, "skipping an unreadable key in {OFFSETS_TOPIC}");
        return;
    };
    match record.value.as_deref().map(serde_json::from_slice::<CommittedOffset>) {
        Some(Ok(committed)) => {
            positions.insert(key, committed);
        }
        None => {
            positions.remove(&key);
        }
        Some(Err(error)) => {
            tracing::warn!(offset = record.offset, %error, "skipping an unreadable committed offset")
        }
    }
}

fn key(group: &str, topic: &str, partition: u32) -> Vec<u8> {
    format!("{group}\u{0}{topic}\u{0}{partition}").into_bytes()
}

fn parse_key(bytes: &[u8]) -> Option<PositionKey> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.split('\u{0}');
    let (group, topic, partition) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?);
    if parts.next().is_some() {
        return None;
    }
    Some((group.to_string(), topic.to_string(), partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(record: Record) -> StoredRecord {
        StoredRecord { offset: 0, timestamp: 0, key: record.key, value: record.value, headers: Vec::new() }
    }

    #[test]
    fn a_commit_is_applied_and_its_tombstone_forgets_it() {
        let (committed, record) = commit_record("g", "orders", 2, 42, "m", 7).expect("encodable");
        let expected = CommittedOffset {
            topic: "orders".into(),
            partition: 2,
            offset: 42,
            metadata: "m".into(),
            commit_timestamp: 7,
        };
        assert_eq!(committed, expected);
        let mut positions = Positions::new();
        apply(&mut positions, &stored(record));
        assert_eq!(positions.get(&("g".into(), "orders".into(), 2)), Some(&expected));
        apply(&mut positions, &stored(forget_record("g", "orders", 2)));
        assert!(positions.is_empty());
    }

    #[test]
    fn unreadable_keys_and_values_change_nothing() {
        let mut positions = Positions::new();
        for (key, value) in [
            (b"g\0orders".to_vec(), b"{}".to_vec()),
            (b"g\0orders\0x".to_vec(), b"{}".to_vec()),
            (b"g\0orders\x001\0extra".to_vec(), b"{}".to_vec()),
            (b"g\0orders\x001".to_vec(), b"not json".to_vec()),
        ] {
            apply(
                &mut positions,
                &StoredRecord { offset: 0, timestamp: 0, key: Some(key), value: Some(value), headers: Vec::new() },
            );
        }
        assert!(positions.is_empty());
    }

    #[test]
    fn group_names_are_bounded() {
        assert!(validate_group("billing").is_ok());
        assert!(validate_group("").is_err());
        assert!(validate_group(&"g".repeat(256)).is_err());
        assert!(validate_group("a\nb").is_err());
    }
}
