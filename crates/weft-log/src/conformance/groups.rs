//! Consumer groups: committed positions.

use super::{assert_err, kept_forever, now_ms, reopen, LogHarness};
use crate::{CommittedOffset, LogError};

fn positions(committed: &[CommittedOffset]) -> Vec<(String, u32, u64, String)> {
    committed.iter().map(|c| (c.topic.clone(), c.partition, c.offset, c.metadata.clone())).collect()
}

/// A commit records a group's next offset with its metadata; the latest commit of a partition
/// wins; `committed_offsets` lists a group's positions sorted by topic and partition, survives a
/// reopen, and forgets the positions in a deleted topic. Bad group names and missing topics are
/// refused.
pub fn consumer_group_commits<H: LogHarness>(harness: &H) {
    let place = harness.new_place();
    let mut log = harness.open(&place);
    log.create_topic("b", kept_forever(2)).expect("create 'b'");
    log.create_topic("a", kept_forever(1)).expect("create 'a'");
    assert!(log.committed_offsets("g1").expect("positions of an unknown group").is_empty());

    let before = now_ms();
    let first = log.commit_offset("g1", "b", 1, 10, "first").expect("commit");
    let after = now_ms();
    assert_eq!((first.topic.as_str(), first.partition, first.offset, first.metadata.as_str()), ("b", 1, 10, "first"));
    assert!(
        (before..=after).contains(&first.commit_timestamp),
        "commit_timestamp {} is not now",
        first.commit_timestamp
    );
    log.commit_offset("g1", "b", 1, 12, "").expect("commit again");
    log.commit_offset("g1", "b", 0, 7, "zéro\u{1F600}").expect("commit");
    log.commit_offset("g1", "a", 0, 3, "").expect("commit");
    log.commit_offset("g2", "b", 1, 1, "other group").expect("commit");
    // Offsets are the consumer's business: a position beyond the high watermark is recorded as is.
    log.commit_offset("g3", "a", 0, 1_000_000, "").expect("commit past the end");

    let g1 = vec![
        ("a".to_string(), 0, 3, String::new()),
        ("b".to_string(), 0, 7, "zéro\u{1F600}".to_string()),
        ("b".to_string(), 1, 12, String::new()),
    ];
    assert_eq!(positions(&log.committed_offsets("g1").expect("positions of g1")), g1);
    assert_eq!(
        positions(&log.committed_offsets("g2").expect("positions of g2")),
        vec![("b".to_string(), 1, 1, "other group".to_string())]
    );

    for bad in ["", "a\nb", "nul\u{0}", &"g".repeat(256)] {
        assert_err!(log.commit_offset(bad, "a", 0, 1, ""), LogError::InvalidGroup(_), format!("group {bad:?}"));
        assert_err!(log.committed_offsets(bad), LogError::InvalidGroup(_), format!("positions of group {bad:?}"));
    }
    assert_err!(log.commit_offset("g1", "missing", 0, 1, ""), LogError::TopicNotFound(_), "commit to a missing topic");
    assert_eq!(positions(&log.committed_offsets("g1").expect("positions")), g1, "a refused commit changed g1");

    log = reopen(harness, &place, log);
    assert_eq!(positions(&log.committed_offsets("g1").expect("positions after reopen")), g1);
    assert_eq!(log.committed_offsets("g3").expect("positions of g3")[0].offset, 1_000_000);

    log.delete_topic("b").expect("delete 'b'");
    assert_eq!(positions(&log.committed_offsets("g1").expect("positions")), g1[..1].to_vec(), "b's commits stayed");
    assert!(log.committed_offsets("g2").expect("positions of g2").is_empty(), "g2 kept a deleted topic's commit");
    log = reopen(harness, &place, log);
    assert_eq!(positions(&log.committed_offsets("g1").expect("positions after reopen")), g1[..1].to_vec());
    assert!(log.committed_offsets("g2").expect("positions of g2").is_empty());
    // A topic created again under the name starts with no positions.
    log.create_topic("b", kept_forever(2)).expect("create 'b' again");
    assert_eq!(log.committed_offsets("g1").expect("positions").len(), 1);
}
