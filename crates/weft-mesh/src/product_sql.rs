//! A product's name in SQL: the stream over its output port's topic, as ksqlDB users expect one per
//! topic, declared on first use with the columns of the port's registered schema; and the SQL
//! sources listed with the products whose ports they read.
//!
//! Any stream or table already over the topic is the product's name (a `CREATE ... AS SELECT` sink a
//! product was made from, or one a user declared): one is never declared twice. The declaration is an
//! ordinary `CREATE STREAM` through the engine's command topic, so it survives restarts and shows in
//! `SHOW STREAMS`; dropping it is allowed as any other unless published products depend on the topic.

use std::collections::BTreeMap;

use serde::Serialize;
use weft_catalog::{Format, OutputPort, Product, Status};
use weft_registry::VersionSpec;
use weft_sql::format::Column;

use crate::context::RequestContext;
use crate::error::{MeshError, Result};
use crate::read::Target;
use crate::Mesh;

/// The stream or table over a product's output port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductSqlSource {
    pub product: String,
    /// The output port's name and version.
    pub port: String,
    pub port_version: String,
    pub topic: String,
    /// The stream or table, as SQL names it.
    pub name: String,
    /// `STREAM` or `TABLE`.
    pub kind: String,
    /// The statement that declared it.
    pub statement: String,
    /// Whether this call declared it (false: it existed).
    pub created: bool,
}

/// A product port a SQL source reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServedProduct {
    pub product: String,
    pub name: String,
    /// The product's lifecycle status: draft, published, deprecated.
    pub status: String,
    pub port: String,
    pub port_version: String,
}

/// A stream or table, with the products whose output ports are its topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SqlSource {
    pub name: String,
    /// `STREAM` or `TABLE`.
    pub kind: String,
    pub topic: String,
    pub key_format: String,
    pub value_format: String,
    /// The persistent query writing it (`CREATE ... AS SELECT`), if any.
    pub query_id: Option<String>,
    /// The products serving its topic (not retired), by id.
    pub products: Vec<ServedProduct>,
}

impl Mesh {
    /// The stream or table over the output port of product `id` (`port`: NAME or NAME@MAJOR, default
    /// the served port with the highest major version), declared on first use as
    /// `CREATE STREAM <NAME> (<columns of the port's schema>) WITH (KAFKA_TOPIC=..., VALUE_FORMAT=...)`.
    /// The caller must be allowed to read the product's data (the source is for querying it).
    pub fn product_sql_source(&self, ctx: &RequestContext, id: &str, port: Option<&str>) -> Result<ProductSqlSource> {
        let resolved = self.data().resolve(&Target::Product { id: id.to_string(), port: port.map(str::to_string) })?;
        let Some(served) = resolved.served else {
            return Err(weft_catalog::CatalogError::ProductNotFound(id.to_string()).into());
        };
        self.data().check_read(ctx.principal(), &resolved.topic)?;
        let answer = |source: &weft_sql::metastore::SourceDef, created| ProductSqlSource {
            product: served.product.id().to_string(),
            port: served.port.name.clone(),
            port_version: served.port.version.to_string(),
            topic: resolved.topic.clone(),
            name: source.name.clone(),
            kind: source.kind.name().to_string(),
            statement: source.statement.clone(),
            created,
        };
        // One declaration at a time: two first visits of a product's page must not declare two streams.
        let _declaring = self.sql_names.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = sql_name(&served.product, &served.port);
        let sources = self.sql.sources();
        let over_topic = sources
            .iter()
            .filter(|s| s.topic == resolved.topic)
            .min_by_key(|s| (s.name != wanted, s.query_id.is_none(), s.name.clone()));
        if let Some(existing) = over_topic {
            return Ok(answer(existing, false));
        }
        let taken = |name: &str| sources.iter().any(|s| s.name == name);
        let name = std::iter::once(wanted.clone())
            .chain((2..).map(|n| format!("{wanted}_{n}")))
            .find(|name| !taken(name))
            .unwrap_or(wanted);
        let statement = self.declaration(&served.product, &served.port, &name)?;
        let executed = self.sql.execute_each_as(ctx.principal(), &statement, &BTreeMap::new())?;
        if let Some((_, error)) = executed.failed {
            return Err(error.into());
        }
        crate::changed(ctx, "declare SQL stream", &format!("{id} as {name}"));
        let source = self.sql.source(&name).ok_or_else(|| MeshError::SqlSourceNotFound(name.clone()))?;
        Ok(answer(&source, true))
    }

    /// `CREATE STREAM name (columns) WITH (...)` over `port`, its columns read from the port's latest
    /// registered schema as the engine reads that format.
    fn declaration(&self, product: &Product, port: &OutputPort, name: &str) -> Result<String> {
        let latest = self.registry().version(&port.schema_subject, VersionSpec::Latest, false).map_err(|_| {
            MeshError::PortSchemaMissing {
                product: product.id().to_string(),
                topic: port.topic.clone(),
                subject: port.schema_subject.clone(),
                format: port.format.to_string(),
            }
        })?;
        // A schema SQL cannot read as columns is refused with where it came from.
        let at = |error: weft_sql::SqlError| MeshError::At {
            at: format!(
                "the columns of port {} of '{}' (subject {} version {})",
                port.name,
                product.id(),
                latest.subject,
                latest.version
            ),
            source: Box::new(error.into()),
        };
        let (columns, value_format): (Vec<Column>, &str) = match port.format {
            Format::Avro => {
                (weft_sql::avro::AvroSchema::parse(&latest.schema).and_then(|s| s.columns()).map_err(at)?, "AVRO")
            }
            // The write path stores JSON records as JSON text, which is ksqlDB's JSON format.
            Format::Json => (weft_sql::registry::columns_from_json_schema(&latest.schema).map_err(at)?, "JSON"),
            other => {
                return Err(MeshError::UnsupportedFormat {
                    product: product.id().to_string(),
                    topic: port.topic.clone(),
                    format: other.to_string(),
                })
            }
        };
        let columns: Vec<String> = columns.iter().map(|c| format!("{} {}", quote_name(&c.name), c.ty)).collect();
        Ok(format!(
            "CREATE STREAM {} ({}) WITH (KAFKA_TOPIC='{}', VALUE_FORMAT='{value_format}');",
            quote_name(name),
            columns.join(", "),
            port.topic.replace('\'', "''")
        ))
    }

    /// Every stream and table, by name, with the products (not retired) whose output ports are its topic.
    pub fn sql_sources(&self) -> Result<Vec<SqlSource>> {
        let products = self.catalog().products(None)?;
        let mut sources: Vec<SqlSource> = self
            .sql
            .sources()
            .into_iter()
            .map(|s| SqlSource {
                products: products
                    .iter()
                    .filter(|p| p.status() != Status::Retired)
                    .flat_map(|p| {
                        p.spec.output_ports.iter().filter(|port| port.topic == s.topic).map(|port| ServedProduct {
                            product: p.id().to_string(),
                            name: p.spec.name.clone(),
                            status: p.status().as_str().to_string(),
                            port: port.name.clone(),
                            port_version: port.version.to_string(),
                        })
                    })
                    .collect(),
                name: s.name,
                kind: s.kind.name().to_string(),
                topic: s.topic,
                key_format: s.key_format.name().to_string(),
                value_format: s.value_format.name().to_string(),
                query_id: s.query_id,
            })
            .collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(sources)
    }
}

/// The SQL name of a product's port: its id in upper case, every other character `_`
/// (`shop.orders` is `SHOP_ORDERS`), `_V2` on for a port's second major version.
fn sql_name(product: &Product, port: &OutputPort) -> String {
    let mut name: String = product
        .id()
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if port.version.major > 1 {
        name.push_str(&format!("_V{}", port.version.major));
    }
    name
}

/// A name as SQL reads it back unchanged: bare when upper-case letters, digits and `_`, else back-quoted.
fn quote_name(name: &str) -> String {
    let bare = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if bare {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_catalog::{ProductId, ProductSpec};

    fn product(id: &str) -> Product {
        let spec = ProductSpec::new(ProductId::parse(id).expect("id"), "P", "alice");
        Product { spec, lifecycle: weft_catalog::Lifecycle::Draft, revision: 1, created_at: 0, updated_at: 0 }
    }

    fn port(major: u64) -> OutputPort {
        serde_json::from_value(serde_json::json!({"name": "events", "version": format!("{major}.0.0"),
            "topic": "t", "schemaSubject": "t-value", "format": "json"}))
        .expect("port")
    }

    #[test]
    fn a_products_sql_name_is_its_id_in_upper_case() {
        assert_eq!(sql_name(&product("shop.orders"), &port(1)), "SHOP_ORDERS");
        assert_eq!(sql_name(&product("web-shop.page-views"), &port(1)), "WEB_SHOP_PAGE_VIEWS");
        assert_eq!(sql_name(&product("shop.orders"), &port(3)), "SHOP_ORDERS_V3");
    }

    #[test]
    fn names_are_quoted_only_when_sql_would_change_them() {
        assert_eq!(quote_name("SHOP_ORDERS"), "SHOP_ORDERS");
        assert_eq!(quote_name("_1"), "_1");
        assert_eq!(quote_name("amount"), "`amount`");
        assert_eq!(quote_name("a`b"), "`a``b`");
        assert_eq!(quote_name("1A"), "`1A`");
    }
}
