//! `/api/v1/topics`: create, list, describe and delete topics.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::log::{PartitionDescription, TopicConfig, TopicDescription, INTERNAL_TOPIC_PREFIX};

use super::{call, Ctx, JsonBody, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

/// `POST /api/v1/topics` body: `{"name": "orders", "partitions": 3, "config": {"retention.ms": 86400000}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    pub name: String,
    #[serde(default = "one")]
    pub partitions: u32,
    /// Kafka topic configuration keys; values may be JSON strings or numbers.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicView {
    pub name: String,
    pub partition_count: usize,
    /// `{"partition", "earliest_offset", "latest_offset", "size_bytes", "segments"}` per partition.
    #[schema(value_type = Vec<Object>)]
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

/// Creates a topic; internal `_weft*` names are refused.
#[utoipa::path(post, path = "/api/v1/topics", operation_id = "create_topic", tag = "topics", request_body = CreateTopic,
    responses((status = 201, description = "The topic", body = TopicView),
        (status = 403, description = "An internal topic name (40301)", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "The topic exists (40901)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad name (42202) or configuration (42203)", body = crate::api::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBody(request): JsonBody<CreateTopic>,
) -> Result<(StatusCode, Json<TopicView>), ApiError> {
    let entries: BTreeMap<String, String> =
        request.config.into_iter().map(|(key, value)| (key, value.into_text())).collect();
    let config = TopicConfig::from_kafka(request.partitions, &entries)?;
    let description = call(&state, move |mesh| mesh.create_topic(&ctx, &request.name, config)).await?;
    Ok((StatusCode::CREATED, Json(description.into())))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Also list the platform's internal topics (names starting with `_weft`).
    #[serde(default)]
    pub internal: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicList {
    pub topics: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/topics", operation_id = "list_topics", tag = "topics", params(ListQuery),
    responses((status = 200, description = "Topic names", body = TopicList)))]
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<TopicList>, ApiError> {
    let mut topics = call(&state, |mesh| Ok(mesh.topics())).await?;
    if !query.internal {
        topics.retain(|name| !name.starts_with(INTERNAL_TOPIC_PREFIX));
    }
    Ok(Json(TopicList { topics }))
}

#[utoipa::path(get, path = "/api/v1/topics/{topic}", tag = "topics",
    params(("topic" = String, Path, description = "The topic name")),
    responses((status = 200, description = "Partitions with offsets and sizes, configuration", body = TopicView),
        (status = 404, description = "No such topic (40401)", body = crate::api::openapi::ErrorBody)))]
pub async fn describe(State(state): State<AppState>, PathParam(topic): PathParam) -> Result<Json<TopicView>, ApiError> {
    let description = call(&state, move |mesh| mesh.describe_topic(&topic)).await?;
    Ok(Json(description.into()))
}

#[utoipa::path(delete, path = "/api/v1/topics/{topic}", operation_id = "delete_topic", tag = "topics",
    params(("topic" = String, Path, description = "The topic name")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "An internal topic (40301)", body = crate::api::openapi::ErrorBody),
        (status = 404, description = "No such topic (40401)", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "Published or deprecated products serve or read it (40903)", body = crate::api::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    PathParam(topic): PathParam,
    Ctx(ctx): Ctx,
) -> Result<StatusCode, ApiError> {
    call(&state, move |mesh| mesh.delete_topic(&ctx, &topic)).await?;
    Ok(StatusCode::NO_CONTENT)
}
