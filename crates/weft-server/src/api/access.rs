//! Access requests and grants over HTTP: consumers ask for a product, its owners decide.
//!
//! The actor (`X-Weft-Actor`) is the requester or the decider; the catalog checks that a decider owns
//! the product or its domain. Grants are recorded, not yet enforced on reads (that needs
//! authentication).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::catalog::{AccessDecision, AccessFilter, AccessRequest, AccessStatus, ProductId};

use super::openapi::ErrorBody;
use super::{call, parse_json, Ctx, JsonBody, PathParam, QueryParams, RawBody};
use crate::error::ApiError;
use crate::AppState;

/// `POST /api/v1/products/{id}/access-requests` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccessRequest {
    /// Why the data is needed (1 to 2000 characters).
    pub purpose: String,
    /// The team or domain that will consume the data.
    #[serde(default)]
    pub consumer: Option<String>,
}

/// Asks to consume a product; the actor is the requester.
#[utoipa::path(post, path = "/api/v1/products/{id}/access-requests", tag = "access",
    params(("id" = String, Path, description = "The product id"),
        ("X-Weft-Actor" = Option<String>, Header, description = "The requester (default anonymous)")),
    request_body = NewAccessRequest,
    responses((status = 201, description = "The pending request", body = weft_mesh::catalog::AccessRequest),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 409, description = "The requester already has a pending request for it (40904)", body = ErrorBody),
        (status = 422, description = "A blank or too long purpose or consumer (42201)", body = ErrorBody)))]
pub async fn request(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(body): JsonBody<NewAccessRequest>,
) -> Result<(StatusCode, Json<AccessRequest>), ApiError> {
    let request =
        call(&state, move |mesh| mesh.request_access(&ctx, &id, &body.purpose, body.consumer.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only requests this user made.
    pub requester: Option<String>,
    /// Only requests on products this user may decide about (their owner, or an owner of their domain).
    pub approver: Option<String>,
    /// pending, approved, denied or revoked.
    pub status: Option<String>,
    /// Only requests for this product.
    pub product: Option<String>,
}

/// A list of access requests, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessRequestList {
    pub requests: Vec<AccessRequest>,
}

/// Access requests matching every given filter, oldest first.
#[utoipa::path(get, path = "/api/v1/access-requests", operation_id = "list_access_requests", tag = "access", params(ListQuery),
    responses((status = 200, description = "The matching requests", body = AccessRequestList),
        (status = 422, description = "A bad status or product id (42201, 42202)", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<AccessRequestList>, ApiError> {
    let filter = AccessFilter {
        requester: query.requester,
        approver: query.approver,
        status: query.status.as_deref().map(AccessStatus::parse).transpose()?,
        product: query.product.as_deref().map(ProductId::parse).transpose()?,
    };
    let requests = call(&state, move |mesh| Ok(mesh.catalog().access_requests(&filter))).await?;
    Ok(Json(AccessRequestList { requests }))
}

/// The optional body of a decision.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Why (shown to the requester).
    #[serde(default)]
    pub reason: Option<String>,
    /// Approvals only: when the grant ends by itself (epoch milliseconds, in the future).
    #[serde(default, rename = "expiresAt")]
    pub expires_at: Option<i64>,
}

async fn decide(
    state: &AppState,
    ctx: weft_mesh::RequestContext,
    request: String,
    decision: AccessDecision,
    body: &[u8],
) -> Result<Json<AccessRequest>, ApiError> {
    let body: DecisionBody =
        if body.iter().all(u8::is_ascii_whitespace) { DecisionBody::default() } else { parse_json(body)? };
    let decided = call(state, move |mesh| {
        mesh.decide_access_until(&ctx, &request, decision, body.reason.as_deref(), body.expires_at)
    })
    .await?;
    Ok(Json(decided))
}

/// pending -> approved, by the product's owner or an owner of its domain.
#[utoipa::path(post, path = "/api/v1/access-requests/{req}/approve", tag = "access",
    params(("req" = String, Path, description = "The request id, ar-N"),
        ("X-Weft-Actor" = Option<String>, Header, description = "The decider (default anonymous)")),
    request_body(content = DecisionBody, description = "Optional: {\"reason\"}"),
    responses((status = 200, description = "The approved request", body = weft_mesh::catalog::AccessRequest),
        (status = 403, description = "Not an owner (40304), or a retired product (40302)", body = ErrorBody),
        (status = 404, description = "No such request (40406)", body = ErrorBody),
        (status = 409, description = "The request is not pending (40904)", body = ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    PathParam(request): PathParam,
    Ctx(ctx): Ctx,
    RawBody(body): RawBody,
) -> Result<Json<AccessRequest>, ApiError> {
    decide(&state, ctx, request, AccessDecision::Approve, &body).await
}

/// pending -> denied, by the product's owner or an owner of its domain.
#[utoipa::path(post, path = "/api/v1/access-requests/{req}/deny", tag = "access",
    params(("req" = String, Path, description = "The request id, ar-N"),
        ("X-Weft-Actor" = Option<String>, Header, description = "The decider (default anonymous)")),
    request_body(content = DecisionBody, description = "Optional: {\"reason\"}"),
    responses((status = 200, description = "The denied request", body = weft_mesh::catalog::AccessRequest),
        (status = 403, description = "Not an owner (40304)", body = ErrorBody),
        (status = 404, description = "No such request (40406)", body = ErrorBody),
        (status = 409, description = "The request is not pending (40904)", body = ErrorBody)))]
pub async fn deny(
    State(state): State<AppState>,
    PathParam(request): PathParam,
    Ctx(ctx): Ctx,
    RawBody(body): RawBody,
) -> Result<Json<AccessRequest>, ApiError> {
    decide(&state, ctx, request, AccessDecision::Deny, &body).await
}

/// approved -> revoked, by the product's owner or an owner of its domain.
#[utoipa::path(post, path = "/api/v1/access-requests/{req}/revoke", tag = "access",
    params(("req" = String, Path, description = "The request id, ar-N"),
        ("X-Weft-Actor" = Option<String>, Header, description = "The decider (default anonymous)")),
    request_body(content = DecisionBody, description = "Optional: {\"reason\"}"),
    responses((status = 200, description = "The revoked request", body = weft_mesh::catalog::AccessRequest),
        (status = 403, description = "Not an owner (40304)", body = ErrorBody),
        (status = 404, description = "No such request (40406)", body = ErrorBody),
        (status = 409, description = "The request is not approved (40904)", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    PathParam(request): PathParam,
    Ctx(ctx): Ctx,
    RawBody(body): RawBody,
) -> Result<Json<AccessRequest>, ApiError> {
    decide(&state, ctx, request, AccessDecision::Revoke, &body).await
}

/// Who may consume a product.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    /// The approved, not revoked, requests.
    pub grants: Vec<AccessRequest>,
}

#[utoipa::path(get, path = "/api/v1/products/{id}/grants", tag = "access",
    params(("id" = String, Path, description = "The product id")),
    responses((status = 200, description = "The approved requests", body = GrantList),
        (status = 404, description = "No such product (40404)", body = ErrorBody)))]
pub async fn grants(State(state): State<AppState>, PathParam(id): PathParam) -> Result<Json<GrantList>, ApiError> {
    let grants = call(&state, move |mesh| Ok(mesh.catalog().grants(&id)?)).await?;
    Ok(Json(GrantList { grants }))
}
