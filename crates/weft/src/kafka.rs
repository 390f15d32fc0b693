//! The mesh on a Kafka cluster (cargo feature `kafka`): the `--kafka` flags as a configuration layer,
//! and the log opened on the cluster the resolved configuration names, for `weft serve` and `weft demo`.

use std::sync::Arc;

use anyhow::{Context, Result};
use weft_server::{KafkaLayer, KafkaProperty, KafkaSettings};

/// The flags' layer: `--kafka BOOTSTRAP` and each `--kafka-config KEY=VALUE` (the other sources fill
/// what they leave out); `None` when neither is given.
pub fn flags(bootstrap: Option<String>, properties: &[String]) -> Result<Option<KafkaLayer>> {
    if bootstrap.is_none() && properties.is_empty() {
        return Ok(None);
    }
    let mut layer = KafkaLayer { bootstrap, ..KafkaLayer::default() };
    for property in properties {
        let Some((key, value)) = property.split_once('=').filter(|(key, _)| !key.trim().is_empty()) else {
            anyhow::bail!("--kafka-config {property:?}: expected KEY=VALUE (a librdkafka property)");
        };
        layer.config.insert(key.trim().to_string(), KafkaProperty(value.to_string()));
    }
    Ok(Some(layer))
}

/// Connects to the cluster (librdkafka blocks, so off the runtime's workers).
pub async fn connect(settings: &KafkaSettings) -> Result<Arc<weft_kafka::KafkaLog>> {
    let mut options = weft_kafka::KafkaOptions::new(settings.bootstrap.clone());
    options.config = settings.config.clone();
    let bootstrap = settings.bootstrap.clone();
    let log = tokio::task::spawn_blocking(move || weft_kafka::KafkaLog::connect(options))
        .await
        .context("connecting to Kafka")?
        .with_context(|| format!("connecting to the Kafka cluster at {bootstrap}"))?;
    Ok(log)
}
