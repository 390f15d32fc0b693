//! Data contracts (ODCS v3): `/api/v1/contracts` to apply, list, read and export them, and
//! `/api/v1/products/{id}/contract` for the contract a product's output port enforces on every write.
//! The mesh's [`weft_mesh::contracts`] does the work.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::contracts::documents::{ContractSummary, ContractView};
use weft_mesh::contracts::{ContractRef, InvalidRecordPolicy, PortGovernance};
use weft_mesh::{Applied, MeshError};

use super::openapi::ErrorBody;
use super::{call, Ctx, JsonBody, PathParam, QueryParams, RawBody};
use crate::error::ApiError;
use crate::AppState;

const YAML: &str = "application/yaml";

/// The contracts, each at its newest version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractList {
    pub contracts: Vec<ContractSummary>,
}

/// Every contract's newest version, with the versions stored and the ports that enforce one.
#[utoipa::path(get, path = "/api/v1/contracts", operation_id = "list_contracts", tag = "contracts",
    responses((status = 200, description = "The contracts", body = ContractList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<ContractList>, ApiError> {
    Ok(Json(ContractList { contracts: call(&state, |mesh| Ok(mesh.contracts())).await? }))
}

/// What applying a contract did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractApplied {
    /// `created` (a new contract), `updated` (a new version of one) or `unchanged`.
    pub result: String,
    pub contract: ContractSummary,
}

/// Stores a contract version from an ODCS v3 YAML document (or its JSON form, with
/// `content-type: application/json`), validated against the standard's JSON Schema and Weft's checks.
/// A version never changes: the same id and version with another document is refused.
#[utoipa::path(post, path = "/api/v1/contracts", operation_id = "apply_contract", tag = "contracts",
    params(("X-Weft-Actor" = Option<String>, Header, description = "Who applies it")),
    request_body(content = String, content_type = "application/yaml", description = "An ODCS v3 document"),
    responses((status = 201, description = "A new contract or version", body = ContractApplied),
        (status = 200, description = "The same document again: unchanged", body = ContractApplied),
        (status = 409, description = "The version exists with another document (40901)", body = ErrorBody),
        (status = 422, description = "Not a valid contract: every problem with its path and line (42211)", body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<ContractApplied>), ApiError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    let text = String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::invalid(format!("the document is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
    })?;
    let document = if json { Some(super::parse_json::<serde_json::Value>(text.as_bytes())?) } else { None };
    let (contract, applied) = call(&state, move |mesh| match document {
        Some(document) => mesh.apply_contract_json(&ctx, document),
        None => mesh.apply_contract(&ctx, &text),
    })
    .await?;
    let status = if applied == Applied::Unchanged { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(ContractApplied { result: applied.as_str().to_string(), contract })))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// The version (default: the newest).
    pub version: Option<String>,
}

/// A contract version: its document as it came and its rules as the write path checks them.
#[utoipa::path(get, path = "/api/v1/contracts/{id}", operation_id = "get_contract", tag = "contracts",
    params(("id" = String, Path, description = "The contract id"), VersionQuery),
    responses((status = 200, description = "The contract", body = ContractView),
        (status = 404, description = "No such contract or version (40409)", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<VersionQuery>,
) -> Result<Json<ContractView>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.contract(&id, query.version.as_deref())).await?))
}

/// A contract version as ODCS YAML, every field as it came (custom and unknown ones included).
#[utoipa::path(get, path = "/api/v1/contracts/{id}/odcs", operation_id = "export_contract", tag = "contracts",
    params(("id" = String, Path, description = "The contract id"), VersionQuery),
    responses((status = 200, description = "The ODCS document (YAML)", content_type = "application/yaml", body = Object),
        (status = 404, description = "No such contract or version (40409)", body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<VersionQuery>,
) -> Result<Response, ApiError> {
    let yaml = call(&state, move |mesh| mesh.contract_yaml(&id, query.version.as_deref())).await?;
    Ok(([(CONTENT_TYPE, YAML)], yaml).into_response())
}

/// The contract a product's output port enforces.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductContract {
    pub product: String,
    pub port: String,
    /// What the port does with a record that breaks its rules: `reject` or `dead-letter`.
    pub policy: InvalidRecordPolicy,
    /// The contract version and schema object the port checks (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached: Option<ContractRef>,
    /// That contract version, in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractView>,
}

impl ProductContract {
    fn new(
        mesh: &weft_mesh::Mesh,
        product: String,
        port: String,
        governance: PortGovernance,
    ) -> Result<Self, MeshError> {
        let contract = match &governance.contract {
            Some(c) => Some(mesh.contract(&c.id, Some(&c.version))?),
            None => None,
        };
        Ok(ProductContract { product, port, policy: governance.policy, attached: governance.contract, contract })
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PortQuery {
    /// The output port (default: the product's only port).
    pub port: Option<String>,
}

/// What a product's output port enforces: its contract (in full) and its policy.
#[utoipa::path(get, path = "/api/v1/products/{id}/contract", tag = "contracts",
    params(("id" = String, Path, description = "The product id"), PortQuery),
    responses((status = 200, description = "The port's contract, if any, and policy", body = ProductContract),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody)))]
pub async fn product_contract(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<PortQuery>,
) -> Result<Json<ProductContract>, ApiError> {
    let answer = call(&state, move |mesh| {
        let (port, governance) = mesh.port_governance(&id, query.port.as_deref())?;
        ProductContract::new(mesh, id, port, governance)
    })
    .await?;
    Ok(Json(answer))
}

/// The body of `PUT /api/v1/products/{id}/contract`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachContract {
    /// The contract id.
    pub id: String,
    /// Its version (default: the newest).
    #[serde(default)]
    pub version: Option<String>,
    /// The schema object describing the port's records (default: the contract's only one).
    #[serde(default)]
    pub object: Option<String>,
    /// The output port (default: the product's only port).
    #[serde(default)]
    pub port: Option<String>,
}

/// Makes a product's output port check every record written to it against a contract version.
#[utoipa::path(put, path = "/api/v1/products/{id}/contract", tag = "contracts",
    params(("id" = String, Path, description = "The product id"),
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change")),
    request_body = AttachContract,
    responses((status = 200, description = "What the port enforces now", body = ProductContract),
        (status = 404, description = "No such product (40404), port (40408) or contract (40409)", body = ErrorBody),
        (status = 422, description = "A bad body (42201), or a contract object that does not exist (42211)", body = ErrorBody)))]
pub async fn attach(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(body): JsonBody<AttachContract>,
) -> Result<Json<ProductContract>, ApiError> {
    let answer = call(&state, move |mesh| {
        let (port, governance) = mesh.attach_contract(
            &ctx,
            &id,
            body.port.as_deref(),
            &body.id,
            body.version.as_deref(),
            body.object.as_deref(),
        )?;
        ProductContract::new(mesh, id, port, governance)
    })
    .await?;
    Ok(Json(answer))
}

/// Stops a product's output port checking records against a contract (its schema and policy stay).
#[utoipa::path(delete, path = "/api/v1/products/{id}/contract", tag = "contracts",
    params(("id" = String, Path, description = "The product id"), PortQuery,
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change")),
    responses((status = 200, description = "What the port enforces now", body = ProductContract),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody)))]
pub async fn detach(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<PortQuery>,
) -> Result<Json<ProductContract>, ApiError> {
    let answer = call(&state, move |mesh| {
        let (port, governance) = mesh.detach_contract(&ctx, &id, query.port.as_deref())?;
        ProductContract::new(mesh, id, port, governance)
    })
    .await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TestQuery {
    /// The product whose recent records are checked.
    pub product: String,
    /// The version (default: the newest).
    pub version: Option<String>,
    /// The schema object (default: the contract's only one).
    pub object: Option<String>,
    /// How many of the newest records (1 to 100000, default 1000).
    pub limit: Option<usize>,
}

/// Runs a contract against a product's newest records, rule by rule, writing nothing: what would
/// fail if the contract were enforced (`weft contract test`, for CI).
#[utoipa::path(get, path = "/api/v1/contracts/{id}/test", operation_id = "test_contract", tag = "contracts",
    params(("id" = String, Path, description = "The contract id"), TestQuery),
    responses((status = 200, description = "Each rule with the records that broke it", body = weft_mesh::contracts::documents::ContractTest),
        (status = 404, description = "No such contract (40409) or product (40404)", body = ErrorBody),
        (status = 422, description = "A bad parameter (42201) or object (42211)", body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<TestQuery>,
) -> Result<Json<weft_mesh::contracts::documents::ContractTest>, ApiError> {
    let limit = query.limit.unwrap_or(1000);
    if !(1..=100_000).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be 1 to 100000, not {limit}")));
    }
    let report = call(&state, move |mesh| {
        mesh.test_contract(&ctx, &id, query.version.as_deref(), query.object.as_deref(), &query.product, limit)
    })
    .await?;
    Ok(Json(report))
}
