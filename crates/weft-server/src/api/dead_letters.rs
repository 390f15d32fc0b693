//! What a product's output port enforces, and its dead letters: `GET|PUT /api/v1/products/{id}/governance`,
//! `GET /api/v1/products/{id}/dead-letters`, `POST .../dead-letters:replay` and `.../dead-letters:drop`
//! (the mesh's [`weft_mesh::contracts`] does the work).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::contracts::recovery::{DeadLetterPage, DeadLetterSelection, ReplayReport};
use weft_mesh::contracts::{InvalidRecordPolicy, PortGovernance};
use weft_mesh::MeshError;

use super::openapi::ErrorBody;
use super::{call, Ctx, JsonBody, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

/// Dead letters a list answers without a `limit`.
const DEFAULT_LIST_LIMIT: usize = 100;

/// What one output port enforces.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortGovernanceAnswer {
    pub product: String,
    pub port: String,
    #[serde(flatten)]
    pub governance: PortGovernance,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PortQuery {
    /// The output port (default: the product's only port).
    pub port: Option<String>,
}

/// What an output port enforces: its contract and its policy for records that break its rules.
#[utoipa::path(get, path = "/api/v1/products/{id}/governance", operation_id = "get_port_governance", tag = "governance",
    params(("id" = String, Path, description = "The product id"), PortQuery),
    responses((status = 200, description = "The port's contract and policy", body = PortGovernanceAnswer),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "The product has several ports and none was named (42201)", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<PortQuery>,
) -> Result<Json<PortGovernanceAnswer>, ApiError> {
    let answer = call(&state, move |mesh| {
        let (port, governance) = mesh.port_governance(&id, query.port.as_deref())?;
        Ok(PortGovernanceAnswer { product: id, port, governance })
    })
    .await?;
    Ok(Json(answer))
}

/// The body of `PUT /api/v1/products/{id}/governance`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GovernanceChange {
    /// The output port (default: the product's only port).
    #[serde(default)]
    pub port: Option<String>,
    /// `reject` (refuse a request with a broken record, nothing written) or `dead-letter` (write the
    /// others, send it to the product's dead-letter topic).
    #[serde(default)]
    pub policy: Option<InvalidRecordPolicy>,
    /// A topic Kafka producers write to directly, validated into the port's topic (broken records to
    /// the dead letters, whatever the policy); `""` for none any more.
    #[serde(default)]
    pub raw_input_topic: Option<String>,
}

/// Sets what an output port does with records that break its rules.
#[utoipa::path(put, path = "/api/v1/products/{id}/governance", operation_id = "set_port_governance", tag = "governance",
    params(("id" = String, Path, description = "The product id"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change")),
    request_body = GovernanceChange,
    responses((status = 200, description = "What the port enforces now", body = PortGovernanceAnswer),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "A bad body (42201)", body = ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(change): JsonBody<GovernanceChange>,
) -> Result<Json<PortGovernanceAnswer>, ApiError> {
    if change.policy.is_none() && change.raw_input_topic.is_none() {
        return Err(ApiError::invalid("give policy, raw_input_topic or both: the body changes nothing".to_string()));
    }
    let answer = call(&state, move |mesh| {
        let port = change.port.as_deref();
        let mut answer = None;
        // The raw input first: it is the change that can be refused (an unknown or served topic).
        if let Some(raw) = &change.raw_input_topic {
            answer = Some(mesh.set_raw_input_topic(&ctx, &id, port, Some(raw.as_str()))?);
        }
        if let Some(policy) = change.policy {
            answer = Some(mesh.set_invalid_record_policy(&ctx, &id, port, policy)?);
        }
        let (port, governance) = answer.ok_or_else(|| MeshError::InvalidRequest("nothing to change".into()))?;
        Ok(PortGovernanceAnswer { product: id, port, governance })
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /api/v1/products/{id}/dead-letters` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only those that broke this rule (`schema`, or a contract rule's id).
    pub rule: Option<String>,
    /// Refused at or after this time (epoch ms).
    pub from: Option<i64>,
    /// Refused before this time (epoch ms).
    pub to: Option<i64>,
    /// Only these offsets of the dead-letter topic, comma-separated.
    pub offsets: Option<String>,
    /// Also those already replayed or dropped (default false).
    pub include_resolved: Option<bool>,
    /// At most this many (1 to 10000, default 100).
    pub limit: Option<usize>,
}

/// A product's dead letters, oldest first, each with the rules it broke and what was done with it,
/// and counts over all of them (total, unresolved, unresolved by rule).
#[utoipa::path(get, path = "/api/v1/products/{id}/dead-letters", operation_id = "list_dead_letters", tag = "governance",
    params(("id" = String, Path, description = "The product id"), ListQuery),
    responses((status = 200, description = "The dead letters the query selects, and counts", body = DeadLetterPage),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 422, description = "A bad parameter (42201)", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let offsets = match query.offsets.as_deref().filter(|o| !o.trim().is_empty()) {
        None => None,
        Some(text) => Some(parse_offsets(text)?),
    };
    let selection = DeadLetterSelection {
        offsets,
        rule: query.rule,
        from: query.from,
        to: query.to,
        include_resolved: query.include_resolved.unwrap_or(false),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=weft_mesh::contracts::recovery::MAX_DEAD_LETTERS_PER_CALL).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be 1 to {}, not {limit}",
            weft_mesh::contracts::recovery::MAX_DEAD_LETTERS_PER_CALL
        )));
    }
    let page = call(&state, move |mesh| mesh.dead_letters(&ctx, &id, &selection, limit)).await?;
    Ok(Json(page))
}

fn parse_offsets(text: &str) -> Result<Vec<u64>, ApiError> {
    text.split(',')
        .map(|part| {
            part.trim().parse::<u64>().map_err(|_| {
                let mut error = ApiError::invalid(format!("offsets: '{}' is not an offset", part.trim()));
                error.field = Some("offsets".into());
                error
            })
        })
        .collect()
}

/// Writes the selected unresolved dead letters again through the write path, checked against what
/// the port enforces now: those that pass are written to the product's topic and marked replayed,
/// the others stay, listed with the rules they still break.
#[utoipa::path(post, path = "/api/v1/products/{id}/dead-letters:replay", tag = "governance",
    params(("id" = String, Path, description = "The product id"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who replays")),
    request_body = DeadLetterSelection,
    responses((status = 200, description = "What was replayed and what still fails", body = ReplayReport),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 422, description = "A bad selection (42201)", body = ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(selection): JsonBody<DeadLetterSelection>,
) -> Result<Json<ReplayReport>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.replay_dead_letters(&ctx, &id, &selection)).await?))
}

/// The body of `POST /api/v1/products/{id}/dead-letters:drop`: a selection and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DropRequest {
    pub reason: String,
    #[serde(default)]
    pub offsets: Option<Vec<u64>>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub from: Option<i64>,
    #[serde(default)]
    pub to: Option<i64>,
}

/// What a drop did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DropAnswer {
    /// The offsets marked dropped.
    pub dropped: Vec<u64>,
}

/// Marks the selected unresolved dead letters dropped, for a reason (they stay in the topic, and the
/// reason and who dropped them are kept with them).
#[utoipa::path(post, path = "/api/v1/products/{id}/dead-letters:drop", tag = "governance",
    params(("id" = String, Path, description = "The product id"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who drops")),
    request_body = DropRequest,
    responses((status = 200, description = "The offsets dropped", body = DropAnswer),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 422, description = "No reason, or a bad selection (42201)", body = ErrorBody)))]
pub async fn drop(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(request): JsonBody<DropRequest>,
) -> Result<Json<DropAnswer>, ApiError> {
    let selection = DeadLetterSelection {
        offsets: request.offsets,
        rule: request.rule,
        from: request.from,
        to: request.to,
        include_resolved: false,
    };
    let dropped = call(&state, move |mesh| mesh.drop_dead_letters(&ctx, &id, &selection, &request.reason)).await?;
    Ok(Json(DropAnswer { dropped }))
}
