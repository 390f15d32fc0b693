//! One partition: its segments, the single writer, the durable high watermark, reads, retention
//! and compaction.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use tokio::sync::watch;

use crate::batch::{decode_records, encoded_record_len, push_view, BatchBuilder, HEADER_LEN};
use crate::files::FileCache;
use crate::segment::{segment_file_name, sync_dir, ScanEnd, Segment};
use crate::{
    AppendResult, CleanupPolicy, LogError, ReadLimits, ReadResult, Record, RecordRef, Result, StoredRecord,
    TimestampType, TopicConfig,
};

/// What an append takes a record from: an owned [`Record`], or one borrowed from the caller's buffers.
pub(crate) trait AsRecordRef {
    fn record_ref(&self) -> RecordRef<'_>;
}

impl AsRecordRef for Record {
    fn record_ref(&self) -> RecordRef<'_> {
        RecordRef::from(self)
    }
}

impl AsRecordRef for RecordRef<'_> {
    fn record_ref(&self) -> RecordRef<'_> {
        *self
    }
}

struct Writer {
    active: Arc<Segment>,
    next_offset: u64,
    builder: BatchBuilder,
}

/// Why appends to a partition now fail (an fsync error leaves the page cache in an unknown state,
/// so the partition refuses writes until it is reopened).
struct Durable {
    high_watermark: u64,
    failure: Option<String>,
    /// Taken (closing every subscription) when the topic is deleted.
    watermark_tx: Option<watch::Sender<u64>>,
}

pub(crate) struct Partition {
    pub topic: String,
    pub id: u32,
    dir: PathBuf,
    config: TopicConfig,
    /// The log's open segment files, shared by every partition.
    files: Arc<FileCache>,
    segments: RwLock<Vec<Arc<Segment>>>,
    writer: Mutex<Writer>,
    durable: Mutex<Durable>,
    durable_changed: Condvar,
    /// Mirror of the high watermark for lock-free reads.
    high_watermark: AtomicU64,
    /// Set by appends awaiting a group commit, cleared by the flusher.
    pub dirty: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Partition {
    /// Opens (recovering) or creates the partition stored in `dir`.
    pub fn open(topic: &str, id: u32, dir: PathBuf, config: TopicConfig, files: Arc<FileCache>) -> Result<Partition> {
        std::fs::create_dir_all(&dir).map_err(LogError::io(&dir))?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(LogError::io(&dir))? {
            let entry = entry.map_err(LogError::io(&dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".cleaned") || name.ends_with(".tmp") {
                // Leftovers of a compaction or index write interrupted by a crash.
                let _ = std::fs::remove_file(entry.path());
            } else if let Some(base) = name.strip_suffix(".log").and_then(|b| b.parse::<u64>().ok()) {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let mut segments = Vec::with_capacity(bases.len().max(1));
        let (active, next_offset) = match bases.split_last() {
            None => (Arc::new(Segment::create(&files, &dir, 0)?), 0),
            Some((&last, sealed)) => {
                for &base in sealed {
                    segments.push(Arc::new(Segment::open_sealed(&files, &dir, base)?));
                }
                let (active, next) = Segment::recover_active(&files, &dir, last)?;
                (Arc::new(active), next.unwrap_or(last))
            }
        };
        segments.push(Arc::clone(&active));
        Ok(Partition {
            topic: topic.to_string(),
            id,
            dir,
            config,
            files,
            segments: RwLock::new(segments),
            writer: Mutex::new(Writer { active, next_offset, builder: BatchBuilder::default() }),
            durable: Mutex::new(Durable {
                high_watermark: next_offset,
                failure: None,
                watermark_tx: Some(watch::channel(next_offset).0),
            }),
            durable_changed: Condvar::new(),
            high_watermark: AtomicU64::new(next_offset),
            dirty: AtomicBool::new(false),
        })
    }

    pub fn high_watermark(&self) -> u64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    fn segments(&self) -> Vec<Arc<Segment>> {
        self.segments.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn log_start_offset(&self) -> u64 {
        self.segments.read().unwrap_or_else(|e| e.into_inner()).first().map_or(0, |s| s.base_offset)
    }

    pub fn size_bytes(&self) -> (u64, usize) {
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        (segments.iter().map(|s| s.written_len()).sum(), segments.len())
    }

    /// A receiver of the high watermark; it reports the sender closed once the topic is deleted.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        let durable = lock(&self.durable);
        match &durable.watermark_tx {
            Some(tx) => tx.subscribe(),
            None => watch::channel(durable.high_watermark).1,
        }
    }

    pub fn close_subscriptions(&self) {
        lock(&self.durable).watermark_tx = None;
    }

    fn validate<R: AsRecordRef>(&self, records: &[R], max_batch_bytes: usize) -> Result<usize> {
        if records.is_empty() {
            return Err(LogError::EmptyBatch);
        }
        let mut size = HEADER_LEN;
        for (index, record) in records.iter().enumerate() {
            let record = record.record_ref();
            if self.config.cleanup_policy == CleanupPolicy::Compact && record.key.is_none() {
                return Err(LogError::InvalidRecord {
                    index,
                    reason: format!("topic '{}' is compacted, so every record needs a key", self.topic),
                });
            }
            if let Some(h) = record.headers.iter().find(|h| h.key.len() > u16::MAX as usize) {
                return Err(LogError::InvalidRecord { index, reason: format!("header name of {} bytes", h.key.len()) });
            }
            size += encoded_record_len(record.key, record.value, record.headers);
        }
        if size > max_batch_bytes || records.len() > u32::MAX as usize {
            return Err(LogError::BatchTooLarge { size, max: max_batch_bytes });
        }
        Ok(size)
    }

    /// Writes one batch. With `sync` the batch is fsynced and published before returning;
    /// otherwise it awaits the next group commit (see [`Partition::wait_durable`]).
    pub fn append<R: AsRecordRef>(
        &self,
        records: &[R],
        now_ms: i64,
        sync: bool,
        max_batch_bytes: usize,
    ) -> Result<AppendResult> {
        let size = self.validate(records, max_batch_bytes)?;
        if let Some(failure) = &lock(&self.durable).failure {
            return Err(self.failed(failure));
        }
        let mut writer = lock(&self.writer);
        let position = writer.active.written_len();
        if position > 0 && position + size as u64 > self.config.segment_bytes {
            self.roll(&mut writer)?;
        }
        let Writer { active, next_offset, builder } = &mut *writer;
        let base_offset = *next_offset;
        builder.start(base_offset, size);
        let mut first_timestamp = now_ms;
        for (i, record) in records.iter().enumerate() {
            let record = record.record_ref();
            let timestamp = match (self.config.timestamp_type, record.timestamp) {
                (TimestampType::CreateTime, Some(ts)) => ts,
                _ => now_ms,
            };
            if i == 0 {
                first_timestamp = timestamp;
            }
            builder.push(i as u32, timestamp, record.key, record.value, record.headers);
        }
        let count = u64::from(builder.record_count());
        let bytes = builder.finish();
        let position = active.written_len();
        let header = crate::batch::BatchHeader::parse(bytes)
            .ok_or_else(|| active.corrupt(position, "the batch just encoded does not parse".into()))?;
        active.append(position, bytes, &header)?;
        *next_offset += count;
        let result = AppendResult {
            partition: self.id,
            base_offset,
            last_offset: base_offset + count - 1,
            first_timestamp,
            append_time: now_ms,
        };
        if sync {
            if let Err(e) = active.sync() {
                self.fail(&e);
                return Err(e);
            }
            let (active, len, next) = (Arc::clone(active), active.written_len(), *next_offset);
            drop(writer);
            self.publish(&active, len, next);
        } else {
            self.dirty.store(true, Ordering::Release);
        }
        Ok(result)
    }

    /// Seals the active segment and starts a new one at the next offset.
    fn roll(&self, writer: &mut Writer) -> Result<()> {
        if let Err(e) = writer.active.seal() {
            self.fail(&e);
            return Err(e);
        }
        self.publish(&writer.active, writer.active.written_len(), writer.next_offset);
        let next = Arc::new(Segment::create(&self.files, &self.dir, writer.next_offset)?);
        self.segments.write().unwrap_or_else(|e| e.into_inner()).push(Arc::clone(&next));
        writer.active = next;
        Ok(())
    }

    /// Group commit: fsyncs what was written so far (without blocking writers) and publishes it.
    pub fn flush(&self) -> Result<()> {
        self.dirty.store(false, Ordering::Release);
        let (active, len, next) = {
            let writer = lock(&self.writer);
            (Arc::clone(&writer.active), writer.active.written_len(), writer.next_offset)
        };
        if next <= self.high_watermark() {
            return Ok(());
        }
        if let Err(e) = active.sync() {
            self.fail(&e);
            return Err(e);
        }
        self.publish(&active, len, next);
        Ok(())
    }

    fn publish(&self, segment: &Segment, len: u64, next_offset: u64) {
        segment.publish(len);
        let mut durable = lock(&self.durable);
        if next_offset > durable.high_watermark {
            durable.high_watermark = next_offset;
            self.high_watermark.store(next_offset, Ordering::Release);
            if let Some(tx) = &durable.watermark_tx {
                tx.send_replace(next_offset);
            }
            self.durable_changed.notify_all();
        }
    }

    fn fail(&self, error: &LogError) {
        lock(&self.durable).failure = Some(error.to_string());
        self.durable_changed.notify_all();
    }

    fn failed(&self, failure: &str) -> LogError {
        LogError::Io {
            path: self.dir.clone(),
            source: std::io::Error::other(format!("partition refuses writes after a failed fsync: {failure}")),
        }
    }

    /// Blocks until `offset` is durable (or the partition failed, or `closed` says the log stopped).
    pub fn wait_durable(&self, offset: u64, closed: &AtomicBool) -> Result<()> {
        let mut durable = lock(&self.durable);
        loop {
            if durable.high_watermark > offset {
                return Ok(());
            }
            if let Some(failure) = &durable.failure {
                return Err(self.failed(failure));
            }
            if closed.load(Ordering::Acquire) {
                return Err(LogError::Closed);
            }
            durable = self
                .durable_changed
                .wait_timeout(durable, std::time::Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wakes waiters so they notice the log closed.
    pub fn wake_all(&self) {
        self.durable_changed.notify_all();
    }

    fn out_of_range(&self, requested: u64, earliest: u64, latest: u64) -> LogError {
        LogError::OffsetOutOfRange { topic: self.topic.clone(), partition: self.id, requested, earliest, latest }
    }

    pub fn read(&self, offset: u64, limits: ReadLimits) -> Result<ReadResult> {
        let high_watermark = self.high_watermark();
        let segments = self.segments();
        let log_start_offset = segments.first().map_or(0, |s| s.base_offset);
        if offset < log_start_offset || offset > high_watermark {
            return Err(self.out_of_range(offset, log_start_offset, high_watermark));
        }
        // Sized for the batch at once: growing it by doubling faulted in fresh pages on every read.
        let mut records: Vec<StoredRecord> = Vec::with_capacity(limits.max_records.min(8192));
        let mut bytes = 0usize;
        let first = segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
        let mut done = offset >= high_watermark || limits.max_records == 0;
        for segment in &segments[first..] {
            if done || segment.base_offset >= high_watermark {
                break;
            }
            let start = segment.position_for_offset(offset);
            let end = segment.scan(start, segment.readable_len(), |batch| {
                if batch.header.last_offset() < offset {
                    return Ok(true);
                }
                let views = decode_records(&batch.header, batch.bytes)
                    .ok_or_else(|| "records do not match the batch header".to_string())?;
                for view in views {
                    if view.offset < offset {
                        continue;
                    }
                    if view.offset >= high_watermark
                        || records.len() >= limits.max_records
                        || (!records.is_empty() && bytes + view.encoded_len > limits.max_bytes)
                    {
                        done = true;
                        return Ok(false);
                    }
                    bytes += view.encoded_len;
                    records.push(view.to_stored());
                }
                Ok(true)
            })?;
            if let ScanEnd::Invalid { position, reason } = end {
                return Err(segment.corrupt(position, reason));
            }
        }
        let next_offset = records.last().map_or(high_watermark, |r| r.offset + 1);
        Ok(ReadResult { records, next_offset, high_watermark, log_start_offset })
    }

    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<u64>> {
        let high_watermark = self.high_watermark();
        for segment in self.segments() {
            if segment.base_offset >= high_watermark {
                break;
            }
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let mut found = None;
            let end = segment.scan(segment.position_for_timestamp(timestamp), segment.readable_len(), |batch| {
                if batch.header.max_timestamp < timestamp {
                    return Ok(true);
                }
                let views = decode_records(&batch.header, batch.bytes)
                    .ok_or_else(|| "records do not match the batch header".to_string())?;
                found = views.iter().find(|v| v.timestamp >= timestamp).map(|v| v.offset);
                Ok(found.is_none())
            })?;
            if let ScanEnd::Invalid { position, reason } = end {
                return Err(segment.corrupt(position, reason));
            }
            if let Some(offset) = found {
                return Ok((offset < high_watermark).then_some(offset));
            }
        }
        Ok(None)
    }

    /// Deletes whole sealed segments that are past `retention.ms` or beyond `retention.bytes`.
    /// The active segment is never deleted. Returns the number of segments deleted.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        if self.config.cleanup_policy != CleanupPolicy::Delete {
            return Ok(0);
        }
        let doomed: Vec<Arc<Segment>> = {
            let mut segments = self.segments.write().unwrap_or_else(|e| e.into_inner());
            let mut total: u64 = segments.iter().map(|s| s.written_len()).sum();
            let mut count = 0;
            for segment in segments.iter().take(segments.len().saturating_sub(1)) {
                let expired = self.config.retention_ms.is_some_and(|ms| segment.max_timestamp() < now_ms - ms);
                let oversize = self.config.retention_bytes.is_some_and(|max| total - segment.written_len() >= max);
                if !(expired || oversize) {
                    break;
                }
                total -= segment.written_len();
                count += 1;
            }
            segments.drain(..count).collect()
        };
        for segment in &doomed {
            // Readers that took the segment list before the drain keep reading the deleted file;
            // nobody else can reach the segment any more (the count only falls), so when no
            // reader holds it there is nothing to keep open. Should keeping it open fail, those
            // readers get an I/O error instead: the segment is out of the list either way.
            if segment.retire(Arc::strong_count(segment) > 1).is_err() {
                let _ = segment.retire(false);
            }
            remove_segment_files(&self.dir, segment.base_offset);
        }
        Ok(doomed.len())
    }

    /// Rewrites sealed segments keeping only the latest record per key, and dropping keys whose
    /// latest record is a tombstone. Readers keep reading the old files until the swap; the writer
    /// only ever touches the active segment, so neither is blocked. Returns records removed.
    pub fn compact(&self) -> Result<u64> {
        if self.config.cleanup_policy != CleanupPolicy::Compact {
            return Ok(0);
        }
        let segments = self.segments();
        let Some((_, sealed)) = segments.split_last() else { return Ok(0) };
        if sealed.is_empty() {
            return Ok(0);
        }
        // Pass 1: the latest offset of every key, over everything durable.
        let high_watermark = self.high_watermark();
        let mut latest: HashMap<Vec<u8>, (u64, bool)> = HashMap::new();
        let mut dropped_somewhere = false;
        for segment in &segments {
            let end = segment.scan(0, segment.readable_len(), |batch| {
                let decoded = crate::batch::for_each_record(&batch.header, batch.bytes, |view| {
                    if view.offset < high_watermark {
                        if let Some(key) = view.key {
                            let tombstone = view.value.is_none();
                            if let Some(previous) = latest.insert(key.to_vec(), (view.offset, tombstone)) {
                                dropped_somewhere |= previous.0 < view.offset;
                            }
                            dropped_somewhere |= tombstone;
                        }
                    }
                    true
                });
                decoded.map(|()| true).ok_or_else(|| "records do not match the batch header".to_string())
            })?;
            if let ScanEnd::Invalid { position, reason } = end {
                return Err(segment.corrupt(position, reason));
            }
        }
        if !dropped_somewhere {
            return Ok(0);
        }
        // Pass 2: rewrite each sealed segment that holds a superseded record.
        let mut removed = 0;
        for segment in sealed {
            removed += self.compact_segment(segment, &latest)?;
        }
        Ok(removed)
    }

    fn compact_segment(&self, segment: &Arc<Segment>, latest: &HashMap<Vec<u8>, (u64, bool)>) -> Result<u64> {
        let keep = |offset: u64, key: Option<&[u8]>| match key {
            None => true,
            Some(key) => latest.get(key).is_some_and(|&(o, tombstone)| o == offset && !tombstone),
        };
        let cleaned_path = self.dir.join(format!("{}.cleaned", segment_file_name(segment.base_offset, "log")));
        let mut out: Vec<u8> = Vec::new();
        let mut builder = BatchBuilder::default();
        let mut removed = 0u64;
        let end = segment.scan(0, segment.readable_len(), |batch| {
            let views = decode_records(&batch.header, batch.bytes)
                .ok_or_else(|| "records do not match the batch header".to_string())?;
            let kept: Vec<_> = views.iter().filter(|v| keep(v.offset, v.key)).collect();
            removed += (views.len() - kept.len()) as u64;
            if let Some(first) = kept.first() {
                builder.start(first.offset, 0);
                for view in &kept {
                    push_view(&mut builder, first.offset, view);
                }
                out.extend_from_slice(builder.finish());
            }
            Ok(true)
        })?;
        if let ScanEnd::Invalid { position, reason } = end {
            return Err(segment.corrupt(position, reason));
        }
        if removed == 0 {
            return Ok(0);
        }
        std::fs::write(&cleaned_path, &out).map_err(LogError::io(&cleaned_path))?;
        std::fs::File::open(&cleaned_path).and_then(|f| f.sync_all()).map_err(LogError::io(&cleaned_path))?;
        // From here on the old segment's name may name the cleaned file, so its readers must keep
        // its descriptor (should the rename fail, the segment stays, readable through it).
        segment.retire(true)?;
        // The rename is the commit point: before it the old segment stands, after it the new one.
        std::fs::rename(&cleaned_path, segment.path()).map_err(LogError::io(segment.path()))?;
        sync_dir(&self.dir)?;
        let replacement = Arc::new(Segment::open_sealed(&self.files, &self.dir, segment.base_offset)?);
        let mut segments = self.segments.write().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = segments.iter_mut().find(|s| s.base_offset == segment.base_offset) {
            *slot = replacement;
        }
        Ok(removed)
    }

    /// Final flush on shutdown.
    pub fn close(&self) -> Result<()> {
        self.flush()
    }
}

fn remove_segment_files(dir: &Path, base_offset: u64) {
    for ext in ["log", "index", "timeindex"] {
        let _ = std::fs::remove_file(dir.join(segment_file_name(base_offset, ext)));
    }
}

#[cfg(test)]
mod tests {
    //! Readers that took the segment list before compaction or retention replaced or deleted a
    //! segment, while the file cache had closed its descriptor.

    use super::*;

    /// Every record of `segment`, read through the segment itself (as a reader holding it does).
    fn records_of(segment: &Segment) -> Result<Vec<StoredRecord>> {
        let mut out = Vec::new();
        let end = segment.scan(0, segment.readable_len(), |batch| {
            let views = decode_records(&batch.header, batch.bytes).ok_or("undecodable batch")?;
            out.extend(views.iter().map(|v| v.to_stored()));
            Ok(true)
        })?;
        assert_eq!(end, ScanEnd::Complete);
        Ok(out)
    }

    fn partition(dir: &Path, config: TopicConfig, files: &Arc<FileCache>) -> Partition {
        let partition = Partition::open("t", 0, dir.to_path_buf(), config, Arc::clone(files)).unwrap();
        for i in 0..60 {
            let record = Record {
                key: Some(format!("k{}", i % 3).into_bytes()),
                value: Some(vec![i as u8; 100]),
                ..Record::default()
            };
            partition.append(&[record], 1_000 + i, true, 1 << 20).unwrap();
        }
        partition
    }

    #[test]
    fn a_reader_of_a_compacted_segment_reads_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileCache::new(1);
        let config = TopicConfig { segment_bytes: 1024, ..TopicConfig::compacted(1) };
        let p = partition(dir.path(), config, &files);
        let held = p.segments();
        let before = records_of(&held[0]).unwrap();
        // Reading the active segment takes the only descriptor from the first segment.
        p.read(59, ReadLimits::default()).unwrap();
        assert!(p.compact().unwrap() > 0);
        // Reading the replacement and the rest would push the old file out of a one-file cache,
        // after which its name leads to the replacement.
        let compacted = records_of(&p.segments()[0]).unwrap();
        assert!(compacted.len() < before.len());
        p.read(0, ReadLimits::default()).unwrap();
        assert_eq!(records_of(&held[0]).unwrap(), before, "the old segment's reader saw other data");
        // Once the last reader lets go, the old file's descriptor is closed.
        let open = files.open_files();
        drop(held);
        assert!(files.open_files() < open);
    }

    #[test]
    fn a_reader_of_a_deleted_segment_reads_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileCache::new(1);
        let config = TopicConfig { segment_bytes: 1024, retention_bytes: Some(2048), ..TopicConfig::default() };
        let p = partition(dir.path(), config.clone(), &files);
        let held = p.segments();
        let before = records_of(&held[0]).unwrap();
        p.read(59, ReadLimits::default()).unwrap();
        assert!(p.enforce_retention(10_000).unwrap() > 0);
        assert!(!held[0].path().exists());
        assert_eq!(records_of(&held[0]).unwrap(), before);
        // Without readers, deleted segments keep no descriptor.
        drop(held);
        let other = tempfile::tempdir().unwrap();
        let q = partition(other.path(), config, &files);
        assert!(q.enforce_retention(10_000).unwrap() > 0);
        assert!(files.open_files() <= 1, "{} files open", files.open_files());
    }
}
