use std::path::PathBuf;

/// Everything the log refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("topic '{0}' does not exist")]
    TopicNotFound(String),
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    #[error("topic '{0}' is internal: it holds platform state and is changed only by the platform")]
    InternalTopic(String),
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopicName { name: String, reason: String },
    #[error("topic '{topic}' has no partition {partition} (it has {partitions})")]
    PartitionNotFound { topic: String, partition: u32, partitions: u32 },
    #[error("invalid topic config '{key}': {reason}")]
    InvalidConfig { key: String, reason: String },
    #[error("offset {requested} is out of range for {topic}/{partition}: the partition holds offsets {earliest} to {latest} (exclusive)")]
    OffsetOutOfRange { topic: String, partition: u32, requested: u64, earliest: u64, latest: u64 },
    #[error("invalid record at index {index}: {reason}")]
    InvalidRecord { index: usize, reason: String },
    #[error("batch is empty")]
    EmptyBatch,
    #[error("batch of {size} bytes exceeds the maximum of {max} bytes")]
    BatchTooLarge { size: usize, max: usize },
    #[error("invalid consumer group '{0}': group names must be 1 to 255 printable characters")]
    InvalidGroup(String),
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt { path: PathBuf, position: u64, reason: String },
    #[error("the log is shutting down")]
    Closed,
    /// The service behind the log (a Kafka cluster) failed or did not answer in time; the call
    /// may be retried.
    #[error("the log's backend failed: {0}")]
    Backend(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl LogError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LogError {
        let path = path.into();
        move |source| LogError::Io { path, source }
    }
}
