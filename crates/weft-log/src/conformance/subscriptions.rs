//! Subscriptions: the one way to wait for new records without polling.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{kept_forever, record, LogHarness};
use crate::{EventLog, ReadLimits};

/// How long a notification may trail the append that caused it.
const NOTIFICATION_DEADLINE: Duration = Duration::from_secs(10);

/// Waits until the receiver holds at least `at_least`, returning the value.
fn wait_for(rx: &mut watch::Receiver<u64>, at_least: u64, what: &str) -> u64 {
    let deadline = Instant::now() + NOTIFICATION_DEADLINE;
    loop {
        let value = *rx.borrow_and_update();
        if value >= at_least {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: the watermark receiver stayed at {value}, expected {at_least}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A subscription starts at the partition's high watermark and follows it: after an append its
/// receiver changes to the new high watermark, and every record below a value it shows is
/// readable. Other partitions' receivers do not change; deleting the topic ends its subscriptions
/// by the time `delete_topic` returns.
pub fn subscriptions_follow_the_high_watermark<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(2)).expect("create 't'");
    let mut rx = log.subscribe("t", 0).expect("subscribe to t/0");
    let mut second = log.subscribe("t", 0).expect("subscribe to t/0 again");
    let mut other = log.subscribe("t", 1).expect("subscribe to t/1");
    assert_eq!(*rx.borrow_and_update(), 0, "a new partition's subscription starts at 0");
    assert_eq!(*other.borrow_and_update(), 0);

    let records = |n: usize| (0..n).map(|i| record(None, Some(&i.to_string()), None)).collect();
    log.append("t", 0, records(2)).expect("append 2 records");
    let seen = wait_for(&mut rx, 2, "after appending 2 records");
    assert_eq!(seen, 2, "the receiver shows more than was appended");
    assert_readable(&*log, seen);
    assert_eq!(wait_for(&mut second, 2, "second subscriber"), 2, "every subscriber is notified");
    assert!(!rx.has_changed().expect("subscription open"), "the receiver changed without an append");

    for _ in 0..3 {
        log.append("t", 0, records(3)).expect("append 3 records");
    }
    let seen = wait_for(&mut rx, 11, "after three more appends");
    assert_eq!(seen, 11);
    assert_readable(&*log, seen);
    assert!(!other.has_changed().expect("subscription to t/1 open"), "appends to t/0 notified t/1");

    let late = log.subscribe("t", 0).expect("subscribe after appends");
    assert_eq!(*late.borrow(), 11, "a subscription starts at the current high watermark");

    // Ending is immediate: a tail waiting on a deleted topic must not wait for a timeout.
    log.delete_topic("t").expect("delete 't'");
    for (name, receiver) in [("t/0", &rx), ("t/1", &other)] {
        assert!(receiver.has_changed().is_err(), "deleting the topic did not end the subscription to {name}");
    }
}

fn assert_readable(log: &dyn EventLog, watermark: u64) {
    let read = log
        .read("t", 0, 0, ReadLimits { max_records: 1000, max_bytes: 1 << 20 })
        .expect("read below a notified watermark");
    assert_eq!(read.records.len() as u64, watermark, "records below the notified watermark {watermark} are missing");
}
