//! The one write path and the one read path of user data.
//!
//! **Architecture Invariant:** every record that reaches a user topic passes [`DataPlane::write`],
//! whoever writes it (REST produce, the CLI, the demo's generators, SQL `INSERT`, `/inserts-stream`, a
//! persistent query's output); every record read from a user topic or product passes
//! [`DataPlane::read_partition`] (reads by offset or time, samples, live tails, exports, profiles, and
//! SQL sources through [`crate::sql::MeshAccess`]). The rules on user data have exactly one home each:
//!
//! - internal `_weft*` topics are never written by clients ([`DataPlane::check_write`]);
//! - records without an explicit partition are placed by Kafka's default partitioner (murmur2 of the
//!   key bytes; the keyless records of one write go to one sticky partition), so a key lands where a
//!   Kafka client would put it;
//! - the data contract check (per record, with a dead-letter outcome) belongs in `write` between
//!   placement and append, and the grant check in [`DataPlane::check_read`], each for the principal
//!   the caller names;
//! - every record appended to a topic a product serves is taken into the product's live profile
//!   ([`crate::profile::live`]) once the append succeeded.
//!
//! Checks that need the values as readers see them share one [`ValueViews`] per write: the JSON the
//! caller handed over (REST produce on a JSON port), else the stored bytes decoded once, before the
//! append consumes them, and only when a check needs them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_catalog::{Catalog, TopicPort};
use weft_log::{partition_for, EventLog, ReadLimits, ReadResult, Record, StickyPartitions, TimestampType};
use weft_registry::Registry;
use weft_sql::Routed;

use crate::error::{MeshError, Result};
use crate::metrics::DataMetrics;
use crate::profile::live::{LiveProfiles, Observed};
use crate::records::{encode_headers, encode_key, record_size, JsonRecord, ValueEncoder, ValueViews};

/// One partition's records of a write, with their places in the write.
type PartitionBatch = (u32, (Vec<usize>, Vec<Record>));

/// Threads one write appends its partitions' batches on.
const APPEND_THREADS: usize = 8;

/// One partition's append and the timestamps its records were given (`None`: the append time).
type Appended = weft_log::Result<(weft_log::AppendResult, Vec<Option<i64>>)>;

/// Where one written record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub partition: u32,
    pub offset: u64,
    /// The record's timestamp as stored (the append time on a `LogAppendTime` topic).
    pub timestamp: i64,
}

/// The write and read paths, shared by the mesh and the SQL engine.
pub struct DataPlane {
    pub(crate) log: Arc<dyn EventLog>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) metrics: Arc<DataMetrics>,
    sticky: StickyPartitions,
    profiles: LiveProfiles,
}

impl DataPlane {
    pub(crate) fn new(
        log: Arc<dyn EventLog>,
        registry: Arc<Registry>,
        catalog: Arc<Catalog>,
        metrics: Arc<DataMetrics>,
        snapshot_interval: Duration,
        rebuild_records: u64,
    ) -> DataPlane {
        let profiles = LiveProfiles::new(log.clone(), catalog.clone(), snapshot_interval, rebuild_records);
        DataPlane { log, registry, catalog, metrics, sticky: StickyPartitions::new(), profiles }
    }

    /// The live profiles of the topics products serve, maintained by [`DataPlane::write`].
    pub fn profiles(&self) -> &LiveProfiles {
        &self.profiles
    }

    /// Whether `principal` may write `topic`. Internal topics hold platform state and are written only
    /// by the component that owns them, never through this path.
    pub fn check_write(&self, _principal: &str, topic: &str) -> Result<()> {
        if weft_log::is_internal_topic(topic) {
            return Err(weft_log::LogError::InternalTopic(topic.to_string()).into());
        }
        Ok(())
    }

    /// Whether `principal` may read `topic`. Every reader may today (platform state included, read-only);
    /// grants on products will be checked here.
    pub fn check_read(&self, _principal: &str, _topic: &str) -> Result<()> {
        Ok(())
    }

    /// JSON records (REST produce, the CLI, the demo) encoded as the topic's output port declares (see
    /// [`crate::records`]) and written. Every record is checked and encoded before anything is
    /// appended, so a bad record refuses the whole request and nothing is written.
    pub fn produce(&self, principal: &str, topic: &str, records: Vec<JsonRecord>) -> Result<Vec<Placed>> {
        self.check_write(principal, topic)?;
        let config = self.log.topic_config(topic)?;
        let port = self.catalog.port_on_topic(topic);
        let encoder = ValueEncoder::for_port(&self.registry, port.as_ref())?;
        let now = crate::context::now_ms();
        let mut routed = Vec::with_capacity(records.len());
        // A value readers will see as it was written is handed to the write path's checks as it is,
        // instead of having them decode it again.
        let mut views = Vec::with_capacity(records.len());
        for (index, record) in records.into_iter().enumerate() {
            let invalid = |field: &str, reason: String| MeshError::InvalidRecord { index, field: field.into(), reason };
            if let Some(partition) = record.partition.filter(|&p| p >= config.partitions) {
                let missing = weft_log::LogError::PartitionNotFound {
                    topic: topic.to_string(),
                    partition,
                    partitions: config.partitions,
                };
                return Err(MeshError::At {
                    at: format!("invalid record at [{index}].partition"),
                    source: Box::new(missing.into()),
                });
            }
            if let Some(timestamp) = record.timestamp.filter(|&t| t < 0) {
                return Err(invalid("timestamp", format!("{timestamp} is negative; use epoch milliseconds")));
            }
            let value = encoder.encode(record.value.as_ref()).map_err(|(field, reason)| invalid(&field, reason))?;
            views.push(match record.value {
                None => Some(serde_json::Value::Null),
                Some(value) if encoder.reads_back_as_written(&value) => Some(value),
                Some(_) => None,
            });
            // Kafka's producer stamps records on the client side: every record's timestamp is known
            // before the append, so the answer can report each one.
            let stored = Record {
                key: encode_key(record.key),
                value,
                headers: encode_headers(record.headers),
                timestamp: Some(record.timestamp.unwrap_or(now)),
            };
            routed.push((record.partition, stored));
        }
        self.write_viewed(principal, topic, routed, ValueViews::given(views))
    }

    /// The one write path: places each record (its own partition, or Kafka's default partitioner),
    /// appends one batch per partition, and says where each record landed, in input order. Partitions
    /// are appended concurrently, each waiting for its own durability; should one fail (an I/O error:
    /// what a client can get wrong was refused before), others may have been written, as with any
    /// multi-partition Kafka produce.
    pub fn write(&self, principal: &str, topic: &str, records: Vec<Routed>) -> Result<Vec<Placed>> {
        self.write_viewed(principal, topic, records, ValueViews::default())
    }

    /// [`DataPlane::write`] with the records' JSON views when the caller has them.
    fn write_viewed(
        &self,
        principal: &str,
        topic: &str,
        records: Vec<Routed>,
        mut views: ValueViews,
    ) -> Result<Vec<Placed>> {
        self.check_write(principal, topic)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let governing = self.catalog.port_on_topic(topic);
        self.check_port_format(topic, governing.as_ref(), &records)?;
        let config = self.log.topic_config(topic)?;
        // Tracked before the append: the profile takes this write's records from this writer.
        let profile = self.profiles.tracked(topic, governing.is_some());
        if profile.is_some() {
            views.get(&self.registry, records.iter().map(|(_, record)| record.value.as_deref()));
        }
        let sticky = self.sticky.next(config.partitions);
        let total = records.len();
        let mut batches: BTreeMap<u32, (Vec<usize>, Vec<Record>)> = BTreeMap::new();
        let mut bytes = 0u64;
        let mut sizes = Vec::with_capacity(total);
        for (index, (partition, record)) in records.into_iter().enumerate() {
            let partition =
                partition.unwrap_or_else(|| partition_for(record.key.as_deref(), config.partitions, sticky));
            if partition >= config.partitions {
                return Err(weft_log::LogError::PartitionNotFound {
                    topic: topic.to_string(),
                    partition,
                    partitions: config.partitions,
                }
                .into());
            }
            let size = record_size(&record) as u64;
            bytes += size;
            sizes.push(size);
            let batch = batches.entry(partition).or_default();
            batch.0.push(index);
            batch.1.push(record);
        }
        let append = |partition: u32, records: Vec<Record>| {
            let timestamps: Vec<Option<i64>> = records.iter().map(|r| r.timestamp).collect();
            let started = Instant::now();
            let appended = self.log.append(topic, partition, records);
            self.metrics.append_latency.observe(started.elapsed());
            appended.map(|appended| (appended, timestamps))
        };
        let batches: Vec<PartitionBatch> = batches.into_iter().collect();
        let results: Vec<(Vec<usize>, Appended)> = if batches.len() == 1 {
            batches.into_iter().map(|(partition, (indices, records))| (indices, append(partition, records))).collect()
        } else {
            // Partitions append concurrently (each append waits for its own durability, and a group
            // commit makes concurrent appends durable together), on a bounded number of threads.
            let workers = batches.len().min(APPEND_THREADS);
            let mut shares: Vec<Vec<PartitionBatch>> = (0..workers).map(|_| Vec::new()).collect();
            for (i, batch) in batches.into_iter().enumerate() {
                shares[i % workers].push(batch);
            }
            std::thread::scope(|scope| {
                let handles: Vec<_> = shares
                    .into_iter()
                    .map(|share| {
                        scope.spawn(|| {
                            share
                                .into_iter()
                                .map(|(partition, (indices, records))| (indices, append(partition, records)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|handle| {
                        handle.join().unwrap_or_else(|_| vec![(Vec::new(), Err(weft_log::LogError::Closed))])
                    })
                    .collect()
            })
        };
        let mut placed: Vec<Option<Placed>> = vec![None; total];
        let mut failure = None;
        for (indices, result) in results {
            match result {
                Ok((appended, timestamps)) => {
                    for (n, (index, timestamp)) in indices.into_iter().zip(timestamps).enumerate() {
                        let timestamp = match config.timestamp_type {
                            TimestampType::LogAppendTime => appended.append_time,
                            // A record without a timestamp was given the append time (SQL writes so).
                            TimestampType::CreateTime => timestamp.unwrap_or(appended.append_time),
                        };
                        placed[index] = Some(Placed {
                            partition: appended.partition,
                            offset: appended.base_offset + n as u64,
                            timestamp,
                        });
                    }
                }
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        // What was appended is in the log, even when another partition failed: the profile takes it.
        if let (Some(profile), Some(values)) = (&profile, views.known()) {
            let observed: Vec<Observed<'_>> = placed
                .iter()
                .zip(values)
                .zip(&sizes)
                .filter_map(|((placed, value), &bytes)| {
                    placed.map(|p| Observed {
                        partition: p.partition,
                        offset: p.offset,
                        timestamp: p.timestamp,
                        bytes,
                        value,
                    })
                })
                .collect();
            profile.observe(&observed);
        }
        if let Some(error) = failure {
            return Err(error.into());
        }
        self.metrics.produced_records.add(total as u64);
        self.metrics.produced_bytes.add(bytes);
        Ok(placed.into_iter().flatten().collect())
    }

    /// What a port declares is what lands on its topic: on a topic whose governing output port declares
    /// Avro, every value must be in the Confluent wire format with a schema of the port's subject, whoever
    /// encoded it (REST produce encodes so; a SQL sink declared with another format, or a schema the
    /// port does not name, is refused here rather than stored under a port that says otherwise).
    fn check_port_format(&self, topic: &str, governing: Option<&TopicPort>, records: &[Routed]) -> Result<()> {
        let Some(governing) = governing else { return Ok(()) };
        if governing.port.format != weft_catalog::Format::Avro {
            return Ok(());
        }
        let subject = &governing.port.schema_subject;
        let ids: std::collections::HashSet<u32> = self
            .registry
            .versions(subject, true)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| self.registry.version(subject, weft_registry::VersionSpec::Number(v), true).ok())
            .map(|v| v.id)
            .collect();
        for (index, (_, record)) in records.iter().enumerate() {
            let Some(value) = record.value.as_deref() else { continue };
            let fits = weft_registry::wire::split(value).is_ok_and(|(id, _)| ids.contains(&id));
            if !fits {
                return Err(MeshError::InvalidRecord {
                    index,
                    field: "value".into(),
                    reason: format!(
                        "topic '{topic}' holds data product '{}', whose port declares Avro with a schema of subject \
                         '{subject}': the value is not in the Confluent wire format with one of its schemas",
                        governing.product
                    ),
                });
            }
        }
        Ok(())
    }

    /// The one read of user data: one partition of `topic` from `offset`, for `principal`.
    pub fn read_partition(
        &self,
        principal: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult> {
        self.check_read(principal, topic)?;
        let started = Instant::now();
        let read = self.log.read(topic, partition, offset, limits);
        self.metrics.read_latency.observe(started.elapsed());
        let read = read?;
        self.metrics.consumed_records.add(read.records.len() as u64);
        Ok(read)
    }
}
