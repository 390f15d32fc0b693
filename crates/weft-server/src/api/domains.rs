//! `/api/v1/domains`: create, read, replace and delete domains; their history and products.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::catalog::{Domain, DomainSpec, HistoryEntry, Product};

use super::{call, expected_revision, Ctx, JsonBody, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

/// `{"domains": [...]}`, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainList {
    pub domains: Vec<Domain>,
}

/// `{"products": [...]}`, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub products: Vec<Product>,
}

/// `{"history": [...]}`, oldest first: `{"offset", "actor", "at", "changed", "event"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub history: Vec<HistoryEntry>,
}

/// Optimistic concurrency for changes (the `If-Match` header does the same).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct RevisionQuery {
    /// The revision the change is based on; a different current revision is a conflict (40902).
    pub if_revision: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/domains", operation_id = "list_domains", tag = "domains",
    responses((status = 200, description = "Every domain, by name", body = DomainList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<DomainList>, ApiError> {
    let domains = call(&state, |mesh| Ok(mesh.catalog().domains())).await?;
    Ok(Json(DomainList { domains }))
}

/// Creates a domain from a `DomainSpec`: `{"name", "description", "owningTeam", "contact", "members": [{"user", "role"}]}`.
#[utoipa::path(post, path = "/api/v1/domains", operation_id = "create_domain", tag = "domains",
    params(("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body(content = DomainSpec, description = "A DomainSpec"),
    responses((status = 201, description = "The domain", body = Domain),
        (status = 409, description = "The domain exists (40901)", body = crate::api::openapi::ErrorBody),
        (status = 422, description = "An invalid field (42201) or name (42202)", body = crate::api::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBody(spec): JsonBody<DomainSpec>,
) -> Result<(StatusCode, Json<Domain>), ApiError> {
    let domain = call(&state, move |mesh| mesh.create_domain(&ctx, spec)).await?;
    Ok((StatusCode::CREATED, Json(domain)))
}

#[utoipa::path(get, path = "/api/v1/domains/{name}", operation_id = "get_domain", tag = "domains",
    params(("name" = String, Path, description = "The domain name")),
    responses((status = 200, description = "The domain", body = Domain),
        (status = 404, description = "No such domain (40403)", body = crate::api::openapi::ErrorBody)))]
pub async fn get(State(state): State<AppState>, PathParam(name): PathParam) -> Result<Json<Domain>, ApiError> {
    Ok(Json(call(&state, move |mesh| Ok(mesh.catalog().domain(&name)?)).await?))
}

/// Replaces a domain's description, team, contact and members (the body's `name` must be the path's).
#[utoipa::path(put, path = "/api/v1/domains/{name}", operation_id = "update_domain", tag = "domains",
    params(("name" = String, Path, description = "The domain name"), RevisionQuery,
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body(content = DomainSpec, description = "A DomainSpec"),
    responses((status = 200, description = "The domain", body = Domain),
        (status = 404, description = "No such domain (40403)", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "A stale revision (40902)", body = crate::api::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    QueryParams(query): QueryParams<RevisionQuery>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    JsonBody(spec): JsonBody<DomainSpec>,
) -> Result<Json<Domain>, ApiError> {
    let revision = expected_revision(&headers, query.if_revision)?;
    Ok(Json(call(&state, move |mesh| mesh.update_domain(&ctx, &name, spec, revision)).await?))
}

/// Deletes a domain that has no products left.
#[utoipa::path(delete, path = "/api/v1/domains/{name}", operation_id = "delete_domain", tag = "domains",
    params(("name" = String, Path, description = "The domain name"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    responses((status = 200, description = "The deleted domain", body = Domain),
        (status = 404, description = "No such domain (40403)", body = crate::api::openapi::ErrorBody),
        (status = 409, description = "It still has products (40903)", body = crate::api::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    Ctx(ctx): Ctx,
) -> Result<Json<Domain>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.delete_domain(&ctx, &name)).await?))
}

#[utoipa::path(get, path = "/api/v1/domains/{name}/history", operation_id = "domain_history", tag = "domains",
    params(("name" = String, Path, description = "The domain name")),
    responses((status = 200, description = "Every change, oldest first (also of a deleted domain)", body = History),
        (status = 404, description = "No such domain, ever (40403)", body = crate::api::openapi::ErrorBody)))]
pub async fn history(State(state): State<AppState>, PathParam(name): PathParam) -> Result<Json<History>, ApiError> {
    let history = call(&state, move |mesh| Ok(mesh.catalog().domain_history(&name)?)).await?;
    Ok(Json(History { history }))
}

#[utoipa::path(get, path = "/api/v1/domains/{name}/products", operation_id = "domain_products", tag = "domains",
    params(("name" = String, Path, description = "The domain name")),
    responses((status = 200, description = "The domain's products, by id", body = ProductList),
        (status = 404, description = "No such domain (40403)", body = crate::api::openapi::ErrorBody)))]
pub async fn products(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<ProductList>, ApiError> {
    let products = call(&state, move |mesh| Ok(mesh.catalog().products(Some(&name))?)).await?;
    Ok(Json(ProductList { products }))
}
