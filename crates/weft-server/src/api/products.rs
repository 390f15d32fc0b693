//! `/api/v1/products`: data products' metadata, lifecycle, search, lineage, history and ODPS documents.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::catalog::odps::{MappingNote, Placement};
use weft_mesh::catalog::search::FacetCounts;
use weft_mesh::catalog::{
    CatalogError, DomainName, FieldEdge, ImpactReport, IsoDate, LineageGraph, Product, ProductId, ProductSpec,
    QualityTier, SearchRequest, SearchResults, Status, Transition,
};

use super::domains::{History, ProductList, RevisionQuery};
use super::openapi::ErrorBody;
use super::{call, expected_revision, Ctx, JsonBody, PathParam, QueryParams, RawBody};
use crate::error::ApiError;
use crate::AppState;

/// The media type of ODPS documents.
pub const YAML: &str = "application/yaml";

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this domain's products.
    pub domain: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/products", operation_id = "list_products", tag = "products", params(ListQuery),
    responses((status = 200, description = "Products, by id", body = ProductList),
        (status = 404, description = "No such domain (40403)", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ProductList>, ApiError> {
    let products = call(&state, move |mesh| Ok(mesh.catalog().products(query.domain.as_deref())?)).await?;
    Ok(Json(ProductList { products }))
}

/// Creates a draft product from a `ProductSpec` (its domain is the first part of its `id`).
#[utoipa::path(post, path = "/api/v1/products", operation_id = "create_product", tag = "products",
    params(("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body(content = ProductSpec, description = "A ProductSpec"),
    responses((status = 201, description = "The product, as a draft", body = Product),
        (status = 404, description = "No such domain (40403)", body = ErrorBody),
        (status = 409, description = "The product exists (40901)", body = ErrorBody),
        (status = 422, description = "An invalid field (42201), id (42202) or a lineage cycle (42208)", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBody(spec): JsonBody<ProductSpec>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let product = call(&state, move |mesh| mesh.create_product(&ctx, spec)).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

#[utoipa::path(get, path = "/api/v1/products/{id}", operation_id = "get_product", tag = "products",
    params(("id" = String, Path, description = "The product id, DOMAIN.NAME")),
    responses((status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product (40404)", body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, PathParam(id): PathParam) -> Result<Json<Product>, ApiError> {
    Ok(Json(call(&state, move |mesh| Ok(mesh.catalog().product(&id)?)).await?))
}

/// Replaces a product's spec. A published or deprecated product keeps its served output ports (a
/// breaking change is a new major version) and the publishing requirements.
#[utoipa::path(put, path = "/api/v1/products/{id}", operation_id = "update_product", tag = "products",
    params(("id" = String, Path, description = "The product id"), RevisionQuery,
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body(content = ProductSpec, description = "A ProductSpec"),
    responses((status = 200, description = "The product", body = Product),
        (status = 403, description = "Retired, read-only (40302), or a breaking change (40303)", body = ErrorBody),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 409, description = "A stale revision (40902)", body = ErrorBody),
        (status = 422, description = "An invalid field (42201) or missing publishing requirements (42207)", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<RevisionQuery>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    JsonBody(spec): JsonBody<ProductSpec>,
) -> Result<Json<Product>, ApiError> {
    let revision = expected_revision(&headers, query.if_revision)?;
    Ok(Json(call(&state, move |mesh| mesh.update_product(&ctx, &id, spec, revision)).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Must be true: deleting a product is explicit.
    #[serde(default)]
    pub confirm: bool,
    /// Also delete the topics of the product's output ports (those no other product uses).
    #[serde(default)]
    pub delete_topics: bool,
}

/// What deleting a product did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub product: Product,
    /// The topics of its output ports; the catalog deletes no data, so they stay unless `deleteTopics`.
    pub topics: Vec<String>,
    pub deleted_topics: Vec<String>,
}

/// Deletes a retired product (`?confirm=true`); with `deleteTopics=true` also its output ports' topics.
#[utoipa::path(delete, path = "/api/v1/products/{id}", operation_id = "delete_product", tag = "products",
    params(("id" = String, Path, description = "The product id"), DeleteQuery,
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    responses((status = 200, description = "The deleted product and its topics", body = Deleted),
        (status = 403, description = "Not retired (40302), or no confirmation (40306)", body = ErrorBody),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 409, description = "Other products still consume it (40903)", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<DeleteQuery>,
    Ctx(ctx): Ctx,
) -> Result<Json<Deleted>, ApiError> {
    let deleted = call(&state, move |mesh| mesh.delete_product(&ctx, &id, query.confirm, query.delete_topics)).await?;
    Ok(Json(Deleted { product: deleted.product, topics: deleted.topics, deleted_topics: deleted.deleted_topics }))
}

async fn transition(
    state: &AppState,
    id: String,
    ctx: weft_mesh::RequestContext,
    transition: Transition,
    revision: Option<u64>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(call(state, move |mesh| mesh.transition(&ctx, &id, transition, revision)).await?))
}

/// draft -> published, once its domain exists, it has a description, a quality tier and an output port
/// with a registered schema.
#[utoipa::path(post, path = "/api/v1/products/{id}/publish", tag = "lifecycle",
    params(("id" = String, Path, description = "The product id"), RevisionQuery,
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    responses((status = 200, description = "The published product", body = Product),
        (status = 403, description = "Not a draft (40305)", body = ErrorBody),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 409, description = "A stale revision (40902)", body = ErrorBody),
        (status = 422, description = "Publishing requirements not met, listed in gaps (42207)", body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<RevisionQuery>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
) -> Result<Json<Product>, ApiError> {
    let revision = expected_revision(&headers, query.if_revision)?;
    transition(&state, id, ctx, Transition::Publish, revision).await
}

/// `POST /api/v1/products/{id}/deprecate` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeprecateRequest {
    /// Why consumers should move away.
    pub reason: String,
    /// YYYY-MM-DD, today or later: the product is served until then.
    #[schema(value_type = String, format = Date)]
    pub sunset: IsoDate,
    /// The product consumers should move to.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub successor: Option<ProductId>,
}

/// published -> deprecated, with a reason, a sunset date and optionally a successor.
#[utoipa::path(post, path = "/api/v1/products/{id}/deprecate", tag = "lifecycle",
    params(("id" = String, Path, description = "The product id"), RevisionQuery,
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body = DeprecateRequest,
    responses((status = 200, description = "The deprecated product", body = Product),
        (status = 403, description = "Not published (40305)", body = ErrorBody),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 409, description = "A stale revision (40902)", body = ErrorBody),
        (status = 422, description = "A bad reason, sunset or successor (42201)", body = ErrorBody)))]
pub async fn deprecate(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<RevisionQuery>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    JsonBody(request): JsonBody<DeprecateRequest>,
) -> Result<Json<Product>, ApiError> {
    let revision = expected_revision(&headers, query.if_revision)?;
    let DeprecateRequest { reason, sunset, successor } = request;
    transition(&state, id, ctx, Transition::Deprecate { reason, sunset, successor }, revision).await
}

/// deprecated -> retired (on or after the sunset date), or draft -> retired.
#[utoipa::path(post, path = "/api/v1/products/{id}/retire", tag = "lifecycle",
    params(("id" = String, Path, description = "The product id"), RevisionQuery,
        ("If-Match" = Option<String>, Header, description = "The revision the change is based on"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    responses((status = 200, description = "The retired product", body = Product),
        (status = 403, description = "Published, before the sunset, or already retired (40305)", body = ErrorBody),
        (status = 404, description = "No such product (40404)", body = ErrorBody),
        (status = 409, description = "A stale revision (40902)", body = ErrorBody)))]
pub async fn retire(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<RevisionQuery>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
) -> Result<Json<Product>, ApiError> {
    let revision = expected_revision(&headers, query.if_revision)?;
    transition(&state, id, ctx, Transition::Retire, revision).await
}

#[utoipa::path(get, path = "/api/v1/products/{id}/history", operation_id = "product_history", tag = "products",
    params(("id" = String, Path, description = "The product id")),
    responses((status = 200, description = "Every change, oldest first (also of a deleted product)", body = History),
        (status = 404, description = "No such product, ever (40404)", body = ErrorBody)))]
pub async fn history(State(state): State<AppState>, PathParam(id): PathParam) -> Result<Json<History>, ApiError> {
    let history = call(&state, move |mesh| Ok(mesh.catalog().product_history(&id)?)).await?;
    Ok(Json(History { history }))
}

/// The publishing requirements `spec` does not meet yet (`gaps`) and the recommended metadata it
/// lacks (`recommendations`), each `{"field", "rule", "message"}`, checked by the catalog's own rules
/// and the global policies (a `block` policy's findings are gaps, a `warn` policy's recommendations)
/// without changing anything (forms ask it as they are filled in).
#[utoipa::path(post, path = "/api/v1/products:check", tag = "lifecycle",
    request_body(content = ProductSpec, description = "A ProductSpec"),
    responses((status = 200, description = "The gaps and recommendations, each naming its field and rule", body = weft_mesh::governance::PublishCheck),
        (status = 422, description = "A spec that does not parse (42201)", body = ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<ProductSpec>,
) -> Result<Json<weft_mesh::governance::PublishCheck>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.publish_check(&spec)).await?))
}

// ----- search -----

/// `GET /api/v1/products/search` parameters (`tag` may be repeated).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)] // Documents the parameters; they are parsed by `search_request`.
pub struct SearchQuery {
    /// Words to look for (`"exact phrase"`, `+must`, `-not` are understood); empty for everything.
    q: Option<String>,
    domain: Option<String>,
    #[param(value_type = Option<String>)]
    quality_tier: Option<QualityTier>,
    #[param(value_type = Option<String>)]
    status: Option<Status>,
    /// Repeat for several tags; every one must be on the product.
    tag: Option<Vec<String>>,
    owner: Option<String>,
    /// 1 to 1000 (default 20).
    limit: Option<usize>,
    offset: Option<usize>,
}

/// The search answer: how many match, the page of hits, and facet counts over every match.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub total: usize,
    /// `{"id", "name", "description", "owner", "status", "qualityTier", "tags", "score"}`, best first.
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<weft_mesh::catalog::SearchHit>,
    /// Facet (`domain`, `qualityTier`, `status`, `tags`, `owner`) -> value -> number of matches.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, u64>>)]
    pub facets: BTreeMap<String, FacetCounts>,
}

fn search_request(uri: &Uri) -> Result<SearchRequest, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(uri.query().unwrap_or_default())?;
    let mut request = SearchRequest::default();
    let number = |name: &str, value: &str| {
        value
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("invalid query: {name} must be a number, not {value:?}")))
    };
    for (name, value) in pairs {
        let catalog_error = |e: CatalogError| ApiError::invalid(format!("invalid query: {name}: {e}"));
        match name.as_str() {
            "q" => request.text = value,
            "domain" => request.domain = Some(value),
            "qualityTier" => request.quality_tier = Some(value.parse().map_err(catalog_error)?),
            "status" => request.status = Some(Status::parse(&value).map_err(catalog_error)?),
            "tag" => request.tags.push(value),
            "owner" => request.owner = Some(value),
            "limit" => {
                let limit = number(&name, &value)?;
                if !(1..=weft_mesh::catalog::search::MAX_LIMIT).contains(&limit) {
                    return Err(ApiError::invalid(format!(
                        "invalid query: limit must be between 1 and {}, not {limit}",
                        weft_mesh::catalog::search::MAX_LIMIT
                    )));
                }
                request.limit = limit;
            }
            "offset" => request.offset = number(&name, &value)?,
            _ => {
                return Err(ApiError::invalid(format!(
                    "invalid query: unknown parameter '{name}' (expected q, domain, qualityTier, status, tag, owner, limit, offset)"
                )))
            }
        }
    }
    Ok(request)
}

/// A query string as (name, value) pairs, percent-decoded, repeated names kept.
fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let uri: Uri = format!("/?{query}").parse().map_err(|_| ApiError::invalid("invalid query string"))?;
    match axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri) {
        Ok(axum::extract::Query(pairs)) => Ok(pairs),
        Err(rejection) => Err(ApiError::invalid(format!("invalid query: {}", rejection.body_text()))),
    }
}

/// Full-text search with facet filters and facet counts.
#[utoipa::path(get, path = "/api/v1/products/search", tag = "products", params(SearchQuery),
    responses((status = 200, description = "Hits and facet counts", body = SearchResponse),
        (status = 422, description = "A bad parameter (42201)", body = ErrorBody)))]
pub async fn search(State(state): State<AppState>, uri: Uri) -> Result<Json<SearchResponse>, ApiError> {
    let request = search_request(&uri)?;
    let SearchResults { total, hits, facets } = call(&state, move |mesh| Ok(mesh.catalog().search(&request)?)).await?;
    Ok(Json(SearchResponse { total, hits, facets }))
}

// ----- lineage -----

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepthQuery {
    /// How many edges away to go (all when absent).
    pub depth: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/products/{id}/lineage/upstream", tag = "lineage",
    params(("id" = String, Path, description = "The product id"), DepthQuery),
    responses((status = 200, description = "The products it derives from: {root, direction, nodes, edges, fieldEdges}", body = Object),
        (status = 404, description = "No such product (40404)", body = ErrorBody)))]
pub async fn upstream(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<DepthQuery>,
) -> Result<Json<LineageGraph>, ApiError> {
    Ok(Json(call(&state, move |mesh| Ok(mesh.catalog().upstream(&id, query.depth)?)).await?))
}

#[utoipa::path(get, path = "/api/v1/products/{id}/lineage/downstream", tag = "lineage",
    params(("id" = String, Path, description = "The product id"), DepthQuery),
    responses((status = 200, description = "The products derived from it: {root, direction, nodes, edges, fieldEdges}", body = Object),
        (status = 404, description = "No such product (40404)", body = ErrorBody)))]
pub async fn downstream(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<DepthQuery>,
) -> Result<Json<LineageGraph>, ApiError> {
    Ok(Json(call(&state, move |mesh| Ok(mesh.catalog().downstream(&id, query.depth)?)).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImpactQuery {
    /// Only the impact of a change to this field.
    pub field: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/products/{id}/impact", tag = "lineage",
    params(("id" = String, Path, description = "The product id"), ImpactQuery),
    responses((status = 200, description = "The affected products and owners: {product, field, affected, owners}", body = Object),
        (status = 404, description = "No such product (40404) or field (40405)", body = ErrorBody)))]
pub async fn impact(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<ImpactQuery>,
) -> Result<Json<ImpactReport>, ApiError> {
    Ok(Json(call(&state, move |mesh| Ok(mesh.catalog().impact(&id, query.field.as_deref())?)).await?))
}

/// `{"edges": [{"from": {"product", "field"}, "to": {"product", "field"}}]}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldLineage {
    #[schema(value_type = Vec<Object>)]
    pub edges: Vec<FieldEdge>,
}

#[utoipa::path(get, path = "/api/v1/products/{id}/lineage/fields", tag = "lineage",
    params(("id" = String, Path, description = "The product id")),
    responses((status = 200, description = "The field lineage into the product", body = FieldLineage),
        (status = 404, description = "No such product (40404)", body = ErrorBody)))]
pub async fn field_lineage(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<FieldLineage>, ApiError> {
    let edges = call(&state, move |mesh| Ok(mesh.catalog().field_lineage(&id)?)).await?;
    Ok(Json(FieldLineage { edges }))
}

/// Replaces the product's field lineage: each edge says which input product's field one of its fields is computed from.
#[utoipa::path(put, path = "/api/v1/products/{id}/lineage/fields", tag = "lineage",
    params(("id" = String, Path, description = "The product id"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body = FieldLineage,
    responses((status = 200, description = "The field lineage as stored (sorted, deduplicated)", body = FieldLineage),
        (status = 404, description = "No such product (40404) or field (40405)", body = ErrorBody),
        (status = 422, description = "An edge from a product that is not an input (42201)", body = ErrorBody)))]
pub async fn set_field_lineage(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(body): JsonBody<FieldLineage>,
) -> Result<Json<FieldLineage>, ApiError> {
    let edges = call(&state, move |mesh| mesh.set_field_lineage(&ctx, &id, body.edges)).await?;
    Ok(Json(FieldLineage { edges }))
}

// ----- ODPS -----

/// The product as an Open Data Product Standard YAML document.
#[utoipa::path(get, path = "/api/v1/products/{id}/odps", tag = "odps",
    params(("id" = String, Path, description = "The product id")),
    responses((status = 200, description = "The ODPS document (YAML)", content_type = "application/yaml", body = Object),
        (status = 404, description = "No such product (40404)", body = ErrorBody)))]
pub async fn export_odps(State(state): State<AppState>, PathParam(id): PathParam) -> Result<Response, ApiError> {
    let yaml = call(&state, move |mesh| mesh.export_odps(&id)).await?;
    Ok(([(CONTENT_TYPE, YAML)], yaml).into_response())
}

/// What applying an ODPS document did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// `created`, `updated` or `unchanged` (applying the same document twice changes nothing).
    pub result: String,
    pub product: Product,
    /// What the document did not say in Weft's terms and how it was mapped (a chosen topic, an id
    /// made from the domain and name, a spelling kept as a custom property...): `{field, message}`.
    #[schema(value_type = Vec<Object>)]
    pub notes: Vec<MappingNote>,
}

async fn apply_document(
    state: &AppState,
    ctx: weft_mesh::RequestContext,
    yaml: String,
    placement: Placement,
) -> Result<(StatusCode, Json<Applied>), ApiError> {
    let (applied, product, notes) = call(state, move |mesh| mesh.apply_odps(&ctx, &yaml, &placement)).await?;
    let status = if applied == weft_mesh::Applied::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Applied { result: applied.as_str().to_string(), product, notes })))
}

fn yaml_body(body: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::from(CatalogError::InvalidOdps(format!(
            "the document is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )))
    })
}

/// Creates or updates the product from an ODPS YAML document and moves it to the document's status;
/// idempotent. A document whose `id` is a Weft product id must name this one; any other `id` (a
/// UUID...) is kept as the custom property `odpsId` of this product.
#[utoipa::path(put, path = "/api/v1/products/{id}/odps", tag = "odps",
    params(("id" = String, Path, description = "The product id"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body(content = String, content_type = "application/yaml", description = "An ODPS document"),
    responses((status = 200, description = "Updated or unchanged", body = Applied),
        (status = 201, description = "Created", body = Applied),
        (status = 422, description = "A document the ODPS schema refuses, with field and line (42206)", body = ErrorBody)))]
pub async fn import_odps(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<Applied>), ApiError> {
    let product = ProductId::parse(&id)?;
    let placement = Placement { product: Some(product), domain: None };
    apply_document(&state, ctx, yaml_body(&body)?, placement).await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApplyQuery {
    /// The domain of a document that names none and whose `id` is not a Weft product id.
    pub domain: Option<String>,
}

/// Like `PUT /api/v1/products/{id}/odps`, for the product the document names (`weft product apply`):
/// its `id` when that is `DOMAIN.NAME`, else `DOMAIN.NAME` made from slugs of its `domain` (or
/// `?domain=`) and `name`.
#[utoipa::path(post, path = "/api/v1/products:apply", operation_id = "apply_products", tag = "odps",
    params(ApplyQuery, ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body(content = String, content_type = "application/yaml", description = "An ODPS document"),
    responses((status = 200, description = "Updated or unchanged", body = Applied),
        (status = 201, description = "Created", body = Applied),
        (status = 422, description = "A document the ODPS schema refuses, with field and line (42206)", body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ApplyQuery>,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<Applied>), ApiError> {
    let domain = query.domain.as_deref().map(DomainName::parse).transpose()?;
    apply_document(&state, ctx, yaml_body(&body)?, Placement { product: None, domain }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_parameters_repeat_and_refuse_unknowns() {
        let uri: Uri = "/s?q=order%20events&tag=a&tag=b%20c&status=published&limit=5".parse().unwrap();
        let request = search_request(&uri).unwrap();
        assert_eq!(request.text, "order events");
        assert_eq!(request.tags, ["a", "b c"]);
        assert_eq!(request.status, Some(Status::Published));
        assert_eq!(request.limit, 5);
        for bad in ["/s?limit=0", "/s?limit=x", "/s?status=gone", "/s?qualityTier=gold", "/s?colour=red"] {
            let uri: Uri = bad.parse().unwrap();
            assert!(search_request(&uri).is_err(), "{bad}");
        }
    }
}
