//! A test tool, not part of Weft's interface: appends deterministic records to a log until it is
//! killed, printing `ack PARTITION LAST_OFFSET` after every acknowledged append and
//! `commit PARTITION OFFSET` after every acknowledged consumer-offset commit. The crash test in
//! `tests/crash.rs` kills it with SIGKILL at random points and checks what survived.
//!
//! Usage: weft-log-crash-writer DATA_DIR (batch|group) SEED

use std::io::Write;
use std::time::Duration;

use weft_log::{Durability, EmbeddedLog, EventLog, LogOptions, Record, TopicConfig};

mod content;

use content::{expected_value, PARTITIONS, TOPIC};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, mode, seed] = args.as_slice() else {
        return Err("usage: weft-log-crash-writer DATA_DIR (batch|group) SEED".into());
    };
    let mut options = LogOptions::new(dir);
    options.durability = match mode.as_str() {
        "batch" => Durability::EveryBatch,
        _ => Durability::GroupCommit { interval: Duration::from_millis(2) },
    };
    options.maintenance_interval = Duration::from_millis(20);
    let log = EmbeddedLog::open(options)?;
    if !log.list_topics().iter().any(|t| t == TOPIC) {
        let config = TopicConfig {
            partitions: PARTITIONS,
            segment_bytes: 16 * 1024,
            retention_ms: None,
            ..TopicConfig::default()
        };
        log.create_topic(TOPIC, config)?;
    }
    let mut rng: u64 = seed.parse()?;
    let mut out = std::io::stdout().lock();
    loop {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let partition = ((rng >> 33) % u64::from(PARTITIONS)) as u32;
        let count = 1 + (rng >> 40) % 40;
        let next = log.offsets(TOPIC, partition)?.1;
        let records: Vec<Record> = (next..next + count)
            .map(|offset| Record {
                key: Some(format!("k{}", offset % 7).into_bytes()),
                value: Some(expected_value(partition, offset)),
                headers: vec![],
                timestamp: Some(offset as i64),
            })
            .collect();
        let result = log.append(TOPIC, partition, records)?;
        if result.base_offset != next {
            return Err(format!("appended at {} but expected {next}", result.base_offset).into());
        }
        writeln!(out, "ack {partition} {}", result.last_offset)?;
        if (rng >> 20).is_multiple_of(5) {
            log.commit_offset("crash-group", TOPIC, partition, result.last_offset + 1, "")?;
            writeln!(out, "commit {partition} {}", result.last_offset + 1)?;
        }
        out.flush()?;
    }
}
