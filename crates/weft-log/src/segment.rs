//! One segment: a file of batches plus its sparse offset and time indexes.
//!
//! Files of a segment whose first offset is B (zero-padded to 20 digits):
//! - `B.log`: the batches (format in `batch.rs`);
//! - `B.index`: entries `(batch base offset: u64, file position: u32)`, one per ~INDEX_INTERVAL bytes;
//! - `B.timeindex`: entries `(largest timestamp up to and including that batch: i64, position: u32)`.
//!
//! Both index files start with a 24-byte header: magic `WIDX`, format version (u32), the length of the
//! log file they describe (u64), the entry count (u32) and a CRC32C of the entries (u32). Index files
//! are written only when a segment is sealed; an index that is missing, short, or describes a log of
//! another length is rebuilt by scanning the log. The active segment's index lives in memory and is
//! rebuilt by the recovery scan on start.
//!
//! A segment does not own a descriptor: its log file is opened on demand through the log's bounded
//! [`FileCache`](crate::files) and may be closed and reopened between two reads (see `files.rs`).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::files::{CachedFile, FileCache};
use crate::{LogError, Result};

/// Bytes of log between two index entries.
const INDEX_INTERVAL: u64 = 4096;
const INDEX_MAGIC: &[u8; 4] = b"WIDX";
const INDEX_VERSION: u32 = 1;
const INDEX_HEADER_LEN: usize = 24;
const INDEX_ENTRY_LEN: usize = 12;
/// Bytes read from the log at a time when scanning.
const SCAN_CHUNK: usize = 256 * 1024;
/// A thread keeps its scan buffer for the next scan unless a huge batch grew it beyond this.
const MAX_KEPT_SCAN_BUFFER: usize = 16 << 20;

thread_local! {
    static SCAN_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub(crate) fn segment_file_name(base_offset: u64, extension: &str) -> String {
    format!("{base_offset:020}.{extension}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexEntry {
    /// Base offset (offset index) or running maximum timestamp (time index).
    key: i64,
    position: u32,
}

#[derive(Debug, Default)]
struct Indexes {
    offsets: Vec<IndexEntry>,
    times: Vec<IndexEntry>,
    /// Log position of the last batch that got an index entry.
    last_indexed_position: Option<u64>,
    /// Largest timestamp seen in the segment so far.
    max_timestamp: i64,
}

impl Indexes {
    fn observe(&mut self, position: u64, header: &BatchHeader) {
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        let due = self.last_indexed_position.is_none_or(|last| position >= last + INDEX_INTERVAL);
        if due {
            let position = position as u32;
            self.offsets.push(IndexEntry { key: header.base_offset as i64, position });
            self.times.push(IndexEntry { key: self.max_timestamp, position });
            self.last_indexed_position = Some(u64::from(position));
        }
    }
}

/// Where a scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// The visitor asked to stop, or the end of the range was reached cleanly.
    Complete,
    /// Bytes at `position` are not a valid batch.
    Invalid { position: u64, reason: String },
}

/// What a scan hands the visitor: a batch whose checksum is verified.
pub(crate) struct ScannedBatch<'a> {
    pub position: u64,
    pub header: BatchHeader,
    pub bytes: &'a [u8],
}

pub(crate) struct Segment {
    pub base_offset: u64,
    /// Opened on demand: the cache bounds how many segments hold a descriptor (see files.rs).
    file: Arc<CachedFile>,
    indexes: RwLock<Indexes>,
    /// Bytes readers may see: everything up to here is durable.
    readable_len: AtomicU64,
    /// Bytes written, durable or not.
    written_len: AtomicU64,
    max_timestamp: AtomicI64,
}

impl Segment {
    /// Creates a new empty segment file (the next active segment).
    pub fn create(files: &Arc<FileCache>, dir: &Path, base_offset: u64) -> Result<Segment> {
        let file = CachedFile::create(files, &dir.join(segment_file_name(base_offset, "log")))?;
        sync_dir(dir)?;
        Ok(Segment::from_parts(base_offset, file, Indexes { max_timestamp: i64::MIN, ..Indexes::default() }, 0))
    }

    fn from_parts(base_offset: u64, file: Arc<CachedFile>, indexes: Indexes, len: u64) -> Segment {
        let max_timestamp = indexes.max_timestamp;
        Segment {
            base_offset,
            file,
            indexes: RwLock::new(indexes),
            readable_len: AtomicU64::new(len),
            written_len: AtomicU64::new(len),
            max_timestamp: AtomicI64::new(max_timestamp),
        }
    }

    /// Opens a sealed segment, trusting its index files when they describe this exact log file and
    /// rebuilding them otherwise.
    pub fn open_sealed(files: &Arc<FileCache>, dir: &Path, base_offset: u64) -> Result<Segment> {
        let (file, len) = CachedFile::open(files, &dir.join(segment_file_name(base_offset, "log")))?;
        let loaded = read_index_file(&dir.join(segment_file_name(base_offset, "index")), len)
            .zip(read_index_file(&dir.join(segment_file_name(base_offset, "timeindex")), len));
        if let Some((offsets, times)) = loaded {
            if offsets.len() == times.len() && offsets.iter().all(|e| u64::from(e.position) < len.max(1)) {
                let max_timestamp = times.last().map_or(i64::MIN, |e| e.key);
                let last_indexed_position = offsets.last().map(|e| u64::from(e.position));
                let indexes = Indexes { offsets, times, last_indexed_position, max_timestamp };
                return Ok(Segment::from_parts(base_offset, file, indexes, len));
            }
        }
        let segment = Segment::from_parts(base_offset, file, Indexes::default(), len);
        let (valid_len, _) = segment.rebuild_indexes(len)?;
        segment.written_len.store(valid_len.max(len), Ordering::Release);
        segment.write_index_files()?;
        Ok(segment)
    }

    /// Opens the last segment after a restart: scans every batch, truncates a torn or corrupt tail,
    /// rebuilds the in-memory index and makes what remains durable. Returns the segment and the
    /// offset after its last record (`None` when it holds no record).
    pub fn recover_active(files: &Arc<FileCache>, dir: &Path, base_offset: u64) -> Result<(Segment, Option<u64>)> {
        let (file, len) = CachedFile::open(files, &dir.join(segment_file_name(base_offset, "log")))?;
        let segment = Segment::from_parts(base_offset, file, Indexes::default(), len);
        let (valid_len, last_offset) = segment.rebuild_indexes(len)?;
        if valid_len < len {
            segment.file.set_len(valid_len)?;
        }
        segment.file.sync_data()?;
        segment.readable_len.store(valid_len, Ordering::Release);
        segment.written_len.store(valid_len, Ordering::Release);
        // Stale index files of a segment that is active again would describe another length.
        for ext in ["index", "timeindex"] {
            let _ = std::fs::remove_file(dir.join(segment_file_name(base_offset, ext)));
        }
        Ok((segment, last_offset.map(|o| o + 1)))
    }

    /// Scans the whole file, rebuilding indexes; returns the length of the valid prefix and the last
    /// offset in it.
    fn rebuild_indexes(&self, len: u64) -> Result<(u64, Option<u64>)> {
        let mut indexes = Indexes { max_timestamp: i64::MIN, ..Indexes::default() };
        let mut valid_len = 0;
        let mut last_offset = None;
        let mut expected_min = self.base_offset;
        let end = self.scan(0, len, |batch| {
            if batch.header.base_offset < expected_min {
                return Err(format!(
                    "batch base offset {} is not after the previous batch (expected at least {expected_min})",
                    batch.header.base_offset
                ));
            }
            if crate::batch::for_each_record(&batch.header, batch.bytes, |_| true).is_none() {
                return Err("records do not match the batch header".into());
            }
            expected_min = batch.header.last_offset() + 1;
            indexes.observe(batch.position, &batch.header);
            valid_len = batch.position + batch.header.total_len as u64;
            last_offset = Some(batch.header.last_offset());
            Ok(true)
        })?;
        if let ScanEnd::Invalid { position, reason } = end {
            tracing::warn!(
                file = %self.path().display(),
                position,
                bytes = len - position,
                reason = %reason,
                "discarding the torn or corrupt tail of the active segment"
            );
        }
        self.max_timestamp.store(indexes.max_timestamp, Ordering::Release);
        *self.indexes.write().unwrap_or_else(|e| e.into_inner()) = indexes;
        Ok((valid_len, last_offset))
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn readable_len(&self) -> u64 {
        self.readable_len.load(Ordering::Acquire)
    }

    pub fn written_len(&self) -> u64 {
        self.written_len.load(Ordering::Acquire)
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.load(Ordering::Acquire)
    }

    /// Makes the first `len` bytes visible to readers (they are durable).
    pub fn publish(&self, len: u64) {
        self.readable_len.fetch_max(len, Ordering::AcqRel);
    }

    /// Writes a finished batch at `position` (the current end). The caller serializes writers.
    pub fn append(&self, position: u64, batch: &[u8], header: &BatchHeader) -> Result<()> {
        // On failure the file is cut back to `position`: no partial batch for the next append to
        // land after.
        self.file.write_all_at(batch, position)?;
        self.indexes.write().unwrap_or_else(|e| e.into_inner()).observe(position, header);
        self.max_timestamp.fetch_max(header.max_timestamp, Ordering::AcqRel);
        self.written_len.store(position + batch.len() as u64, Ordering::Release);
        Ok(())
    }

    pub fn sync(&self) -> Result<()> {
        self.file.sync_data()
    }

    /// The segment leaves its partition (see [`CachedFile::retire`]): with `readers`, its file
    /// stays readable for them after its name is gone.
    pub fn retire(&self, readers: bool) -> Result<()> {
        self.file.retire(readers)
    }

    /// Fsyncs the log and writes its index files: the segment is complete.
    pub fn seal(&self) -> Result<()> {
        self.sync()?;
        self.write_index_files()
    }

    fn write_index_files(&self) -> Result<()> {
        let dir = self.path().parent().unwrap_or(Path::new("."));
        let len = self.written_len();
        let indexes = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        // The time index's last entry must carry the segment's final maximum timestamp.
        let mut times = indexes.times.clone();
        if let Some(last) = times.last_mut() {
            last.key = last.key.max(indexes.max_timestamp);
        }
        write_index_file(&dir.join(segment_file_name(self.base_offset, "index")), len, &indexes.offsets)?;
        write_index_file(&dir.join(segment_file_name(self.base_offset, "timeindex")), len, &times)?;
        sync_dir(dir)
    }

    /// Position of the last indexed batch whose base offset is at or before `offset`.
    pub fn position_for_offset(&self, offset: u64) -> u64 {
        let indexes = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        let i = indexes.offsets.partition_point(|e| e.key as u64 <= offset);
        i.checked_sub(1).map_or(0, |i| u64::from(indexes.offsets[i].position))
    }

    /// Position from which a scan finds the first record with a timestamp at or after `timestamp`:
    /// every batch before it holds only older records.
    pub fn position_for_timestamp(&self, timestamp: i64) -> u64 {
        let indexes = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        let i = indexes.times.partition_point(|e| e.key < timestamp);
        i.checked_sub(1).map_or(0, |i| u64::from(indexes.times[i].position))
    }

    /// Visits the batches in `[start, end)` whose header and checksum are valid, in order. Visitors
    /// decode the records themselves (once) and return `Err(reason)` when they do not decode;
    /// `Ok(false)` stops the scan. Stops at the first invalid batch.
    pub fn scan(
        &self,
        start: u64,
        end: u64,
        mut visit: impl FnMut(ScannedBatch<'_>) -> std::result::Result<bool, String>,
    ) -> Result<ScanEnd> {
        // Reuse this thread's scan buffer: a fresh multi-megabyte buffer per read costs more in
        // page faults than the read itself.
        let mut buf = SCAN_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
        buf.clear();
        let end = self.scan_with(&mut buf, start, end, &mut visit);
        if buf.capacity() <= MAX_KEPT_SCAN_BUFFER {
            SCAN_BUFFER.with(|b| *b.borrow_mut() = buf);
        }
        end
    }

    fn scan_with(
        &self,
        buf: &mut Vec<u8>,
        start: u64,
        end: u64,
        visit: &mut impl FnMut(ScannedBatch<'_>) -> std::result::Result<bool, String>,
    ) -> Result<ScanEnd> {
        let mut buf_start = start;
        let mut position = start;
        while position < end {
            let offset_in_buf = (position - buf_start) as usize;
            if buf.len() < offset_in_buf + HEADER_LEN {
                if end - position < HEADER_LEN as u64 {
                    return Ok(ScanEnd::Invalid { position, reason: "truncated batch header".into() });
                }
                self.fill(buf, &mut buf_start, position, HEADER_LEN, end)?;
                continue;
            }
            let Some(header) = BatchHeader::parse(&buf[offset_in_buf..]) else {
                return Ok(ScanEnd::Invalid { position, reason: "not a batch header".into() });
            };
            if position + header.total_len as u64 > end {
                return Ok(ScanEnd::Invalid {
                    position,
                    reason: format!("batch of {} bytes runs past the end of the data", header.total_len),
                });
            }
            if buf.len() < offset_in_buf + header.total_len {
                self.fill(buf, &mut buf_start, position, header.total_len, end)?;
                continue;
            }
            let bytes = &buf[offset_in_buf..offset_in_buf + header.total_len];
            if !header.checksum_ok(bytes) {
                return Ok(ScanEnd::Invalid { position, reason: "checksum mismatch".into() });
            }
            match visit(ScannedBatch { position, header, bytes }) {
                Ok(true) => {}
                Ok(false) => return Ok(ScanEnd::Complete),
                Err(reason) => return Ok(ScanEnd::Invalid { position, reason }),
            }
            position += header.total_len as u64;
        }
        Ok(ScanEnd::Complete)
    }

    /// Refills `buf` so that it starts at `position` and holds at least `need` bytes (bounded by `end`).
    fn fill(&self, buf: &mut Vec<u8>, buf_start: &mut u64, position: u64, need: usize, end: u64) -> Result<()> {
        let want = need.max(SCAN_CHUNK).min((end - position) as usize);
        // Zero-filling is wasted work when the buffer already has the room: read_exact_at
        // overwrites every byte it keeps.
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf.truncate(want);
        self.file.read_exact_at(buf, position)?;
        *buf_start = position;
        Ok(())
    }

    /// Turns an invalid scan end inside data that was once durable into a corruption error.
    pub fn corrupt(&self, position: u64, reason: String) -> LogError {
        LogError::Corrupt { path: self.path().to_path_buf(), position, reason }
    }
}

fn write_index_file(path: &Path, log_len: u64, entries: &[IndexEntry]) -> Result<()> {
    let mut body = Vec::with_capacity(entries.len() * INDEX_ENTRY_LEN);
    for entry in entries {
        body.extend_from_slice(&entry.key.to_le_bytes());
        body.extend_from_slice(&entry.position.to_le_bytes());
    }
    let mut bytes = Vec::with_capacity(INDEX_HEADER_LEN + body.len());
    bytes.extend_from_slice(INDEX_MAGIC);
    bytes.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    bytes.extend_from_slice(&log_len.to_le_bytes());
    bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(LogError::io(&tmp))?;
    file.write_all(&bytes).map_err(LogError::io(&tmp))?;
    file.sync_data().map_err(LogError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(LogError::io(path))
}

/// Reads an index file; `None` when it is missing, damaged or describes a log of another length.
fn read_index_file(path: &Path, log_len: u64) -> Option<Vec<IndexEntry>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < INDEX_HEADER_LEN || &bytes[0..4] != INDEX_MAGIC {
        return None;
    }
    let field = |at: usize, n: usize| bytes.get(at..at + n);
    let version = u32::from_le_bytes(field(4, 4)?.try_into().ok()?);
    let indexed_len = u64::from_le_bytes(field(8, 8)?.try_into().ok()?);
    let count = u32::from_le_bytes(field(16, 4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(field(20, 4)?.try_into().ok()?);
    let body = &bytes[INDEX_HEADER_LEN..];
    if version != INDEX_VERSION
        || indexed_len != log_len
        || body.len() != count * INDEX_ENTRY_LEN
        || crc32c::crc32c(body) != crc
    {
        return None;
    }
    body.chunks_exact(INDEX_ENTRY_LEN)
        .map(|c| {
            Some(IndexEntry {
                key: i64::from_le_bytes(c[0..8].try_into().ok()?),
                position: u32::from_le_bytes(c[8..12].try_into().ok()?),
            })
        })
        .collect()
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(LogError::io(dir))
}
