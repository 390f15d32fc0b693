//! Topics: creation and deletion through the admin client, names and partition counts from the
//! cluster's metadata, configurations from `DescribeConfigs`; a cache of each topic's
//! configuration for the hot paths (every append needs its partition count, cleanup policy and
//! timestamp type).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use weft_log::{LogError, Result, TopicConfig};

use crate::{block_on, log_error, KafkaOptions};

/// Topic names of the brokers' own state (`__consumer_offsets`, `__transaction_state`): not the
/// log's topics.
const BROKER_INTERNAL_PREFIX: &str = "__";

pub(crate) struct Admin {
    client: AdminClient<DefaultClientContext>,
    /// A consumer-type client for metadata: it never asks brokers to create a topic it names.
    metadata: BaseConsumer<Reporting>,
    timeout: Duration,
    replication_factor: i32,
    topics: Mutex<HashMap<String, TopicConfig>>,
}

impl Admin {
    pub fn new(options: &KafkaOptions) -> Result<Admin> {
        let client = options.client_config().create().map_err(|e| client_error("the admin client", &e))?;
        let mut config = options.client_config();
        config.set("allow.auto.create.topics", "false");
        let metadata =
            config.create_with_context(Reporting::default()).map_err(|e| client_error("the metadata client", &e))?;
        Ok(Admin {
            client,
            metadata,
            timeout: options.timeout,
            replication_factor: options.replication_factor.unwrap_or(-1),
            topics: Mutex::new(HashMap::new()),
        })
    }

    /// Asks the cluster for its brokers, so that a bad address, a refused credential or a protocol
    /// mismatch fails the connection with what the brokers said rather than the first call later.
    pub fn check_reachable(&self, bootstrap: &str) -> Result<()> {
        match self.metadata.fetch_metadata(None, self.timeout) {
            Ok(_) => Ok(()),
            Err(e) => {
                // librdkafka hands its errors and log lines to the client's context as events, which
                // a poll delivers.
                for _ in 0..5 {
                    let _ = self.metadata.poll(Duration::from_millis(20));
                }
                let said = self.metadata.context().last_error();
                Err(LogError::Backend(match said {
                    Some(said) => format!("cannot reach the Kafka cluster at {bootstrap}: {said} ({e})"),
                    None => format!("cannot reach the Kafka cluster at {bootstrap}: {e}"),
                }))
            }
        }
    }

    fn admin_options(&self) -> AdminOptions {
        AdminOptions::new().request_timeout(Some(self.timeout)).operation_timeout(Some(self.timeout))
    }

    pub fn create(&self, name: &str, config: &TopicConfig) -> Result<()> {
        let partitions = i32::try_from(config.partitions)
            .map_err(|_| LogError::InvalidConfig { key: "partitions".into(), reason: "beyond Kafka's range".into() })?;
        let entries = config.to_kafka();
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(self.replication_factor));
        for (key, value) in &entries {
            topic = topic.set(key, value);
        }
        let results = block_on(self.client.create_topics([&topic], &self.admin_options()))
            .map_err(|e| log_error(name, "creating topic", &e))?;
        for result in results {
            if let Err((_, code)) = result {
                return Err(match code {
                    RDKafkaErrorCode::TopicAlreadyExists => LogError::TopicExists(name.to_string()),
                    RDKafkaErrorCode::InvalidConfig
                    | RDKafkaErrorCode::InvalidPartitions
                    | RDKafkaErrorCode::InvalidReplicationFactor
                    | RDKafkaErrorCode::PolicyViolation => LogError::InvalidConfig {
                        key: "topic".into(),
                        reason: format!("the cluster refused topic '{name}': {code}"),
                    },
                    code => LogError::Backend(format!("creating topic '{name}': {code}")),
                });
            }
        }
        // Creation reaches the brokers' metadata asynchronously; the topic is usable once it shows.
        self.wait_for(name, |partitions| partitions == Some(config.partitions))?;
        self.lock().insert(name.to_string(), config.clone());
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        self.refresh(name)?;
        let results = block_on(self.client.delete_topics(&[name], &self.admin_options()))
            .map_err(|e| log_error(name, "deleting topic", &e))?;
        self.forget(name);
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                    return Err(LogError::TopicNotFound(name.to_string()))
                }
                Err((_, code)) => return Err(LogError::Backend(format!("deleting topic '{name}': {code}"))),
            }
        }
        self.wait_for(name, |partitions| partitions.is_none())
    }

    /// The log's topics, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let metadata =
            self.metadata.fetch_metadata(None, self.timeout).map_err(|e| log_error("*", "listing topics", &e))?;
        let mut names: Vec<String> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.name().starts_with(BROKER_INTERNAL_PREFIX))
            .map(|t| t.name().to_string())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The topic's configuration, from the cache when it is there.
    pub fn topic(&self, name: &str) -> Result<TopicConfig> {
        if let Some(config) = self.lock().get(name) {
            return Ok(config.clone());
        }
        self.refresh(name)
    }

    /// The topic's configuration as the cluster has it now.
    pub fn refresh(&self, name: &str) -> Result<TopicConfig> {
        let Some(partitions) = self.partition_count(name)? else {
            self.forget(name);
            return Err(LogError::TopicNotFound(name.to_string()));
        };
        let mut config = TopicConfig { partitions, ..TopicConfig::default() };
        let resources = [ResourceSpecifier::Topic(name)];
        let described = block_on(self.client.describe_configs(&resources, &self.admin_options()))
            .map_err(|e| log_error(name, "describing topic", &e))?;
        for resource in described {
            let resource = match resource {
                Ok(resource) => resource,
                Err(RDKafkaErrorCode::UnknownTopicOrPartition) => return Err(LogError::TopicNotFound(name.into())),
                Err(code) => return Err(LogError::Backend(format!("describing topic '{name}': {code}"))),
            };
            for key in TopicConfig::default().to_kafka().keys() {
                let Some(value) = resource.get(key).and_then(|entry| entry.value.as_deref()) else { continue };
                // A topic made outside Weft may hold values Weft does not model ("compact,delete"):
                // it keeps Weft's default for that key rather than being unreadable.
                if let Err(error) = config.set(key, value) {
                    tracing::warn!(topic = name, %error, "topic configuration not understood");
                }
            }
        }
        self.lock().insert(name.to_string(), config.clone());
        Ok(config)
    }

    pub fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    /// The number of partitions of `name`, or `None` when the cluster has no such topic.
    fn partition_count(&self, name: &str) -> Result<Option<u32>> {
        let metadata = self
            .metadata
            .fetch_metadata(Some(name), self.timeout)
            .map_err(|e| log_error(name, "reading the metadata of", &e))?;
        let Some(topic) = metadata.topics().iter().find(|t| t.name() == name) else { return Ok(None) };
        if topic.error().is_some() || topic.partitions().is_empty() {
            return Ok(None);
        }
        Ok(Some(topic.partitions().len() as u32))
    }

    /// Waits until the metadata's partition count of `name` satisfies `done`.
    fn wait_for(&self, name: &str, done: impl Fn(Option<u32>) -> bool) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if done(self.partition_count(name)?) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LogError::Backend(format!(
                    "topic '{name}' did not reach the cluster's metadata within {:?}",
                    self.timeout
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TopicConfig>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keeps the last error librdkafka reported for the connection (a refused SASL handshake, an
/// unreachable broker): a call that times out says only that it timed out.
#[derive(Default)]
pub(crate) struct Reporting {
    last: Mutex<Option<String>>,
}

impl Reporting {
    fn last_error(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Reporting {
    fn keep(&self, what: &str) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(what.to_string());
    }
}

impl ClientContext for Reporting {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "Kafka client error");
        self.keep(reason);
    }

    /// A refused SASL handshake reaches the application only as an error-level log line.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Error as i32) {
            tracing::warn!(facility = fac, "Kafka client: {log_message}");
            self.keep(log_message);
        }
    }
}

impl ConsumerContext for Reporting {}

pub(crate) fn client_error(what: &str, error: &rdkafka::error::KafkaError) -> LogError {
    LogError::Backend(format!("cannot create {what}: {error}"))
}
