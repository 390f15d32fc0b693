//! Where the stream catalog meets streaming SQL: a data product made in one step from a stream or
//! table a persistent query writes (`POST /api/v1/products/from-sql`), and the catalog's veto on
//! dropping a source that published products depend on ([`CatalogDropGuard`]).
//!
//! The SQL engine gives the query's lineage in its terms (sources, columns); this module translates
//! it into the catalog's (topics, schema subjects) and the catalog does the rest in one atomic change.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_catalog::{
    Catalog, DerivedField, DerivedLineage, FieldEdge, Format, OutputPort, Product, ProductId, ProductSpec, QualityTier,
    SemVer, TopicColumn,
};
use weft_registry::{RegisterRequest, Registry, SchemaDefinition, SchemaType, VersionSpec};
use weft_sql::format::Column;
use weft_sql::lineage::{DropGuard, QueryLineage};
use weft_sql::registry::json_schema_for;

use super::catalog::Actor;
use super::openapi::ErrorBody;
use super::{blocking, JsonBody};
use crate::error::ApiError;
use crate::AppState;

/// Refuses `DROP STREAM` / `DROP TABLE` of a source whose topic published or deprecated products
/// depend on (see [`Catalog::products_depending_on_topic`]).
pub struct CatalogDropGuard(pub Arc<Catalog>);

impl DropGuard for CatalogDropGuard {
    fn dependents(&self, _name: &str, topic: &str) -> Vec<String> {
        self.0.products_depending_on_topic(topic).iter().map(ProductId::to_string).collect()
    }
}

/// `POST /api/v1/products/from-sql` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FromSqlRequest {
    /// The stream or table a persistent query writes (`CREATE ... AS SELECT`), as SQL names it.
    pub source: String,
    /// The product id: `DOMAIN.NAME`, or `NAME` within `domain`.
    pub id: String,
    pub domain: String,
    /// The display name (default: the source's name).
    pub name: Option<String>,
    /// The accountable person or team (default: the acting user).
    pub owner: Option<String>,
    /// Default: which inputs the query derives it from.
    pub description: Option<String>,
    #[serde(default, alias = "quality_tier")]
    #[schema(value_type = Option<String>)]
    pub quality_tier: Option<QualityTier>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What `from-sql` made.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FromSqlResponse {
    /// The draft product.
    #[schema(value_type = Object)]
    pub product: Product,
    /// The field lineage recorded for it (also at `/products/{id}/lineage/fields`).
    #[schema(value_type = Vec<Object>)]
    pub field_edges: Vec<FieldEdge>,
    /// The query's lineage as the SQL engine sees it: `{sink, sinkTopic, queryIds, inputs: [{name,
    /// topic}], columns: [{name, key, inputs: [{source, column}]}]}`.
    #[schema(value_type = Object)]
    pub sql: QueryLineage,
}

/// Creates a draft product from a stream or table written by a persistent query: its output port is
/// the source's topic (value schema subject `TOPIC-value`, which the query registers for AVRO and
/// JSON_SR, and this call for plain JSON), its input ports the products publishing the query's input topics (or the bare topics),
/// and its field lineage the query's column lineage.
#[utoipa::path(post, path = "/api/v1/products/from-sql", tag = "products",
    params(("X-Weft-Actor" = Option<String>, Header, description = "Who makes the change (default anonymous)")),
    request_body = FromSqlRequest,
    responses((status = 201, description = "The draft product, its field lineage and the query's lineage", body = FromSqlResponse),
        (status = 400, description = "The source is not written by a persistent query, or its format has no schema (40002)", body = ErrorBody),
        (status = 404, description = "No such stream or table (40404) or domain (40401)", body = ErrorBody),
        (status = 409, description = "The product exists (40901)", body = ErrorBody),
        (status = 422, description = "An invalid field (42201) or id (42202)", body = ErrorBody)))]
pub async fn from_sql(
    State(state): State<AppState>,
    Actor(actor): Actor,
    JsonBody(request): JsonBody<FromSqlRequest>,
) -> Result<(StatusCode, Json<FromSqlResponse>), ApiError> {
    let (catalog, sql, registry) = (state.catalog.clone(), state.sql.clone(), state.registry.clone());
    let response = blocking(move || {
        let id = product_id(&request.id, &request.domain)?;
        let source = sql.source(&request.source).ok_or_else(|| {
            ApiError::numbered(404, 40404, format!("stream or table '{}' does not exist", request.source))
        })?;
        let lineage = sql.lineage(&request.source).ok_or_else(|| {
            ApiError::numbered(
                400,
                40002,
                format!(
                    "{} is not written by a persistent query (CREATE STREAM|TABLE ... AS SELECT or INSERT INTO ... \
                     SELECT), so there is no lineage to derive a product from: create the product with POST \
                     /api/v1/products instead",
                    source.name
                ),
            )
        })?;
        let format = match source.value_format {
            weft_sql::format::Format::Avro => Format::Avro,
            weft_sql::format::Format::Json | weft_sql::format::Format::JsonSr => Format::Json,
            other => {
                return Err(ApiError::numbered(
                    400,
                    40002,
                    format!(
                        "{} has value format {other:?}, which has no schema subject: a product's output port needs \
                         AVRO, JSON or JSON_SR values",
                        source.name
                    ),
                ))
            }
        };
        let subject = format!("{}-value", source.topic);
        if source.value_format == weft_sql::format::Format::Json {
            describe_json_output(&registry, &subject, &source.value_columns)?;
        }
        let inputs: Vec<&str> = lineage.inputs.iter().map(|i| i.name.as_str()).collect();
        let mut spec = ProductSpec::new(
            id,
            request.name.unwrap_or_else(|| source.name.clone()),
            request.owner.unwrap_or(actor.clone()),
        );
        spec.description = request.description.unwrap_or_else(|| {
            format!("{} as derived from {} by a streaming SQL query.", source.name, inputs.join(", "))
        });
        spec.documentation = format!("Written by the persistent query:\n\n```sql\n{}\n```\n", source.statement);
        spec.quality_tier = request.quality_tier;
        spec.tags = request.tags;
        spec.output_ports.push(OutputPort {
            name: source.name.to_lowercase(),
            version: SemVer::new(1, 0, 0),
            description: format!("The records of {} {}", source.kind.name().to_lowercase(), source.name),
            topic: source.topic.clone(),
            schema_subject: subject,
            format,
            status: Default::default(),
            custom_properties: Vec::new(),
            extensions: Default::default(),
        });
        let derived = derived_lineage(&lineage);
        let (product, field_edges) = catalog.create_derived_product(&actor, spec, &derived)?;
        Ok::<_, ApiError>(FromSqlResponse { product, field_edges, sql: lineage })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// Plain JSON values have no schema in the registry (ksqlDB registers none), but a product's output
/// port needs one to be published: the query's output columns are described with the JSON Schema that
/// `JSON_SR` would have registered. A schema already there (registered by hand) is kept.
fn describe_json_output(registry: &Registry, subject: &str, columns: &[Column]) -> Result<(), ApiError> {
    if registry.version(subject, VersionSpec::Latest, false).is_ok() {
        return Ok(());
    }
    let schema = json_schema_for(columns).to_string();
    let definition = SchemaDefinition { schema_type: SchemaType::Json, schema, references: Vec::new() };
    registry.register(subject, &RegisterRequest::new(definition)).map_err(|e| {
        ApiError::numbered(500, 50001, format!("could not register the JSON Schema of the query's output: {e}"))
    })?;
    Ok(())
}

/// `NAME` in `domain`, or `DOMAIN.NAME` whose domain must be `domain`.
fn product_id(id: &str, domain: &str) -> Result<ProductId, ApiError> {
    let full = if id.contains('.') { id.to_string() } else { format!("{domain}.{id}") };
    let parsed = ProductId::parse(&full)?;
    if parsed.domain().as_str() != domain {
        return Err(ApiError::invalid(format!(
            "invalid id: product '{parsed}' belongs to domain '{}', but the request names domain '{domain}'",
            parsed.domain()
        )));
    }
    Ok(parsed)
}

/// The SQL lineage in the catalog's terms: input sources become their topics.
fn derived_lineage(lineage: &QueryLineage) -> DerivedLineage {
    let topic_of = |source: &str| lineage.inputs.iter().find(|i| i.name == source).map(|i| i.topic.clone());
    DerivedLineage {
        input_topics: lineage.inputs.iter().map(|i| i.topic.clone()).collect(),
        fields: lineage
            .columns
            .iter()
            .map(|c| DerivedField {
                field: c.name.clone(),
                from: c
                    .inputs
                    .iter()
                    .filter_map(|r| Some(TopicColumn { topic: topic_of(&r.source)?, column: r.column.clone() }))
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_qualified_by_their_domain() {
        assert_eq!(product_id("enriched", "sales").unwrap().as_str(), "sales.enriched");
        assert_eq!(product_id("sales.enriched", "sales").unwrap().as_str(), "sales.enriched");
        assert!(product_id("ops.enriched", "sales").unwrap_err().message.contains("belongs to domain 'ops'"));
        assert!(product_id("Bad Id", "sales").is_err());
    }
}
