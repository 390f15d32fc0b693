//! Which of the servers on one cluster leads, decided by Kafka's own group coordinator (as
//! Confluent's Schema Registry elects its primary): every server joins one consumer group over the
//! election topic, and the member the coordinator assigns partition 0 to is the leader.
//!
//! The topic's partitions are also the servers' shares of the persistent queries' work (task
//! slots, [`ElectionOptions::slots`] of them): a server runs task `i` of a query's `n` tasks while
//! it is assigned slot `i * slots / n` ([`LeaderElection::runs_task`]), as a Kafka Streams instance
//! runs the tasks of the partitions its consumer group assigns it. So a query's tasks spread over
//! the servers and, when one leaves or dies, its slots move to the others with the next rebalance.
//! A topic an earlier version made with one partition has one slot: every task runs on the leader.
//!
//! - The assignment strategy is the eager `range`, which gives partition 0 to the first member id
//!   in byte order. Coordinators make member ids from the client id and a UUID, and each member's
//!   client id ends in the time it joined, so the longest-serving member keeps the leadership when
//!   others join. It does not keep it through the rebalance: an eager rebalance revokes every
//!   partition first, so the leader stops leading for the length of the rebalance (about 3 s on
//!   tansu 0.6, whose coordinator pauses each follower's join) and leads again after it.
//! - A leader that closes leaves the group at once and another member is assigned partition 0 by
//!   the rebalance that follows. A leader that dies is noticed when its session times out
//!   ([`ElectionOptions::session_timeout`], 6 s by default, the least brokers accept).
//! - A member that a rebalance leaves without partition 0 waits for the new leader's announcement;
//!   when none comes within 3 s, it leaves the group and joins again. This repairs tansu 0.6
//!   (`tansu-broker` `coordinator/group/administrator.rs`): when a member's session times out, the
//!   coordinator drops it in the next heartbeat of another member but keeps naming it the group's
//!   leader (the member that computes the assignment); the survivors rejoin, are told a dead member
//!   leads, and keep their old assignments, so partition 0 belongs to nobody. A member leaving
//!   makes the coordinator forget a leader that is no longer a member, and the next member to join
//!   leads and assigns (with three or more servers, a junior one may lead for a second or two
//!   while the repairing senior one is out of the group). With `cooperative-sticky` this repair is impossible: the survivors' rejoin
//!   carries new metadata, which moves the group into a rebalance that only the dead leader could
//!   finish, for good. On tansu a follower's death can also set it off: the survivor whose
//!   heartbeat notices the death rebalances alone (the leader is not told) and rejoins once more,
//!   which makes the leader re-run the rebalance and announce again. On Kafka, where a rebalance
//!   involves every member and the leader is assigned first, the wait does not expire.
//! - Left on tansu 0.6: when the dead member was the group leader but not the Weft leader, and the
//!   Weft leader's heartbeat noticed first, the group keeps naming the dead member; a server that
//!   joins later then starts a rebalance nobody can finish. tansu's repository changed this after
//!   0.6 (the 0.7 pre-releases, since published as `nisshi`; not tried here): its coordinator drops
//!   silent members before answering a heartbeat and keeps a leader only while it is a member.
//! - A leader that is cut off from the coordinator gives up leadership when librdkafka sees its
//!   session lost (the rebalance callback revokes partition 0); until then, for at most the session
//!   timeout, two servers may both believe they lead. Writes that must have one order are therefore
//!   fenced where they land as well (not done yet: issue 14).
//! - The leader announces itself by appending its identity (an address other servers can forward
//!   writes to) to the election topic after every rebalance that assigns it partition 0;
//!   [`LeaderElection::leader`] reads the latest announcement.
//!
//! The member polls its consumer on a thread of its own: the rebalance callbacks run there, and the
//! polls keep it within `max.poll.interval.ms`. Nothing is ever consumed from the topic.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientConfig, ClientContext, TopicPartitionList};
use tokio::sync::watch;
use weft_log::{EventLog, LogError, ReadLimits, Record, Result, TopicConfig};

use crate::admin::client_error;
use crate::KafkaLog;

/// How a server takes part in the election.
#[derive(Debug, Clone)]
pub struct ElectionOptions {
    /// The consumer group the servers of one mesh share.
    pub group: String,
    /// The topic the group is over; the leader's announcements are the records of its partition 0.
    pub topic: String,
    /// How many partitions (task slots) a new election topic gets.
    pub slots: u32,
    /// What this server announces when it leads (for example the URL followers forward to).
    pub identity: String,
    /// How long the coordinator waits for a silent member before moving its partition.
    pub session_timeout: Duration,
}

impl ElectionOptions {
    /// The defaults for `identity`: group `_weft_leader` over topic `_weft_leader`, 12 slots (a
    /// query of 1, 2, 3, 4, 6 or 12 tasks spreads them evenly), 6 s sessions.
    pub fn new(identity: impl Into<String>) -> Self {
        ElectionOptions {
            group: "_weft_leader".into(),
            topic: "_weft_leader".into(),
            slots: 12,
            identity: identity.into(),
            session_timeout: Duration::from_secs(6),
        }
    }
}

/// How often the member's consumer is polled (rebalance callbacks run within these polls).
const POLL: Duration = Duration::from_millis(50);

/// How long a member that a rebalance left without partition 0 waits for that rebalance's leader
/// to announce itself before it concludes that the partition went to a dead member (see the
/// module doc). On Kafka the leader is assigned, and announces, no later than the others.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(3);

/// This server's membership in the election; it leaves the group when dropped.
pub struct LeaderElection {
    log: Arc<KafkaLog>,
    topic: String,
    leading: watch::Receiver<bool>,
    /// The election topic's partitions assigned to this member, and how many it has.
    slots: watch::Receiver<Vec<u32>>,
    slot_count: u32,
    joined: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the member's consumers (one at a time: see [`orphaned`]) and its thread share.
struct Shared {
    topic: String,
    log: Arc<KafkaLog>,
    leading: watch::Sender<bool>,
    slots: watch::Sender<Vec<u32>>,
    /// Set by the first assignment, whatever it holds: the member is in the group.
    joined: Arc<AtomicBool>,
    progress: Mutex<Progress>,
}

/// Where the latest rebalance stands, for telling an orphaned partition 0 from a leader elsewhere.
#[derive(Default)]
struct Progress {
    /// The end of the election topic when the latest rebalance began: announcements at or past it
    /// come from that rebalance's leader.
    announcements_from: Option<u64>,
    /// When the latest rebalance ended without partition 0 for this member.
    assigned_without_partition: Option<Instant>,
}

impl Shared {
    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        // The guarded data stays consistent whatever a panicking holder did: each field is one store.
        self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn announcements_end(&self) -> Option<u64> {
        self.log.offsets(&self.topic, 0).ok().map(|(_, end)| end)
    }
}

/// Tells the member's thread what the coordinator assigned.
struct Member(Arc<Shared>);

impl ClientContext for Member {}

impl ConsumerContext for Member {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // An eager rebalance begins by revoking everything, before this member rejoins: any
        // announcement from here on comes from the member this rebalance assigns partition 0 to.
        if matches!(rebalance, Rebalance::Revoke(_)) {
            let end = self.0.announcements_end();
            let mut progress = self.0.progress();
            progress.announcements_from = end;
            progress.assigned_without_partition = None;
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let shared = &self.0;
        let holds_partition =
            |list: &TopicPartitionList| list.elements_for_topic(&shared.topic).iter().any(|p| p.partition() == 0);
        match rebalance {
            Rebalance::Assign(list) => {
                shared.joined.store(true, Ordering::Relaxed);
                let leads = holds_partition(list);
                shared.progress().assigned_without_partition = (!leads).then(Instant::now);
                let mut slots: Vec<u32> = list
                    .elements_for_topic(&shared.topic)
                    .iter()
                    .filter_map(|p| u32::try_from(p.partition()).ok())
                    .collect();
                slots.sort_unstable();
                shared.slots.send_replace(slots);
                shared.leading.send_replace(leads);
            }
            Rebalance::Revoke(list) => {
                let revoked: Vec<i32> = list.elements_for_topic(&shared.topic).iter().map(|p| p.partition()).collect();
                shared.slots.send_modify(|slots| slots.retain(|s| !revoked.contains(&(*s as i32))));
                if holds_partition(list) {
                    shared.leading.send_replace(false);
                }
            }
            // A failed rebalance may have lost the assignment; the next one repairs it.
            Rebalance::Error(_) => {
                shared.slots.send_replace(Vec::new());
                shared.leading.send_replace(false);
            }
        }
    }
}

impl LeaderElection {
    /// Joins the election on `log`'s cluster, creating the election topic when it is missing.
    /// Leadership is decided asynchronously: watch [`LeaderElection::watch`].
    pub fn join(log: Arc<KafkaLog>, options: ElectionOptions) -> Result<LeaderElection> {
        let partitions = options.slots.max(1);
        match log.create_topic(&options.topic, TopicConfig { partitions, ..TopicConfig::default() }) {
            Ok(_) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e),
        }
        // The servers already on the cluster decided the number of slots.
        let slot_count = log.topic_config(&options.topic)?.partitions.max(1);
        let (sender, leading) = watch::channel(false);
        let (slots_sender, slots) = watch::channel(Vec::new());
        let joined = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            topic: options.topic.clone(),
            log: log.clone(),
            leading: sender,
            slots: slots_sender,
            joined: joined.clone(),
            progress: Mutex::new(Progress::default()),
        });
        let config = member_config(&log, &options);
        let mut consumer = Some(subscribe(&config, &shared)?);

        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let mut announced = leading.clone();
            let identity = options.identity.clone();
            std::thread::Builder::new()
                .name("weft-kafka-leader".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(member) = &consumer else {
                            // Rejoining failed (the client could not be created): try again.
                            std::thread::sleep(ANNOUNCE_WAIT);
                            consumer = rejoin(&config, &shared);
                            continue;
                        };
                        // Records are never consumed: polling runs the rebalance callbacks and
                        // keeps the member within `max.poll.interval.ms`.
                        let _ = member.poll(POLL);
                        if announced.has_changed().unwrap_or(false) && *announced.borrow_and_update() {
                            announce(&shared.log, &shared.topic, &identity);
                        }
                        if orphaned(&shared) {
                            tracing::info!("nobody took the leadership after a rebalance; rejoining the election");
                            // Leave first (dropping the consumer closes it), then join anew: on
                            // tansu, only a leave clears the dead leader the group still names.
                            drop(consumer.take());
                            consumer = rejoin(&config, &shared);
                        }
                    }
                    shared.leading.send_replace(false);
                    shared.slots.send_replace(Vec::new());
                    // Dropping the consumer closes it, which leaves the group now, so another
                    // member is assigned without waiting for the session to time out.
                    drop(consumer);
                })
                .map_err(|e| LogError::Backend(format!("cannot start the election thread: {e}")))?
        };
        Ok(LeaderElection { log, topic: options.topic, leading, slots, slot_count, joined, stop, thread: Some(thread) })
    }

    /// The task slots (election topic partitions) assigned to this member now.
    pub fn slots(&self) -> Vec<u32> {
        self.slots.borrow().clone()
    }

    /// How many task slots the election has.
    pub fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// Whether this server runs task `index` of a query's `count` tasks now: it holds slot
    /// `index * slots / count`, so the tasks of one query spread evenly over the slots.
    pub fn runs_task(&self, index: u32, count: u32) -> bool {
        let slot = task_slot(index, count, self.slot_count);
        self.slots.borrow().contains(&slot)
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

/// The slot of task `index` of `count` among `slots`.
pub fn task_slot(index: u32, count: u32, slots: u32) -> u32 {
    let slot = u64::from(index) * u64::from(slots) / u64::from(count.max(1));
    u32::try_from(slot).unwrap_or(0).min(slots.saturating_sub(1))
}

/// The member's consumer configuration, the same for every consumer it rejoins with.
fn member_config(log: &KafkaLog, options: &ElectionOptions) -> ClientConfig {
    let mut config = log.shared.options.client_config();
    // Seniority: the range assignor gives partition 0 to the first member id in byte order, and
    // coordinators make member ids `client.id` + "-" + a UUID, so a client id ending in the join
    // time (zero-padded) keeps the leadership with the longest-serving member when others join.
    let joined_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let client_id = format!("{}.leader.{joined_at:016}", config.get("client.id").unwrap_or("weft"));
    let session = options.session_timeout.as_millis();
    config
        .set("client.id", client_id)
        .set("group.id", &options.group)
        // Eager, not `cooperative-sticky`: see the module doc for why tansu needs it.
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", session.to_string())
        .set("heartbeat.interval.ms", (session / 6).max(100).to_string())
        // The coordinator waits this long for members to rejoin a rebalance; a dead member never
        // does, and tansu waits the whole of it (Kafka's default is 5 minutes). The thread polls
        // every 50 ms, so only a hung process comes near it.
        .set("max.poll.interval.ms", (session * 2).to_string())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    config
}

/// A consumer in the election group, reporting to `shared`.
fn subscribe(config: &ClientConfig, shared: &Arc<Shared>) -> Result<BaseConsumer<Member>> {
    // A member that joins before any rebalance revoked anything waits for announcements from now on.
    let end = shared.announcements_end();
    *shared.progress() = Progress { announcements_from: end, assigned_without_partition: None };
    let consumer: BaseConsumer<Member> =
        config.create_with_context(Member(shared.clone())).map_err(|e| client_error("the election member", &e))?;
    consumer.subscribe(&[&shared.topic]).map_err(|e| client_error("the election member", &e))?;
    Ok(consumer)
}

/// A new consumer for the member, or `None` (logged) when the client cannot be created.
fn rejoin(config: &ClientConfig, shared: &Arc<Shared>) -> Option<BaseConsumer<Member>> {
    subscribe(config, shared).inspect_err(|e| tracing::warn!(error = %e, "cannot rejoin the election")).ok()
}

/// Whether the latest rebalance left this member without partition 0 and, [`ANNOUNCE_WAIT`]
/// later, nobody has announced leading since it began: the partition went to a member that is
/// gone (the module doc says how), and this member must rejoin to have it assigned again.
fn orphaned(shared: &Shared) -> bool {
    let (since, from) = {
        let progress = shared.progress();
        match progress.assigned_without_partition {
            Some(since) if since.elapsed() >= ANNOUNCE_WAIT => (since, progress.announcements_from),
            _ => return false,
        }
    };
    let end = shared.announcements_end();
    let mut progress = shared.progress();
    if progress.assigned_without_partition != Some(since) {
        return false; // another rebalance came meanwhile
    }
    match (from, end) {
        (Some(from), Some(end)) if end > from => {
            progress.assigned_without_partition = None;
            false
        }
        (Some(_), Some(_)) => true,
        // Where the rebalance began is unknown: count announcements from now, after another wait.
        (None, Some(end)) => {
            *progress = Progress { announcements_from: Some(end), assigned_without_partition: Some(Instant::now()) };
            false
        }
        // The cluster did not answer: ask again after another wait rather than rejoin blindly.
        (_, None) => {
            progress.assigned_without_partition = Some(Instant::now());
            false
        }
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
