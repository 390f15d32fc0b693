//! `GET /api/v1/history`: the catalog's history across the whole mesh, newest first.
//!
//! The per-entity histories (`/domains/{name}/history`, `/products/{id}/history`) answer "what happened to
//! this one"; an audit log answers "what happened lately, anywhere", which is the catalog topic itself
//! read backwards. Entries have the per-entity shape plus the entity they are about, and pages are cut
//! by offset (`before`), which is stable while new changes arrive.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_catalog::{EventEnvelope, HistoryEntry, CATALOG_TOPIC};
use weft_log::ReadLimits;

use super::openapi::ErrorBody;
use super::{blocking, QueryParams};
use crate::error::ApiError;
use crate::AppState;

/// The default and largest page.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// At most this many events are read per request, so a filter that matches rarely cannot make one
/// request read the whole history; the answer's `next` says where to go on.
const SCAN_BUDGET: u64 = 5_000;
/// Events read from the log per call.
const CHUNK: u64 = 256;

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

/// One change, with the entity it is about (`domain/NAME` or `product/ID`).
#[derive(Debug, Serialize)]
pub struct AuditEntry {
    pub entity: String,
    #[serde(flatten)]
    pub entry: HistoryEntry,
}

/// A page of the mesh's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLog {
    /// `{"entity", "offset", "actor", "at", "changed", "event"}`, newest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<AuditEntry>,
    /// Pass as `before` for older entries; absent when the beginning of the history was reached.
    pub next: Option<u64>,
}

/// The domain an entity key belongs to: `domain/NAME` is NAME, `product/DOMAIN.NAME` is DOMAIN.
fn domain_of(entity: &str) -> &str {
    match entity.split_once('/') {
        Some(("domain", name)) => name,
        Some(("product", id)) => id.split_once('.').map_or(id, |(domain, _)| domain),
        _ => entity,
    }
}

/// Every change to the catalog, newest first, optionally of one actor or domain.
#[utoipa::path(get, path = "/api/v1/history", tag = "domains", params(AuditQuery),
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
    let log = state.log.clone();
    let page = blocking(move || {
        let (earliest, latest) = log.offsets(CATALOG_TOPIC, 0)?;
        let mut end = query.before.unwrap_or(latest).min(latest);
        let stop = end.saturating_sub(SCAN_BUDGET).max(earliest);
        let mut history = Vec::new();
        while end > stop && history.len() < limit {
            let start = end.saturating_sub(CHUNK).max(stop);
            let mut chunk = Vec::new();
            let mut at = start;
            // A read may stop early at its byte limit: read on until the chunk is complete.
            while at < end {
                let max_records = usize::try_from(end - at).unwrap_or(usize::MAX);
                let batch = log.read(CATALOG_TOPIC, 0, at, ReadLimits { max_records, max_bytes: 8 << 20 })?;
                let Some(last) = batch.records.last().map(|r| r.offset) else { break };
                chunk.extend(batch.records.into_iter().filter(|r| r.offset < end));
                at = last + 1;
            }
            for record in chunk.into_iter().rev() {
                let envelope = EventEnvelope::from_record(record.offset, record.value.as_deref())?;
                let entity = envelope.event.entity_key();
                let keep = query.actor.as_deref().is_none_or(|a| envelope.actor == a)
                    && query.domain.as_deref().is_none_or(|d| domain_of(&entity) == d);
                // Everything at or after `end` has been looked at.
                end = record.offset;
                if keep {
                    history.push(AuditEntry { entity, entry: HistoryEntry::new(record.offset, envelope) });
                    if history.len() == limit {
                        break;
                    }
                }
            }
            if history.len() < limit {
                end = start;
            }
        }
        let next = (end > earliest).then_some(end);
        Ok::<_, ApiError>(AuditLog { history, next })
    })
    .await?;
    Ok(Json(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_belong_to_their_domain() {
        assert_eq!(domain_of("domain/orders"), "orders");
        assert_eq!(domain_of("product/orders.events"), "orders");
        assert_eq!(domain_of("product/plain"), "plain");
    }
}
