//! `/api/v1/groups/{group}/offsets`: consumer groups' committed positions.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_mesh::log::CommittedOffset;
use weft_mesh::OffsetCommit;

use super::{call, Ctx, JsonBody, PathParam};
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
#[utoipa::path(post, path = "/api/v1/groups/{group}/offsets", operation_id = "commit_group_offsets", tag = "groups",
    params(("group" = String, Path, description = "The consumer group")),
    request_body = CommitRequest,
    responses((status = 200, description = "The committed offsets", body = GroupOffsets),
        (status = 404, description = "No such topic (40401) or partition (40402)", body = crate::api::openapi::ErrorBody),
        (status = 403, description = "A platform group, named _weft* (40301)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "A bad group name (42205) or an empty request (42201)", body = crate::api::openapi::ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    PathParam(group): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(request): JsonBody<CommitRequest>,
) -> Result<Json<GroupOffsets>, ApiError> {
    if request.offsets.is_empty() {
        return Err(ApiError::invalid("offsets is empty: give at least one {\"topic\", \"partition\", \"offset\"}"));
    }
    let commits: Vec<OffsetCommit> = request
        .offsets
        .into_iter()
        .map(|e| OffsetCommit { topic: e.topic, partition: e.partition, offset: e.offset, metadata: e.metadata })
        .collect();
    let name = group.clone();
    let offsets = call(&state, move |mesh| mesh.commit_offsets(&ctx, &name, commits)).await?;
    Ok(Json(GroupOffsets { group, offsets }))
}

#[utoipa::path(get, path = "/api/v1/groups/{group}/offsets", operation_id = "list_group_offsets", tag = "groups",
    params(("group" = String, Path, description = "The consumer group")),
    responses((status = 200, description = "The group's committed offsets", body = GroupOffsets)))]
pub async fn list(State(state): State<AppState>, PathParam(group): PathParam) -> Result<Json<GroupOffsets>, ApiError> {
    let name = group.clone();
    let offsets = call(&state, move |mesh| mesh.committed_offsets(&name)).await?;
    Ok(Json(GroupOffsets { group, offsets }))
}
