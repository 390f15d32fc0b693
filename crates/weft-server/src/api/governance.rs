//! Governance the server evaluates: policy violations across the mesh, and a product's schema as
//! fields (the rules are the mesh's and the catalog's; the web app keeps no copy of them).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::governance::{ProductSchema, Violation, VIOLATION_KINDS};

use super::openapi::ErrorBody;
use super::{call, Ctx, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ViolationsQuery {
    /// Only this domain's products.
    pub domain: Option<String>,
}

/// Policy violations, and how many of each kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct Violations {
    /// `{"kind", "product", "name", "owner", "status", "details"}`, by kind then product.
    pub violations: Vec<Violation>,
    /// Every kind (`cannot-publish`, `past-sunset`, `deprecated-input`, `stale`, `missing-recommended`)
    /// and its number of violations, zeros included.
    pub counts: BTreeMap<String, usize>,
}

/// Every product breaking a policy: drafts that cannot be published yet, deprecated products past
/// their sunset, products reading deprecated or retired inputs, served products missing their
/// freshness objective, and published products without the recommended metadata.
#[utoipa::path(get, path = "/api/v1/governance/violations", tag = "governance", params(ViolationsQuery),
    responses((status = 200, description = "The violations and their counts by kind", body = Violations),
        (status = 404, description = "No such domain (40403)", body = ErrorBody)))]
pub async fn violations(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ViolationsQuery>,
) -> Result<Json<Violations>, ApiError> {
    let violations = call(&state, move |mesh| mesh.violations(&ctx, query.domain.as_deref())).await?;
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
