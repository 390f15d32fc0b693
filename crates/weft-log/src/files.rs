//! Segment files opened on demand, with a bound on how many are open at once.
//!
//! A partition per descriptor does not scale: a 10,000-partition topic would need 10,000 open
//! files and fails with "Too many open files" under the usual limit of 1,024. So a segment holds a
//! [`CachedFile`]: its path, and its descriptor while one is open. [`FileCache`] keeps at most
//! `limit` of them open and closes the least recently used when it needs room.
//!
//! **Hits are free.** Using an open file takes a read lock on the file's own slot (an atomic
//! operation, never a syscall while uncontended) and sets its `referenced` bit; there is no global
//! lock and no list to reorder on the write or read path. "Least recently used" is therefore
//! approximated with the CLOCK algorithm, as page caches do: on a miss the cache sweeps a ring of
//! open files, clearing `referenced` bits, and closes the first file not used since the hand last
//! passed it.
//!
//! **What is never closed:**
//! - a file in use: I/O runs under the slot's read lock and eviction only *tries* the write lock,
//!   so no descriptor is closed under a running `pwrite`, `pread` or `fsync`;
//! - a file with writes not yet fsynced (`unsynced`): its data is fsynced through the descriptor
//!   that wrote it, so a writeback error cannot slip past the fsync that reports durability;
//! - a retired file (a segment that compaction replaced or retention deleted while readers still
//!   held it): it stays open until the last reader lets go, so they go on reading the old file.
//!
//! The bound is therefore soft by exactly those files: in practice the partitions with appends in
//! flight, plus segments retired under a running read.
//!
//! **Never the wrong file.** A closed file is reopened by path, which after compaction, retention or
//! a topic's deletion and re-creation may name another file. Each file remembers its device and
//! inode from its first opening and a reopen that finds another file (or none) is an error, never
//! data; a retired file is never reopened at all.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use crate::{LogError, Result};

/// Open files when nothing says otherwise and the process limit cannot be read.
const FALLBACK_MAX_OPEN_FILES: usize = 256;

/// A quarter of the process's soft `RLIMIT_NOFILE`, between 64 and 16,384: the rest is left to
/// sockets, index files being written, and everything else in the process.
pub(crate) fn default_max_open_files() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return FALLBACK_MAX_OPEN_FILES;
    }
    // RLIM_INFINITY is the type's maximum, so it lands on the upper bound like any huge limit.
    usize::try_from(limit.rlim_cur / 4).unwrap_or(usize::MAX).clamp(64, 16_384)
}

/// The set of open segment files, bounded by `limit`.
pub(crate) struct FileCache {
    limit: usize,
    /// Files holding a descriptor (including in-use, unsynced and retired ones).
    open: AtomicUsize,
    clock: Mutex<Clock>,
}

/// The CLOCK ring: the open files that may be closed, and the hand sweeping them.
struct Clock {
    ring: Vec<Weak<CachedFile>>,
    hand: usize,
}

impl FileCache {
    pub fn new(limit: usize) -> Arc<FileCache> {
        Arc::new(FileCache {
            limit: limit.max(1),
            open: AtomicUsize::new(0),
            clock: Mutex::new(Clock { ring: Vec::new(), hand: 0 }),
        })
    }

    /// Descriptors the cache holds now.
    #[cfg(test)]
    pub fn open_files(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Closes files until one more fits under the limit (or nothing more can be closed). Returns the
    /// closed descriptors, so the caller drops them after releasing the lock.
    fn make_room(&self, clock: &mut Clock, closed: &mut Vec<File>, upgraded: &mut Vec<Arc<CachedFile>>) {
        // Two full turns: the first may only clear `referenced` bits.
        let mut budget = clock.ring.len() * 2 + 1;
        while self.open.load(Ordering::Acquire) >= self.limit && !clock.ring.is_empty() && budget > 0 {
            budget -= 1;
            if clock.hand >= clock.ring.len() {
                clock.hand = 0;
            }
            let Some(file) = clock.ring[clock.hand].upgrade() else {
                // Dropped: its Drop already gave its descriptor back.
                clock.ring.swap_remove(clock.hand);
                continue;
            };
            if file.retired.load(Ordering::Acquire) {
                clock.ring.swap_remove(clock.hand);
                upgraded.push(file);
                continue;
            }
            if file.referenced.swap(false, Ordering::AcqRel) || file.unsynced.load(Ordering::Acquire) {
                clock.hand += 1;
                upgraded.push(file);
                continue;
            }
            // Busy files (I/O under way) are passed over rather than waited for.
            let taken = match file.slot.try_write() {
                Ok(mut slot) if !file.unsynced.load(Ordering::Acquire) => slot.take(),
                _ => None,
            };
            match taken {
                Some(descriptor) => {
                    self.open.fetch_sub(1, Ordering::AcqRel);
                    closed.push(descriptor);
                    clock.ring.swap_remove(clock.hand);
                }
                None => clock.hand += 1,
            }
            upgraded.push(file);
        }
        // Dropped files leave dead entries behind when nothing needs evicting; keep the ring small.
        if clock.ring.len() > 2 * self.limit + 64 {
            clock.ring.retain(|f| f.strong_count() > 0);
            clock.hand = 0;
        }
    }
}

/// One segment file: its path, its identity, and its descriptor while open.
pub(crate) struct CachedFile {
    path: PathBuf,
    cache: Arc<FileCache>,
    /// (device, inode) of the file first opened: a reopen must find the same file.
    identity: (u64, u64),
    slot: RwLock<Option<File>>,
    /// Used since the clock hand last passed.
    referenced: AtomicBool,
    /// Written to since the last successful fsync: not to be closed.
    unsynced: AtomicBool,
    /// Replaced or deleted: kept open for the readers that still hold it, never reopened.
    retired: AtomicBool,
}

impl CachedFile {
    /// Creates (truncating) the file at `path` and opens it.
    pub fn create(cache: &Arc<FileCache>, path: &Path) -> Result<Arc<CachedFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(LogError::io(path))?;
        let metadata = file.metadata().map_err(LogError::io(path))?;
        Ok(CachedFile::admit_new(cache, path, file, &metadata))
    }

    /// Opens the existing file at `path`; returns it and its length.
    pub fn open(cache: &Arc<FileCache>, path: &Path) -> Result<(Arc<CachedFile>, u64)> {
        let file = open_existing(path).map_err(LogError::io(path))?;
        let metadata = file.metadata().map_err(LogError::io(path))?;
        Ok((CachedFile::admit_new(cache, path, file, &metadata), metadata.len()))
    }

    fn admit_new(cache: &Arc<FileCache>, path: &Path, file: File, metadata: &std::fs::Metadata) -> Arc<CachedFile> {
        let cached = Arc::new(CachedFile {
            path: path.to_path_buf(),
            cache: Arc::clone(cache),
            identity: (metadata.dev(), metadata.ino()),
            slot: RwLock::new(None),
            referenced: AtomicBool::new(true),
            unsynced: AtomicBool::new(false),
            retired: AtomicBool::new(false),
        });
        // Nobody else can see the new file yet, so installing cannot find the slot taken.
        let _ = cached.install(file);
        cached
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `io` on the open descriptor, reopening the file first if the cache closed it.
    fn with<T>(self: &Arc<Self>, io: impl FnOnce(&File) -> io::Result<T>) -> Result<T> {
        loop {
            {
                let slot = self.slot.read().unwrap_or_else(|e| e.into_inner());
                if let Some(file) = slot.as_ref() {
                    if !self.referenced.load(Ordering::Relaxed) {
                        self.referenced.store(true, Ordering::Relaxed);
                    }
                    // The path is cloned only on failure: this is every append's and read's path.
                    return io(file).map_err(|source| LogError::Io { path: self.path.clone(), source });
                }
            }
            self.reopen()?;
        }
    }

    /// Opens the file again after the cache closed it, checking it is the same file.
    fn reopen(self: &Arc<Self>) -> Result<()> {
        if self.retired.load(Ordering::Acquire) {
            return Err(self.gone("it was replaced or deleted"));
        }
        let file = open_existing(&self.path).map_err(LogError::io(&self.path))?;
        let metadata = file.metadata().map_err(LogError::io(&self.path))?;
        if (metadata.dev(), metadata.ino()) != self.identity {
            return Err(self.gone("another file now has its name"));
        }
        // Losing a race to another thread reopening the same file is fine: its descriptor serves.
        let _ = self.install(file);
        Ok(())
    }

    /// Puts `file` in the slot if it is empty, making room in the cache first. Returns false (and
    /// closes `file`) when another thread installed one first.
    fn install(self: &Arc<Self>, file: File) -> bool {
        let mut closed = Vec::new();
        let mut upgraded = Vec::new();
        let installed = {
            let mut clock = self.cache.clock.lock().unwrap_or_else(|e| e.into_inner());
            self.cache.make_room(&mut clock, &mut closed, &mut upgraded);
            // Waiting here is safe: holders of the slot's read lock never take the clock's lock.
            let mut slot = self.slot.write().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                false
            } else {
                *slot = Some(file);
                self.cache.open.fetch_add(1, Ordering::AcqRel);
                self.referenced.store(true, Ordering::Release);
                if !self.retired.load(Ordering::Acquire) {
                    clock.ring.push(Arc::downgrade(self));
                }
                true
            }
        };
        // Closing descriptors and dropping the last handle of a file happen outside the lock.
        drop(closed);
        drop(upgraded);
        installed
    }

    fn gone(&self, why: &str) -> LogError {
        LogError::Io {
            path: self.path.clone(),
            source: io::Error::new(io::ErrorKind::NotFound, format!("segment file no longer readable: {why}")),
        }
    }

    /// Writes `bytes` at `position`; on failure truncates back to `position`, so that no partial
    /// batch is left for the next append to land after.
    pub fn write_all_at(self: &Arc<Self>, bytes: &[u8], position: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.with(|file| {
            // Marked before writing, under the slot's read lock: eviction cannot slip in between.
            self.unsynced.store(true, Ordering::Release);
            file.write_all_at(bytes, position).inspect_err(|_| {
                let _ = file.set_len(position);
            })
        })
    }

    pub fn read_exact_at(self: &Arc<Self>, buf: &mut [u8], position: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.with(|file| file.read_exact_at(buf, position))
    }

    pub fn set_len(self: &Arc<Self>, len: u64) -> Result<()> {
        self.with(|file| {
            self.unsynced.store(true, Ordering::Release);
            file.set_len(len)
        })
    }

    /// fsyncs the file's data through the descriptor that wrote it.
    pub fn sync_data(self: &Arc<Self>) -> Result<()> {
        self.with(|file| {
            // Cleared before the fsync: a write racing it marks the file again.
            self.unsynced.store(false, Ordering::Release);
            file.sync_data().inspect_err(|_| self.unsynced.store(true, Ordering::Release))
        })
    }

    /// The segment is leaving the partition (compaction replaced it, retention deleted it). With
    /// `keep_open`, its descriptor is opened if need be and kept until the last handle drops, so
    /// readers holding the segment read the old file after its name is gone; without it, the
    /// caller knows nobody else holds it. Either way it is never reopened by name again.
    pub fn retire(self: &Arc<Self>, keep_open: bool) -> Result<()> {
        if !keep_open {
            self.retired.store(true, Ordering::Release);
            return Ok(());
        }
        loop {
            {
                // Under the clock's lock no sweep can close the file between the check and the mark.
                let _clock = self.cache.clock.lock().unwrap_or_else(|e| e.into_inner());
                if self.slot.read().unwrap_or_else(|e| e.into_inner()).is_some() {
                    self.retired.store(true, Ordering::Release);
                    return Ok(());
                }
            }
            self.reopen()?;
        }
    }
}

impl Drop for CachedFile {
    fn drop(&mut self) {
        if self.slot.get_mut().unwrap_or_else(|e| e.into_inner()).take().is_some() {
            self.cache.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn open_existing(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(cache: &Arc<FileCache>, dir: &Path, n: usize) -> Vec<Arc<CachedFile>> {
        (0..n).map(|i| CachedFile::create(cache, &dir.join(format!("{i}.log"))).unwrap()).collect()
    }

    #[test]
    fn the_cache_keeps_at_most_its_limit_open_and_reopens_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(4);
        let files = files(&cache, dir.path(), 10);
        assert_eq!(cache.open_files(), 4);
        for (i, f) in files.iter().enumerate() {
            f.write_all_at(format!("file {i}").as_bytes(), 0).unwrap();
            f.sync_data().unwrap();
            assert!(cache.open_files() <= 4, "{} open", cache.open_files());
        }
        for (i, f) in files.iter().enumerate().rev() {
            let mut buf = vec![0; format!("file {i}").len()];
            f.read_exact_at(&mut buf, 0).unwrap();
            assert_eq!(buf, format!("file {i}").as_bytes());
        }
        assert_eq!(cache.open_files(), 4);
        drop(files);
        assert_eq!(cache.open_files(), 0);
    }

    #[test]
    fn files_with_unsynced_writes_are_not_closed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(2);
        let files = files(&cache, dir.path(), 4);
        files[0].write_all_at(b"dirty", 0).unwrap();
        files[1].write_all_at(b"dirty", 0).unwrap();
        // Both open files are pinned: the others open beyond the limit rather than close them.
        let mut buf = [0u8; 1];
        assert!(files[2].read_exact_at(&mut buf, 0).is_err(), "reading past the end of an empty file");
        assert_eq!(cache.open_files(), 3);
        assert!(files[0].slot.read().unwrap().is_some() && files[1].slot.read().unwrap().is_some());
        files[0].sync_data().unwrap();
        files[1].sync_data().unwrap();
        files[3].write_all_at(b"x", 0).unwrap();
        files[3].sync_data().unwrap();
        assert!(cache.open_files() <= 3);
    }

    #[test]
    fn a_file_replaced_under_its_name_is_never_read_through_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(1);
        let path = dir.path().join("a.log");
        let a = CachedFile::create(&cache, &path).unwrap();
        a.write_all_at(b"old", 0).unwrap();
        a.sync_data().unwrap();
        // Another file pushes `a` out, then `a`'s name is given to a new file.
        let _b = CachedFile::create(&cache, &dir.path().join("b.log")).unwrap();
        assert!(a.slot.read().unwrap().is_none());
        std::fs::write(dir.path().join("new"), b"new").unwrap();
        std::fs::rename(dir.path().join("new"), &path).unwrap();
        let mut buf = [0u8; 3];
        let err = a.read_exact_at(&mut buf, 0).unwrap_err();
        assert!(err.to_string().contains("another file now has its name"), "{err}");
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(a.read_exact_at(&mut buf, 0), Err(LogError::Io { .. })));
    }

    #[test]
    fn a_retired_file_kept_open_serves_its_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(1);
        let path = dir.path().join("a.log");
        let a = CachedFile::create(&cache, &path).unwrap();
        a.write_all_at(b"old", 0).unwrap();
        a.sync_data().unwrap();
        let _b = CachedFile::create(&cache, &dir.path().join("b.log")).unwrap();
        a.retire(true).unwrap();
        std::fs::remove_file(&path).unwrap();
        // More files come and go; the retired one stays open beyond the limit.
        for i in 0..3 {
            let c = CachedFile::create(&cache, &dir.path().join(format!("c{i}.log"))).unwrap();
            c.sync_data().unwrap();
        }
        let mut buf = [0u8; 3];
        a.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"old");
        let open = cache.open_files();
        drop(a);
        assert_eq!(cache.open_files(), open - 1);
    }
}
