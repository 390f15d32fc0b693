//! Topics: create, list, describe, delete, and the errors of each.

use super::{assert_err, kept_forever, record, LogHarness};
use crate::{LogError, ReadLimits, TopicConfig, INTERNAL_TOPIC_PREFIX};

/// Topics are created with their configuration and empty partitions, listed sorted, described,
/// and deleted with their data; names and configurations are validated; a name can be reused
/// after deletion; internal topics can be created but never deleted through the log.
pub fn topics_lifecycle<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    let baseline = log.list_topics();
    assert!(baseline.windows(2).all(|w| w[0] < w[1]), "list_topics is not sorted: {baseline:?}");

    let config = TopicConfig { partitions: 3, ..kept_forever(3) };
    let created = log.create_topic("orders", config.clone()).expect("create topic 'orders'");
    assert_eq!(created.name, "orders");
    assert_eq!(created.config, config, "create_topic describes the topic with another config");
    let ids: Vec<u32> = created.partitions.iter().map(|p| p.partition).collect();
    assert_eq!(ids, vec![0, 1, 2], "a new topic's partitions");
    for p in &created.partitions {
        assert_eq!((p.earliest_offset, p.latest_offset), (0, 0), "new partition {} is not empty", p.partition);
    }
    assert_eq!(log.describe_topic("orders").expect("describe 'orders'"), created);
    assert_eq!(log.topic_config("orders").expect("config of 'orders'"), config);

    assert_err!(
        log.create_topic("orders", TopicConfig::default()),
        LogError::TopicExists(_),
        "creating 'orders' twice"
    );
    assert_eq!(log.topic_config("orders").expect("config of 'orders'"), config, "a refused create changed the topic");
    for bad in ["", ".", "..", "a b", "naïve", "a/b", &"x".repeat(250)] {
        assert_err!(
            log.create_topic(bad, TopicConfig::default()),
            LogError::InvalidTopicName { .. },
            format!("creating topic {bad:?}")
        );
    }
    assert_err!(
        log.create_topic("zero", TopicConfig { partitions: 0, ..TopicConfig::default() }),
        LogError::InvalidConfig { .. },
        "creating a topic of no partitions"
    );
    let internal = format!("{INTERNAL_TOPIC_PREFIX}_conformance_state");
    log.create_topic(&internal, TopicConfig::compacted(1)).expect("the platform creates its internal topics");
    log.create_topic("audit", kept_forever(1)).expect("create topic 'audit'");

    let mut expected = baseline.clone();
    expected.extend(["orders".to_string(), "audit".to_string(), internal.clone()]);
    expected.sort();
    assert_eq!(log.list_topics(), expected, "list_topics after three creates");

    log.append("orders", 1, vec![record(None, Some("x"), None)]).expect("append to 'orders'/1");
    assert_err!(log.delete_topic(&internal), LogError::InternalTopic(_), "deleting an internal topic");
    assert!(log.describe_topic(&internal).is_ok(), "a refused delete removed the internal topic");
    assert_err!(
        log.delete_internal_topic("audit"),
        LogError::InvalidTopicName { .. },
        "deleting a user topic as an internal one"
    );
    assert!(log.describe_topic("audit").is_ok(), "a refused internal delete removed a user topic");
    log.delete_topic("orders").expect("delete 'orders'");
    assert_err!(log.describe_topic("orders"), LogError::TopicNotFound(_), "describing a deleted topic");
    assert_err!(log.topic_config("orders"), LogError::TopicNotFound(_), "config of a deleted topic");
    assert_err!(log.delete_topic("orders"), LogError::TopicNotFound(_), "deleting a deleted topic");
    assert!(!log.list_topics().contains(&"orders".to_string()), "a deleted topic is still listed");

    // The name is free again, and nothing of the old topic comes back with it.
    log.create_topic("orders", kept_forever(2)).expect("create 'orders' again");
    for partition in 0..2 {
        assert_eq!(log.offsets("orders", partition).expect("offsets"), (0, 0), "a recreated topic holds old data");
        let read = log.read("orders", partition, 0, ReadLimits::default()).expect("read a recreated topic");
        assert!(read.records.is_empty(), "a recreated topic serves old records: {:?}", read.records);
    }
    assert_eq!(log.describe_topic("orders").expect("describe").partitions.len(), 2);

    // Last, as nothing is checked after it: on tansu 0.6 (memory storage), deleting a topic makes
    // the broker forget the others.
    let leftover = format!("{INTERNAL_TOPIC_PREFIX}_conformance_leftover");
    log.create_topic(&leftover, kept_forever(2)).expect("create an internal topic");
    log.delete_internal_topic(&leftover).expect("the platform deletes an internal topic it no longer needs");
    assert_err!(log.describe_topic(&leftover), LogError::TopicNotFound(_), "describing a deleted internal topic");
}

/// Every call on a missing topic fails with `TopicNotFound`, and on a missing partition with
/// `PartitionNotFound` naming the partition count.
pub fn missing_topics_and_partitions<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let log = harness.open(&place);
    let one = || vec![record(None, Some("x"), None)];
    assert_err!(log.describe_topic("missing"), LogError::TopicNotFound(_), "describe a missing topic");
    assert_err!(log.topic_config("missing"), LogError::TopicNotFound(_), "config of a missing topic");
    assert_err!(log.delete_topic("missing"), LogError::TopicNotFound(_), "delete a missing topic");
    assert_err!(log.append("missing", 0, one()), LogError::TopicNotFound(_), "append to a missing topic");
    assert_err!(log.read("missing", 0, 0, ReadLimits::default()), LogError::TopicNotFound(_), "read a missing topic");
    assert_err!(log.offsets("missing", 0), LogError::TopicNotFound(_), "offsets of a missing topic");
    assert_err!(log.offset_for_timestamp("missing", 0, 0), LogError::TopicNotFound(_), "timestamp lookup");
    assert_err!(log.subscribe("missing", 0), LogError::TopicNotFound(_), "subscribe to a missing topic");

    log.create_topic("t", kept_forever(2)).expect("create 't'");
    let missing = |what: &str, result: Result<String, LogError>| match result {
        Err(LogError::PartitionNotFound { partition: 2, partitions: 2, .. }) => {}
        other => panic!("{what} partition 2 of a 2-partition topic: expected PartitionNotFound, got {other:?}"),
    };
    missing("append to", log.append("t", 2, one()).map(|r| format!("{r:?}")));
    missing("read", log.read("t", 2, 0, ReadLimits::default()).map(|r| format!("{r:?}")));
    missing("offsets of", log.offsets("t", 2).map(|r| format!("{r:?}")));
    missing("timestamp lookup in", log.offset_for_timestamp("t", 2, 0).map(|r| format!("{r:?}")));
    missing("subscribe to", log.subscribe("t", 2).map(|r| format!("{r:?}")));
    missing("commit to", log.commit_offset("g", "t", 2, 0, "").map(|r| format!("{r:?}")));
    assert_eq!(log.offsets("t", 1).expect("offsets of an existing partition"), (0, 0));
}
