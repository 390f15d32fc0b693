//! How the engine reaches user data: through the platform's one write path and one read path, as
//! the principal a statement or query runs for.
//!
//! **Architecture Invariant:** the engine reads input records and writes output records of user
//! topics only through a [`DataAccess`]; the log is used directly only for the engine's own state
//! (the command topic, changelogs, committed positions) and for topic metadata (offsets, partition
//! counts, watermarks). So the rules that govern user data (internal topics are read-only, and later
//! data contracts and access grants) have one home, whoever writes or reads: the server's mesh
//! implements this trait with the same path REST produce and reads take.
//!
//! [`LogAccess`] is the implementation for an engine that runs without the mesh (tests, tools,
//! benchmarks): the log as it is, with internal topics refused as the mesh refuses them.

use std::sync::Arc;

use weft_log::{EventLog, ReadLimits, ReadResult, Record, StickyPartitions};

use crate::error::{Result, SqlError};

/// A record on its way to a topic, with the partition its writer chose (`None`: Kafka's default
/// partitioner decides: the key's partition, or the batch's sticky one without a key).
pub type Routed = (Option<u32>, Record);

/// The write and read paths of user data, as the engine sees them.
/// Who writes encoded records: what the write path does with a record that breaks its topic's rules
/// depends on whether someone is waiting to be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// A statement someone waits for (INSERT, `/inserts-stream`): it can be refused.
    Statement,
    /// A persistent query's output: nobody waits, so a broken row is set aside (the mesh dead-letters
    /// it) and the query keeps running.
    Query,
}

pub trait DataAccess: Send + Sync {
    /// Refuses, before anything runs, what [`DataAccess::write`] would refuse: `principal` writing
    /// `topic` (INSERT, `CREATE ... AS SELECT`, a persistent query's sink).
    fn check_write(&self, principal: &str, topic: &str) -> Result<()>;
    /// Refuses, before a query opens, what [`DataAccess::read`] would refuse.
    fn check_read(&self, principal: &str, topic: &str) -> Result<()>;
    /// Writes already-encoded records to `topic`, partition by partition, each append durable
    /// before the call returns.
    fn write(&self, principal: &str, topic: &str, records: Vec<Routed>, writer: Writer) -> Result<()>;
    /// Reads one partition of `topic` (the [`EventLog::read`] contract).
    fn read(&self, principal: &str, topic: &str, partition: u32, offset: u64, limits: ReadLimits)
        -> Result<ReadResult>;
}

/// What a query reads and writes through, and as whom.
#[derive(Clone)]
pub struct DataPath {
    access: Arc<dyn DataAccess>,
    principal: Arc<str>,
}

impl std::fmt::Debug for DataPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPath").field("principal", &self.principal).finish_non_exhaustive()
    }
}

impl DataPath {
    pub fn new(access: Arc<dyn DataAccess>, principal: &str) -> DataPath {
        DataPath { access, principal: Arc::from(principal) }
    }

    /// Who the reads and writes are for.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    pub fn check_write(&self, topic: &str) -> Result<()> {
        self.access.check_write(&self.principal, topic)
    }

    pub fn check_read(&self, topic: &str) -> Result<()> {
        self.access.check_read(&self.principal, topic)
    }

    /// Writes a statement's records (see [`Writer::Statement`]).
    pub fn write(&self, topic: &str, records: Vec<Routed>) -> Result<()> {
        self.access.write(&self.principal, topic, records, Writer::Statement)
    }

    /// Writes a persistent query's output (see [`Writer::Query`]).
    pub fn write_output(&self, topic: &str, records: Vec<Routed>) -> Result<()> {
        self.access.write(&self.principal, topic, records, Writer::Query)
    }

    pub fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> Result<ReadResult> {
        self.access.read(&self.principal, topic, partition, offset, limits)
    }

    /// This path, except that `topic` (one of the engine's own, such as a query's repartition
    /// topic, which holds records this path already read) is read from `log` directly.
    pub fn reading_internal(&self, log: Arc<dyn EventLog>, topic: &str) -> DataPath {
        let access = Arc::new(InternalInput { inner: self.access.clone(), log, topic: topic.to_string() });
        DataPath { access, principal: self.principal.clone() }
    }
}

/// A [`DataAccess`] that reads one of the engine's own topics from the log, and everything else
/// through the access it wraps.
struct InternalInput {
    inner: Arc<dyn DataAccess>,
    log: Arc<dyn EventLog>,
    topic: String,
}

impl DataAccess for InternalInput {
    fn check_write(&self, principal: &str, topic: &str) -> Result<()> {
        self.inner.check_write(principal, topic)
    }

    fn check_read(&self, principal: &str, topic: &str) -> Result<()> {
        if topic == self.topic {
            return Ok(());
        }
        self.inner.check_read(principal, topic)
    }

    fn write(&self, principal: &str, topic: &str, records: Vec<Routed>, writer: Writer) -> Result<()> {
        self.inner.write(principal, topic, records, writer)
    }

    fn read(
        &self,
        principal: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult> {
        if topic == self.topic {
            return Ok(self.log.read(topic, partition, offset, limits)?);
        }
        self.inner.read(principal, topic, partition, offset, limits)
    }
}

/// The log as it is, for an engine without the mesh: reads pass through, writes are partitioned
/// with Kafka's default partitioner, and internal topics are refused.
pub struct LogAccess {
    log: Arc<dyn EventLog>,
    sticky: StickyPartitions,
}

impl LogAccess {
    pub fn new(log: Arc<dyn EventLog>) -> LogAccess {
        LogAccess { log, sticky: StickyPartitions::new() }
    }
}

/// The error every writer of an internal topic gets from the engine.
pub fn internal_topic(topic: &str) -> SqlError {
    SqlError::Forbidden(format!(
        "topic '{topic}' is internal: it holds platform state and is changed only by the platform"
    ))
}

impl DataAccess for LogAccess {
    fn check_write(&self, _principal: &str, topic: &str) -> Result<()> {
        if weft_log::is_internal_topic(topic) {
            return Err(internal_topic(topic));
        }
        Ok(())
    }

    fn check_read(&self, _principal: &str, _topic: &str) -> Result<()> {
        Ok(())
    }

    fn write(&self, principal: &str, topic: &str, records: Vec<Routed>, _writer: Writer) -> Result<()> {
        self.check_write(principal, topic)?;
        let partitions = self.log.topic_config(topic)?.partitions;
        let sticky = self.sticky.next(partitions);
        let mut batches: std::collections::BTreeMap<u32, Vec<Record>> = std::collections::BTreeMap::new();
        for (partition, record) in records {
            let partition =
                partition.unwrap_or_else(|| weft_log::partition_for(record.key.as_deref(), partitions, sticky));
            batches.entry(partition).or_default().push(record);
        }
        for (partition, records) in batches {
            self.log.append(topic, partition, records)?;
        }
        Ok(())
    }

    fn read(
        &self,
        _principal: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult> {
        Ok(self.log.read(topic, partition, offset, limits)?)
    }
}
