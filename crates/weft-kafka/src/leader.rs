//! Which of the servers on one cluster leads, decided by Kafka's own group coordinator (as
//! Confluent's Schema Registry elects its primary): every server joins one consumer group over a
//! one-partition topic, and the member the coordinator assigns partition 0 to is the leader.
//!
//! - The assignment strategy is `cooperative-sticky`, so a server joining leaves the leadership
//!   where it is; only the leader leaving (or dying) moves it.
//! - A leader that closes leaves the group at once and another member is assigned partition 0 by
//!   the rebalance that follows: 3 to 7 s on tansu 0.6, whose coordinator waits about 3 s in each
//!   join round, and a cooperative rebalance takes two rounds (the same with confluent-kafka's
//!   Python client; the eager `range` strategy hands over in under a second there, but moves the
//!   leadership whenever a server joins). A leader that dies is noticed when its session times out
//!   ([`ElectionOptions::session_timeout`], 6 s by default, the least brokers accept), then the
//!   same rebalance follows.
//! - A leader that is cut off from the coordinator gives up leadership when librdkafka sees its
//!   session lost (the rebalance callback revokes partition 0); until then, for at most the session
//!   timeout, two servers may both believe they lead. Writes that must have one order are therefore
//!   fenced where they land as well (not done yet: issue 14).
//! - The leader announces itself by appending its identity (an address other servers can forward
//!   writes to) to the election topic; [`LeaderElection::leader`] reads the latest announcement.
//!
//! The member polls its consumer on a thread of its own: the rebalance callbacks run there, and the
//! polls keep it within `max.poll.interval.ms`. Nothing is ever consumed from the topic.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, TopicPartitionList};
use tokio::sync::watch;
use weft_log::{EventLog, LogError, ReadLimits, Record, Result, TopicConfig};

use crate::admin::client_error;
use crate::KafkaLog;

/// How a server takes part in the election.
#[derive(Debug, Clone)]
pub struct ElectionOptions {
    /// The consumer group the servers of one mesh share.
    pub group: String,
    /// The one-partition topic the group is over; the leader's announcements are its records.
    pub topic: String,
    /// What this server announces when it leads (for example the URL followers forward to).
    pub identity: String,
    /// How long the coordinator waits for a silent member before moving its partition.
    pub session_timeout: Duration,
}

impl ElectionOptions {
    /// The defaults for `identity`: group `_weft_leader` over topic `_weft_leader`, 6 s sessions.
    pub fn new(identity: impl Into<String>) -> Self {
        ElectionOptions {
            group: "_weft_leader".into(),
            topic: "_weft_leader".into(),
            identity: identity.into(),
            session_timeout: Duration::from_secs(6),
        }
    }
}

/// How often the member's consumer is polled (rebalance callbacks run within these polls).
const POLL: Duration = Duration::from_millis(50);

/// This server's membership in the election; it leaves the group when dropped.
pub struct LeaderElection {
    log: Arc<KafkaLog>,
    topic: String,
    leading: watch::Receiver<bool>,
    joined: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Tells the member's thread what the coordinator assigned.
struct Member {
    topic: String,
    leading: watch::Sender<bool>,
    /// Set by the first assignment, whatever it holds: the member is in the group.
    joined: Arc<AtomicBool>,
}

impl ClientContext for Member {}

impl ConsumerContext for Member {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if matches!(rebalance, Rebalance::Assign(_)) {
            self.joined.store(true, Ordering::Relaxed);
        }
        let holds_partition =
            |list: &TopicPartitionList| list.elements_for_topic(&self.topic).iter().any(|p| p.partition() == 0);
        match rebalance {
            Rebalance::Assign(list) if holds_partition(list) => {
                self.leading.send_replace(true);
            }
            Rebalance::Revoke(list) if holds_partition(list) => {
                self.leading.send_replace(false);
            }
            // Another member's partitions, or an error the next rebalance repairs: nothing changes
            // here, except that a failed rebalance may have lost the assignment.
            Rebalance::Error(_) => {
                self.leading.send_replace(false);
            }
            _ => {}
        }
    }
}

impl LeaderElection {
    /// Joins the election on `log`'s cluster, creating the election topic when it is missing.
    /// Leadership is decided asynchronously: watch [`LeaderElection::watch`].
    pub fn join(log: Arc<KafkaLog>, options: ElectionOptions) -> Result<LeaderElection> {
        match log.create_topic(&options.topic, TopicConfig { partitions: 1, ..TopicConfig::default() }) {
            Ok(_) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e),
        }
        let partitions = log.topic_config(&options.topic)?.partitions;
        if partitions != 1 {
            return Err(LogError::Backend(format!(
                "the election topic {} must have one partition, it has {partitions}",
                options.topic
            )));
        }
        let (sender, leading) = watch::channel(false);
        let joined = Arc::new(AtomicBool::new(false));
        let member = Member { topic: options.topic.clone(), leading: sender, joined: joined.clone() };
        let mut config = log.shared.options.client_config();
        config
            .set("group.id", &options.group)
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", options.session_timeout.as_millis().to_string())
            .set("heartbeat.interval.ms", (options.session_timeout.as_millis() / 6).max(100).to_string())
            // The coordinator waits this long for members to rejoin a rebalance; a dead member never
            // does, and tansu waits the whole of it (Kafka's default is 5 minutes). The thread polls
            // every 50 ms, so only a hung process comes near it.
            .set("max.poll.interval.ms", (options.session_timeout.as_millis() * 2).to_string())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let consumer: BaseConsumer<Member> =
            config.create_with_context(member).map_err(|e| client_error("the election member", &e))?;
        consumer.subscribe(&[&options.topic]).map_err(|e| client_error("the election member", &e))?;

        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let log = log.clone();
            let mut announced = leading.clone();
            let (topic, identity) = (options.topic.clone(), options.identity.clone());
            std::thread::Builder::new()
                .name("weft-kafka-leader".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        // Records are never consumed: polling runs the rebalance callbacks and
                        // keeps the member within `max.poll.interval.ms`.
                        let _ = consumer.poll(POLL);
                        if announced.has_changed().unwrap_or(false) && *announced.borrow_and_update() {
                            announce(log.as_ref(), &topic, &identity);
                        }
                    }
                    consumer.context().leading.send_replace(false);
                    // Dropping the consumer closes it, which leaves the group now, so another
                    // member is assigned without waiting for the session to time out.
                    drop(consumer);
                })
                .map_err(|e| LogError::Backend(format!("cannot start the election thread: {e}")))?
        };
        Ok(LeaderElection { log, topic: options.topic, leading, joined, stop, thread: Some(thread) })
    }

    /// Whether this server leads now.
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Whether the coordinator has taken this member into the group (it has had an assignment,
    /// with or without partition 0): from then on, [`LeaderElection::is_leader`] is the group's
    /// answer rather than the "not yet" of a member still joining.
    pub fn has_joined(&self) -> bool {
        self.joined.load(Ordering::Relaxed)
    }

    /// Changes of this server's leadership.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// The identity the latest leader announced, if any has. After a leader dies, this names it
    /// until the next leader announces itself.
    pub fn leader(&self) -> Result<Option<String>> {
        let (start, end) = self.log.offsets(&self.topic, 0)?;
        if end <= start {
            return Ok(None);
        }
        let read = self.log.read(&self.topic, 0, end - 1, ReadLimits { max_records: 1, ..ReadLimits::default() })?;
        Ok(read.records.last().and_then(|r| r.value.as_deref()).map(|v| String::from_utf8_lossy(v).into_owned()))
    }

    /// Leaves the group and waits for the member's thread to end.
    pub fn leave(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LeaderElection {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// Appends this server's identity to the election topic. A failure is logged: the identity is
/// announced again on the next assignment, and leadership itself does not depend on it.
fn announce(log: &KafkaLog, topic: &str, identity: &str) {
    let record = Record { key: None, value: Some(identity.as_bytes().to_vec()), headers: Vec::new(), timestamp: None };
    if let Err(e) = log.append(topic, 0, vec![record]) {
        tracing::warn!(error = %e, "cannot announce this server as the leader");
    }
}
