//! The leader election among servers on one cluster, on a real Kafka-protocol broker (tansu): one
//! leader at a time, kept when others join, handed over when it leaves or is killed.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_kafka::leader::{ElectionOptions, LeaderElection};
use weft_kafka::testing::{Broker, Cluster};
use weft_kafka::{KafkaLog, KafkaOptions};
use weft_log::{EventLog, ReadLimits};

fn connect(broker: &Broker) -> Arc<KafkaLog> {
    connect_to(&broker.bootstrap())
}

fn connect_to(bootstrap: &str) -> Arc<KafkaLog> {
    let mut options = KafkaOptions::new(bootstrap);
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

/// Whether `members` hold every task slot between them, each slot once, with the leader holding
/// slot 0 (the leadership) and every member some slots.
fn share_the_slots(members: &[&LeaderElection]) -> bool {
    let mut held: Vec<u32> = members.iter().flat_map(|m| m.slots()).collect();
    held.sort_unstable();
    let all: Vec<u32> = (0..members[0].slot_count()).collect();
    held == all && members.iter().all(|m| !m.slots().is_empty() && m.is_leader() == m.slots().contains(&0))
}

/// Every identity announced on the election topic, oldest first; an error when the broker does
/// not answer, or answers with fewer records than its offsets promise (a topic just created).
fn announcements(log: &KafkaLog) -> weft_log::Result<Vec<String>> {
    let (start, end) = log.offsets("_weft_leader", 0)?;
    let read = log.read("_weft_leader", 0, start, ReadLimits { max_records: 1000, ..ReadLimits::default() })?;
    if read.records.len() as u64 != end - start {
        return Err(weft_log::LogError::Backend(format!(
            "read {} announcements of offsets {start}..{end}",
            read.records.len()
        )));
    }
    Ok(read
        .records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect())
}

/// The environment variable that makes [`member_process`] a member rather than a skipped test.
const MEMBER: &str = "WEFT_TEST_ELECTION_MEMBER";

/// A member of the election in a process of its own, which the test can SIGKILL: this test
/// binary run again with only the ignored [`member_process`], given the broker and identity.
struct MemberProcess(Child);

impl MemberProcess {
    fn start(broker: &Broker, identity: &str) -> MemberProcess {
        let binary = std::env::current_exe().expect("the test binary's path");
        let child = Command::new(binary)
            .args(["member_process", "--exact", "--ignored", "--nocapture"])
            .env(MEMBER, format!("{} {identity}", broker.bootstrap()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the member process");
        MemberProcess(child)
    }

    /// SIGKILL: no LeaveGroup, no close; the coordinator only notices the silence.
    fn kill(&mut self) {
        self.0.kill().expect("kill the member process");
        let _ = self.0.wait();
    }
}

impl Drop for MemberProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Not a test: the body of [`MemberProcess`], run in the child process it starts.
#[test]
#[ignore = "a member process that leader_killed_by_sigkill_is_replaced_within_20_s starts"]
fn member_process() {
    let spec = std::env::var(MEMBER).unwrap_or_else(|_| panic!("{MEMBER} (\"BOOTSTRAP IDENTITY\") is not set"));
    let (bootstrap, identity) = spec.split_once(' ').expect("BOOTSTRAP IDENTITY");
    let mut options = KafkaOptions::new(bootstrap);
    options.timeout = Duration::from_secs(20);
    let log = KafkaLog::connect(options).expect("connect to the test broker");
    let _member = LeaderElection::join(log, ElectionOptions::new(identity)).expect("join the election");
    // Lead (or follow) until killed.
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn one_member_leads_keeps_leading_when_others_join_and_hands_over_when_it_leaves() {
    let broker = Broker::start();
    let first = join(&broker, "http://first:8080");
    within(20, "the first member leading", || first.is_leader());
    within(10, "the announcement", || first.leader().ok().flatten().as_deref() == Some("http://first:8080"));

    // Joining members do not take the leadership over (the longest-serving member is assigned
    // partition 0): once the rebalances settle, the first leads again and nobody else ever
    // announced itself.
    let second = join(&broker, "http://second:8080");
    let third = join(&broker, "http://third:8080");
    within(20, "the rebalances after two joins", || {
        second.has_joined() && third.has_joined() && first.is_leader() && leaders(&[&first, &second, &third]) == 1
    });
    // A few heartbeats later nothing has moved.
    std::thread::sleep(Duration::from_secs(2));
    assert!(first.is_leader() && !second.is_leader() && !third.is_leader());
    // The task slots are shared: a query of three tasks runs one on each member.
    assert_eq!(first.slot_count(), 12);
    assert!(share_the_slots(&[&first, &second, &third]), "{:?}", [first.slots(), second.slots(), third.slots()]);
    for task in 0..3 {
        let runners = [&first, &second, &third].iter().filter(|m| m.runs_task(task, 3)).count();
        assert_eq!(runners, 1, "task {task} of 3 runs on exactly one member");
    }
    assert!(first.runs_task(0, 1), "a query of one task runs on the leader");
    let announced = announcements(&connect(&broker)).expect("read the announcements");
    assert!(announced.iter().all(|a| a == "http://first:8080"), "announcements: {announced:?}");

    // The leader leaves: exactly one of the others takes over, and says so.
    let left = Instant::now();
    first.leave();
    within(20, "a new leader", || leaders(&[&second, &third]) == 1);
    let handover = left.elapsed();
    let (leader, other) = if second.is_leader() { (&second, &third) } else { (&third, &second) };
    let expected = if second.is_leader() { "http://second:8080" } else { "http://third:8080" };
    within(10, "the new leader's announcement", || other.leader().ok().flatten().as_deref() == Some(expected));
    assert!(leader.is_leader() && !other.is_leader());
    within(10, "the leaver's slots moving to the others", || share_the_slots(&[&second, &third]));
    // Seconds, not the minutes of a rebalance timeout (about 7 s on tansu 0.6).
    assert!(handover < Duration::from_secs(15), "the handover took {handover:?}");
}

#[test]
fn leader_killed_by_sigkill_is_replaced_within_20_s() {
    let broker = Broker::start();
    let log = connect(&broker);
    let mut killed = MemberProcess::start(&broker, "http://killed:8080");
    within(30, "the member process leading", || {
        announcements(&log).unwrap_or_default().last().map(String::as_str) == Some("http://killed:8080")
    });

    // Two members in this process join after it; the member process keeps the leadership.
    let second = join(&broker, "http://second:8080");
    std::thread::sleep(Duration::from_millis(50));
    let third = join(&broker, "http://third:8080");
    within(20, "both members in the group", || second.has_joined() && third.has_joined());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(leaders(&[&second, &third]), 0, "a joining member took the leadership");
    assert_eq!(second.leader().expect("read the announcement").as_deref(), Some("http://killed:8080"));

    // SIGKILL the leader: the longest-serving survivor takes over and announces itself. On tansu
    // the repair may hand the leadership to the newest survivor for a moment first (the survivor
    // that repairs leaves the group, and the other is alone in it until it rejoins).
    let killed_at = Instant::now();
    killed.kill();
    within(20, "the longest-serving survivor leading after the SIGKILL", || second.is_leader() && !third.is_leader());
    let takeover = killed_at.elapsed();
    within(10, "the new leader's announcement", || {
        third.leader().ok().flatten().as_deref() == Some("http://second:8080")
    });
    // It stays that way: no second handover, no second leader.
    std::thread::sleep(Duration::from_secs(3));
    assert!(second.is_leader() && !third.is_leader());
    assert!(
        share_the_slots(&[&second, &third]),
        "the killed member's slots moved: {:?}",
        [second.slots(), third.slots()]
    );
    eprintln!("leadership moved {takeover:?} after the SIGKILL");
}

#[test]
fn a_follower_killed_by_sigkill_leaves_the_leadership_where_it_is() {
    let broker = Broker::start();
    let log = connect(&broker);
    let first = join(&broker, "http://first:8080");
    within(20, "the first member leading", || first.is_leader());
    let mut killed = MemberProcess::start(&broker, "http://killed:8080");
    let third = join(&broker, "http://third:8080");
    within(30, "the rebalances after two joins", || third.has_joined() && first.is_leader());

    // The follower's session times out and the group rebalances (on tansu, the repair may make a
    // survivor rejoin once): the first member leads throughout the end state, alone.
    killed.kill();
    std::thread::sleep(Duration::from_secs(20));
    within(10, "the first member leading after the rebalances", || first.is_leader());
    assert!(!third.is_leader());
    // Not asserted: that the killed follower's task slots move to the survivors. On tansu 0.6 the
    // group sometimes keeps the dead member past its session timeout (about two runs in five here,
    // its assignment still held 30 s after the kill) while the survivors' heartbeats succeed; a
    // Kafka coordinator expires it. ARCHITECTURE.md, The Kafka backend.
    let announced = announcements(&log).expect("read the announcements");
    assert!(announced.iter().all(|a| a == "http://first:8080"), "announcements: {announced:?}");
}

/// Members talking to different brokers of one cluster (tansu brokers sharing a PostgreSQL store,
/// so the group's state is the store's) elect one leader between them, share the task slots, and
/// the leadership moves to the other member when the leader leaves.
#[test]
fn members_on_different_brokers_of_one_cluster_elect_one_leader() {
    let cluster = Cluster::start(2);
    let join_through = |broker: usize, identity: &str| {
        LeaderElection::join(connect_to(&cluster.broker(broker)), ElectionOptions::new(identity))
            .expect("join the election")
    };
    let first = join_through(0, "http://first:8080");
    within(20, "the first member leading", || first.is_leader());
    let second = join_through(1, "http://second:8080");
    within(20, "the rebalance after the second joined", || {
        second.has_joined()
            && first.is_leader()
            && leaders(&[&first, &second]) == 1
            && share_the_slots(&[&first, &second])
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(first.is_leader() && !second.is_leader(), "the leadership moved without cause");
    let through_second = connect_to(&cluster.broker(1));
    within(10, "the announcement, read through the other broker", || {
        announcements(&through_second).ok().and_then(|a| a.last().cloned()).as_deref() == Some("http://first:8080")
    });

    first.leave();
    within(20, "the member on the other broker leading", || second.is_leader());
    within(10, "its announcement", || second.leader().ok().flatten().as_deref() == Some("http://second:8080"));
}
