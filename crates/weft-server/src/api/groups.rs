//! `/api/v1/groups/{group}/offsets`: consumer groups' committed positions.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_log::{CommittedOffset, LogError};

use super::{blocking, JsonBody, PathParam};
use crate::error::ApiError;
use crate::AppState;

/// `POST /api/v1/groups/{group}/offsets` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    pub offsets: Vec<CommitEntry>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitEntry {
    pub topic: String,
    pub partition: u32,
    /// The next offset the group will read.
    pub offset: u64,
    #[serde(default)]
    pub metadata: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOffsets {
    pub group: String,
    /// `{"topic", "partition", "offset", "metadata", ...}` per committed partition.
    #[schema(value_type = Vec<Object>)]
    pub offsets: Vec<CommittedOffset>,
}

/// Commits every entry, after checking that each names an existing topic and partition, so a request
/// with one bad entry commits nothing.
#[utoipa::path(post, path = "/api/v1/groups/{group}/offsets", tag = "groups",
    params(("group" = String, Path, description = "The consumer group")),
    request_body = CommitRequest,
    responses((status = 200, description = "The committed offsets", body = GroupOffsets),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad group name (42205) or an empty request (42201)", body = crate::api::openapi::ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    PathParam(group): PathParam,
    JsonBody(request): JsonBody<CommitRequest>,
) -> Result<Json<GroupOffsets>, ApiError> {
    if request.offsets.is_empty() {
        return Err(ApiError::invalid("offsets is empty: give at least one {\"topic\", \"partition\", \"offset\"}"));
    }
    let log = state.log.clone();
    let name = group.clone();
    let committed = blocking(move || {
        let mut partitions: BTreeMap<&str, u32> = BTreeMap::new();
        for (index, entry) in request.offsets.iter().enumerate() {
            let count = match partitions.get(entry.topic.as_str()) {
                Some(count) => *count,
                None => {
                    let count = log.topic_config(&entry.topic).map_err(|e| at_entry(index, e))?.partitions;
                    partitions.insert(&entry.topic, count);
                    count
                }
            };
            if entry.partition >= count {
                let error = LogError::PartitionNotFound {
                    topic: entry.topic.clone(),
                    partition: entry.partition,
                    partitions: count,
                };
                return Err(at_entry(index, error));
            }
        }
        request
            .offsets
            .iter()
            .map(|entry| log.commit_offset(&name, &entry.topic, entry.partition, entry.offset, &entry.metadata))
            .collect::<Result<Vec<_>, LogError>>()
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(GroupOffsets { group, offsets: committed }))
}

/// The log's error about entry `index`, with the entry named in the message.
fn at_entry(index: usize, error: LogError) -> ApiError {
    let mut api = ApiError::from(error);
    api.message = format!("offsets[{index}]: {}", api.message);
    api
}

#[utoipa::path(get, path = "/api/v1/groups/{group}/offsets", tag = "groups",
    params(("group" = String, Path, description = "The consumer group")),
    responses((status = 200, description = "The group's committed offsets", body = GroupOffsets)))]
pub async fn list(State(state): State<AppState>, PathParam(group): PathParam) -> Result<Json<GroupOffsets>, ApiError> {
    let log = state.log.clone();
    let name = group.clone();
    let offsets = blocking(move || log.committed_offsets(&name)).await?;
    Ok(Json(GroupOffsets { group, offsets }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn entry_errors_name_the_entry() {
        let error = at_entry(2, LogError::TopicNotFound("t".into()));
        assert_eq!(error.code, ErrorCode::TopicNotFound);
        assert!(error.message.starts_with("offsets[2]: topic 't'"), "{}", error.message);
    }
}
