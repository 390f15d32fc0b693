//! The embedded backend: the whole log in one data directory.
//!
//! ```text
//! DATA_DIR/
//!   .lock                       held (flock) by the one process that owns the directory
//!   topics/NAME/topic.json      the topic's TopicConfig
//!   topics/NAME/P/              partition P's segments (see segment.rs)
//!   tmp/                        topics being created (renamed into topics/ when complete)
//!   trash/                      topics being deleted
//! ```
//! Consumer group offsets live in the compacted internal topic `_weft_consumer_offsets`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::files::{default_max_open_files, FileCache};
use crate::group_offsets::{self, validate_group, PositionKey, Positions};
use crate::partition::Partition;
use crate::segment::sync_dir;
use crate::{
    validate_topic_name, AppendResult, CommittedOffset, EventLog, LogError, PartitionBatch, PartitionDescription,
    ReadLimits, ReadResult, Record, Result, TopicConfig, TopicDescription, INTERNAL_TOPIC_PREFIX,
};

pub use crate::group_offsets::OFFSETS_TOPIC;

/// When an append counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before every append returns.
    EveryBatch,
    /// A background flusher fsyncs dirty partitions every `interval` (overlapping their fsyncs on up
    /// to four threads); appends wait for the next flush.
    GroupCommit { interval: Duration },
}

/// How to open an [`EmbeddedLog`].
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub data_dir: PathBuf,
    pub durability: Durability,
    /// How often retention and compaction run in the background.
    pub maintenance_interval: Duration,
    /// The largest batch one append may write.
    pub max_batch_bytes: usize,
    /// How many segment files may be open at once (at least 1). Segments are opened on demand and
    /// the least recently used closed, so any number of partitions fits in the process's
    /// descriptor limit. Files with writes not yet fsynced, and deleted segments still being read,
    /// stay open beyond it. Defaults to a quarter of the process's soft `RLIMIT_NOFILE` at the time
    /// of [`LogOptions::new`], between 64 and 16,384.
    pub max_open_files: usize,
}

impl LogOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LogOptions {
            data_dir: data_dir.into(),
            durability: Durability::GroupCommit { interval: Duration::from_millis(5) },
            maintenance_interval: Duration::from_secs(30),
            max_batch_bytes: 64 * 1024 * 1024,
            max_open_files: default_max_open_files(),
        }
    }
}

/// The committed positions of every group, as the offsets topic holds them.
#[derive(Default)]
struct GroupPositions {
    positions: Positions,
    /// The offsets-topic offset of the record that last set (or removed) each position. Commits
    /// wait for durability outside the lock, so two commits of one position may become durable in
    /// either order: the one appended later wins, as it does when the topic is replayed.
    set_at: HashMap<PositionKey, u64>,
}

struct Topic {
    config: TopicConfig,
    partitions: Vec<Arc<Partition>>,
}

/// The topic map, shared with the background threads (which hold nothing else of the log, so
/// dropping the last handle closes the log at once).
type Topics = Arc<RwLock<BTreeMap<String, Arc<Topic>>>>;

#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    /// Sleeps up to `interval`; returns true once the log is stopping.
    fn sleep(&self, interval: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if *stopped {
            return true;
        }
        let (stopped, _) = self.wake.wait_timeout(stopped, interval).unwrap_or_else(|e| e.into_inner());
        *stopped
    }

    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }
}

/// The embedded event log. Open it with [`EmbeddedLog::open`]; it implements [`EventLog`].
pub struct EmbeddedLog {
    options: LogOptions,
    topics: Topics,
    /// Every partition's segment files, opened on demand under `options.max_open_files`.
    files: Arc<FileCache>,
    /// Serializes topic creation and deletion.
    admin: Mutex<()>,
    offsets: Mutex<GroupPositions>,
    closed: AtomicBool,
    /// Background threads sleep on this (without holding the log) so shutdown wakes them at once.
    stop: Arc<StopSignal>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    unique: AtomicU64,
    _dir_lock: File,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl EmbeddedLog {
    /// Opens the log in `options.data_dir` (creating it), recovering every partition, and starts
    /// the group-commit flusher and the retention/compaction thread.
    pub fn open(options: LogOptions) -> Result<Arc<EmbeddedLog>> {
        let data = &options.data_dir;
        for sub in ["topics", "tmp", "trash"] {
            let dir = data.join(sub);
            std::fs::create_dir_all(&dir).map_err(LogError::io(&dir))?;
        }
        let lock_path = data.join(".lock");
        let dir_lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(LogError::io(&lock_path))?;
        dir_lock.try_lock().map_err(|_| LogError::Io {
            path: data.clone(),
            source: std::io::Error::other("the data directory is in use by another Weft process"),
        })?;
        for sub in ["tmp", "trash"] {
            clear_dir(&data.join(sub))?;
        }
        let files = FileCache::new(options.max_open_files);
        let mut topics = BTreeMap::new();
        let topics_dir = data.join("topics");
        for entry in std::fs::read_dir(&topics_dir).map_err(LogError::io(&topics_dir))? {
            let entry = entry.map_err(LogError::io(&topics_dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if validate_topic_name(&name).is_err() {
                continue;
            }
            topics.insert(name.clone(), Arc::new(open_topic(&entry.path(), &name, &files)?));
        }
        let log = Arc::new(EmbeddedLog {
            options: options.clone(),
            topics: Arc::new(RwLock::new(topics)),
            files,
            admin: Mutex::new(()),
            offsets: Mutex::new(GroupPositions::default()),
            closed: AtomicBool::new(false),
            stop: Arc::new(StopSignal::default()),
            threads: Mutex::new(Vec::new()),
            unique: AtomicU64::new(0),
            _dir_lock: dir_lock,
        });
        if !log.topics_read().contains_key(OFFSETS_TOPIC) {
            log.create_topic(OFFSETS_TOPIC, TopicConfig::compacted(1))?;
        }
        log.load_offsets()?;
        let mut threads = Vec::new();
        if let Durability::GroupCommit { interval } = options.durability {
            threads.push(spawn_flusher(&log.stop, interval, Arc::clone(&log.topics))?);
        }
        let topics = Arc::clone(&log.topics);
        threads.push(spawn_periodic("weft-log-maintain", &log.stop, options.maintenance_interval, move || {
            if let Err(e) = maintain(&topics) {
                tracing::warn!(error = %e, "log maintenance (retention, compaction) failed; it runs again later");
            }
        })?);
        *log.threads.lock().unwrap_or_else(|e| e.into_inner()) = threads;
        Ok(log)
    }

    pub fn options(&self) -> &LogOptions {
        &self.options
    }

    fn topics_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Topic>>> {
        self.topics.read().unwrap_or_else(|e| e.into_inner())
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.topics_read().get(name).cloned().ok_or_else(|| LogError::TopicNotFound(name.to_string()))
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Partition>> {
        let t = self.topic(topic)?;
        t.partitions.get(partition as usize).cloned().ok_or(LogError::PartitionNotFound {
            topic: topic.to_string(),
            partition,
            partitions: t.config.partitions,
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(LogError::Closed);
        }
        Ok(())
    }

    /// Writes a batch without waiting for it to become durable: the pipelining half of
    /// [`EventLog::append`]. Pair it with [`EmbeddedLog::wait_durable`] before acknowledging.
    pub fn append_pipelined(&self, topic: &str, partition: u32, records: &[Record]) -> Result<AppendResult> {
        self.check_open()?;
        let p = self.partition(topic, partition)?;
        let sync = self.options.durability == Durability::EveryBatch;
        p.append(records, now_ms(), sync, self.options.max_batch_bytes)
    }

    /// Blocks until `offset` of the partition is durable.
    pub fn wait_durable(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        self.partition(topic, partition)?.wait_durable(offset, &self.closed)
    }

    /// Runs retention and compaction now (they also run every `maintenance_interval`); see
    /// [`EventLog::run_maintenance`].
    pub fn run_maintenance(&self) -> Result<()> {
        <Self as EventLog>::run_maintenance(self)
    }

    /// Flushes everything and stops background work; later calls fail with [`LogError::Closed`].
    /// See [`EventLog::shutdown`].
    pub fn shutdown(&self) -> Result<()> {
        <Self as EventLog>::shutdown(self)
    }

    fn load_offsets(&self) -> Result<()> {
        let p = self.partition(OFFSETS_TOPIC, 0)?;
        let mut offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let mut position = p.log_start_offset();
        loop {
            let batch = p.read(position, ReadLimits { max_records: 10_000, max_bytes: 16 << 20 })?;
            for record in &batch.records {
                group_offsets::apply(&mut offsets.positions, record);
            }
            if batch.records.is_empty() || batch.next_offset >= batch.high_watermark {
                return Ok(());
            }
            position = batch.next_offset;
        }
    }

    fn append_durable(&self, topic: &str, partition: u32, records: &[Record]) -> Result<AppendResult> {
        let result = self.append_pipelined(topic, partition, records)?;
        if self.options.durability != Durability::EveryBatch {
            self.wait_durable(topic, partition, result.last_offset)?;
        }
        Ok(result)
    }
}

impl Drop for EmbeddedLog {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "the log failed to shut down cleanly");
        }
    }
}

fn partitions_where(topics: &Topics, keep: impl Fn(&Partition) -> bool) -> Vec<Arc<Partition>> {
    let topics = topics.read().unwrap_or_else(|e| e.into_inner());
    topics.values().flat_map(|t| t.partitions.iter()).filter(|p| keep(p)).cloned().collect()
}

fn flush_partition(p: &Partition) {
    if let Err(e) = p.flush() {
        tracing::error!(topic = %p.topic, partition = p.id, error = %e, "a group-commit flush failed");
    }
}

/// Threads that fsync a group commit's partitions alongside the flusher. An fsync mostly waits on
/// the disk: overlapped, a round lasts about as long as its slowest partition's fsync rather than
/// the sum of them, and the appends waiting on it wait less. Started once with the flusher:
/// starting threads every round cost more CPU than the rest of the round.
const FLUSH_HELPERS: usize = 3;

/// A group commit's partitions still to fsync, shared by the flusher and its helpers.
#[derive(Default)]
struct FlushQueue {
    state: Mutex<FlushState>,
    /// Wakes helpers: partitions queued, or the flusher stopping.
    queued: Condvar,
    /// Wakes the flusher: the round's last partition is flushed.
    finished: Condvar,
}

#[derive(Default)]
struct FlushState {
    queue: Vec<Arc<Partition>>,
    /// The round's partitions not yet flushed (queued, or being flushed).
    unfinished: usize,
    stop: bool,
}

impl FlushQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, FlushState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flushes queued partitions, one at a time, until none is left.
    fn help(&self) {
        loop {
            let next = self.lock().queue.pop();
            let Some(p) = next else { return };
            flush_partition(&p);
            let mut state = self.lock();
            state.unfinished -= 1;
            if state.unfinished == 0 {
                self.finished.notify_all();
            }
        }
    }

    /// A helper's life: it helps with each round until the flusher stops.
    fn serve(&self) {
        loop {
            {
                let mut state = self.lock();
                while state.queue.is_empty() && !state.stop {
                    state = self.queued.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                if state.stop {
                    return;
                }
            }
            self.help();
        }
    }

    /// One group commit: returns once every partition of `dirty` is flushed, the flusher and the
    /// helpers taking them in turn.
    fn round(&self, dirty: Vec<Arc<Partition>>) {
        {
            let mut state = self.lock();
            state.unfinished += dirty.len();
            state.queue.extend(dirty);
        }
        self.queued.notify_all();
        self.help();
        let mut state = self.lock();
        while state.unfinished > 0 {
            state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.queued.notify_all();
    }
}

/// The group-commit flusher: every `interval` after the last round, fsyncs the dirty partitions
/// (with its helpers when there are several) and publishes them.
fn spawn_flusher(stop: &Arc<StopSignal>, interval: Duration, topics: Topics) -> Result<JoinHandle<()>> {
    let stop = Arc::clone(stop);
    let name = "weft-log-flush";
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let queue = FlushQueue::default();
            std::thread::scope(|scope| {
                for _ in 0..FLUSH_HELPERS {
                    // Without a helper (the OS refused a thread) the others, or the flusher, do
                    // its share.
                    let _ = std::thread::Builder::new().name(name.to_string()).spawn_scoped(scope, || queue.serve());
                }
                while !stop.sleep(interval) {
                    let dirty = partitions_where(&topics, |p| p.dirty.load(Ordering::Acquire));
                    match dirty.as_slice() {
                        [] => {}
                        [one] => flush_partition(one),
                        _ => queue.round(dirty),
                    }
                }
                queue.stop();
            });
        })
        .map_err(|e| LogError::Io { path: PathBuf::from(name), source: e })
}

fn maintain(topics: &Topics) -> Result<()> {
    let now = now_ms();
    for p in partitions_where(topics, |_| true) {
        p.enforce_retention(now)?;
        p.compact()?;
    }
    Ok(())
}

fn spawn_periodic(
    name: &str,
    stop: &Arc<StopSignal>,
    interval: Duration,
    work: impl Fn() + Send + 'static,
) -> Result<JoinHandle<()>> {
    let stop = Arc::clone(stop);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            while !stop.sleep(interval) {
                work();
            }
        })
        .map_err(|e| LogError::Io { path: PathBuf::from(name), source: e })
}

fn open_topic(dir: &Path, name: &str, files: &Arc<FileCache>) -> Result<Topic> {
    let meta_path = dir.join("topic.json");
    let bytes = std::fs::read(&meta_path).map_err(LogError::io(&meta_path))?;
    let config: TopicConfig = serde_json::from_slice(&bytes).map_err(|e| LogError::Corrupt {
        path: meta_path.clone(),
        position: 0,
        reason: e.to_string(),
    })?;
    let partitions = (0..config.partitions)
        .map(|p| Partition::open(name, p, dir.join(p.to_string()), config.clone(), Arc::clone(files)).map(Arc::new))
        .collect::<Result<Vec<_>>>()?;
    Ok(Topic { config, partitions })
}

fn clear_dir(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(LogError::io(dir))? {
        let path = entry.map_err(LogError::io(dir))?.path();
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(LogError::io(&path))?;
    }
    Ok(())
}

impl EmbeddedLog {
    /// Deletes a topic, internal or not, with its data and its groups' offsets.
    fn remove_topic(&self, name: &str) -> Result<()> {
        self.check_open()?;
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        let removed = self.topics.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        let Some(topic) = removed else { return Err(LogError::TopicNotFound(name.to_string())) };
        for p in &topic.partitions {
            p.close_subscriptions();
            p.wake_all();
        }
        let unique = self.unique.fetch_add(1, Ordering::Relaxed);
        let dir = self.options.data_dir.join("topics").join(name);
        let trash = self.options.data_dir.join("trash").join(format!("{name}.{unique}"));
        std::fs::rename(&dir, &trash).map_err(LogError::io(&dir))?;
        sync_dir(&self.options.data_dir.join("topics"))?;
        std::fs::remove_dir_all(&trash).map_err(LogError::io(&trash))?;
        // The group offsets of a deleted topic mean nothing any more.
        let stale: Vec<PositionKey> = {
            let offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
            offsets.positions.keys().filter(|(_, t, _)| t == name).cloned().collect()
        };
        if !stale.is_empty() {
            let tombstones: Vec<Record> =
                stale.iter().map(|(g, t, p)| group_offsets::forget_record(g, t, *p)).collect();
            let mut offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
            let appended = self.append_durable(OFFSETS_TOPIC, 0, &tombstones)?;
            for key in stale {
                offsets.positions.remove(&key);
                offsets.set_at.insert(key, appended.last_offset);
            }
        }
        Ok(())
    }
}

impl EventLog for EmbeddedLog {
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<TopicDescription> {
        self.check_open()?;
        validate_topic_name(name)?;
        config.validate()?;
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        if self.topics_read().contains_key(name) {
            return Err(LogError::TopicExists(name.to_string()));
        }
        // Build the topic in tmp/ and rename it into place, so a crash never leaves half a topic.
        let unique = self.unique.fetch_add(1, Ordering::Relaxed);
        let staging = self.options.data_dir.join("tmp").join(format!("{name}.{unique}"));
        std::fs::create_dir_all(&staging).map_err(LogError::io(&staging))?;
        let meta = serde_json::to_vec_pretty(&config)
            .map_err(|e| LogError::Io { path: staging.clone(), source: std::io::Error::other(e) })?;
        let meta_path = staging.join("topic.json");
        std::fs::write(&meta_path, meta).map_err(LogError::io(&meta_path))?;
        File::open(&meta_path).and_then(|f| f.sync_all()).map_err(LogError::io(&meta_path))?;
        for p in 0..config.partitions {
            let dir = staging.join(p.to_string());
            std::fs::create_dir_all(&dir).map_err(LogError::io(&dir))?;
        }
        sync_dir(&staging)?;
        let final_dir = self.options.data_dir.join("topics").join(name);
        std::fs::rename(&staging, &final_dir).map_err(LogError::io(&final_dir))?;
        sync_dir(&self.options.data_dir.join("topics"))?;
        let topic = Arc::new(open_topic(&final_dir, name, &self.files)?);
        self.topics.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), topic);
        self.describe_topic(name)
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        if name.starts_with(INTERNAL_TOPIC_PREFIX) {
            return Err(LogError::InternalTopic(name.to_string()));
        }
        self.remove_topic(name)
    }

    fn delete_internal_topic(&self, name: &str) -> Result<()> {
        if !name.starts_with(INTERNAL_TOPIC_PREFIX) {
            return Err(LogError::InvalidTopicName { name: name.to_string(), reason: "it is not internal".into() });
        }
        self.remove_topic(name)
    }

    fn list_topics(&self) -> Vec<String> {
        if self.check_open().is_err() {
            return Vec::new();
        }
        self.topics_read().keys().cloned().collect()
    }

    fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        self.check_open()?;
        let topic = self.topic(name)?;
        let partitions = topic
            .partitions
            .iter()
            .map(|p| {
                let (size_bytes, segments) = p.size_bytes();
                PartitionDescription {
                    partition: p.id,
                    earliest_offset: p.log_start_offset(),
                    latest_offset: p.high_watermark(),
                    size_bytes,
                    segments,
                }
            })
            .collect();
        Ok(TopicDescription { name: name.to_string(), config: topic.config.clone(), partitions })
    }

    fn topic_config(&self, name: &str) -> Result<TopicConfig> {
        self.check_open()?;
        Ok(self.topic(name)?.config.clone())
    }

    fn append(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<AppendResult> {
        self.append_durable(topic, partition, &records)
    }

    /// Under group commit every batch is written first and then waited for, on the caller's thread:
    /// the next flush makes them durable together. Fsyncing each batch, the batches are appended on
    /// threads as the trait's default does, so their fsyncs overlap.
    fn append_partitions(&self, topic: &str, batches: &[PartitionBatch<'_>]) -> Vec<Result<AppendResult>> {
        if self.options.durability == Durability::EveryBatch && batches.len() > 1 {
            return crate::append_partitions_on_threads(self, topic, batches);
        }
        let written: Vec<Result<(Arc<Partition>, AppendResult)>> = batches
            .iter()
            .map(|batch| {
                self.check_open()?;
                let p = self.partition(topic, batch.partition)?;
                let sync = self.options.durability == Durability::EveryBatch;
                let result = p.append(batch.records, now_ms(), sync, self.options.max_batch_bytes)?;
                Ok((p, result))
            })
            .collect();
        written
            .into_iter()
            .map(|written| {
                let (p, result) = written?;
                if self.options.durability != Durability::EveryBatch {
                    p.wait_durable(result.last_offset, &self.closed)?;
                }
                Ok(result)
            })
            .collect()
    }

    fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> Result<ReadResult> {
        self.check_open()?;
        self.partition(topic, partition)?.read(offset, limits)
    }

    fn offset_for_timestamp(&self, topic: &str, partition: u32, timestamp: i64) -> Result<Option<u64>> {
        self.check_open()?;
        self.partition(topic, partition)?.offset_for_timestamp(timestamp)
    }

    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        self.check_open()?;
        let p = self.partition(topic, partition)?;
        Ok((p.log_start_offset(), p.high_watermark()))
    }

    fn subscribe(&self, topic: &str, partition: u32) -> Result<tokio::sync::watch::Receiver<u64>> {
        self.check_open()?;
        Ok(self.partition(topic, partition)?.subscribe())
    }

    fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: &str,
    ) -> Result<CommittedOffset> {
        self.check_open()?;
        validate_group(group)?;
        self.partition(topic, partition)?;
        let (committed, record) = group_offsets::commit_record(group, topic, partition, offset, metadata, now_ms())?;
        // The wait for durability is shared with every other commit and append in flight (one
        // group commit); holding the map's lock across it would make commits wait in line, one
        // flush each. Positions are applied once durable, in the offsets topic's order.
        let appended = self.append_durable(OFFSETS_TOPIC, 0, std::slice::from_ref(&record))?;
        let mut offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let key = (group.to_string(), topic.to_string(), partition);
        if offsets.set_at.get(&key).is_none_or(|at| *at < appended.last_offset) {
            offsets.set_at.insert(key.clone(), appended.last_offset);
            offsets.positions.insert(key, committed.clone());
        }
        Ok(committed)
    }

    fn committed_offsets(&self, group: &str) -> Result<Vec<CommittedOffset>> {
        self.check_open()?;
        validate_group(group)?;
        let offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        Ok(offsets.positions.iter().filter(|((g, _, _), _)| g == group).map(|(_, c)| c.clone()).collect())
    }

    fn run_maintenance(&self) -> Result<()> {
        self.check_open()?;
        maintain(&self.topics)
    }

    fn shutdown(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.stop.stop();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let current = std::thread::current().id();
        for handle in threads {
            if handle.thread().id() != current {
                let _ = handle.join();
            }
        }
        let mut first_error = None;
        for topic in self.topics_read().values() {
            for p in &topic.partitions {
                if let Err(e) = p.close() {
                    first_error.get_or_insert(e);
                }
                p.close_subscriptions();
                p.wake_all();
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
