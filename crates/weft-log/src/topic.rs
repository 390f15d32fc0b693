//! Topic names and per-topic configuration (Kafka's keys and meanings).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::LogError;

/// What happens to old records of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupPolicy {
    /// Whole old segments are deleted by `retention.ms` / `retention.bytes`.
    Delete,
    /// Only the latest record per key is kept; keys whose latest value is null (a tombstone) go away.
    Compact,
}

/// Which timestamp a record keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimestampType {
    /// The producer's timestamp when it gives one, else the append time.
    CreateTime,
    /// Always the append time.
    LogAppendTime,
}

/// Per-topic configuration. Kafka's configuration keys map onto it with [`TopicConfig::from_kafka`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    pub partitions: u32,
    /// Segments whose newest record is older than this are deleted; `None` keeps records forever.
    pub retention_ms: Option<i64>,
    /// Old segments are deleted while a partition is larger than this; `None` means no size limit.
    pub retention_bytes: Option<u64>,
    pub cleanup_policy: CleanupPolicy,
    /// A partition's active segment is rolled once it reaches this size.
    pub segment_bytes: u64,
    pub timestamp_type: TimestampType,
}

pub const MAX_PARTITIONS: u32 = 10_000;
const MIN_SEGMENT_BYTES: u64 = 1024;
const MAX_SEGMENT_BYTES: u64 = 1 << 31;

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: 1,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            cleanup_policy: CleanupPolicy::Delete,
            segment_bytes: 128 * 1024 * 1024,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

impl TopicConfig {
    /// A compacted topic kept forever, as platform state topics are.
    pub fn compacted(partitions: u32) -> Self {
        TopicConfig {
            partitions,
            retention_ms: None,
            cleanup_policy: CleanupPolicy::Compact,
            segment_bytes: 16 * 1024 * 1024,
            ..TopicConfig::default()
        }
    }

    /// Builds a config from Kafka-style keys (`retention.ms`, `retention.bytes`, `cleanup.policy`,
    /// `segment.bytes`, `message.timestamp.type`), refusing unknown keys and bad values by name.
    pub fn from_kafka(partitions: u32, entries: &BTreeMap<String, String>) -> Result<Self, LogError> {
        let mut config = TopicConfig { partitions, ..TopicConfig::default() };
        for (key, value) in entries {
            config.set(key, value)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Sets one Kafka-style key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), LogError> {
        let invalid = |reason: &str| LogError::InvalidConfig { key: key.to_string(), reason: reason.to_string() };
        let value = value.trim();
        match key {
            "retention.ms" => {
                let ms: i64 = value.parse().map_err(|_| invalid("expected an integer number of milliseconds"))?;
                self.retention_ms = match ms {
                    -1 => None,
                    ms if ms > 0 => Some(ms),
                    _ => return Err(invalid("must be a positive number of milliseconds, or -1 to keep forever")),
                };
            }
            "retention.bytes" => {
                let bytes: i64 = value.parse().map_err(|_| invalid("expected an integer number of bytes"))?;
                self.retention_bytes = match bytes {
                    -1 => None,
                    b if b > 0 => Some(b as u64),
                    _ => return Err(invalid("must be a positive number of bytes, or -1 for no limit")),
                };
            }
            "cleanup.policy" => {
                self.cleanup_policy = match value {
                    "delete" => CleanupPolicy::Delete,
                    "compact" => CleanupPolicy::Compact,
                    _ => return Err(invalid("expected 'delete' or 'compact'")),
                };
            }
            "segment.bytes" => {
                let bytes: u64 = value.parse().map_err(|_| invalid("expected a positive integer number of bytes"))?;
                if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&bytes) {
                    return Err(invalid(&format!("must be between {MIN_SEGMENT_BYTES} and {MAX_SEGMENT_BYTES}")));
                }
                self.segment_bytes = bytes;
            }
            "message.timestamp.type" => {
                self.timestamp_type = match value {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid("expected 'CreateTime' or 'LogAppendTime'")),
                };
            }
            _ => {
                return Err(invalid(
                    "unknown key; supported keys are retention.ms, retention.bytes, cleanup.policy, segment.bytes, message.timestamp.type",
                ))
            }
        }
        Ok(())
    }

    /// The config as Kafka-style keys and values (the inverse of [`TopicConfig::from_kafka`]).
    pub fn to_kafka(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        map.insert("retention.ms".into(), self.retention_ms.unwrap_or(-1).to_string());
        map.insert("retention.bytes".into(), self.retention_bytes.map_or(-1, |b| b as i64).to_string());
        let policy = match self.cleanup_policy {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
        };
        map.insert("cleanup.policy".into(), policy.into());
        map.insert("segment.bytes".into(), self.segment_bytes.to_string());
        let ts = match self.timestamp_type {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        };
        map.insert("message.timestamp.type".into(), ts.into());
        map
    }

    pub fn validate(&self) -> Result<(), LogError> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(LogError::InvalidConfig {
                key: "partitions".into(),
                reason: format!("must be between 1 and {MAX_PARTITIONS}"),
            });
        }
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            return Err(LogError::InvalidConfig {
                key: "segment.bytes".into(),
                reason: format!("must be between {MIN_SEGMENT_BYTES} and {MAX_SEGMENT_BYTES}"),
            });
        }
        Ok(())
    }
}

/// Kafka's topic-name rules: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), LogError> {
    let invalid = |reason: &str| LogError::InvalidTopicName { name: name.to_string(), reason: reason.to_string() };
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.len() > 249 {
        return Err(invalid("the name is longer than 249 characters"));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are not allowed"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(invalid(&format!("character {c:?} is not allowed; use letters, digits, '.', '_' and '-'")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_keys_round_trip() {
        let mut entries = BTreeMap::new();
        entries.insert("retention.ms".to_string(), "1000".to_string());
        entries.insert("cleanup.policy".to_string(), "compact".to_string());
        entries.insert("message.timestamp.type".to_string(), "LogAppendTime".to_string());
        let config = TopicConfig::from_kafka(3, &entries).unwrap();
        assert_eq!(config.retention_ms, Some(1000));
        assert_eq!(config.cleanup_policy, CleanupPolicy::Compact);
        assert_eq!(TopicConfig::from_kafka(3, &config.to_kafka()).unwrap(), config);
    }

    #[test]
    fn bad_config_names_the_key() {
        let mut entries = BTreeMap::new();
        entries.insert("retention.ms".to_string(), "soon".to_string());
        let err = TopicConfig::from_kafka(1, &entries).unwrap_err().to_string();
        assert!(err.contains("retention.ms"), "{err}");
        entries.clear();
        entries.insert("colour".to_string(), "red".to_string());
        assert!(TopicConfig::from_kafka(1, &entries).unwrap_err().to_string().contains("unknown key"));
        assert!(TopicConfig::from_kafka(0, &BTreeMap::new()).is_err());
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_raw-2").is_ok());
        for bad in ["", ".", "..", "a b", "naïve", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
