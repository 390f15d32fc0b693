//! `GET /api/v1/history`: the catalog's history across the whole mesh, newest first.
//!
//! The per-entity histories (`/domains/{name}/history`, `/products/{id}/history`) answer "what happened to
//! this one"; this answers "what happened lately, anywhere" ([`weft_mesh::catalog::Catalog::history_page`]).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::catalog::{EntityHistoryEntry, HistoryQuery};

use super::openapi::ErrorBody;
use super::{call, QueryParams};
use crate::error::ApiError;
use crate::AppState;

/// The default and largest page.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries older than this offset (the `next` of the previous page).
    pub before: Option<u64>,
    /// 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Only changes made by this actor.
    pub actor: Option<String>,
    /// Only changes to this domain or to its products.
    pub domain: Option<String>,
}

/// A page of the mesh's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLog {
    /// `{"entity", "offset", "actor", "at", "changed", "event"}`, newest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<EntityHistoryEntry>,
    /// Pass as `before` for older entries; absent when the beginning of the history was reached.
    pub next: Option<u64>,
}

/// Every change to the catalog, newest first, optionally of one actor or domain.
#[utoipa::path(get, path = "/api/v1/history", operation_id = "mesh_history", tag = "domains", params(AuditQuery),
    responses((status = 200, description = "A page of changes, newest first, and where the next page starts", body = AuditLog),
        (status = 422, description = "A bad parameter (42201)", body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<AuditLog>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!("invalid query: limit must be between 1 and {MAX_LIMIT}, not {limit}")));
    }
    let query = HistoryQuery { before: query.before, limit, actor: query.actor, domain: query.domain };
    let page = call(&state, move |mesh| Ok(mesh.catalog().history_page(&query)?)).await?;
    Ok(Json(AuditLog { history: page.entries, next: page.next }))
}
