//! Reads: limits, the end of the log, and lookups by timestamp.

use super::{kept_forever, record, LogHarness};
use crate::{LogError, ReadLimits, Record, StoredRecord};

fn payload(records: &[StoredRecord]) -> usize {
    records.iter().map(|r| r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len)).sum()
}

/// `max_records` bounds a read exactly; `max_bytes` is soft: a read returns at least one record,
/// however large, and more only while they fit. Reads return consecutive records from the first
/// at or after the requested offset, and `next_offset` is one past the last returned.
pub fn read_limits<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(1)).expect("create 't'");
    let value = "v".repeat(100);
    for batch in 0..10 {
        let records = (0..5).map(|i| record(Some(&format!("k{batch}-{i}")), Some(&value), None)).collect();
        log.append("t", 0, records).expect("append");
    }
    let big: Record = Record { value: Some(vec![7; 70_000]), ..record(Some("big"), None, None) };
    log.append("t", 0, vec![big]).expect("append a 70 kB record");
    let total = 51u64;

    for start in [0u64, 13, 45, 50] {
        for max_records in [1usize, 3, 7, 50, 100] {
            let read = log
                .read("t", 0, start, ReadLimits { max_records, max_bytes: 1 << 20 })
                .expect("read within the limits");
            let expected = (max_records as u64).min(total - start);
            let offsets: Vec<u64> = read.records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, (start..start + expected).collect::<Vec<_>>(), "read at {start}, {max_records} max");
            assert_eq!(read.next_offset, start + expected, "next_offset of a read at {start}, {max_records} max");
            assert_eq!(read.high_watermark, total);
        }
    }

    let one = log.read("t", 0, 0, ReadLimits { max_records: 10, max_bytes: 1 }).expect("read with max_bytes 1");
    assert_eq!(one.records.len(), 1, "max_bytes is soft: one record must come back");
    assert_eq!(one.next_offset, 1);
    let huge = log.read("t", 0, 50, ReadLimits { max_records: 10, max_bytes: 1000 }).expect("read the big record");
    assert_eq!(huge.records.len(), 1, "a record larger than max_bytes must still come back alone");
    assert_eq!(huge.records[0].value.as_ref().map(Vec::len), Some(70_000));

    let some = log.read("t", 0, 0, ReadLimits { max_records: 100, max_bytes: 1000 }).expect("read 1000 bytes");
    assert!(
        !some.records.is_empty() && some.records.len() < 10,
        "1000 bytes of 100-byte values gave {} records",
        some.records.len()
    );
    assert!(payload(&some.records) <= 1000, "records past max_bytes were returned");
    assert_eq!(some.next_offset, some.records.len() as u64);
}

/// Reading at the high watermark returns no records and `next_offset` equal to it; reading past
/// it is `OffsetOutOfRange` naming the range held, as is any read of an empty partition but at 0.
pub fn reads_at_and_past_the_end<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(1)).expect("create 't'");
    let empty = log.read("t", 0, 0, ReadLimits::default()).expect("read an empty partition at 0");
    assert!(empty.records.is_empty());
    assert_eq!((empty.next_offset, empty.high_watermark, empty.log_start_offset), (0, 0, 0));
    match log.read("t", 0, 1, ReadLimits::default()) {
        Err(LogError::OffsetOutOfRange { requested: 1, earliest: 0, latest: 0, .. }) => {}
        other => panic!("read at 1 of an empty partition: expected OffsetOutOfRange 0..0, got {other:?}"),
    }

    log.append("t", 0, (0..5).map(|i| record(None, Some(&i.to_string()), None)).collect()).expect("append");
    let at_end = log.read("t", 0, 5, ReadLimits::default()).expect("read at the high watermark");
    assert!(at_end.records.is_empty(), "a read at the high watermark returned {:?}", at_end.records);
    assert_eq!((at_end.next_offset, at_end.high_watermark, at_end.log_start_offset), (5, 5, 0));
    let middle = log.read("t", 0, 3, ReadLimits::default()).expect("read at 3");
    assert_eq!((middle.records.len(), middle.next_offset, middle.high_watermark), (2, 5, 5));
    for past in [6, 1000, u64::MAX] {
        match log.read("t", 0, past, ReadLimits::default()) {
            Err(LogError::OffsetOutOfRange { requested, earliest: 0, latest: 5, .. }) if requested == past => {}
            other => panic!("read at {past} past the high watermark 5: expected OffsetOutOfRange, got {other:?}"),
        }
    }
}

/// `offset_for_timestamp` answers the first offset whose timestamp is at or after the one asked,
/// whatever order producers' timestamps come in, across segments, and `None` past the newest.
pub fn offset_for_timestamp<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    log.create_topic("t", kept_forever(1)).expect("create 't'");
    assert_eq!(log.offset_for_timestamp("t", 0, 0).expect("lookup in an empty partition"), None);

    let stamps = [100i64, 300, 200, 300, 500];
    let stamped = |ts: &[i64]| ts.iter().map(|&t| record(None, Some("x"), Some(t))).collect::<Vec<_>>();
    log.append("t", 0, stamped(&stamps[..2])).expect("append");
    log.append("t", 0, stamped(&stamps[2..])).expect("append");
    for (t, expected) in
        [(0, Some(0)), (100, Some(0)), (101, Some(1)), (200, Some(1)), (300, Some(1)), (301, Some(4)), (500, Some(4))]
            .into_iter()
            .chain([(501, None), (i64::MAX, None)])
    {
        assert_eq!(log.offset_for_timestamp("t", 0, t).expect("lookup"), expected, "timestamp {t} in {stamps:?}");
    }

    // Many segments' worth of mostly rising timestamps, checked against a scan.
    log.create_topic("many", kept_forever(1)).expect("create 'many'");
    let mut stamps = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for batch in 0..40 {
        let ts: Vec<i64> = (0..10)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (batch * 10 + i) * 10 + (x % 60) as i64
            })
            .collect();
        log.append("many", 0, stamped(&ts)).expect("append");
        stamps.extend(ts);
    }
    for t in (0..4100).step_by(37) {
        let expected = stamps.iter().position(|&s| s >= t).map(|p| p as u64);
        assert_eq!(log.offset_for_timestamp("many", 0, t).expect("lookup"), expected, "timestamp {t}");
    }
}
