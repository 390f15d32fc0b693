//! A log's life: persistence across a clean shutdown, and what shutdown leaves callable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{assert_err, kept_forever, read_all, record, reopen, LogHarness};
use crate::{CleanupPolicy, EventLog, Header, LogError, ReadLimits, Record, TimestampType, TopicConfig};

/// Everything observable of a log that must survive a reopen.
fn snapshot(log: &dyn EventLog) -> Vec<String> {
    let mut out = vec![format!("{:?}", log.list_topics())];
    for topic in log.list_topics() {
        let description = log.describe_topic(&topic).expect("describe a listed topic");
        out.push(format!("{topic}: {:?}", description.config));
        for p in &description.partitions {
            let offsets = log.offsets(&topic, p.partition).expect("offsets of a described partition");
            out.push(format!("{topic}/{}: offsets {offsets:?}", p.partition));
            for r in read_all(log, &topic, p.partition, 100) {
                out.push(format!("{topic}/{}: {r:?}", p.partition));
            }
        }
    }
    out.push(format!("{:?}", log.committed_offsets("persist").expect("positions of the group")));
    out
}

/// After a clean shutdown the same log opens with the same topics and configurations, records,
/// offsets and committed positions; appends continue where they stopped, lookups and
/// subscriptions work on what was reopened.
pub fn persistence_across_reopen<H: LogHarness>(harness: &H) {
    let earliest = harness.capabilities().earliest_timestamp;
    let place = harness.new_place();
    let mut log = harness.open(&place);
    let compacted = TopicConfig { cleanup_policy: CleanupPolicy::Compact, ..kept_forever(2) };
    let stamped = TopicConfig { timestamp_type: TimestampType::LogAppendTime, ..kept_forever(1) };
    log.create_topic("plain", kept_forever(3)).expect("create 'plain'");
    log.create_topic("compacted", compacted).expect("create 'compacted'");
    log.create_topic("stamped", stamped).expect("create 'stamped'");
    log.create_topic("empty", kept_forever(1)).expect("create 'empty'");
    let header = Header { key: "h".into(), value: Some(b"v".to_vec()) };
    for batch in 0..30u32 {
        let records: Vec<Record> = (0..(1 + batch % 4))
            .map(|i| Record {
                headers: vec![header.clone()],
                ..record(
                    Some(&format!("k{}", (batch + i) % 5)),
                    Some(&format!("{batch}-{i}")),
                    Some(earliest + i64::from(batch)),
                )
            })
            .collect();
        log.append("plain", batch % 3, records.clone()).expect("append to 'plain'");
        log.append("compacted", batch % 2, records.clone()).expect("append to 'compacted'");
        log.append("stamped", 0, records).expect("append to 'stamped'");
    }
    log.commit_offset("persist", "plain", 2, 4, "meta").expect("commit");
    let before = snapshot(&*log);

    log = reopen(harness, &place, log);
    assert_eq!(snapshot(&*log), before, "the log changed across a clean reopen");
    let (_, end) = log.offsets("plain", 1).expect("offsets after reopen");
    let mut rx = log.subscribe("plain", 1).expect("subscribe after reopen");
    assert_eq!(*rx.borrow_and_update(), end, "a subscription after reopen starts elsewhere");
    let late = earliest + 99;
    let next = log.append("plain", 1, vec![record(None, Some("after"), Some(late))]).expect("append after reopen");
    assert_eq!(next.base_offset, end, "appends after a reopen do not continue at the high watermark");
    assert_eq!(log.offset_for_timestamp("plain", 1, late).expect("lookup after reopen"), Some(end));
    assert_eq!(log.offset_for_timestamp("plain", 1, 0).expect("lookup after reopen"), Some(0));

    let before = snapshot(&*log);
    log = reopen(harness, &place, log);
    assert_eq!(snapshot(&*log), before, "the log changed across a second reopen");
}

/// `shutdown` flushes and closes: appends racing it either are acknowledged (and found after a
/// reopen) or fail with `Closed`; afterwards every fallible call fails with `Closed`, `list_topics`
/// lists nothing, subscriptions have ended, and a second `shutdown` is `Ok`.
pub fn shutdown_closes_the_log<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(1)).expect("create 't'");
    log.commit_offset("g", "t", 0, 1, "").expect("commit");
    let rx = log.subscribe("t", 0).expect("subscribe");

    let (started, shut) = (AtomicBool::new(false), AtomicBool::new(false));
    let acknowledged = std::thread::scope(|scope| {
        let appender = scope.spawn(|| {
            let mut acknowledged = Vec::new();
            for i in 0u64.. {
                let after_shutdown = shut.load(Ordering::Acquire);
                match log.append("t", 0, vec![record(None, Some(&i.to_string()), None)]) {
                    Ok(_) if after_shutdown => return Err("an append after shutdown succeeded".to_string()),
                    Ok(result) => acknowledged.push((result.base_offset, i)),
                    Err(LogError::Closed) => break,
                    Err(e) => return Err(format!("an append racing shutdown failed with {e:?} instead of Closed")),
                }
                started.store(true, Ordering::Release);
            }
            Ok(acknowledged)
        });
        while !started.load(Ordering::Acquire) && !appender.is_finished() {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        log.shutdown().expect("shutdown");
        shut.store(true, Ordering::Release);
        appender.join().expect("appender panicked")
    });
    let acknowledged = acknowledged.unwrap_or_else(|failure| panic!("{failure}"));
    assert!(!acknowledged.is_empty());

    assert!(rx.has_changed().is_err(), "a subscription outlived shutdown");
    let one = || vec![record(None, Some("x"), None)];
    assert_err!(log.create_topic("u", kept_forever(1)), LogError::Closed, "create_topic after shutdown");
    assert_err!(log.delete_topic("t"), LogError::Closed, "delete_topic after shutdown");
    assert_err!(log.describe_topic("t"), LogError::Closed, "describe_topic after shutdown");
    assert_err!(log.topic_config("t"), LogError::Closed, "topic_config after shutdown");
    assert_err!(log.append("t", 0, one()), LogError::Closed, "append after shutdown");
    assert_err!(log.read("t", 0, 0, ReadLimits::default()), LogError::Closed, "read after shutdown");
    assert_err!(log.offset_for_timestamp("t", 0, 0), LogError::Closed, "offset_for_timestamp after shutdown");
    assert_err!(log.offsets("t", 0), LogError::Closed, "offsets after shutdown");
    assert_err!(log.subscribe("t", 0), LogError::Closed, "subscribe after shutdown");
    assert_err!(log.commit_offset("g", "t", 0, 2, ""), LogError::Closed, "commit_offset after shutdown");
    assert_err!(log.committed_offsets("g"), LogError::Closed, "committed_offsets after shutdown");
    assert_err!(log.run_maintenance(), LogError::Closed, "run_maintenance after shutdown");
    assert!(log.list_topics().is_empty(), "list_topics after shutdown lists {:?}", log.list_topics());
    log.shutdown().expect("a second shutdown");
    drop(log);

    let log = harness.open(&place);
    let stored = read_all(&*log, "t", 0, 500);
    for (offset, i) in &acknowledged {
        let found = stored.get(*offset as usize).and_then(|r| r.value.clone());
        assert_eq!(found, Some(i.to_string().into_bytes()), "acknowledged offset {offset} lost in shutdown");
    }
    for (i, r) in stored.iter().enumerate() {
        assert_eq!(r.offset, i as u64, "offsets are not dense after shutdown");
    }
    assert_eq!(log.committed_offsets("g").expect("positions")[0].offset, 1);
}
