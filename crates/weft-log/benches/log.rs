//! Append and read throughput of the embedded log for 200-byte records.
//!
//! Run: `cargo bench -p weft-log --bench log` (add `-- --quick` for a short run).
//! Each case appends from one thread into one partition and reports records/s and MB/s of
//! acknowledged (durable) records, then reads the partition back from offset 0.
//! Group-commit cases pipeline appends with at most 8 MiB unacknowledged, as a Kafka producer would.

use std::time::{Duration, Instant};

use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions, ReadLimits, Record, TopicConfig};

const VALUE_BYTES: usize = 200;
const MAX_IN_FLIGHT_BYTES: usize = 8 << 20;

struct Case {
    batch: usize,
    durability: Durability,
}

fn label(d: Durability) -> String {
    match d {
        Durability::EveryBatch => "fsync per batch".into(),
        Durability::GroupCommit { interval } => format!("group commit {}ms", interval.as_millis()),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = if quick { Duration::from_millis(700) } else { Duration::from_secs(4) };
    let max_records: usize = if quick { 300_000 } else { 3_000_000 };
    let group = Durability::GroupCommit { interval: Duration::from_millis(5) };
    let cases = [1, 100, 10_000]
        .into_iter()
        .flat_map(|batch| [Case { batch, durability: Durability::EveryBatch }, Case { batch, durability: group }]);
    println!("weft-log bench: {VALUE_BYTES}-byte values, one writer thread, one partition");
    println!(
        "{:>7}  {:<20} {:>14} {:>10} {:>14} {:>10}",
        "batch", "durability", "append rec/s", "MB/s", "read rec/s", "MB/s"
    );
    for case in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut options = LogOptions::new(dir.path());
        options.durability = case.durability;
        let log = EmbeddedLog::open(options).expect("open");
        let config = TopicConfig { retention_ms: None, segment_bytes: 256 << 20, ..TopicConfig::default() };
        log.create_topic("bench", config).expect("create");
        let value = vec![b'x'; VALUE_BYTES];
        let batch: Vec<Record> = (0..case.batch)
            .map(|i| Record {
                key: Some(format!("key-{:04}", i % 1000).into_bytes()),
                value: Some(value.clone()),
                ..Record::default()
            })
            .collect();
        let record_bytes = VALUE_BYTES + 8;

        let start = Instant::now();
        let mut written = 0usize;
        let mut in_flight: std::collections::VecDeque<(u64, usize)> = Default::default();
        let mut in_flight_bytes = 0usize;
        while written < max_records && start.elapsed() < budget {
            let result = log.append_pipelined("bench", 0, &batch).expect("append");
            written += case.batch;
            in_flight.push_back((result.last_offset, case.batch * record_bytes));
            in_flight_bytes += case.batch * record_bytes;
            while in_flight_bytes > MAX_IN_FLIGHT_BYTES {
                let Some((offset, bytes)) = in_flight.pop_front() else { break };
                log.wait_durable("bench", 0, offset).expect("durable");
                in_flight_bytes -= bytes;
            }
        }
        if let Some((offset, _)) = in_flight.back() {
            log.wait_durable("bench", 0, *offset).expect("durable");
        }
        let append_secs = start.elapsed().as_secs_f64();

        let start = Instant::now();
        let mut offset = 0;
        let mut read = 0usize;
        while offset < written as u64 {
            let result =
                log.read("bench", 0, offset, ReadLimits { max_records: 10_000, max_bytes: 8 << 20 }).expect("read");
            read += result.records.len();
            offset = result.next_offset;
        }
        let read_secs = start.elapsed().as_secs_f64();
        assert_eq!(read, written);
        let mb = (written * record_bytes) as f64 / 1e6;
        println!(
            "{:>7}  {:<20} {:>14.0} {:>10.1} {:>14.0} {:>10.1}",
            case.batch,
            label(case.durability),
            written as f64 / append_secs,
            mb / append_secs,
            read as f64 / read_secs,
            mb / read_secs
        );
    }
}
