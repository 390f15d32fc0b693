//! The live profile store: one [`ProfileState`] per topic a product serves, maintained as records are
//! written and kept in the log.
//!
//! # Protocol
//!
//! Every profile records which offsets it has taken in (its *coverage*: per partition, an origin and
//! the ranges merged since), so that no record is counted twice or missed whoever delivers it:
//!
//! - **Writers** ([`TopicProfile::observe`], called by [`crate::DataPlane::write`] after a successful
//!   append) merge their records, which sit at or above the partition's *floor*: the high watermark
//!   when this process started tracking the topic. Records below a floor were appended before and
//!   are read from the log instead.
//! - **The catch-up** ([`TopicProfile::catch_up`]) reads, through the read path, every range of the
//!   plan made when tracking started: the gaps between the snapshot's coverage and the floors, or,
//!   without a snapshot, the newest [`MAX_REBUILD_RECORDS`] records by default
//!   ([`MeshOptions::profile_rebuild_records`], split evenly between partitions; older records are
//!   counted as not profiled and the profile is `partial`). Requests
//!   run it inline when it has not finished, the background worker otherwise.
//! - **Gaps above the floor** (a write that raced the product's creation, a writer that failed
//!   between append and observe) are found by the worker: a range appended before its previous tick
//!   and still not covered is read from the log. Writers and readers merge under the topic's lock
//!   and skip whatever the coverage already holds, so a late writer and a gap read never both count.
//! - **Snapshots** go to the compacted internal topic [`PROFILES_TOPIC`], keyed by topic, holding the
//!   state with its coverage (JSON, `version` 1): every [`MeshOptions::profile_snapshot_interval`]
//!   for profiles that changed, after [`SNAPSHOT_RECORDS`] records, and on shutdown. A coverage only
//!   ever holds durable records (writers observe after the append returned), so after a SIGKILL the
//!   snapshot plus the catch-up equal a profile built from the whole log.
//!
//! The per-topic lock is held only to merge a pre-aggregated batch ([`super::state::Batch`]) and to
//! serialise a snapshot; flattening, hashing and decoding happen before it is taken.
//!
//! [`MeshOptions::profile_snapshot_interval`]: crate::MeshOptions::profile_snapshot_interval
//! [`MeshOptions::profile_rebuild_records`]: crate::MeshOptions::profile_rebuild_records

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_catalog::Catalog;
use weft_log::{EventLog, LogError, ReadLimits, Record, TopicConfig};

use super::state::{Batch, ProfileState};
use crate::data::DataPlane;
use crate::error::{MeshError, Result};
use crate::read::READ_MAX_BYTES;
use crate::records::{stored_record_size, Decoder};

/// The compacted internal topic of profile snapshots: key the topic, value the snapshot (JSON).
pub const PROFILES_TOPIC: &str = "_weft_profiles";
/// The most records a rebuild without a snapshot reads by default (the newest, split between
/// partitions).
pub const MAX_REBUILD_RECORDS: u64 = 1_000_000;
/// A profile that took in this many records since its last snapshot is snapshotted at the next tick.
pub const SNAPSHOT_RECORDS: u64 = 100_000;
/// The principal the profiler reads the log as.
pub const PROFILER: &str = "system:profiles";
/// How often the worker catches up, looks for gaps and snapshots.
const TICK: Duration = Duration::from_secs(1);
/// Ticks between two looks at the catalog for products on topics not yet tracked.
const TRACK_EVERY_TICKS: u32 = 30;
/// Records read from the log at a time.
const READ_CHUNK: usize = 5000;
const SNAPSHOT_VERSION: u32 = 1;

/// One record as the profile takes it in.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub partition: u32,
    pub offset: u64,
    /// As stored (the append time on a `LogAppendTime` topic).
    pub timestamp: i64,
    /// Key, value and headers.
    pub bytes: u64,
    /// As readers see it; `Null` for a tombstone.
    pub value: &'a Value,
}

/// Which offsets a profile holds, per partition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionCoverage {
    /// Where profiling of the partition starts: records before were not profiled.
    pub origin: u64,
    /// Merged ranges `[from, to)`, sorted, disjoint and not adjacent.
    pub ranges: Vec<(u64, u64)>,
}

impl PartitionCoverage {
    fn insert(&mut self, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let at = self.ranges.partition_point(|r| r.1 < from);
        let mut merged = (from, to);
        let mut end = at;
        while end < self.ranges.len() && self.ranges[end].0 <= merged.1 {
            merged = (merged.0.min(self.ranges[end].0), merged.1.max(self.ranges[end].1));
            end += 1;
        }
        self.ranges.splice(at..end, [merged]);
    }

    fn intersects(&self, from: u64, to: u64) -> bool {
        self.ranges.iter().any(|&(a, b)| a < to && from < b)
    }

    fn contains(&self, offset: u64) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= offset && offset < b)
    }

    /// The parts of `[from, to)` not covered.
    fn gaps(&self, from: u64, to: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = from;
        for &(a, b) in &self.ranges {
            if b <= at {
                continue;
            }
            if a >= to {
                break;
            }
            if a > at {
                gaps.push((at, a));
            }
            at = at.max(b);
        }
        if at < to {
            gaps.push((at, to));
        }
        gaps
    }

    fn end(&self) -> u64 {
        self.ranges.last().map_or(self.origin, |r| r.1)
    }
}

/// A snapshot as kept in [`PROFILES_TOPIC`].
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    version: u32,
    topic: String,
    coverage: Vec<PartitionCoverage>,
    not_profiled: u64,
    state: ProfileState,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotRef<'a> {
    version: u32,
    topic: &'a str,
    coverage: &'a [PartitionCoverage],
    not_profiled: u64,
    state: &'a ProfileState,
}

/// A copy of a profile for an answer.
#[derive(Debug, Clone)]
pub struct LiveView {
    pub state: ProfileState,
    pub coverage: Vec<PartitionCoverage>,
    /// Records held in the log that the profile does not include (beyond the rebuild's bound, or
    /// removed by retention before they were read).
    pub not_profiled: u64,
}

struct Inner {
    state: ProfileState,
    coverage: Vec<PartitionCoverage>,
    /// Ranges still to read from the log, `(partition, from, to)`.
    plan: Vec<(u32, u64, u64)>,
    not_profiled: u64,
    /// Records merged since the last snapshot (0: nothing to write).
    unsnapshotted: u64,
    last_snapshot: Instant,
    /// High watermarks at the previous tick: ranges below them are no longer in flight.
    seen: Vec<u64>,
}

/// The live profile of one topic.
pub struct TopicProfile {
    topic: String,
    /// High watermarks when tracking began: writers merge at or above, the catch-up below.
    floors: Vec<u64>,
    inner: Mutex<Inner>,
    /// Held by whoever runs the plan.
    catching_up: Mutex<()>,
    /// Held while a snapshot is serialised and appended, so snapshots land in the order taken.
    snapshotting: Mutex<()>,
    /// The plan made at the start has been read.
    ready: AtomicBool,
}

impl TopicProfile {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether the profile has read what was in the log when tracking began.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Takes in records a writer appended (already durable), one write's worth.
    pub fn observe(&self, records: &[Observed<'_>]) {
        let floor = |p: u32| self.floors.get(p as usize).copied().unwrap_or(u64::MAX);
        let kept: Vec<&Observed<'_>> = records.iter().filter(|r| r.offset >= floor(r.partition)).collect();
        if kept.is_empty() {
            return;
        }
        let mut ranges: Vec<(u32, u64, u64)> = Vec::new();
        for r in &kept {
            match ranges.iter_mut().find(|range| range.0 == r.partition) {
                Some(range) => {
                    range.1 = range.1.min(r.offset);
                    range.2 = range.2.max(r.offset + 1);
                }
                None => ranges.push((r.partition, r.offset, r.offset + 1)),
            }
        }
        self.merge(&kept, &ranges);
    }

    /// Merges records and marks `ranges` covered; whatever the coverage already holds is skipped.
    fn merge(&self, records: &[&Observed<'_>], ranges: &[(u32, u64, u64)]) {
        let mut batch = batch_of(records.iter().copied());
        batch.seal();
        let mut inner = self.lock();
        let Inner { coverage, state, unsnapshotted, .. } = &mut *inner;
        let taken = |p: u32| coverage.get(p as usize);
        let overlap = ranges.iter().any(|&(p, from, to)| taken(p).is_none_or(|c| c.intersects(from, to)));
        if overlap {
            // A gap read and a late writer met: take in only what nobody did (rare, so done here).
            let fresh: Vec<&Observed<'_>> =
                records.iter().copied().filter(|r| taken(r.partition).is_some_and(|c| !c.contains(r.offset))).collect();
            batch = batch_of(fresh.iter().copied());
            batch.seal();
            let mut gaps = Vec::new();
            for &(p, from, to) in ranges {
                if let Some(c) = taken(p) {
                    gaps.extend(c.gaps(from, to).into_iter().map(|(a, b)| (p, a, b)));
                }
            }
            for (p, a, b) in gaps {
                coverage[p as usize].insert(a, b);
            }
        } else {
            for &(p, from, to) in ranges {
                coverage[p as usize].insert(from, to);
            }
        }
        *unsnapshotted += batch.records().max(1);
        state.merge(&batch);
    }

    /// Reads the plan's ranges from the log (through the read path) and merges them; returns once
    /// the plan is done. Concurrent callers wait for the one reading.
    pub fn catch_up(&self, data: &DataPlane) -> Result<()> {
        let _reading = self.catching_up.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let Some(&(partition, from, to)) = self.lock().plan.first() else { break };
            if !self.read_range(data, partition, from, to)? {
                // Shutting down: what was read is covered, the rest is read on the next start.
                return Ok(());
            }
            self.lock().plan.retain(|r| *r != (partition, from, to));
        }
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Reads `[from, to)` of a partition into the profile; `false` when it stopped early because the
    /// platform is shutting down.
    fn read_range(&self, data: &DataPlane, partition: u32, from: u64, to: u64) -> Result<bool> {
        let mut decoder = Decoder::new(&data.registry);
        let mut position = from;
        while position < to {
            if data.profiles().stopping.load(Ordering::Acquire) {
                return Ok(false);
            }
            let limits = ReadLimits { max_records: READ_CHUNK, max_bytes: READ_MAX_BYTES };
            let read = match data.read_partition(PROFILER, &self.topic, partition, position, limits) {
                Ok(read) => read,
                Err(MeshError::Log(LogError::OffsetOutOfRange { earliest, .. })) if earliest > position => {
                    // Retention removed them before they were read.
                    let skipped = earliest.min(to) - position;
                    self.lock().not_profiled += skipped;
                    position = earliest.min(to);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let records: Vec<_> = read.records.iter().take_while(|r| r.offset < to).collect();
            let end = if records.len() < read.records.len() { to } else { read.next_offset.min(to) };
            if end <= position {
                // Nothing more below the high watermark: the rest of the range does not exist (yet).
                break;
            }
            let values: Vec<Value> = records.iter().map(|r| decoder.value(r.value.as_deref()).json).collect();
            let observed: Vec<Observed<'_>> = records
                .iter()
                .zip(&values)
                .map(|(r, value)| Observed {
                    partition,
                    offset: r.offset,
                    timestamp: r.timestamp,
                    bytes: stored_record_size(r) as u64,
                    value,
                })
                .collect();
            let refs: Vec<&Observed<'_>> = observed.iter().collect();
            self.merge(&refs, &[(partition, position, end)]);
            position = end;
        }
        Ok(true)
    }

    /// A copy of the profile for an answer.
    pub fn view(&self) -> LiveView {
        let inner = self.lock();
        LiveView { state: inner.state.clone(), coverage: inner.coverage.clone(), not_profiled: inner.not_profiled }
    }

    fn note_dead_letters(&self, n: u64) {
        let mut inner = self.lock();
        inner.state.dead_lettered += n;
        inner.unsnapshotted += n.max(1);
    }

    /// Appends a snapshot when the profile changed since the last one (and `due` says it is time).
    fn snapshot(&self, log: &dyn EventLog, due: impl Fn(u64, Duration) -> bool) -> Result<()> {
        let _order = self.snapshotting.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = {
            let mut inner = self.lock();
            if inner.unsnapshotted == 0 || !due(inner.unsnapshotted, inner.last_snapshot.elapsed()) {
                return Ok(());
            }
            let snapshot = SnapshotRef {
                version: SNAPSHOT_VERSION,
                topic: &self.topic,
                coverage: &inner.coverage,
                not_profiled: inner.not_profiled,
                state: &inner.state,
            };
            let bytes =
                serde_json::to_vec(&snapshot).map_err(|e| MeshError::Internal(format!("profile snapshot: {e}")))?;
            inner.unsnapshotted = 0;
            inner.last_snapshot = Instant::now();
            bytes
        };
        let record = Record { key: Some(self.topic.as_bytes().to_vec()), value: Some(bytes), ..Record::default() };
        if let Err(error) = log.append(PROFILES_TOPIC, 0, vec![record]) {
            // Try again at the next tick.
            self.lock().unsnapshotted += 1;
            return Err(error.into());
        }
        Ok(())
    }
}

/// How many of its newest records each partition gives a rebuild of at most `budget` records: an even
/// split, where partitions holding less than their share pass the rest on to the others.
fn shares(held: &[u64], budget: u64) -> Vec<u64> {
    let mut order: Vec<usize> = (0..held.len()).collect();
    order.sort_by_key(|&p| held[p]);
    let mut shares = vec![0; held.len()];
    let mut left = budget;
    for (i, &p) in order.iter().enumerate() {
        let even = left / (held.len() - i) as u64;
        shares[p] = held[p].min(even);
        left -= shares[p];
    }
    shares
}

fn batch_of<'a>(records: impl Iterator<Item = &'a Observed<'a>>) -> Batch<'a> {
    let mut batch = Batch::default();
    for r in records {
        batch.add(r.timestamp, r.bytes, r.value);
    }
    batch
}

/// Every live profile of the platform (see the module documentation).
pub struct LiveProfiles {
    log: Arc<dyn EventLog>,
    catalog: Arc<Catalog>,
    topics: RwLock<HashMap<String, Arc<TopicProfile>>>,
    /// Snapshots read on start, by topic, until their topic is tracked.
    dormant: Mutex<HashMap<String, Vec<u8>>>,
    snapshot_interval: Duration,
    rebuild_records: u64,
    /// Set on shutdown: catch-ups stop between reads, so a long rebuild does not hold the shutdown up.
    stopping: AtomicBool,
}

impl LiveProfiles {
    pub(crate) fn new(
        log: Arc<dyn EventLog>,
        catalog: Arc<Catalog>,
        snapshot_interval: Duration,
        rebuild_records: u64,
    ) -> Self {
        LiveProfiles {
            log,
            catalog,
            topics: RwLock::new(HashMap::new()),
            dormant: Mutex::new(HashMap::new()),
            snapshot_interval,
            rebuild_records,
            stopping: AtomicBool::new(false),
        }
    }

    /// Stops catch-ups between two reads (the platform is shutting down).
    pub(crate) fn stop_catching_up(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Creates [`PROFILES_TOPIC`] on first use and reads its snapshots; then tracks every topic a
    /// product serves (cheap: the reading is left to the catch-up).
    pub(crate) fn open(&self) -> Result<()> {
        match self.log.create_topic(PROFILES_TOPIC, TopicConfig::compacted(1)) {
            Ok(_) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let (start, end) = self.log.offsets(PROFILES_TOPIC, 0)?;
        let mut position = start;
        let mut snapshots = HashMap::new();
        while position < end {
            let read = self.log.read(
                PROFILES_TOPIC,
                0,
                position,
                ReadLimits { max_records: 100, max_bytes: READ_MAX_BYTES },
            )?;
            let Some(last) = read.records.last().map(|r| r.offset) else { break };
            for record in read.records {
                let Some(key) = record.key.and_then(|k| String::from_utf8(k).ok()) else { continue };
                match record.value {
                    Some(value) => snapshots.insert(key, value),
                    None => snapshots.remove(&key),
                };
            }
            position = last + 1;
        }
        *self.dormant.lock().unwrap_or_else(|e| e.into_inner()) = snapshots;
        self.track_served();
        Ok(())
    }

    /// The profile of `topic`, tracking it from now on when a product serves it (`served`, as the
    /// caller found in the catalog). `None`: not tracked and not served, or the log failed.
    pub(crate) fn tracked(&self, topic: &str, served: bool) -> Option<Arc<TopicProfile>> {
        if let Some(profile) = self.topics.read().unwrap_or_else(|e| e.into_inner()).get(topic) {
            return Some(profile.clone());
        }
        if !served {
            return None;
        }
        match self.start(topic) {
            Ok(profile) => Some(profile),
            Err(error) => {
                tracing::warn!(topic, %error, "cannot track the topic's profile");
                None
            }
        }
    }

    /// The profile of a topic a product serves, caught up with the log.
    pub fn profile(&self, data: &DataPlane, topic: &str) -> Result<Arc<TopicProfile>> {
        let profile = match self.tracked(topic, true) {
            Some(profile) => profile,
            None => self.start(topic)?,
        };
        profile.catch_up(data)?;
        Ok(profile)
    }

    /// The newest record time of a tracked topic whose catch-up is done (`None` otherwise).
    pub fn last_record_at(&self, topic: &str) -> Option<Option<i64>> {
        let profile = self.topics.read().unwrap_or_else(|e| e.into_inner()).get(topic).cloned()?;
        profile.is_ready().then(|| profile.lock().state.last_at)
    }

    /// Counts `n` records of `topic` that failed its product's contract and went to its dead-letter
    /// topic (the write path calls it; the profile answers the count and its share).
    pub fn note_dead_letters(&self, topic: &str, n: u64) {
        let served = self.catalog.port_on_topic(topic).is_some();
        if let Some(profile) = self.tracked(topic, served) {
            profile.note_dead_letters(n);
        }
    }

    /// Stops tracking a deleted topic and drops its snapshot.
    pub(crate) fn forget(&self, topic: &str) {
        let removed = self.topics.write().unwrap_or_else(|e| e.into_inner()).remove(topic);
        let dormant = self.dormant.lock().unwrap_or_else(|e| e.into_inner()).remove(topic);
        if removed.is_some() || dormant.is_some() {
            let tombstone = Record { key: Some(topic.as_bytes().to_vec()), ..Record::default() };
            if let Err(error) = self.log.append(PROFILES_TOPIC, 0, vec![tombstone]) {
                tracing::warn!(topic, %error, "cannot drop the profile snapshot");
            }
        }
    }

    fn start(&self, topic: &str) -> Result<Arc<TopicProfile>> {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if let Some(profile) = topics.get(topic) {
            return Ok(profile.clone());
        }
        let partitions = self.log.topic_config(topic)?.partitions;
        let mut offsets = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            offsets.push(self.log.offsets(topic, p)?);
        }
        let floors: Vec<u64> = offsets.iter().map(|o| o.1).collect();
        let dormant = self.dormant.lock().unwrap_or_else(|e| e.into_inner()).remove(topic);
        let snapshot = dormant.and_then(|bytes| match serde_json::from_slice::<Snapshot>(&bytes) {
            Ok(s) if s.version == SNAPSHOT_VERSION && s.topic == topic => Some(s),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(topic, %error, "ignoring an unreadable profile snapshot: rebuilding from the log");
                None
            }
        });
        // A snapshot covering offsets the topic does not have is of an earlier topic of that name.
        let snapshot = snapshot.filter(|s| {
            s.coverage.len() == floors.len() && s.coverage.iter().zip(&floors).all(|(c, &floor)| c.end() <= floor)
        });
        let (state, coverage, not_profiled, plan) = match snapshot {
            Some(s) => {
                let plan = s
                    .coverage
                    .iter()
                    .zip(&floors)
                    .enumerate()
                    .flat_map(|(p, (c, &floor))| {
                        c.gaps(c.origin, floor).into_iter().map(move |(a, b)| (p as u32, a, b))
                    })
                    .collect();
                (s.state.reindexed(), s.coverage, s.not_profiled, plan)
            }
            None => {
                let held: Vec<u64> = offsets.iter().map(|&(earliest, end)| end - earliest).collect();
                let shares = shares(&held, self.rebuild_records);
                let mut coverage = Vec::new();
                let mut plan = Vec::new();
                let mut not_profiled = 0;
                for (p, (&(earliest, end), share)) in offsets.iter().zip(shares).enumerate() {
                    let origin = end - share;
                    not_profiled += origin - earliest;
                    coverage.push(PartitionCoverage { origin, ranges: Vec::new() });
                    if origin < end {
                        plan.push((p as u32, origin, end));
                    }
                }
                (ProfileState::default(), coverage, not_profiled, plan)
            }
        };
        let ready = plan.is_empty();
        let profile = Arc::new(TopicProfile {
            topic: topic.to_string(),
            inner: Mutex::new(Inner {
                state,
                coverage,
                plan,
                not_profiled,
                unsnapshotted: 0,
                last_snapshot: Instant::now(),
                seen: floors.clone(),
            }),
            floors,
            catching_up: Mutex::new(()),
            snapshotting: Mutex::new(()),
            ready: AtomicBool::new(ready),
        });
        topics.insert(topic.to_string(), profile.clone());
        Ok(profile)
    }

    /// Tracks every topic a product's served output port is on.
    fn track_served(&self) {
        let Ok(products) = self.catalog.products(None) else { return };
        let mut topics: Vec<String> = products
            .iter()
            .flat_map(|p| p.spec.output_ports.iter().map(|o| o.topic.clone()))
            .filter(|t| self.catalog.port_on_topic(t).is_some())
            .collect();
        topics.sort();
        topics.dedup();
        for topic in topics {
            // A port whose topic does not exist yet is tracked once it does.
            if self.log.topic_config(&topic).is_ok() {
                self.tracked(&topic, true);
            }
        }
    }

    fn all(&self) -> Vec<Arc<TopicProfile>> {
        self.topics.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// One round of the worker: catch-ups, gaps, deleted topics, snapshots.
    pub(crate) fn tick(&self, data: &DataPlane, round: u32) {
        if round.is_multiple_of(TRACK_EVERY_TICKS) {
            self.track_served();
        }
        for profile in self.all() {
            if let Err(error) = self.maintain(data, &profile) {
                tracing::warn!(topic = profile.topic(), %error, "profile maintenance failed");
            }
        }
    }

    fn maintain(&self, data: &DataPlane, profile: &Arc<TopicProfile>) -> Result<()> {
        let topic = profile.topic();
        let partitions = match self.log.topic_config(topic) {
            Ok(config) => config.partitions,
            Err(LogError::TopicNotFound(_)) => {
                self.forget(topic);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let mut ends = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            ends.push(self.log.offsets(topic, p)?.1);
        }
        {
            let mut inner = profile.lock();
            let recreated =
                ends.len() != inner.coverage.len() || inner.coverage.iter().zip(&ends).any(|(c, &end)| c.end() > end);
            if recreated {
                drop(inner);
                tracing::info!(topic, "the topic was deleted and created again: its profile starts over");
                self.forget(topic);
                self.tracked(topic, true);
                return Ok(());
            }
            // Ranges appended before the previous tick and still not covered lost their writer.
            let mut gaps = Vec::new();
            for (p, c) in inner.coverage.iter().enumerate() {
                let floor = profile.floors[p];
                let seen = inner.seen[p];
                gaps.extend(c.gaps(floor, seen).into_iter().map(|(a, b)| (p as u32, a, b)));
            }
            for gap in gaps {
                if !inner.plan.contains(&gap) {
                    inner.plan.push(gap);
                }
            }
            inner.seen = ends;
        }
        if !profile.lock().plan.is_empty() {
            profile.catch_up(data)?;
        }
        let interval = self.snapshot_interval;
        profile.snapshot(self.log.as_ref(), |records, since| records >= SNAPSHOT_RECORDS || since >= interval)
    }

    /// Snapshots every profile that changed (on shutdown).
    pub(crate) fn snapshot_all(&self) -> Result<()> {
        let mut first_error = None;
        for profile in self.all() {
            if let Err(error) = profile.snapshot(self.log.as_ref(), |_, _| true) {
                tracing::warn!(topic = profile.topic(), %error, "cannot snapshot the profile");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The background thread that keeps profiles caught up and snapshotted; stops when dropped.
pub(crate) type Worker = crate::background::Ticking;

/// Starts the worker over the data plane (held weakly: the worker ends with the mesh).
pub(crate) fn start_worker(data: Weak<DataPlane>) -> std::io::Result<Worker> {
    let mut round = 1u32;
    crate::background::Ticking::start("weft-profiles", TICK, move || {
        let Some(data) = data.upgrade() else { return false };
        data.profiles().tick(&data, round);
        round = round.wrapping_add(1);
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuild_budget_is_shared_by_what_partitions_hold() {
        assert_eq!(shares(&[3000, 0], 1000), [1000, 0]);
        assert_eq!(shares(&[3000, 3000], 1000), [500, 500]);
        assert_eq!(shares(&[100, 3000, 3000], 1000), [100, 450, 450]);
        assert_eq!(shares(&[10, 20], 1000), [10, 20]);
        assert_eq!(shares(&[], 1000), Vec::<u64>::new());
        assert_eq!(shares(&[7, 7, 7], 10), [3, 3, 4], "the whole budget is used");
    }

    #[test]
    fn coverage_merges_ranges_and_finds_gaps() {
        let mut c = PartitionCoverage { origin: 0, ranges: Vec::new() };
        c.insert(10, 20);
        c.insert(30, 40);
        c.insert(20, 25);
        c.insert(5, 5);
        assert_eq!(c.ranges, [(10, 25), (30, 40)]);
        assert_eq!(c.gaps(0, 50), [(0, 10), (25, 30), (40, 50)]);
        assert_eq!(c.gaps(12, 24), []);
        assert_eq!(c.gaps(24, 31), [(25, 30)]);
        assert!(c.intersects(24, 26) && !c.intersects(25, 30) && c.intersects(0, 100));
        assert!(c.contains(10) && !c.contains(25) && c.contains(39));
        c.insert(0, 100);
        assert_eq!(c.ranges, [(0, 100)]);
        assert_eq!(c.end(), 100);
    }
}
