//! Where SQL names and products meet: `POST /api/v1/products/{id}/sql-source` (the stream over a
//! product's output port, declared on first use) and `GET /api/v1/sql/sources` (every stream and
//! table with the products it serves). The workflows are the mesh's
//! ([`weft_mesh::Mesh::product_sql_source`], [`weft_mesh::Mesh::sql_sources`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::product_sql::{ProductSqlSource, SqlSource};

use super::openapi::ErrorBody;
use super::{call, Ctx, PathParam, QueryParams};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SqlSourceQuery {
    /// The output port, NAME or NAME@MAJOR (default: the served port with the highest major version).
    pub port: Option<String>,
}

/// The stream or table over the product's output port: an existing one over its topic, or else
/// `CREATE STREAM <ID in upper case> (<columns of the port's schema>) WITH (KAFKA_TOPIC=...,
/// VALUE_FORMAT=...)`, declared now (201) for everyone to query.
#[utoipa::path(post, path = "/api/v1/products/{id}/sql-source", tag = "products", operation_id = "ensureProductSqlSource",
    params(("id" = String, Path, description = "The product id"), SqlSourceQuery),
    responses((status = 200, description = "The stream or table that was there", body = ProductSqlSource),
        (status = 201, description = "The stream, declared now", body = ProductSqlSource),
        (status = 403, description = "The product is retired (40302), or its data is not the caller's to read (40304, 40307)", body = ErrorBody),
        (status = 404, description = "No such product (40404) or port (40408)", body = ErrorBody),
        (status = 422, description = "The port's subject has no schema yet (42209), or Weft cannot read its format (42210)", body = ErrorBody)))]
pub async fn ensure(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<SqlSourceQuery>,
) -> Result<(StatusCode, Json<ProductSqlSource>), ApiError> {
    let source = call(&state, move |mesh| mesh.product_sql_source(&ctx, &id, query.port.as_deref())).await?;
    let status = if source.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(source)))
}

/// `{"sources": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SqlSources {
    /// Every stream and table by name, each with the products (not retired) serving its topic.
    pub sources: Vec<SqlSource>,
}

/// Every stream and table (as `SHOW STREAMS` and `SHOW TABLES` list them), each with the products
/// whose output ports are its topic.
#[utoipa::path(get, path = "/api/v1/sql/sources", tag = "sql", operation_id = "listSqlSources",
    responses((status = 200, description = "The streams and tables", body = SqlSources)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<SqlSources>, ApiError> {
    Ok(Json(SqlSources { sources: call(&state, |mesh| mesh.sql_sources()).await? }))
}
