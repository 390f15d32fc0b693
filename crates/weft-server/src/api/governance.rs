//! Governance the server evaluates: the global policies (`GET|PUT /api/v1/governance/policies`),
//! policy violations across the mesh or of one product, contract failures across the mesh, and a
//! product's schema as fields (the rules are the mesh's and the catalog's; the web app keeps no copy
//! of them).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::contracts::recovery::ProductFailures;
use weft_mesh::governance::{ProductSchema, Violation, VIOLATION_KINDS};
use weft_mesh::policies::GlobalPolicies;

use super::openapi::ErrorBody;
use super::{call, Ctx, JsonBody, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ViolationsQuery {
    /// Only this domain's products.
    pub domain: Option<String>,
    /// Only this product.
    pub product: Option<String>,
}

/// Policy violations, and how many of each kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct Violations {
    /// `{"kind", "product", "name", "owner", "status", "details"}`, by kind then product.
    pub violations: Vec<Violation>,
    /// Every kind (`cannot-publish`, `past-sunset`, `deprecated-input`, `stale`, `missing-recommended`,
    /// and the global policies' `required-metadata`, `minimum-compatibility`, `classification`,
    /// `naming`, `contract-required`) and its number of violations, zeros included.
    pub counts: BTreeMap<String, usize>,
}

/// Every product breaking a policy: drafts that cannot be published yet, deprecated products past
/// their sunset, products reading deprecated or retired inputs, served products missing their
/// freshness objective, published products without the recommended metadata, and every product
/// (not retired) breaking a global policy, with its `enforcement` and whether it `blocks`.
#[utoipa::path(get, path = "/api/v1/governance/violations", tag = "governance", params(ViolationsQuery),
    responses((status = 200, description = "The violations and their counts by kind", body = Violations),
        (status = 404, description = "No such domain (40403) or product (40404)", body = ErrorBody)))]
pub async fn violations(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ViolationsQuery>,
) -> Result<Json<Violations>, ApiError> {
    let violations =
        call(&state, move |mesh| mesh.violations(&ctx, query.domain.as_deref(), query.product.as_deref())).await?;
    let mut counts: BTreeMap<String, usize> = VIOLATION_KINDS.iter().map(|k| (k.to_string(), 0)).collect();
    for violation in &violations {
        *counts.entry(violation.kind.to_string()).or_default() += 1;
    }
    Ok(Json(Violations { violations, counts }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SchemaQuery {
    /// The output port, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// The latest schema of the product's output port, with every field flattened by the registry's own
/// reading of the schema (types, docs, nesting depth, whether a field may be missing, classification).
#[utoipa::path(get, path = "/api/v1/products/{id}/schema", tag = "products",
    params(("id" = String, Path, description = "The product id"), SchemaQuery),
    responses((status = 200, description = "The schema and its fields", body = ProductSchema),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "The port's subject has no schema yet (42209)", body = ErrorBody)))]
pub async fn product_schema(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<SchemaQuery>,
) -> Result<Json<ProductSchema>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.product_schema(&id, query.port.as_deref())).await?))
}

/// The global policies in force, who set them and when, and every earlier version's author and time.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoliciesAnswer {
    /// 0 until policies are first set.
    pub version: u64,
    /// Who set this version (empty at version 0).
    pub principal: String,
    /// When, epoch milliseconds (0 at version 0).
    pub at: i64,
    pub policies: GlobalPolicies,
    /// Whether the acting user may change them (a platform admin).
    pub editable: bool,
    /// Every version, oldest first: `{version, principal, at}`.
    pub history: Vec<PolicyChange>,
}

/// One change of the policies.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyChange {
    pub version: u64,
    pub principal: String,
    pub at: i64,
}

fn policies_answer(mesh: &weft_mesh::Mesh, ctx: &weft_mesh::RequestContext) -> PoliciesAnswer {
    let current = mesh.policies();
    let history = mesh
        .policies_history()
        .into_iter()
        .map(|(version, principal, at)| PolicyChange { version, principal, at })
        .collect();
    PoliciesAnswer {
        version: current.version,
        principal: current.principal,
        at: current.at,
        policies: current.policies,
        editable: mesh.authorizer().is_admin(ctx.principal()),
        history,
    }
}

/// The platform's global policies (see `PUT` for the document).
#[utoipa::path(get, path = "/api/v1/governance/policies", tag = "governance",
    responses((status = 200, description = "The policies in force and their history", body = PoliciesAnswer)))]
pub async fn policies(State(state): State<AppState>, Ctx(ctx): Ctx) -> Result<Json<PoliciesAnswer>, ApiError> {
    Ok(Json(call(&state, move |mesh| Ok(policies_answer(mesh, &ctx))).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PoliciesChangeQuery {
    /// The version the change is based on (refused with 40902 when the policies moved on).
    pub if_version: Option<u64>,
}

/// Replaces the global policies; only platform admins may (today the actor `admin`). The body is the
/// whole document, every part optional, each with `enforcement` `block` (publication, or for
/// `minimumCompatibility` registration, is refused) or `warn` (only listed):
/// `{"requiredMetadata": {"fields": [...], "enforcement"}, "minimumCompatibility": {"level", "enforcement"},
/// "classification": {"restricted": ["pii"], "enforcement"}, "naming": {"productId", "topic", "enforcement"},
/// "contractRequired": {"qualityTiers": [...], "enforcement"}}`. A bad document is refused whole, naming
/// the field (`field`) and why.
#[utoipa::path(put, path = "/api/v1/governance/policies", tag = "governance",
    params(PoliciesChangeQuery,
        ("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change: a platform admin")),
    request_body(content = Object, description = "The policies document"),
    responses((status = 200, description = "The policies now in force", body = PoliciesAnswer),
        (status = 403, description = "Not a platform admin (40304)", body = ErrorBody),
        (status = 409, description = "The policies moved past ifVersion (40902)", body = ErrorBody),
        (status = 422, description = "An invalid document, with the field (42201)", body = ErrorBody)))]
pub async fn set_policies(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<PoliciesChangeQuery>,
    JsonBody(document): JsonBody<serde_json::Value>,
) -> Result<Json<PoliciesAnswer>, ApiError> {
    let answer = call(&state, move |mesh| {
        mesh.set_policies(&ctx, &document, query.if_version)?;
        Ok(policies_answer(mesh, &ctx))
    })
    .await?;
    Ok(Json(answer))
}

/// Contract failures across the mesh.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractFailures {
    /// Every product with a contract attached or dead letters: `{product, name, owner, contracts,
    /// total, unresolved, by_rule}`, those with unresolved dead letters first.
    pub products: Vec<ProductFailures>,
    /// Unresolved dead letters across them.
    pub unresolved: u64,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FailuresQuery {
    /// Only this domain's products.
    pub domain: Option<String>,
}

/// Contract failures across the mesh in one call: per product with a contract attached or a
/// dead-letter topic, its contracts and its dead letters (total, unresolved, unresolved by rule).
#[utoipa::path(get, path = "/api/v1/governance/dead-letters", tag = "governance", params(FailuresQuery),
    responses((status = 200, description = "Contract failures per product", body = ContractFailures),
        (status = 404, description = "No such domain (40403)", body = ErrorBody)))]
pub async fn contract_failures(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<FailuresQuery>,
) -> Result<Json<ContractFailures>, ApiError> {
    let products = call(&state, move |mesh| mesh.contract_failures(&ctx, query.domain.as_deref())).await?;
    let unresolved = products.iter().map(|p| p.unresolved).sum();
    Ok(Json(ContractFailures { products, unresolved }))
}
