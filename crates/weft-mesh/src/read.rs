//! Reading user data: what a read names ([`Target`]: a topic, or a product's output port), where it
//! starts ([`Start`]), and the reads built on [`DataPlane::read_partition`]: pages merged across
//! partitions, live tails that resume across every partition, the newest records, and scans.
//!
//! A read that names no partition reads them all, merged by timestamp the way Kafka Streams picks its
//! next record: always the partition whose next record is oldest (records of one partition keep their
//! offset order). Where a read stopped is a [`Positions`] cursor, one next offset per partition,
//! written `0:12,1:40`; the next page or a reconnecting tail starts from it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt;
use std::str::FromStr;

use weft_catalog::{CatalogEvent, Lifecycle, OutputPort, PortStatus, Product};
use weft_log::{LogError, ReadLimits, StoredRecord};

use crate::data::DataPlane;
use crate::error::{MeshError, Result};
use crate::records::{DataRecord, Decoder};

/// Soft byte limit of one log read (one record is returned even when larger).
pub const READ_MAX_BYTES: usize = 16 * 1024 * 1024;
/// The most records one page returns.
pub const MAX_PAGE: usize = 10_000;
/// Records fetched from one partition at a time by a merged read (see [`DataPlane::read_page`]).
const MIN_CHUNK: usize = 16;
const MAX_CHUNK: usize = 1000;

/// What a read names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Topic(String),
    /// A product's output port: `port` is `NAME` or `NAME@MAJOR`; by default the served port with the
    /// highest version, which is where new consumers belong.
    Product {
        id: String,
        port: Option<String>,
    },
}

/// The product port a read resolved to.
#[derive(Debug, Clone)]
pub struct Served {
    pub product: Product,
    pub port: OutputPort,
    /// When a deprecated product was deprecated (epoch milliseconds), from its history.
    pub deprecated_at: Option<i64>,
}

/// A [`Target`] resolved against the catalog and the log.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub topic: String,
    pub partitions: u32,
    /// Set when the target was a product.
    pub served: Option<Served>,
}

/// Where a read starts, in each partition it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Earliest,
    Latest,
    /// One offset: needs a single partition.
    Offset(u64),
    /// The first record at or after this time (epoch milliseconds).
    Timestamp(i64),
    /// Where an earlier read or tail stopped.
    Positions(Positions),
}

/// The next offset to read, per partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions(pub BTreeMap<u32, u64>);

impl Positions {
    pub fn get(&self, partition: u32) -> Option<u64> {
        self.0.get(&partition).copied()
    }
}

impl fmt::Display for Positions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (partition, offset)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{partition}:{offset}")?;
        }
        Ok(())
    }
}

impl FromStr for Positions {
    type Err = String;

    /// `0:12,1:40`: partition and next offset pairs.
    fn from_str(text: &str) -> std::result::Result<Positions, String> {
        let mut positions = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let parsed = pair.split_once(':').and_then(|(p, o)| Some((p.trim().parse().ok()?, o.trim().parse().ok()?)));
            let Some((partition, offset)) = parsed else {
                return Err(format!("'{pair}' is not PARTITION:OFFSET (a cursor looks like 0:12,1:40)"));
            };
            if positions.insert(partition, offset).is_some() {
                return Err(format!("partition {partition} appears twice"));
            }
        }
        if positions.is_empty() {
            return Err("a cursor names at least one PARTITION:OFFSET".into());
        }
        Ok(Positions(positions))
    }
}

/// What one page reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// One partition, or every partition merged by timestamp.
    pub partition: Option<u32>,
    pub start: Start,
    /// 1 to [`MAX_PAGE`].
    pub limit: usize,
    /// The stored bytes as they are (base64), not decoded: what a Kafka consumer receives.
    pub raw: bool,
}

/// One page of records.
#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<DataRecord>,
    /// Where the next page starts.
    pub next: Positions,
    /// One past the last durable offset of each partition read, when the read began.
    pub high_watermarks: Positions,
}

/// A live tail's position; [`DataPlane::tail_next`] moves it.
#[derive(Debug, Clone)]
pub struct TailCursor {
    pub topic: String,
    pub positions: Positions,
}

/// The output port a read of `product` uses: the one `wanted` names (`NAME`, or `NAME@MAJOR` for an
/// older major version), else the served port with the highest version. Retired products serve no
/// data.
pub fn pick_port(product: &Product, wanted: Option<&str>) -> Result<OutputPort> {
    let id = product.id().to_string();
    if let Lifecycle::Retired = product.lifecycle {
        return Err(MeshError::ProductRetired(id));
    }
    let served: Vec<&OutputPort> =
        product.spec.output_ports.iter().filter(|p| p.status != PortStatus::Retired).collect();
    let chosen = match wanted {
        Some(wanted) => {
            let by_name = served.iter().filter(|p| p.name == wanted).max_by(|a, b| a.version.cmp(&b.version));
            let by_major = || {
                let (name, major) = wanted.rsplit_once('@')?;
                let major: u64 = major.parse().ok()?;
                served.iter().find(|p| p.name == name && p.version.major == major)
            };
            by_name.or_else(by_major)
        }
        None => served.iter().max_by(|a, b| a.version.cmp(&b.version)),
    };
    chosen.map(|p| (*p).clone()).ok_or_else(|| {
        let names: Vec<String> = served.iter().map(|p| format!("{} v{}", p.name, p.version)).collect();
        MeshError::PortNotFound(if names.is_empty() {
            format!("data product '{id}' has no served output port, so it has no data to read")
        } else {
            format!(
                "data product '{id}' has no served output port '{}' (it has: {}; NAME@MAJOR picks a major version)",
                wanted.unwrap_or_default(),
                names.join(", ")
            )
        })
    })
}

impl DataPlane {
    /// The topic a target reads, and the product port when it names a product.
    pub fn resolve(&self, target: &Target) -> Result<Resolved> {
        match target {
            Target::Topic(topic) => {
                let partitions = self.log.topic_config(topic)?.partitions;
                Ok(Resolved { topic: topic.clone(), partitions, served: None })
            }
            Target::Product { id, port } => {
                let product = self.catalog.product(id)?;
                let chosen = pick_port(&product, port.as_deref())?;
                let deprecated_at = match product.lifecycle {
                    Lifecycle::Deprecated { .. } => {
                        self.catalog.product_history(id)?.iter().rev().find_map(|entry| match &entry.event {
                            CatalogEvent::ProductStatusChanged { after: Lifecycle::Deprecated { .. }, .. } => {
                                Some(entry.at)
                            }
                            _ => None,
                        })
                    }
                    _ => None,
                };
                let partitions = self.log.topic_config(&chosen.topic)?.partitions;
                Ok(Resolved {
                    topic: chosen.topic.clone(),
                    partitions,
                    served: Some(Served { product, port: chosen, deprecated_at }),
                })
            }
        }
    }

    /// The partitions a read covers: the one it names, or all of them.
    fn partitions_of(&self, resolved: &Resolved, partition: Option<u32>) -> Result<Vec<u32>> {
        match partition {
            Some(p) if p < resolved.partitions => Ok(vec![p]),
            Some(p) => Err(LogError::PartitionNotFound {
                topic: resolved.topic.clone(),
                partition: p,
                partitions: resolved.partitions,
            }
            .into()),
            None => Ok((0..resolved.partitions).collect()),
        }
    }

    /// The next offset to read in each of `partitions` for `start`.
    fn start_positions(&self, topic: &str, partitions: &[u32], start: &Start) -> Result<Positions> {
        if let (Start::Offset(_), true) = (start, partitions.len() > 1) {
            return Err(MeshError::InvalidRequest(format!(
                "an offset needs a partition: topic '{topic}' has {} partitions (give partition, or a cursor)",
                partitions.len()
            )));
        }
        if let Start::Positions(cursor) = start {
            if let Some(unknown) = cursor.0.keys().find(|p| !partitions.contains(p)) {
                return Err(MeshError::InvalidRequest(format!(
                    "the cursor '{cursor}' names partition {unknown}, which this read does not cover (topic '{topic}' \
                     has {} partitions)",
                    partitions.len()
                )));
            }
        }
        let mut positions = BTreeMap::new();
        for &partition in partitions {
            let (earliest, latest) = self.log.offsets(topic, partition)?;
            let offset = match start {
                Start::Earliest => earliest,
                Start::Latest => latest,
                Start::Offset(offset) => *offset,
                Start::Timestamp(timestamp) => {
                    self.log.offset_for_timestamp(topic, partition, *timestamp)?.unwrap_or(latest)
                }
                // A partition the cursor does not name: from its start.
                Start::Positions(cursor) => cursor.get(partition).unwrap_or(earliest),
            };
            positions.insert(partition, offset);
        }
        Ok(Positions(positions))
    }

    /// One page of up to `limit` records of `resolved`, from `start`, merged by timestamp when it
    /// covers several partitions.
    pub fn read_page(&self, principal: &str, resolved: &Resolved, request: &PageRequest) -> Result<Page> {
        let PageRequest { partition, start, limit, raw } = request;
        let (partition, limit, raw) = (*partition, *limit, *raw);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(MeshError::InvalidRequest(format!("limit must be between 1 and {MAX_PAGE}, not {limit}")));
        }
        let topic = resolved.topic.as_str();
        let partitions = self.partitions_of(resolved, partition)?;
        if let Start::Offset(offset) = start {
            // A single partition: an offset outside what it holds is an error, as in Kafka.
            let (earliest, latest) = self.log.offsets(topic, partitions[0])?;
            if *offset < earliest || *offset > latest {
                return Err(LogError::OffsetOutOfRange {
                    topic: topic.to_string(),
                    partition: partitions[0],
                    requested: *offset,
                    earliest,
                    latest,
                }
                .into());
            }
        }
        let mut next = self.start_positions(topic, &partitions, start)?;
        let mut high_watermarks = BTreeMap::new();
        for &p in &partitions {
            high_watermarks.insert(p, self.log.offsets(topic, p)?.1);
        }
        // Each partition's records are fetched in chunks sized so that every partition's buffer together
        // stays near one page, however many partitions there are.
        let chunk = (limit / partitions.len().max(1)).clamp(MIN_CHUNK, MAX_CHUNK);
        let mut buffers: BTreeMap<u32, VecDeque<StoredRecord>> = BTreeMap::new();
        // The next record of every partition that has one, oldest first: the merge picks from the top
        // and refills only the partition it took from.
        let mut heads: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new();
        let mut decoder = if raw { Decoder::raw(&self.registry) } else { Decoder::new(&self.registry) };
        let mut records = Vec::new();
        let mut refill = partitions.clone();
        while records.len() < limit {
            // The oldest next record can only be chosen when every partition shows its next one.
            for p in refill.drain(..) {
                let position = next.get(p).unwrap_or(0);
                let end = high_watermarks.get(&p).copied().unwrap_or(0);
                if position >= end {
                    continue;
                }
                let read = self.read_from(principal, topic, p, position, chunk)?;
                let buffer = buffers.entry(p).or_default();
                buffer.extend(read.into_iter().filter(|r| r.offset < end));
                if let Some(front) = buffer.front() {
                    heads.push(Reverse((front.timestamp, p)));
                }
            }
            let Some(Reverse((_, p))) = heads.pop() else { break };
            let Some(buffer) = buffers.get_mut(&p) else { break };
            let Some(record) = buffer.pop_front() else { break };
            next.0.insert(p, record.offset + 1);
            records.push(decoder.record(p, &record));
            match buffer.front() {
                Some(front) => heads.push(Reverse((front.timestamp, p))),
                None => refill.push(p),
            }
        }
        Ok(Page { records, next, high_watermarks: Positions(high_watermarks) })
    }

    /// Up to `max` records of one partition from `position`, skipping what retention removed.
    fn read_from(
        &self,
        principal: &str,
        topic: &str,
        partition: u32,
        position: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>> {
        let limits = ReadLimits { max_records: max, max_bytes: READ_MAX_BYTES };
        match self.read_partition(principal, topic, partition, position, limits) {
            Ok(read) => Ok(read.records),
            Err(MeshError::Log(LogError::OffsetOutOfRange { requested, earliest, .. })) if requested < earliest => {
                self.read_from(principal, topic, partition, earliest, max)
            }
            Err(e) => Err(e),
        }
    }

    /// A tail of `resolved` (one partition, or all of them) from `start`.
    pub fn open_tail(&self, resolved: &Resolved, partition: Option<u32>, start: &Start) -> Result<TailCursor> {
        let partitions = self.partitions_of(resolved, partition)?;
        let positions = self.start_positions(&resolved.topic, &partitions, start)?;
        Ok(TailCursor { topic: resolved.topic.clone(), positions })
    }

    /// Receivers of the high watermarks of the tail's partitions (subscribe before reading, so
    /// nothing appended in between is missed).
    pub fn subscribe(&self, cursor: &TailCursor) -> Result<Vec<tokio::sync::watch::Receiver<u64>>> {
        cursor.positions.0.keys().map(|p| Ok(self.log.subscribe(&cursor.topic, *p)?)).collect()
    }

    /// The records available past the tail's positions (up to `per_partition` from each), merged by
    /// timestamp, each with the cursor that resumes right after it. Empty when nothing is new.
    pub fn tail_next(
        &self,
        principal: &str,
        cursor: &mut TailCursor,
        per_partition: usize,
    ) -> Result<Vec<(DataRecord, Positions)>> {
        let mut read: Vec<(u32, StoredRecord)> = Vec::new();
        let partitions: Vec<(u32, u64)> = cursor.positions.0.iter().map(|(p, o)| (*p, *o)).collect();
        for (p, position) in partitions {
            let (earliest, _) = self.log.offsets(&cursor.topic, p)?;
            let position = position.max(earliest);
            let limits = ReadLimits { max_records: per_partition, max_bytes: READ_MAX_BYTES };
            let batch = self.read_partition(principal, &cursor.topic, p, position, limits)?;
            if batch.records.is_empty() && batch.next_offset > position {
                cursor.positions.0.insert(p, batch.next_offset);
            }
            read.extend(batch.records.into_iter().map(|r| (p, r)));
        }
        read.sort_by_key(|(p, r)| (r.timestamp, *p, r.offset));
        let mut decoder = Decoder::new(&self.registry);
        Ok(read
            .into_iter()
            .map(|(p, record)| {
                cursor.positions.0.insert(p, record.offset + 1);
                (decoder.record(p, &record), cursor.positions.clone())
            })
            .collect())
    }

    /// The newest `limit` records across the topic's partitions, oldest first.
    pub fn newest(&self, principal: &str, topic: &str, limit: usize) -> Result<Vec<DataRecord>> {
        let partitions = self.log.topic_config(topic)?.partitions;
        let mut latest: Vec<(u32, StoredRecord)> = Vec::new();
        for partition in 0..partitions {
            let (earliest, end) = self.log.offsets(topic, partition)?;
            let mut next = end.saturating_sub(limit as u64).max(earliest);
            while next < end {
                let limits = ReadLimits { max_records: limit, max_bytes: READ_MAX_BYTES };
                let read = self.read_partition(principal, topic, partition, next, limits)?;
                if read.records.is_empty() {
                    break;
                }
                next = read.next_offset;
                latest.extend(read.records.into_iter().map(|r| (partition, r)));
            }
        }
        latest.sort_by_key(|(partition, record)| (record.timestamp, *partition, record.offset));
        latest.drain(..latest.len().saturating_sub(limit));
        let mut decoder = Decoder::new(&self.registry);
        Ok(latest.iter().map(|(p, r)| decoder.record(*p, r)).collect())
    }

    /// Calls `each` with every record of the topic whose timestamp is in `[from, to)`, partition by
    /// partition in offset order, up to the end each partition had when it was reached. Stops at the
    /// first error `each` returns.
    pub fn scan<E: From<MeshError>>(
        &self,
        principal: &str,
        topic: &str,
        from: Option<i64>,
        to: Option<i64>,
        mut each: impl FnMut(DataRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        const BATCH: usize = 5000;
        let partitions = self.log.topic_config(topic).map_err(MeshError::from)?.partitions;
        let mut decoder = Decoder::new(&self.registry);
        for partition in 0..partitions {
            let (earliest, end) = self.log.offsets(topic, partition).map_err(MeshError::from)?;
            let mut position = match from {
                Some(from) => {
                    self.log.offset_for_timestamp(topic, partition, from).map_err(MeshError::from)?.unwrap_or(end)
                }
                None => earliest,
            };
            while position < end {
                let records = self.read_from(principal, topic, partition, position, BATCH)?;
                let Some(last) = records.last().map(|r| r.offset) else { break };
                for record in records.iter().take_while(|r| r.offset < end) {
                    let after_from = from.is_none_or(|from| record.timestamp >= from);
                    let before_to = to.is_none_or(|to| record.timestamp < to);
                    if after_from && before_to {
                        each(decoder.record(partition, record))?;
                    }
                }
                position = last + 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_as_written_and_refuse_garbage() {
        let positions: Positions = "0:12, 1:40".parse().expect("cursor");
        assert_eq!(positions.get(1), Some(40));
        assert_eq!(positions.to_string(), "0:12,1:40");
        for bad in ["", "0", "a:1", "0:-1", "0:1,0:2"] {
            assert!(bad.parse::<Positions>().is_err(), "{bad}");
        }
    }
}
