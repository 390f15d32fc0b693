//! Where streaming SQL meets the rest of the mesh: the engine's data access through the mesh's write
//! and read paths ([`MeshAccess`]), the catalog's veto on dropping what products depend on
//! ([`CatalogDropGuard`]), and a data product made in one step from a stream or table a persistent
//! query writes ([`crate::Mesh::product_from_sql`]).
//!
//! The SQL engine gives a query's lineage in its terms (sources, columns); this module translates it
//! into the catalog's (topics, schema subjects), and the catalog does the rest in one atomic change.

use std::sync::Arc;

use weft_catalog::{
    Catalog, DerivedField, DerivedLineage, FieldEdge, Format, OutputPort, Product, ProductId, ProductSpec, QualityTier,
    SemVer, TopicColumn,
};
use weft_log::{LogError, ReadLimits, ReadResult};
use weft_registry::{RegisterRequest, Registry, SchemaDefinition, SchemaType, VersionSpec};
use weft_sql::format::Column;
use weft_sql::lineage::{DropGuard, QueryLineage};
use weft_sql::registry::json_schema_for;
use weft_sql::{DataAccess, Routed, SqlError, Writer};

use crate::context::RequestContext;
use crate::data::DataPlane;
use crate::error::{MeshError, Result};
use crate::Mesh;

/// The SQL engine's [`DataAccess`]: the mesh's one write path and one read path.
pub struct MeshAccess(pub Arc<DataPlane>);

/// A refusal of the mesh as the SQL engine reports it (ksqlDB's codes come from [`SqlError`]).
fn sql_error(error: MeshError) -> SqlError {
    match error {
        MeshError::Log(LogError::InternalTopic(topic)) => weft_sql::access::internal_topic(&topic),
        MeshError::Log(e) => SqlError::Log(e),
        MeshError::Sql(e) => e,
        // What was written does not fit the product's port: the statement's fault, as ksqlDB reports it.
        invalid @ (MeshError::InvalidRecord { .. } | MeshError::RecordsBreakRules { .. }) => {
            SqlError::Analysis(invalid.to_string())
        }
        other => SqlError::Forbidden(other.to_string()),
    }
}

impl DataAccess for MeshAccess {
    fn check_write(&self, principal: &str, topic: &str) -> weft_sql::Result<()> {
        self.0.check_write(principal, topic).map_err(sql_error)
    }

    fn check_read(&self, principal: &str, topic: &str) -> weft_sql::Result<()> {
        self.0.check_read(principal, topic).map_err(sql_error)
    }

    fn write(&self, principal: &str, topic: &str, records: Vec<Routed>, writer: Writer) -> weft_sql::Result<()> {
        self.0.write(principal, topic, records, writer).map(|_| ()).map_err(sql_error)
    }

    fn read(
        &self,
        principal: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> weft_sql::Result<ReadResult> {
        self.0.read_partition(principal, topic, partition, offset, limits).map_err(sql_error)
    }
}

/// Refuses `DROP STREAM` / `DROP TABLE` of a source whose topic published or deprecated products
/// depend on (see [`Catalog::products_depending_on_topic`]).
pub struct CatalogDropGuard(pub Arc<Catalog>);

impl DropGuard for CatalogDropGuard {
    fn dependents(&self, _name: &str, topic: &str) -> Vec<String> {
        self.0.products_depending_on_topic(topic).iter().map(ProductId::to_string).collect()
    }
}

/// What a product made from SQL is to be: the source and the product's metadata (the body of
/// `POST /api/v1/products/from-sql`).
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FromSql {
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
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub quality_tier: Option<QualityTier>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What `from-sql` made.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivedProduct {
    /// The draft product.
    pub product: Product,
    /// The field lineage recorded for it.
    pub field_edges: Vec<FieldEdge>,
    /// The query's lineage as the SQL engine sees it.
    pub sql: QueryLineage,
}

impl Mesh {
    /// A draft product from a stream or table written by a persistent query: its output port is the
    /// source's topic (value schema subject `TOPIC-value`, which the query registers for AVRO and
    /// JSON_SR, and this call for plain JSON), its input ports the products publishing the query's
    /// input topics (or the bare topics), and its field lineage the query's column lineage.
    pub fn product_from_sql(&self, ctx: &RequestContext, request: FromSql) -> Result<DerivedProduct> {
        let actor = ctx.principal();
        let id = product_id(&request.id, &request.domain)?;
        let source =
            self.sql.source(&request.source).ok_or_else(|| MeshError::SqlSourceNotFound(request.source.clone()))?;
        let lineage = self.sql.lineage(&request.source).ok_or_else(|| MeshError::NotDerived(source.name.clone()))?;
        let format = match source.value_format {
            weft_sql::format::Format::Avro => Format::Avro,
            weft_sql::format::Format::Json | weft_sql::format::Format::JsonSr => Format::Json,
            other => {
                return Err(MeshError::FormatWithoutSchema {
                    source_name: source.name.clone(),
                    format: format!("{other:?}").to_uppercase(),
                })
            }
        };
        let subject = format!("{}-value", source.topic);
        if source.value_format == weft_sql::format::Format::Json {
            describe_json_output(&self.registry, &subject, &source.value_columns)?;
        }
        let inputs: Vec<&str> = lineage.inputs.iter().map(|i| i.name.as_str()).collect();
        let mut spec = ProductSpec::new(
            id,
            request.name.unwrap_or_else(|| source.name.clone()),
            request.owner.unwrap_or_else(|| actor.to_string()),
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
            contract_id: None,
            custom_properties: Vec::new(),
            extensions: Default::default(),
        });
        let derived = derived_lineage(&lineage);
        let (product, field_edges) = self.catalog.create_derived_product(actor, spec, &derived)?;
        Ok(DerivedProduct { product, field_edges, sql: lineage })
    }
}

/// Plain JSON values have no schema in the registry (ksqlDB registers none), but a product's output
/// port needs one to be published: the query's output columns are described with the JSON Schema that
/// `JSON_SR` would have registered. A schema already there (registered by hand) is kept.
fn describe_json_output(registry: &Registry, subject: &str, columns: &[Column]) -> Result<()> {
    if registry.version(subject, VersionSpec::Latest, false).is_ok() {
        return Ok(());
    }
    let schema = json_schema_for(columns).to_string();
    let definition = SchemaDefinition { schema_type: SchemaType::Json, schema, references: Vec::new() };
    registry.register(subject, &RegisterRequest::new(definition))?;
    Ok(())
}

/// `NAME` in `domain`, or `DOMAIN.NAME` whose domain must be `domain`.
fn product_id(id: &str, domain: &str) -> Result<ProductId> {
    let full = if id.contains('.') { id.to_string() } else { format!("{domain}.{id}") };
    let parsed = ProductId::parse(&full)?;
    if parsed.domain().as_str() != domain {
        return Err(MeshError::Catalog(weft_catalog::CatalogError::InvalidInput {
            field: "id".into(),
            reason: format!(
                "product '{parsed}' belongs to domain '{}', but the request names domain '{domain}'",
                parsed.domain()
            ),
        }));
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
        assert_eq!(product_id("enriched", "sales").expect("id").as_str(), "sales.enriched");
        assert_eq!(product_id("sales.enriched", "sales").expect("id").as_str(), "sales.enriched");
        let error = product_id("ops.enriched", "sales").expect_err("another domain");
        assert!(error.to_string().contains("belongs to domain 'ops'"), "{error}");
        assert!(product_id("Bad Id", "sales").is_err());
    }
}
