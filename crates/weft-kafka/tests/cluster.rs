//! The test cluster itself (`testing::Cluster`, two tansu brokers on one PostgreSQL store) and
//! `KafkaLog` on it: what goes in through one broker comes out of the other, and a log bootstrapped
//! with both brokers keeps appending and reading, losing and doubling nothing, while they are
//! SIGKILLed one after the other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_kafka::testing::Cluster;
use weft_kafka::{KafkaLog, KafkaOptions};
use weft_log::{EventLog, ReadLimits, Record, TopicConfig};

fn connect(bootstrap: &str) -> Arc<KafkaLog> {
    let mut options = KafkaOptions::new(bootstrap);
    options.timeout = Duration::from_secs(20);
    KafkaLog::connect(options).expect("connect to the test cluster")
}

fn record(value: &str) -> Record {
    Record { key: Some(value.as_bytes().to_vec()), value: Some(value.as_bytes().to_vec()), ..Record::default() }
}

/// Every value of `topic`'s `partition` with its offset, read through `log`.
fn values(log: &KafkaLog, topic: &str, partition: u32) -> Vec<(u64, String)> {
    let (start, end) = log.offsets(topic, partition).expect("the partition's offsets");
    let mut out = Vec::new();
    let mut offset = start;
    while offset < end {
        let read = log
            .read(topic, partition, offset, ReadLimits { max_records: 1000, ..ReadLimits::default() })
            .expect("read the partition");
        assert!(!read.records.is_empty() || read.next_offset > offset, "no progress reading at {offset}");
        for r in &read.records {
            out.push((r.offset, String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()));
        }
        offset = read.next_offset;
    }
    out
}

#[test]
fn what_one_broker_takes_the_other_serves() {
    let cluster = Cluster::start(2);
    let first = connect(&cluster.broker(0));
    let second = connect(&cluster.broker(1));
    first.create_topic("orders", TopicConfig { partitions: 2, ..TopicConfig::default() }).expect("create the topic");

    // Appends through both brokers at once take one dense sequence of offsets per partition.
    std::thread::scope(|scope| {
        for (name, log) in [("a", &first), ("b", &second)] {
            scope.spawn(move || {
                for i in 0..50 {
                    let batch = (0..4).map(|j| record(&format!("{name}{i}-{j}"))).collect();
                    log.append("orders", i % 2, batch).expect("append");
                }
            });
        }
    });
    for partition in 0..2 {
        let through_first = values(&first, "orders", partition);
        let through_second = values(&second, "orders", partition);
        assert_eq!(through_first, through_second, "both brokers serve partition {partition} alike");
        let offsets: Vec<u64> = through_first.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (0..200).collect::<Vec<u64>>(), "dense offsets in partition {partition}");
        // Each batch's four records are back to back.
        for chunk in through_first.chunks(4) {
            let prefix = chunk[0].1.split('-').next().unwrap_or_default().to_string();
            assert!(chunk.iter().all(|(_, v)| v.starts_with(&format!("{prefix}-"))), "a batch split: {chunk:?}");
        }
    }

    // A topic made through one broker is described by the other; a group's commit through one is
    // read through the other.
    assert_eq!(second.describe_topic("orders").expect("describe").config.partitions, 2);
    first.commit_offset("readers", "orders", 1, 120, "through the first").expect("commit");
    let committed = second.committed_offsets("readers").expect("the committed offsets");
    assert!(
        committed.iter().any(|c| c.partition == 1 && c.offset == 120 && c.metadata == "through the first"),
        "{committed:?}"
    );
}

#[test]
fn a_log_on_both_brokers_goes_on_while_each_is_sigkilled_in_turn() {
    let mut cluster = Cluster::start(2);
    let log = connect(&cluster.bootstrap());
    log.create_topic("events", TopicConfig::default()).expect("create the topic");

    // Appends one record at a time until told to stop, retrying an append refused while the
    // cluster moves; each acknowledged value with its offset, and the values whose append failed.
    let appending = |seconds: u64, from: usize| {
        let log = &log;
        move || {
            let mut acknowledged = Vec::new();
            let mut failed = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let mut i = from;
            while Instant::now() < deadline {
                let value = format!("v{i}");
                match log.append("events", 0, vec![record(&value)]) {
                    Ok(result) => acknowledged.push((result.base_offset, value)),
                    Err(e) => failed.push((value, e.to_string())),
                }
                i += 1;
            }
            (acknowledged, failed)
        }
    };
    let mut acknowledged = Vec::new();
    let mut failed = Vec::new();
    let mut from = 0;
    for broker in 0..2 {
        let (acked, refused) = std::thread::scope(|scope| {
            let handle = scope.spawn(appending(8, from));
            std::thread::sleep(Duration::from_secs(2));
            cluster.kill(broker);
            handle.join().expect("the appending thread")
        });
        from += acked.len() + refused.len();
        assert!(
            !acked.is_empty(),
            "nothing appended around the kill of broker {broker}: {} appends failed, the first {:?}",
            refused.len(),
            &refused[..refused.len().min(3)]
        );
        eprintln!("broker {broker} killed: {} appends acknowledged, {} failed", acked.len(), refused.len());
        acknowledged.extend(acked);
        failed.extend(refused);
        cluster.restart(broker);
    }
    eprintln!(
        "{} appends acknowledged, {} failed: {:?}",
        acknowledged.len(),
        failed.len(),
        &failed[..failed.len().min(3)]
    );

    // Still writable and readable after both kills; every acknowledged record is where its
    // acknowledgement said, once.
    log.append("events", 0, vec![record("last")]).expect("an append after the kills");
    let stored = values(&log, "events", 0);
    let offsets: Vec<u64> = stored.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..stored.len() as u64).collect::<Vec<_>>(), "dense offsets");
    let by_offset: std::collections::BTreeMap<u64, String> = stored.iter().cloned().collect();
    for (offset, value) in &acknowledged {
        assert_eq!(by_offset.get(offset), Some(value), "acknowledged {value} at {offset}");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, value) in &stored {
        assert!(seen.insert(value), "{value} stored twice");
    }
    // A failed append may or may not have landed, but never more than once (checked above).
    assert!(failed.len() < acknowledged.len(), "most appends went through: {} failed", failed.len());
}
