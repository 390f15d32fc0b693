//! Weft's event log on a Kafka cluster: [`KafkaLog`] implements [`weft_log::EventLog`] over
//! librdkafka (through `rdkafka`), so the mesh runs unchanged on Kafka or any broker that speaks
//! its protocol.
//!
//! What maps to what:
//! - a topic is a Kafka topic; its [`TopicConfig`] is the topic's Kafka configuration
//!   (`retention.ms`, `retention.bytes`, `cleanup.policy`, `segment.bytes`,
//!   `message.timestamp.type`), created and described with the admin client;
//! - `append` produces one batch to one partition with an idempotent producer and `acks=all`, and
//!   returns once every record is acknowledged, with the offsets the broker assigned
//!   (`produce.rs`);
//! - `read`, `offsets` and `offset_for_timestamp` are a fetch from an assigned offset, the
//!   partition's watermarks and Kafka's `ListOffsets` by timestamp (`read.rs`);
//! - `subscribe` is a watch of the high watermark, raised by this process's own appends at once
//!   and by a poller (one `ListOffsets` request for every watched partition) for everyone else's
//!   (`watch.rs`);
//! - consumer-group positions are records of the compacted topic `_weft_consumer_offsets`, in
//!   the embedded log's format (`groups.rs`);
//! - `run_maintenance` does nothing: the brokers retain and compact on their own schedule.
//!
//! **Architecture Invariant:** like `weft-log`, this crate knows nothing of schemas, products or
//! SQL; it is the log, somewhere else. Calls block (librdkafka's own threads do the I/O); nothing
//! here needs an async runtime.

mod admin;
mod groups;
pub mod leader;
mod produce;
mod read;
#[cfg(feature = "testing")]
pub mod testing;
mod watch;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use weft_log::{
    is_internal_topic, validate_topic_name, AppendResult, CommittedOffset, EventLog, LogError, PartitionDescription,
    ReadLimits, ReadResult, Record, Result, TopicConfig, TopicDescription,
};

pub use produce::EARLIEST_TIMESTAMP;

/// How to reach the cluster and how long to wait for it.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// `host:port[,host:port...]` of one or more brokers (librdkafka's `bootstrap.servers`).
    pub bootstrap: String,
    /// librdkafka properties given to every client (`security.protocol`, `sasl.mechanism`, ...);
    /// they override Weft's own settings except the producer's idempotence and `acks`.
    pub config: BTreeMap<String, String>,
    /// The longest any one call waits for the cluster before failing with [`LogError::Backend`].
    pub timeout: Duration,
    /// How often the high watermarks of subscribed partitions are polled (appends made through
    /// this log are seen at once).
    pub watch_interval: Duration,
    /// The largest batch one append may produce (the sum of its keys, values and headers).
    pub max_batch_bytes: usize,
    /// Replicas of each topic this log creates; `None` leaves it to the broker's default.
    pub replication_factor: Option<i32>,
}

impl KafkaOptions {
    pub fn new(bootstrap: impl Into<String>) -> Self {
        KafkaOptions {
            bootstrap: bootstrap.into(),
            config: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            watch_interval: Duration::from_millis(200),
            // Kafka's default `message.max.bytes` is about 1 MiB per batch; a bigger batch is
            // refused whole here rather than half-produced there.
            max_batch_bytes: 1024 * 1024,
            replication_factor: None,
        }
    }

    /// The client configuration every client of this log starts from.
    fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config.set("client.id", "weft");
        // librdkafka logs through its own callbacks; errors reach callers as results instead.
        config.set("log_level", "3");
        for (key, value) in &self.config {
            config.set(key, value);
        }
        config
    }
}

/// The event log on a Kafka cluster. Opened with [`KafkaLog::connect`]; closed by
/// [`EventLog::shutdown`] or by dropping the last handle.
pub struct KafkaLog {
    shared: Arc<Shared>,
    poller: Mutex<Option<JoinHandle<()>>>,
}

/// What the log's calls and its poller share.
struct Shared {
    options: KafkaOptions,
    /// Set by `shutdown`; appends hold the read side while they run, so `shutdown` waits for the
    /// appends in flight and no append starts after it.
    closed: RwLock<bool>,
    /// Tells the poller to stop (outside the lock, so the poller never waits for an append).
    stopping: AtomicBool,
    admin: admin::Admin,
    producer: produce::Producer,
    readers: read::Readers,
    watches: watch::Watches,
    groups: groups::Groups,
}

impl KafkaLog {
    /// Deletes a topic, internal or not, with its groups' offsets.
    fn delete_internal_topic_unchecked(&self, name: &str) -> Result<()> {
        let _open = self.open()?;
        self.shared.admin.delete(name)?;
        self.shared.watches.end_topic(name);
        groups::forget_topic(&self.shared, name)
    }

    /// Connects to the cluster at `options.bootstrap`, creates the internal offsets topic when it
    /// is missing and reads the consumer-group positions it holds.
    pub fn connect(options: KafkaOptions) -> Result<Arc<KafkaLog>> {
        let admin = admin::Admin::new(&options)?;
        admin.check_reachable(&options.bootstrap)?;
        let producer = produce::Producer::new(&options)?;
        let readers = read::Readers::new(&options)?;
        let shared = Arc::new(Shared {
            closed: RwLock::new(false),
            stopping: AtomicBool::new(false),
            admin,
            producer,
            readers,
            watches: watch::Watches::default(),
            groups: groups::Groups::default(),
            options,
        });
        groups::open(&shared)?;
        let poller = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("weft-kafka-watch".into())
                .spawn(move || watch::poll(&shared))
                .map_err(|e| LogError::Backend(format!("cannot start the watermark poller: {e}")))?
        };
        Ok(Arc::new(KafkaLog { shared, poller: Mutex::new(Some(poller)) }))
    }

    fn open(&self) -> Result<RwLockReadGuard<'_, bool>> {
        self.shared.open()
    }
}

impl Shared {
    fn open(&self) -> Result<RwLockReadGuard<'_, bool>> {
        let guard = self.closed.read().unwrap_or_else(|e| e.into_inner());
        if *guard {
            return Err(LogError::Closed);
        }
        Ok(guard)
    }

    /// The topic's configuration and partition count, refusing a partition it does not have.
    fn partition(&self, topic: &str, partition: u32) -> Result<TopicConfig> {
        let config = self.admin.topic(topic)?;
        if partition >= config.partitions {
            // The topic may have grown since it was cached.
            let config = self.admin.refresh(topic)?;
            if partition >= config.partitions {
                return Err(LogError::PartitionNotFound {
                    topic: topic.to_string(),
                    partition,
                    partitions: config.partitions,
                });
            }
            return Ok(config);
        }
        Ok(config)
    }
}

impl EventLog for KafkaLog {
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<TopicDescription> {
        let _open = self.open()?;
        validate_topic_name(name)?;
        config.validate()?;
        self.shared.admin.create(name, &config)?;
        let partitions = (0..config.partitions).map(empty_partition).collect();
        Ok(TopicDescription { name: name.to_string(), config, partitions })
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        if is_internal_topic(name) {
            return Err(LogError::InternalTopic(name.to_string()));
        }
        self.delete_internal_topic_unchecked(name)
    }

    fn delete_internal_topic(&self, name: &str) -> Result<()> {
        if !is_internal_topic(name) {
            return Err(LogError::InvalidTopicName { name: name.to_string(), reason: "it is not internal".into() });
        }
        self.delete_internal_topic_unchecked(name)
    }

    fn list_topics(&self) -> Vec<String> {
        match self.open() {
            Ok(_open) => self.shared.admin.list().unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        let _open = self.open()?;
        let config = self.shared.admin.refresh(name)?;
        let mut partitions = Vec::with_capacity(config.partitions as usize);
        for partition in 0..config.partitions {
            let (earliest, latest) = self.shared.readers.watermarks(name, partition)?;
            partitions.push(PartitionDescription {
                partition,
                earliest_offset: earliest,
                latest_offset: latest,
                ..empty_partition(partition)
            });
        }
        Ok(TopicDescription { name: name.to_string(), config, partitions })
    }

    fn topic_config(&self, name: &str) -> Result<TopicConfig> {
        let _open = self.open()?;
        self.shared.admin.refresh(name)
    }

    fn append(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<AppendResult> {
        let _open = self.open()?;
        let config = self.shared.partition(topic, partition)?;
        let result = self.shared.producer.append(&self.shared.options, topic, partition, &config, records);
        if let Err(LogError::TopicNotFound(_)) = &result {
            self.shared.admin.forget(topic);
        }
        let result = result?;
        self.shared.watches.raise(topic, partition, result.last_offset + 1);
        Ok(result)
    }

    fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> Result<ReadResult> {
        let _open = self.open()?;
        self.shared.partition(topic, partition)?;
        self.shared.readers.read(topic, partition, offset, limits)
    }

    fn offset_for_timestamp(&self, topic: &str, partition: u32, timestamp: i64) -> Result<Option<u64>> {
        let _open = self.open()?;
        self.shared.partition(topic, partition)?;
        self.shared.readers.offset_for_timestamp(topic, partition, timestamp)
    }

    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        let _open = self.open()?;
        self.shared.partition(topic, partition)?;
        self.shared.readers.watermarks(topic, partition)
    }

    fn subscribe(&self, topic: &str, partition: u32) -> Result<tokio::sync::watch::Receiver<u64>> {
        let _open = self.open()?;
        self.shared.partition(topic, partition)?;
        let (_, latest) = self.shared.readers.watermarks(topic, partition)?;
        Ok(self.shared.watches.subscribe(topic, partition, latest))
    }

    fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: &str,
    ) -> Result<CommittedOffset> {
        let _open = self.open()?;
        groups::validate_group(group)?;
        self.shared.partition(topic, partition)?;
        groups::commit(&self.shared, group, topic, partition, offset, metadata)
    }

    fn committed_offsets(&self, group: &str) -> Result<Vec<CommittedOffset>> {
        let _open = self.open()?;
        groups::validate_group(group)?;
        groups::committed(&self.shared, group)
    }

    fn run_maintenance(&self) -> Result<()> {
        // The brokers retain and compact on their own schedule (`log.retention.check.interval.ms`,
        // the log cleaner); the trait lets a backend do nothing here.
        let _open = self.open()?;
        Ok(())
    }

    fn shutdown(&self) -> Result<()> {
        {
            let mut closed = self.shared.closed.write().unwrap_or_else(|e| e.into_inner());
            if *closed {
                return Ok(());
            }
            *closed = true;
        }
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(poller) = self.poller.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = poller.join();
        }
        self.shared.watches.end_all();
        self.shared.producer.flush(self.shared.options.timeout)
    }
}

impl Drop for KafkaLog {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            tracing::warn!(%error, "closing the Kafka log");
        }
    }
}

/// A partition as described without asking the brokers: Kafka does not report segments or sizes
/// through the client protocol (`DescribeLogDirs` would), so they are left at 0.
fn empty_partition(partition: u32) -> PartitionDescription {
    PartitionDescription { partition, earliest_offset: 0, latest_offset: 0, size_bytes: 0, segments: 0 }
}

/// The log's error for a client error about `topic`.
fn log_error(topic: &str, what: &str, error: &KafkaError) -> LogError {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            LogError::TopicNotFound(topic.to_string())
        }
        Some(RDKafkaErrorCode::TopicAlreadyExists) => LogError::TopicExists(topic.to_string()),
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => LogError::BatchTooLarge { size: 0, max: 0 },
        _ => LogError::Backend(format!("{what} '{topic}': {error}")),
    }
}

fn to_i32(partition: u32) -> Result<i32> {
    i32::try_from(partition).map_err(|_| LogError::Backend(format!("partition {partition} is beyond Kafka's range")))
}

fn offset_u64(offset: i64) -> u64 {
    u64::try_from(offset).unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Drives one future of the admin client to completion on this thread (its results arrive from
/// the admin client's own polling thread, which wakes this one).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}
