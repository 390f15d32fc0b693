//! Descriptors stay bounded however many partitions there are: a 10,000-partition topic is
//! created, appended to, read and reopened in a process allowed 1,024 open files.
//!
//! Lowering `RLIMIT_NOFILE` applies to the whole process, which is why this test has a file (and
//! so a test binary) of its own; cargo-nextest also runs each test in its own process.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions, ReadLimits, Record, TopicConfig};

const PARTITIONS: u32 = 10_000;
const NOFILE: u64 = 1024;

fn lower_open_file_limit(to: u64) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0, "getrlimit");
        limit.rlim_cur = to.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0, "setrlimit");
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// tmpfs when there is one: this test is about descriptors, and 20,000 fsyncs on a disk would make
/// it a test of the disk.
fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("temporary directory")
}

fn open(dir: &std::path::Path) -> Arc<EmbeddedLog> {
    let mut options = LogOptions::new(dir);
    options.durability = Durability::GroupCommit { interval: Duration::from_millis(1) };
    options.maintenance_interval = Duration::from_secs(3600);
    assert!(options.max_open_files <= NOFILE as usize / 4, "the default ignores the limit: {}", options.max_open_files);
    EmbeddedLog::open(options).expect("open the log")
}

fn value(partition: u32, i: u32) -> Vec<u8> {
    format!("partition {partition} record {i}").into_bytes()
}

#[test]
fn ten_thousand_partitions_fit_in_a_thousand_descriptors() {
    lower_open_file_limit(NOFILE);
    let started = Instant::now();
    let dir = scratch_dir();
    let log = open(dir.path());
    let config =
        TopicConfig { partitions: PARTITIONS, retention_ms: None, segment_bytes: 1024, ..TopicConfig::default() };
    log.create_topic("wide", config).expect("create a 10,000-partition topic");

    // Every partition gets two segments (the second append rolls), from a few threads at once so
    // that group commits carry many partitions each.
    let next = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| loop {
                let partition = next.fetch_add(1, Ordering::Relaxed);
                if partition >= PARTITIONS {
                    return;
                }
                for i in 0..2 {
                    let record = Record { value: Some(value(partition, i)), ..Record::default() };
                    let mut batch = vec![record; 1];
                    if i == 0 {
                        // Fill the first segment so the next append rolls to a second one.
                        batch[0].headers = vec![weft_log::Header { key: "pad".into(), value: Some(vec![0; 1000]) }];
                    }
                    let result = log.append("wide", partition, batch).expect("append");
                    assert_eq!(result.base_offset, u64::from(i));
                }
            });
        }
    });
    let during = open_descriptors();
    assert!(during < NOFILE as usize / 2, "{during} descriptors open after appending to every partition");
    let description = log.describe_topic("wide").expect("describe");
    assert!(description.partitions.iter().all(|p| p.segments == 2 && p.latest_offset == 2));

    // Read every partition, in an order unlike the appends', so most reads reopen a file.
    for partition in (0..PARTITIONS).rev() {
        let read = log.read("wide", partition, 0, ReadLimits::default()).expect("read");
        let values: Vec<_> = read.records.into_iter().map(|r| r.value).collect();
        assert_eq!(values, vec![Some(value(partition, 0)), Some(value(partition, 1))], "partition {partition}");
    }
    assert!(open_descriptors() < NOFILE as usize / 2);
    log.shutdown().expect("shutdown");
    drop(log);

    // Recovery opens every partition's segments again, under the same limit.
    let log = open(dir.path());
    for partition in (0..PARTITIONS).step_by(7) {
        assert_eq!(log.offsets("wide", partition).expect("offsets"), (0, 2));
        let read = log.read("wide", partition, 1, ReadLimits::default()).expect("read after reopen");
        assert_eq!(read.records[0].value, Some(value(partition, 1)));
    }
    assert!(open_descriptors() < NOFILE as usize / 2);
    eprintln!("10,000 partitions in {:?}", started.elapsed());
}
