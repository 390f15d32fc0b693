//! `GET /api/v1/products/{id}/profile` and `/stats`: what the web application shows about a product's
//! data (computed by the mesh from the output port's records, see [`weft_mesh::profile`]).
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

const DEFAULT_PROFILE_RECORDS: usize = 1000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// How many of the newest records to profile: 1 to 10000 (default 1000).
    pub limit: Option<usize>,
    /// The output port to read, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// A profile of each field over the newest records of the product's output port.
#[utoipa::path(get, path = "/api/v1/products/{id}/profile", tag = "product data",
    params(("id" = String, Path, description = "The product id"), ProfileQuery),
    responses((status = 200, description = "Per field: types, counts, nulls, distinct values, min/max/mean, histogram, top values", body = Profile),
        (status = 403, description = "The product is retired (40302)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "A bad limit (42201)", body = ErrorBody)))]
pub async fn profile(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<ProfileQuery>,
) -> Result<Json<Profile>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PROFILE_RECORDS);
    let profile = call(&state, move |mesh| {
        let resolved = mesh.data().resolve(&Target::Product { id, port: query.port })?;
        mesh.profile(&ctx, &resolved, limit)
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

/// Records held, freshness, and records per minute over a recent window.
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
