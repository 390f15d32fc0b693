//! `GET /api/v1/products/{id}/profile` and `/stats`: what the web application and `weft product
//! profile` show about a product's data, from the live profile the mesh maintains as records are
//! written (see [`weft_mesh::profile`]).
//!
//! Both read the port the data routes would: `?port=NAME` (or `NAME@MAJOR`), else the served port
//! with the highest version. Retired products are refused (40302) as for their data.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use weft_mesh::profile::{Profile, Stats};
use weft_mesh::read::Target;

use super::openapi::ErrorBody;
use super::{call, Ctx, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// The live profile of the product's output port: every record written (or, when `partial`, the
/// newest ones a rebuild read), per field and per product. Maintained as records are written, kept in
/// the log across restarts. The `limit` parameter of earlier releases is gone (refused as unknown):
/// nothing is sampled any more.
#[utoipa::path(get, path = "/api/v1/products/{id}/profile", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ProfileQuery),
    responses((status = 200, description = "Per field: types, counts, nulls, distinct estimate (HyperLogLog), min/max/mean, \
        quantiles, histogram, top values (Misra-Gries); per product: records, bytes, throughput per minute over the last hour, \
        freshness against the objective, dead-lettered records and their share, coverage, and the sketches' stated errors", body = Profile),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "An unknown parameter (42201)", body = ErrorBody)))]
pub async fn profile(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ProfileQuery>,
) -> Result<Json<Profile>, ApiError> {
    let profile = call(&state, move |mesh| {
        let resolved = mesh.data().resolve(&Target::Product { id, port: query.port })?;
        mesh.profile(&ctx, &resolved)
    })
    .await?;
    Ok(Json(profile))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct StatsQuery {
    /// Minutes of throughput to count, ending with the current minute: 1 to 1440 (default 60).
    pub window_minutes: Option<u32>,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// Records held, freshness, and records per minute over a recent window, from the live profile.
#[utoipa::path(get, path = "/api/v1/products/{id}/stats", tag = "product data",
    params(("id" = String, Path, description = "The product id"), StatsQuery),
    responses((status = 200, description = "Record count, last record time and throughput per minute", body = Stats),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "A bad window (42201)", body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<StatsQuery>,
) -> Result<Json<Stats>, ApiError> {
    let minutes = query.window_minutes.unwrap_or(60);
    let stats = call(&state, move |mesh| {
        let resolved = mesh.data().resolve(&Target::Product { id, port: query.port })?;
        mesh.stats(&ctx, &resolved, minutes)
    })
    .await?;
    Ok(Json(stats))
}
