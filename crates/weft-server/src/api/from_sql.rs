//! `POST /api/v1/products/from-sql`: a draft product in one step from a stream or table a persistent
//! query writes (the workflow is the mesh's, [`weft_mesh::Mesh::product_from_sql`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa::ToSchema;
use weft_mesh::sql::{DerivedProduct, FromSql};

use super::openapi::ErrorBody;
use super::{call, Ctx, JsonBody};
use crate::error::ApiError;
use crate::AppState;

/// What `from-sql` made.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FromSqlResponse {
    /// The draft product.
    #[schema(value_type = Object)]
    pub product: weft_mesh::catalog::Product,
    /// The field lineage recorded for it (also at `/products/{id}/lineage/fields`).
    #[schema(value_type = Vec<Object>)]
    pub field_edges: Vec<weft_mesh::catalog::FieldEdge>,
    /// The query's lineage as the SQL engine sees it: `{sink, sinkTopic, queryIds, inputs: [{name,
    /// topic}], columns: [{name, key, inputs: [{source, column}]}]}`.
    #[schema(value_type = Object)]
    pub sql: weft_mesh::weft_sql::lineage::QueryLineage,
}

/// Creates a draft product from a stream or table written by a persistent query: its output port is
/// the source's topic (value schema subject `TOPIC-value`, which the query registers for AVRO and
/// JSON_SR, and this call for plain JSON), its input ports the products publishing the query's input
/// topics (or the bare topics), and its field lineage the query's column lineage.
#[utoipa::path(post, path = "/api/v1/products/from-sql", tag = "products",
    params(("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body = FromSql,
    responses((status = 201, description = "The draft product, its field lineage and the query's lineage", body = FromSqlResponse),
        (status = 400, description = "The source is not written by a persistent query (40002), or its format has no schema (40003)", body = ErrorBody),
        (status = 404, description = "No such stream or table (40407) or domain (40403)", body = ErrorBody),
        (status = 409, description = "The product exists (40901)", body = ErrorBody),
        (status = 422, description = "An invalid field (42201) or id (42202)", body = ErrorBody)))]
pub async fn from_sql(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBody(request): JsonBody<FromSql>,
) -> Result<(StatusCode, Json<FromSqlResponse>), ApiError> {
    let DerivedProduct { product, field_edges, sql } =
        call(&state, move |mesh| mesh.product_from_sql(&ctx, request)).await?;
    Ok((StatusCode::CREATED, Json(FromSqlResponse { product, field_edges, sql })))
}
