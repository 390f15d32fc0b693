//! `/api/v1/topics`: create, list, describe and delete topics.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use weft_log::{PartitionDescription, TopicConfig, TopicDescription, INTERNAL_TOPIC_PREFIX};

use super::{blocking, JsonBody, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

/// `POST /api/v1/topics` body: `{"name": "orders", "partitions": 3, "config": {"retention.ms": 86400000}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    pub name: String,
    #[serde(default = "one")]
    pub partitions: u32,
    /// Kafka topic configuration keys; values may be JSON strings or numbers.
    #[serde(default)]
    pub config: BTreeMap<String, ConfigValue>,
}

fn one() -> u32 {
    1
}

/// A topic configuration value as clients write it: `"86400000"` or `86400000`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl ConfigValue {
    fn into_text(self) -> String {
        match self {
            ConfigValue::Text(text) => text,
            ConfigValue::Number(number) => number.to_string(),
            ConfigValue::Bool(flag) => flag.to_string(),
        }
    }
}

/// A topic as the API shows it: partitions with their offsets and sizes, config as Kafka keys.
#[derive(Debug, Serialize)]
pub struct TopicView {
    pub name: String,
    pub partition_count: usize,
    pub partitions: Vec<PartitionDescription>,
    pub config: BTreeMap<String, String>,
}

impl From<TopicDescription> for TopicView {
    fn from(description: TopicDescription) -> Self {
        TopicView {
            name: description.name,
            partition_count: description.partitions.len(),
            config: description.config.to_kafka(),
            partitions: description.partitions,
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CreateTopic>,
) -> Result<(StatusCode, Json<TopicView>), ApiError> {
    super::refuse_internal(&request.name)?;
    let entries: BTreeMap<String, String> =
        request.config.into_iter().map(|(key, value)| (key, value.into_text())).collect();
    let config = TopicConfig::from_kafka(request.partitions, &entries)?;
    let log = state.log.clone();
    let description = blocking(move || log.create_topic(&request.name, config)).await?;
    Ok((StatusCode::CREATED, Json(description.into())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Also list the platform's internal topics (names starting with `_weft`).
    #[serde(default)]
    pub internal: bool,
}

#[derive(Debug, Serialize)]
pub struct TopicList {
    pub topics: Vec<String>,
}

pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<TopicList>, ApiError> {
    let log = state.log.clone();
    let mut topics = blocking(move || Ok::<_, weft_log::LogError>(log.list_topics())).await?;
    if !query.internal {
        topics.retain(|name| !name.starts_with(INTERNAL_TOPIC_PREFIX));
    }
    Ok(Json(TopicList { topics }))
}

pub async fn describe(State(state): State<AppState>, PathParam(topic): PathParam) -> Result<Json<TopicView>, ApiError> {
    let log = state.log.clone();
    let description = blocking(move || log.describe_topic(&topic)).await?;
    Ok(Json(description.into()))
}

pub async fn delete(State(state): State<AppState>, PathParam(topic): PathParam) -> Result<StatusCode, ApiError> {
    let log = state.log.clone();
    blocking(move || log.delete_topic(&topic)).await?;
    Ok(StatusCode::NO_CONTENT)
}
