//! The leader election among servers on one cluster, on a real Kafka-protocol broker (tansu): one
//! leader at a time, kept when others join, handed over when it leaves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_kafka::leader::{ElectionOptions, LeaderElection};
use weft_kafka::testing::Broker;
use weft_kafka::{KafkaLog, KafkaOptions};

fn connect(broker: &Broker) -> Arc<KafkaLog> {
    let mut options = KafkaOptions::new(broker.bootstrap());
    options.timeout = Duration::from_secs(20);
    KafkaLog::connect(options).expect("connect to the test broker")
}

fn join(broker: &Broker, identity: &str) -> LeaderElection {
    LeaderElection::join(connect(broker), ElectionOptions::new(identity)).expect("join the election")
}

/// Waits up to `seconds` for `condition`.
fn within(seconds: u64, what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !condition() {
        assert!(Instant::now() < deadline, "{what} did not happen within {seconds} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn leaders(members: &[&LeaderElection]) -> usize {
    members.iter().filter(|m| m.is_leader()).count()
}

#[test]
fn one_member_leads_keeps_leading_when_others_join_and_hands_over_when_it_leaves() {
    let broker = Broker::start();
    let first = join(&broker, "http://first:8080");
    within(20, "the first member leading", || first.is_leader());
    within(10, "the announcement", || first.leader().ok().flatten().as_deref() == Some("http://first:8080"));

    // Joining members do not take the leadership over (cooperative-sticky assignment).
    let second = join(&broker, "http://second:8080");
    let third = join(&broker, "http://third:8080");
    // Both have joined once the coordinator's rebalance settles; give it a few heartbeats.
    std::thread::sleep(Duration::from_secs(4));
    assert!(first.is_leader(), "the first member lost the leadership to a joining member");
    assert_eq!(leaders(&[&first, &second, &third]), 1);
    assert_eq!(second.leader().expect("read the announcement").as_deref(), Some("http://first:8080"));

    // The leader leaves: exactly one of the others takes over, and says so.
    let left = Instant::now();
    first.leave();
    within(20, "a new leader", || leaders(&[&second, &third]) == 1);
    let handover = left.elapsed();
    let (leader, other) = if second.is_leader() { (&second, &third) } else { (&third, &second) };
    let expected = if second.is_leader() { "http://second:8080" } else { "http://third:8080" };
    within(10, "the new leader's announcement", || other.leader().ok().flatten().as_deref() == Some(expected));
    assert!(leader.is_leader() && !other.is_leader());
    // Seconds, not the minutes of a rebalance timeout (about 7 s on tansu 0.6).
    assert!(handover < Duration::from_secs(15), "the handover took {handover:?}");
}
