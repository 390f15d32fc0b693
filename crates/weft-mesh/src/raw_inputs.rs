//! Raw input topics: what Kafka producers write straight to the cluster, validated into a product.
//!
//! Contracts hold on Weft's write path, but a plain Kafka producer writes to the broker directly and
//! no server sees its records before they land. A product's output port can therefore name a *raw
//! input topic* (`PortGovernance::raw_input_topic`): producers write there, and this worker reads it
//! and passes every record through the one write path into the port's topic (schema, contract,
//! uniqueness windows, profiles, metrics), each broken record into the product's dead letters with
//! its reasons, whatever the port's policy (no producer is waiting to be told). A record is read as
//! the read path reads it (Confluent-framed with a schema the registry holds, else JSON) and written
//! as Weft writes JSON (encoded as the port declares); a value that is neither, or a key that is not
//! text, is dead-lettered as its stored bytes, rule `schema`.
//!
//! Where it got to is a consumer-group position per raw partition (`_weft_raw_input.<product>.<port>`,
//! in the log's consumer offsets), committed after each batch is written: at least once. A crash
//! between a write and its commit validates that batch again after the restart, so its records (or
//! dead letters) are written twice; the product topic carries each record's raw origin in the
//! `weft.raw.offset` header (`topic/partition/offset`) to recognise them. One server runs it: with
//! several servers on one cluster, the elected leader ([`crate::Mesh::gate_background_work`]); a new
//! leader carries on from the committed positions.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;

use weft_log::{ReadLimits, StoredRecord};

use crate::contracts::dead_letters::{DeadLetterEncoding, Refused};
use crate::contracts::Violation;
use crate::data::{DataPlane, OnBroken};
use crate::error::Result;
use crate::records::{Decoder, JsonRecord};

/// The principal raw records are written as: trusted, like every `system:` principal.
pub const RAW_INPUT_PRINCIPAL: &str = "system:raw-input";
/// The header naming where a validated record came from.
pub const RAW_ORIGIN_HEADER: &str = "weft.raw.offset";
/// How often the worker looks for new raw records.
const TICK: Duration = Duration::from_millis(200);
/// Records validated per partition and pass.
const BATCH: usize = 500;

/// The consumer group holding how far a port's raw input topic was validated.
pub fn raw_input_group(product: &str, port: &str) -> String {
    format!("_weft_raw_input.{product}.{port}")
}

impl DataPlane {
    /// One pass over every port with a raw input topic: validates what arrived since the last pass.
    /// Returns how many raw records it took; a port that fails is logged and tried again next pass.
    pub fn validate_raw_inputs(&self) -> usize {
        let ports: Vec<(String, String, String)> = self
            .governance
            .store()
            .state()
            .ports()
            .filter_map(|(product, port, g)| {
                g.raw_input_topic.as_ref().map(|raw| (product.to_string(), port.to_string(), raw.clone()))
            })
            .collect();
        let mut taken = 0;
        for (product, port, raw) in ports {
            match self.validate_raw_input(&product, &port, &raw) {
                Ok(n) => taken += n,
                Err(error) => {
                    tracing::warn!(product, port, raw_topic = raw, %error, "validating the raw input topic failed")
                }
            }
        }
        taken
    }

    fn validate_raw_input(&self, product: &str, port: &str, raw: &str) -> Result<usize> {
        let found = self.catalog.product(product)?;
        let Some(output) = found.spec.output_ports.iter().find(|p| p.name == port) else { return Ok(0) };
        let topic = output.topic.clone();
        let group = raw_input_group(product, port);
        let partitions = self.log.topic_config(raw)?.partitions;
        let committed: BTreeMap<u32, u64> = self
            .log
            .committed_offsets(&group)?
            .into_iter()
            .filter(|c| c.topic == raw)
            .map(|c| (c.partition, c.offset))
            .collect();
        let mut taken = 0;
        for partition in 0..partitions {
            let (start, end) = self.log.offsets(raw, partition)?;
            // Records retention removed before they were validated are gone; start at what is held.
            let from = committed.get(&partition).copied().unwrap_or(0).max(start);
            if from >= end {
                continue;
            }
            let read =
                self.log.read(raw, partition, from, ReadLimits { max_records: BATCH, ..ReadLimits::default() })?;
            if read.records.is_empty() {
                continue;
            }
            taken += read.records.len();
            self.validate_raw_records(product, &topic, raw, partition, read.records)?;
            self.log.commit_offset(&group, raw, partition, read.next_offset, "")?;
        }
        Ok(taken)
    }

    /// Writes one batch of raw records through the write path, dead-lettering what cannot be read.
    fn validate_raw_records(
        &self,
        product: &str,
        topic: &str,
        raw: &str,
        partition: u32,
        records: Vec<StoredRecord>,
    ) -> Result<()> {
        let mut decoder = Decoder::new(&self.registry);
        let mut readable = Vec::with_capacity(records.len());
        let mut unreadable = Vec::new();
        for record in records {
            let mut headers: BTreeMap<String, Option<String>> = record
                .headers
                .iter()
                .map(|h| (h.key.clone(), h.value.as_deref().map(|v| String::from_utf8_lossy(v).into_owned())))
                .collect();
            headers.insert(RAW_ORIGIN_HEADER.into(), Some(format!("{raw}/{partition}/{}", record.offset)));
            let key = decoder.key(record.key.as_deref());
            let value = match record.value.as_deref() {
                None => Some(None),
                Some(bytes) => decoder.data(bytes).map(Some),
            };
            let unreadable_as = match (key.base64, &value) {
                (true, _) => Some(("key", "the key is not text (Weft's keys are strings or JSON)")),
                (false, None) => Some((
                    "value",
                    "the value is neither in the Confluent wire format with a schema the registry holds nor JSON",
                )),
                (false, Some(_)) => None,
            };
            match (unreadable_as, value) {
                (None, Some(value)) => readable.push(JsonRecord {
                    key: (!key.json.is_null()).then_some(key.json),
                    value,
                    headers,
                    timestamp: Some(record.timestamp),
                    partition: None,
                }),
                (reason, _) => {
                    let (field, reason) = reason.unwrap_or(("value", "unreadable"));
                    let mut stored_headers = record.headers;
                    stored_headers.push(weft_log::Header {
                        key: RAW_ORIGIN_HEADER.into(),
                        value: Some(format!("{raw}/{partition}/{}", record.offset).into_bytes()),
                    });
                    unreadable.push(Refused {
                        key: record.key,
                        value: record.value,
                        encoding: DeadLetterEncoding::Stored,
                        headers: stored_headers,
                        timestamp: record.timestamp,
                        partition: None,
                        violations: vec![Violation {
                            rule: "schema".into(),
                            field: Some(field.into()),
                            reason: reason.into(),
                        }],
                    });
                }
            }
        }
        // Dead letters first, as the write path does: nothing is lost if the write fails after them.
        if !unreadable.is_empty() {
            let n = self.dead_letter(RAW_INPUT_PRINCIPAL, product, topic, unreadable)?.len() as u64;
            let counts = self.metrics.product(product);
            counts.received.add(n);
            counts.dead_lettered.add(n);
        }
        if !readable.is_empty() {
            self.produce_with(RAW_INPUT_PRINCIPAL, topic, readable, OnBroken::DeadLetter)?;
        }
        Ok(())
    }
}

/// The background thread validating raw input topics; stops when dropped.
pub(crate) type Worker = crate::background::Ticking;

/// Starts the worker over the data plane (held weakly: the worker ends with the mesh).
pub(crate) fn start_worker(data: Weak<DataPlane>) -> std::io::Result<Worker> {
    crate::background::Ticking::start("weft-raw-inputs", TICK, move || {
        let Some(data) = data.upgrade() else { return false };
        if data.runs_background_work() {
            data.validate_raw_inputs();
        }
        true
    })
}
