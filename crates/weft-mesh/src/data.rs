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
//!   the caller names.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_catalog::Catalog;
use weft_log::{
    partition_for, EventLog, Header, PartitionBatch, ReadLimits, ReadResult, Record, RecordRef, StickyPartitions,
    TimestampType, TopicConfig,
};
use weft_registry::Registry;
use weft_sql::Routed;
pub use weft_sql::Writer;

use crate::contracts::dead_letters::Refused;
use crate::contracts::{
    dead_letter_topic, DeadLetterEncoding, Governance, InvalidRecordPolicy, RecordViolations, Violation,
};
use crate::error::{MeshError, Result};
use crate::metrics::DataMetrics;
use crate::profile::live::{LiveProfiles, Observed};
use crate::raw_json::RawJsonRecord;
use crate::records::{encode_headers, record_ref_size, Incoming, JsonRecord, ValueEncoder, ValueViews};

/// A checked record of a produce call on its way to the log, its key and value borrowed from the
/// request where they are stored as sent.
struct Outgoing<'a> {
    partition: Option<u32>,
    key: Option<Cow<'a, [u8]>>,
    value: Option<Cow<'a, [u8]>>,
    headers: Vec<Header>,
    timestamp: i64,
}

impl Outgoing<'_> {
    fn record_ref(&self) -> (Option<u32>, RecordRef<'_>) {
        let record = RecordRef {
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: &self.headers,
            timestamp: Some(self.timestamp),
        };
        (self.partition, record)
    }
}

/// Records a SQL writer routed, borrowed for [`DataPlane::append`].
fn routed_refs(records: &[Routed]) -> Vec<(Option<u32>, RecordRef<'_>)> {
    records.iter().map(|(partition, record)| (*partition, RecordRef::from(record))).collect()
}

/// What became of each record of a produce request, in request order.
#[derive(Debug, Clone, PartialEq)]
pub struct Produced {
    pub outcomes: Vec<Outcome>,
    /// The dead-letter topic of the product the topic serves, when a record went there.
    pub dead_letter_topic: Option<String>,
}

/// What became of one produced record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Written to the topic, here.
    Written(Placed),
    /// Broke its port's rules and went to the product's dead-letter topic (one partition), here.
    DeadLettered { place: Placed, violations: Vec<Violation> },
    /// Broke its port's rules and was neither written nor dead-lettered (a replay reports it so).
    Refused { violations: Vec<Violation> },
}

/// What the write path does with records that break their port's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnBroken {
    /// What the port's policy says: refuse the request, or dead-letter them.
    PortPolicy,
    /// Write the others and report them ([`Outcome::Refused`]): a replay of dead letters, which stay
    /// where they are when they still fail.
    Report,
    /// Dead-letter them whatever the port's policy: records validated from a raw input topic, whose
    /// producer is not there to be told ([`crate::raw_inputs`]).
    DeadLetter,
}

/// One record's fate while a write is checked.
enum Fate {
    Written,
    DeadLettered,
    Refused(Vec<Violation>),
}

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
    pub(crate) governance: Arc<Governance>,
    pub(crate) authz: Arc<crate::security::authz::Authorizer>,
    webhooks: Arc<crate::webhooks::Webhooks>,
    sticky: StickyPartitions,
    profiles: LiveProfiles,
    /// Whether this server runs the work one server of a cluster must do alone (raw input
    /// validation); none: always (one server on its log).
    pub(crate) background_gate: std::sync::RwLock<Option<BackgroundGate>>,
    /// Which of the persistent queries' tasks run here (see [`crate::Mesh::gate_query_tasks`]).
    pub(crate) task_gate: std::sync::RwLock<Option<TaskGate>>,
}

/// Says whether this server should run the cluster's one-server background work now.
pub type BackgroundGate = Arc<dyn Fn() -> bool + Send + Sync>;

/// Says whether this server should run task `index` of a persistent query's `count` tasks now.
pub type TaskGate = Arc<dyn Fn(u32, u32) -> bool + Send + Sync>;

impl DataPlane {
    /// Whether the one-server background work runs here now (see [`crate::Mesh::gate_background_work`]).
    pub fn runs_background_work(&self) -> bool {
        self.background_gate.read().unwrap_or_else(|e| e.into_inner()).as_ref().is_none_or(|gate| gate())
    }

    /// Whether task `index` of a persistent query's `count` tasks runs here now (see
    /// [`crate::Mesh::gate_query_tasks`]).
    pub fn runs_query_task(&self, index: u32, count: u32) -> bool {
        match self.task_gate.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(gate) => gate(index, count),
            None => self.runs_background_work(),
        }
    }

    pub(crate) fn new(
        log: Arc<dyn EventLog>,
        registry: Arc<Registry>,
        catalog: Arc<Catalog>,
        metrics: Arc<DataMetrics>,
        governance: Arc<Governance>,
        (authz, webhooks): (Arc<crate::security::authz::Authorizer>, Arc<crate::webhooks::Webhooks>),
        (snapshot_interval, rebuild_records): (Duration, u64),
    ) -> DataPlane {
        let profiles = LiveProfiles::new(log.clone(), catalog.clone(), snapshot_interval, rebuild_records);
        DataPlane {
            log,
            registry,
            catalog,
            metrics,
            governance,
            authz,
            webhooks,
            sticky: StickyPartitions::new(),
            profiles,
            background_gate: std::sync::RwLock::new(None),
            task_gate: std::sync::RwLock::new(None),
        }
    }

    /// The live profiles of the topics products serve, maintained by the write path.
    pub fn profiles(&self) -> &LiveProfiles {
        &self.profiles
    }

    /// Whether `principal` may write `topic`. Internal topics hold platform state and are written only
    /// by the component that owns them, never through this path.
    pub fn check_write(&self, principal: &str, topic: &str) -> Result<()> {
        if weft_log::is_internal_topic(topic) {
            return Err(weft_log::LogError::InternalTopic(topic.to_string()).into());
        }
        self.authz.check_write_topic(principal, topic, "write")
    }

    /// Whether `principal` may read `topic`: the records of a topic a product serves need the
    /// product's grant (or membership of its domain); internal topics are read by admins only
    /// ([`crate::security::authz`]). Decisions are reused for a second, so a revocation reaches
    /// running tails and queries within about that.
    pub fn check_read(&self, principal: &str, topic: &str) -> Result<()> {
        self.authz.check_read_topic(principal, topic)
    }

    /// JSON records (REST produce, the CLI, the demo) checked against what the topic's output port
    /// enforces (its schema, and its data contract's rules), encoded as the port declares (see
    /// [`crate::records`]) and written. Every record is checked before anything is appended. A record
    /// that breaks a rule refuses the whole request under the port's `reject` policy (nothing written,
    /// every broken record listed); under `dead-letter` the others are written and it goes to the
    /// product's dead-letter topic, first, so that nothing is lost if the write fails after it.
    pub fn produce(&self, principal: &str, topic: &str, records: Vec<JsonRecord>) -> Result<Produced> {
        self.produce_with(principal, topic, records, OnBroken::PortPolicy)
    }

    /// [`DataPlane::produce`] of records borrowed from a request's body (see [`RawJsonRecord`]): the
    /// same checks and outcomes, with a JSON value stored as its text as sent, and parsed only when
    /// the port's schema or contract needs it.
    pub fn produce_raw(&self, principal: &str, topic: &str, records: Vec<RawJsonRecord<'_>>) -> Result<Produced> {
        let records = records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                Incoming::from_raw(record).map_err(|e| MeshError::InvalidRecord {
                    index,
                    field: "key".into(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.produce_incoming(principal, topic, records, OnBroken::PortPolicy)
    }

    /// [`DataPlane::produce`], with broken records handled as `on_broken` says.
    pub(crate) fn produce_with(
        &self,
        principal: &str,
        topic: &str,
        records: Vec<JsonRecord>,
        on_broken: OnBroken,
    ) -> Result<Produced> {
        let records = records.into_iter().map(Incoming::from_json).collect();
        self.produce_incoming(principal, topic, records, on_broken)
    }

    fn produce_incoming(
        &self,
        principal: &str,
        topic: &str,
        records: Vec<Incoming<'_>>,
        on_broken: OnBroken,
    ) -> Result<Produced> {
        self.check_write(principal, topic)?;
        let config = self.log.topic_config(topic)?;
        let port = self.catalog.port_on_topic(topic);
        let encoder = ValueEncoder::for_port(&self.registry, port.as_ref())?;
        let enforcement = port.as_ref().map(|port| self.governance.enforcement(port)).transpose()?;
        let now = crate::context::now_ms();
        let total = records.len();
        // Uniqueness rules remember a request's values only once it is written.
        let mut batch = enforcement.as_ref().and_then(|e| e.rules.as_deref()).map(weft_contract::Checker::batch);
        let mut routed = Vec::with_capacity(total);
        // A value readers will see as it was written is handed to the profile as it is, instead of
        // being decoded again after the append.
        let mut views = Vec::with_capacity(total);
        // Each record's fate, in request order.
        let mut fates = Vec::with_capacity(total);
        let mut broken: Vec<RecordViolations> = Vec::new();
        let mut refused: Vec<Refused> = Vec::new();
        // A text value is parsed only for a check that needs its tree.
        let needs_tree = encoder.needs_tree() || batch.is_some();
        for (index, mut record) in records.into_iter().enumerate() {
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
            // Kafka's producer stamps records on the client side: every record's timestamp is known
            // before the append, so the answer can report each one.
            let timestamp = record.timestamp.unwrap_or(now);
            if needs_tree {
                record.value.parse().map_err(|e| invalid("value", e.to_string()))?;
            }
            let mut violations = Vec::new();
            let value = match encoder.encode_input(&record.value) {
                Ok(value) => value,
                Err((field, reason)) => {
                    violations.push(Violation { rule: "schema".into(), field: Some(field), reason });
                    None
                }
            };
            // The contract's rules, on a value that fits the schema (a tombstone has none to check).
            if let (true, Some(batch), Some(json)) = (violations.is_empty(), batch.as_mut(), record.value.tree()) {
                violations.extend(batch.check(json, timestamp).into_iter().map(Violation::from));
            }
            let key = record.key;
            if violations.is_empty() {
                routed.push(Outgoing {
                    partition: record.partition,
                    key,
                    value,
                    headers: encode_headers(record.headers),
                    timestamp,
                });
                views.push(record.value.into_view(&encoder));
                fates.push(Fate::Written);
                continue;
            }
            if on_broken == OnBroken::Report {
                fates.push(Fate::Refused(violations));
                continue;
            }
            // A raw input's records are dead-lettered whatever the port's policy says.
            let policy = match on_broken {
                OnBroken::DeadLetter => enforcement.as_ref().map(|_| InvalidRecordPolicy::DeadLetter),
                _ => enforcement.as_ref().map(|e| e.policy),
            };
            match policy {
                Some(InvalidRecordPolicy::DeadLetter) => {
                    let partition = record
                        .partition
                        .or_else(|| key.as_deref().map(|k| partition_for(Some(k), config.partitions, 0)));
                    refused.push(Refused {
                        key: key.map(Cow::into_owned),
                        value: record.value.json_bytes(),
                        encoding: DeadLetterEncoding::Json,
                        headers: encode_headers(record.headers),
                        timestamp,
                        partition,
                        violations,
                    });
                    fates.push(Fate::DeadLettered);
                }
                _ => broken.push(RecordViolations { index, violations }),
            }
        }
        let counts = enforcement.as_ref().map(|e| self.metrics.product(&e.product));
        if !broken.is_empty() {
            if let Some(counts) = &counts {
                counts.rejected.add(total as u64);
            }
            if let Some(enforcement) = &enforcement {
                self.contract_violated(&enforcement.product, topic, principal, "rejected", &broken[0].violations);
            }
            return Err(MeshError::RecordsBreakRules { topic: topic.to_string(), total, records: broken });
        }
        let dead_lettered = match (&enforcement, refused.is_empty()) {
            (Some(enforcement), false) => self.dead_letter(principal, &enforcement.product, topic, refused)?,
            _ => Vec::new(),
        };
        let routed: Vec<(Option<u32>, RecordRef<'_>)> = routed.iter().map(Outgoing::record_ref).collect();
        let placed = self.append(topic, &routed, ValueViews::given(views), port.is_some())?;
        if let Some(batch) = batch {
            batch.commit();
        }
        if let Some(counts) = &counts {
            counts.received.add((placed.len() + dead_lettered.len()) as u64);
            counts.accepted.add(placed.len() as u64);
            counts.dead_lettered.add(dead_lettered.len() as u64);
        }
        let mut placed = placed.into_iter();
        let mut dead_lettered = dead_lettered.into_iter();
        let outcomes: Vec<Outcome> = fates
            .into_iter()
            .filter_map(|fate| match fate {
                Fate::Written => placed.next().map(Outcome::Written),
                Fate::DeadLettered => {
                    dead_lettered.next().map(|(place, violations)| Outcome::DeadLettered { place, violations })
                }
                Fate::Refused(violations) => Some(Outcome::Refused { violations }),
            })
            .collect();
        let dead_letter_topic = match &enforcement {
            Some(e) if outcomes.iter().any(|o| matches!(o, Outcome::DeadLettered { .. })) => {
                Some(dead_letter_topic(&e.product))
            }
            _ => None,
        };
        Ok(Produced { outcomes, dead_letter_topic })
    }

    /// Appends refused records to `product`'s dead-letter topic (made on first use), saying where each
    /// landed and why it is there.
    /// Tells webhook subscribers (`contract.violated`) that records of `product` broke its rules: at
    /// most once a minute per product, so a broken producer does not flood them.
    fn contract_violated(&self, product: &str, topic: &str, principal: &str, fate: &str, first: &[Violation]) {
        let data = serde_json::json!({"product": product, "topic": topic, "producer": principal, "fate": fate,
            "violations": first});
        self.webhooks.emit_throttled(product, "contract.violated", data, Duration::from_secs(60));
    }

    pub(crate) fn dead_letter(
        &self,
        principal: &str,
        product: &str,
        topic: &str,
        refused: Vec<Refused>,
    ) -> Result<Vec<(Placed, Vec<Violation>)>> {
        if let Some(first) = refused.first() {
            self.contract_violated(product, topic, principal, "dead-lettered", &first.violations);
        }
        let dead_letters = dead_letter_topic(product);
        match self.log.create_topic(&dead_letters, TopicConfig { retention_ms: None, ..TopicConfig::default() }) {
            Ok(_) | Err(weft_log::LogError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let now = crate::context::now_ms();
        let mut violations = Vec::with_capacity(refused.len());
        let records: Vec<Record> = refused
            .into_iter()
            .map(|refused| {
                violations.push(refused.violations.clone());
                refused.into_record(topic, principal, now)
            })
            .collect();
        let timestamps: Vec<i64> = records.iter().map(|r| r.timestamp.unwrap_or(now)).collect();
        let appended = self.log.append(&dead_letters, 0, records)?;
        self.profiles.note_dead_letters(topic, violations.len() as u64);
        Ok(violations
            .into_iter()
            .zip(timestamps)
            .enumerate()
            .map(|(n, (violations, timestamp))| {
                (Placed { partition: 0, offset: appended.base_offset + n as u64, timestamp }, violations)
            })
            .collect())
    }

    /// Records a SQL writer encoded (INSERT, `/inserts-stream`, a persistent query's output), checked
    /// against what the topic's port enforces as [`DataPlane::produce`] checks JSON: each value is read
    /// as readers will read it and checked against the port's format and contract. A broken record is
    /// dead-lettered (stored as encoded) under the `dead-letter` policy, and always when a persistent
    /// query wrote it (a query cannot be told; it keeps running); under `reject` a statement fails
    /// with every broken record listed and nothing written. Returns where the written ones landed.
    pub fn write(&self, principal: &str, topic: &str, records: Vec<Routed>, writer: Writer) -> Result<Vec<Placed>> {
        self.check_write(principal, topic)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let Some(port) = self.catalog.port_on_topic(topic) else {
            return self.append(topic, &routed_refs(&records), ValueViews::default(), false);
        };
        let enforcement = self.governance.enforcement(&port)?;
        let mut batch = enforcement.rules.as_deref().map(weft_contract::Checker::batch);
        let avro_ids = self.avro_schema_ids(&port);
        let mut decoder = crate::records::Decoder::new(&self.registry);
        let total = records.len();
        let mut good = Vec::with_capacity(total);
        let mut broken = Vec::new();
        let mut refused = Vec::new();
        // The topic's partition count, looked up once, when a refused record needs it.
        let mut partitions: Option<u32> = None;
        for (index, (partition, record)) in records.into_iter().enumerate() {
            let mut violations = Vec::new();
            if let (Some(ids), Some(value)) = (&avro_ids, record.value.as_deref()) {
                if !weft_registry::wire::split(value).is_ok_and(|(id, _)| ids.contains(&id)) {
                    violations.push(Violation {
                        rule: "schema".into(),
                        field: Some("value".into()),
                        reason: format!(
                            "the port declares Avro with a schema of subject '{}': the value is not in the Confluent \
                             wire format with one of its schemas",
                            port.port.schema_subject
                        ),
                    });
                }
            }
            if let (true, Some(batch), Some(bytes)) = (violations.is_empty(), batch.as_mut(), record.value.as_deref()) {
                let value = decoder.value(Some(bytes)).json;
                let timestamp = record.timestamp.unwrap_or_else(crate::context::now_ms);
                violations.extend(batch.check(&value, timestamp).into_iter().map(Violation::from));
            }
            if violations.is_empty() {
                good.push((partition, record));
                continue;
            }
            if writer == Writer::Query || enforcement.policy == InvalidRecordPolicy::DeadLetter {
                let partition = partition.or_else(|| {
                    let partitions =
                        *partitions.get_or_insert_with(|| self.log.topic_config(topic).map_or(1, |c| c.partitions));
                    record.key.as_deref().map(|k| partition_for(Some(k), partitions, 0))
                });
                refused.push(Refused {
                    key: record.key,
                    value: record.value,
                    encoding: DeadLetterEncoding::Stored,
                    headers: record.headers,
                    timestamp: record.timestamp.unwrap_or_else(crate::context::now_ms),
                    partition,
                    violations,
                });
            } else {
                broken.push(RecordViolations { index, violations });
            }
        }
        let counts = self.metrics.product(&enforcement.product);
        if !broken.is_empty() {
            counts.rejected.add(total as u64);
            self.contract_violated(&enforcement.product, topic, principal, "rejected", &broken[0].violations);
            return Err(MeshError::RecordsBreakRules { topic: topic.to_string(), total, records: broken });
        }
        let dead_lettered = if refused.is_empty() {
            0
        } else {
            self.dead_letter(principal, &enforcement.product, topic, refused)?.len()
        };
        let placed = self.append(topic, &routed_refs(&good), ValueViews::default(), true)?;
        if let Some(batch) = batch {
            batch.commit();
        }
        counts.received.add((placed.len() + dead_lettered) as u64);
        counts.accepted.add(placed.len() as u64);
        counts.dead_lettered.add(dead_lettered as u64);
        Ok(placed)
    }

    /// Places each record (its own partition, or Kafka's default partitioner), appends one batch per
    /// partition, and says where each record landed, in input order. Callers have checked the records
    /// ([`DataPlane::produce`], [`DataPlane::write`]). The batches are appended together, waiting once
    /// for their durability ([`EventLog::append_partitions`]); should one fail (an I/O error: what a
    /// client can get wrong was refused before), others may have been written, as with any
    /// multi-partition Kafka produce.
    fn append(
        &self,
        topic: &str,
        records: &[(Option<u32>, RecordRef<'_>)],
        mut views: ValueViews,
        governed: bool,
    ) -> Result<Vec<Placed>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let config = self.log.topic_config(topic)?;
        // Tracked before the append: the profile takes this write's records from this writer.
        let profile = self.profiles.tracked(topic, governed);
        if profile.is_some() {
            views.get(&self.registry, records.iter().map(|(_, record)| record.value));
        }
        let sticky = self.sticky.next(config.partitions);
        let total = records.len();
        // Per partition (in partition order): the records' places in the write, and the records.
        let mut batches: BTreeMap<u32, (Vec<usize>, Vec<RecordRef<'_>>)> = BTreeMap::new();
        let mut bytes = 0u64;
        let mut sizes = Vec::with_capacity(total);
        for (index, &(partition, record)) in records.iter().enumerate() {
            let partition = partition.unwrap_or_else(|| partition_for(record.key, config.partitions, sticky));
            if partition >= config.partitions {
                return Err(weft_log::LogError::PartitionNotFound {
                    topic: topic.to_string(),
                    partition,
                    partitions: config.partitions,
                }
                .into());
            }
            let size = record_ref_size(&record) as u64;
            bytes += size;
            sizes.push(size);
            let batch = batches.entry(partition).or_default();
            batch.0.push(index);
            batch.1.push(record);
        }
        let appends: Vec<PartitionBatch<'_>> = batches
            .iter()
            .map(|(&partition, (_, records))| PartitionBatch { partition, records: records.as_slice() })
            .collect();
        let started = Instant::now();
        let appended = self.log.append_partitions(topic, &appends);
        let elapsed = started.elapsed();
        let results: Vec<(&[usize], &[RecordRef<'_>], weft_log::Result<weft_log::AppendResult>)> = batches
            .values()
            .zip(appended)
            .map(|((indices, records), result)| {
                self.metrics.append_latency.observe(elapsed);
                (indices.as_slice(), records.as_slice(), result)
            })
            .collect();
        let mut placed: Vec<Option<Placed>> = vec![None; total];
        let mut failure = None;
        for (indices, records, result) in results {
            match result {
                Ok(appended) => {
                    for (n, (&index, record)) in indices.iter().zip(records).enumerate() {
                        let timestamp = match config.timestamp_type {
                            TimestampType::LogAppendTime => appended.append_time,
                            // A record without a timestamp was given the append time (SQL writes so).
                            TimestampType::CreateTime => record.timestamp.unwrap_or(appended.append_time),
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
    /// port does not name, breaks the port's schema rule). The ids of those schemas; `None` for a port
    /// of another format.
    fn avro_schema_ids(&self, port: &weft_catalog::TopicPort) -> Option<std::collections::HashSet<u32>> {
        if port.port.format != weft_catalog::Format::Avro {
            return None;
        }
        let subject = &port.port.schema_subject;
        Some(
            self.registry
                .versions(subject, true)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| self.registry.version(subject, weft_registry::VersionSpec::Number(v), true).ok())
                .map(|v| v.id)
                .collect(),
        )
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
