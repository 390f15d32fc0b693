//! Governance rules the server evaluates (the web app keeps no copy of them): what a product still
//! lacks to be published, the metadata governance recommends, policy violations across the mesh, and
//! a product's schema as fields.
//!
//! The rules themselves live where their data does: publishing requirements and recommendations in
//! the catalog ([`Catalog::publish_check`], [`Catalog::recommendation_gaps`]), field flattening in
//! the schema crate; this module applies them to products and data and answers in one call.

use serde::Serialize;
use weft_catalog::{Catalog, Lifecycle, Product, ProductSpec, PublishGap, Status};
use weft_log::ReadLimits;
use weft_registry::{field_summaries, FieldSummary, VersionSpec};

use crate::context::{now_ms, RequestContext};
use crate::error::{MeshError, Result};
use crate::policies::Enforcement;
use crate::read::{pick_port, READ_MAX_BYTES};
use crate::Mesh;

/// Adds `more` to `gaps`, leaving out those about a field already there (the catalog's
/// `description-required` says what a policy's `required-metadata` on `description` would).
fn merge_gaps(gaps: &mut Vec<PublishGap>, more: Vec<PublishGap>) {
    for gap in more {
        if !gaps.iter().any(|g| g.field == gap.field) {
            gaps.push(gap);
        }
    }
}

/// What publishing a spec still needs, and what governance recommends on top.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishCheck {
    /// Requirements not met: publishing is refused until this is empty.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub gaps: Vec<PublishGap>,
    /// Recommendations not followed: reported as violations once published, never refused.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub recommendations: Vec<PublishGap>,
}

/// The kinds of policy violation, in the order they are listed: the catalog's own rules, then the
/// global policies' ([`crate::policies::POLICY_KINDS`]).
pub const VIOLATION_KINDS: [&str; 10] = [
    "cannot-publish",
    "past-sunset",
    "deprecated-input",
    "stale",
    "missing-recommended",
    "required-metadata",
    "minimum-compatibility",
    "classification",
    "naming",
    "contract-required",
];

/// One product breaking one policy.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// Named apart in the OpenAPI document: a contract's `Violation` is another schema there.
#[cfg_attr(feature = "openapi", schema(as = PolicyViolation))]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// One of [`VIOLATION_KINDS`].
    pub kind: &'static str,
    pub product: String,
    pub name: String,
    pub owner: String,
    pub status: String,
    /// What is wrong, one line each.
    pub details: Vec<String>,
    /// For a global policy's kind: `block` or `warn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Enforcement>,
    /// Whether it refuses something: publication (`cannot-publish`, a `block` policy's findings on
    /// a draft), or for `minimum-compatibility` the registration of schemas below the minimum.
    pub blocks: bool,
}

/// A product's schema, as its output port names it, with its fields flattened.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductSchema {
    pub product: String,
    pub port: String,
    pub port_version: String,
    pub topic: String,
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema_type: String,
    /// The schema text as registered.
    pub schema: String,
    /// Every field (nested ones as dotted paths): type, doc, depth, whether it may be missing, classification.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub fields: Vec<FieldSummary>,
}

impl Mesh {
    /// What `spec` lacks to be published, and the recommendations it does not follow.
    /// The global policies' findings join them: a `block` policy's as gaps, a `warn` policy's as
    /// recommendations.
    pub fn publish_check(&self, spec: &ProductSpec) -> Result<PublishCheck> {
        let mut gaps = self.catalog().publish_check(spec);
        merge_gaps(&mut gaps, self.blocking_gaps(spec)?);
        let mut recommendations = Catalog::recommendation_gaps(spec);
        merge_gaps(&mut recommendations, self.warning_gaps(spec)?);
        Ok(PublishCheck { gaps, recommendations })
    }

    /// Why publishing `product` is refused by the `block` policies, with the catalog's own gaps
    /// (so one refusal lists everything), or `None` when the policies do not refuse it.
    pub(crate) fn publication_refusal(&self, product: &Product) -> Result<Option<MeshError>> {
        if product.status() != Status::Draft {
            return Ok(None);
        }
        let blocking = self.blocking_gaps(&product.spec)?;
        if blocking.is_empty() {
            return Ok(None);
        }
        let mut gaps = self.catalog().publish_check(&product.spec);
        merge_gaps(&mut gaps, blocking);
        Ok(Some(weft_catalog::CatalogError::PublishRequirements { product: product.id().to_string(), gaps }.into()))
    }

    /// Every policy violation of the mesh's products (of one domain when `domain` is given), by kind
    /// then product id. A product's freshness is checked against its newest record's time.
    /// `product` narrows it to one product.
    pub fn violations(
        &self,
        ctx: &RequestContext,
        domain: Option<&str>,
        product: Option<&str>,
    ) -> Result<Vec<Violation>> {
        let catalog = self.catalog();
        let products = match product {
            Some(id) => {
                let found = catalog.product(id)?;
                if domain.is_some_and(|d| d != found.id().domain().as_str()) {
                    Vec::new()
                } else {
                    vec![found]
                }
            }
            None => catalog.products(domain)?,
        };
        let today = weft_catalog::IsoDate::from_epoch_ms(now_ms());
        let mut found: Vec<Violation> = Vec::new();
        let violation = |kind: &'static str, product: &Product, details: Vec<String>| Violation {
            kind,
            product: product.id().to_string(),
            name: product.spec.name.clone(),
            owner: product.spec.owner.clone(),
            status: product.status().as_str().to_string(),
            blocks: kind == "cannot-publish",
            enforcement: None,
            details,
        };
        for product in &products {
            let spec = &product.spec;
            let status = product.status();
            if status == Status::Draft {
                let gaps = catalog.publish_check(spec);
                if !gaps.is_empty() {
                    found.push(violation("cannot-publish", product, gaps.into_iter().map(|g| g.message).collect()));
                }
            }
            if let Lifecycle::Deprecated { sunset, reason, .. } = &product.lifecycle {
                if *sunset < today {
                    found.push(violation("past-sunset", product, vec![format!("sunset was {sunset}"), reason.clone()]));
                }
            }
            if matches!(status, Status::Published | Status::Draft) {
                let old: Vec<String> = spec
                    .input_ports
                    .iter()
                    .filter_map(|input| input.product.as_ref())
                    .filter_map(|upstream| catalog.product(upstream.as_str()).ok())
                    .filter_map(|upstream| match &upstream.lifecycle {
                        Lifecycle::Retired => Some(format!("reads {}, which is retired", upstream.id())),
                        Lifecycle::Deprecated { sunset, successor, .. } => Some(format!(
                            "reads {}, deprecated until {sunset}{}",
                            upstream.id(),
                            successor.as_ref().map(|s| format!("; successor {s}")).unwrap_or_default()
                        )),
                        _ => None,
                    })
                    .collect();
                if !old.is_empty() {
                    found.push(violation("deprecated-input", product, old));
                }
            }
            if let (Some(objective), Status::Published | Status::Deprecated) = (spec.freshness_objective, status) {
                if let Some(stale) = self.staleness(ctx, product, objective.seconds, &objective.to_string())? {
                    found.push(violation("stale", product, vec![stale]));
                }
            }
            if status == Status::Published {
                let soft = Catalog::recommendation_gaps(spec);
                if !soft.is_empty() {
                    found.push(violation(
                        "missing-recommended",
                        product,
                        soft.into_iter().map(|g| g.message).collect(),
                    ));
                }
            }
        }
        // A policy's findings on one product are one violation, their details one line each.
        let mut by_policy: std::collections::BTreeMap<(&str, String), Violation> = Default::default();
        for (product, finding) in self.findings_of_all(products.iter())? {
            let entry = by_policy.entry((finding.kind, product.id().to_string())).or_insert_with(|| {
                let mut v = violation(finding.kind, product, Vec::new());
                v.enforcement = Some(finding.enforcement);
                v.blocks = finding.enforcement == Enforcement::Block
                    && (finding.kind == "minimum-compatibility" || product.status() == Status::Draft);
                v
            });
            entry.details.push(finding.message);
        }
        found.extend(by_policy.into_values());
        found.sort_by_key(|v| (VIOLATION_KINDS.iter().position(|k| *k == v.kind), v.product.clone()));
        Ok(found)
    }

    /// Why a product misses its freshness objective, or `None` when it meets it (or has no data port).
    fn staleness(
        &self,
        ctx: &RequestContext,
        product: &Product,
        seconds: u64,
        objective: &str,
    ) -> Result<Option<String>> {
        let Ok(port) = pick_port(product, None) else { return Ok(None) };
        // The live profile's newest record once it caught up with the log; until then, the log's.
        let last = match self.data().profiles().last_record_at(&port.topic) {
            Some(last) => last,
            None => self.last_record_at(ctx, &port.topic)?,
        };
        let now = now_ms();
        if !crate::profile::is_stale(last, seconds, now) {
            return Ok(None);
        }
        Ok(Some(match last {
            None => format!("no record yet; objective {objective}"),
            Some(at) => format!("newest record {}s old; objective {objective}", now.saturating_sub(at) / 1000),
        }))
    }

    /// The newest timestamp among the partitions' last records of `topic` (`None`: no records, or no topic).
    fn last_record_at(&self, ctx: &RequestContext, topic: &str) -> Result<Option<i64>> {
        let Ok(config) = self.describe_topic(topic) else { return Ok(None) };
        let mut newest = None;
        for partition in config.partitions {
            let (earliest, end) = (partition.earliest_offset, partition.latest_offset);
            if end <= earliest {
                continue;
            }
            let limits = ReadLimits { max_records: 1, max_bytes: READ_MAX_BYTES };
            let read = self.data().read_partition(
                ctx.principal(),
                topic,
                partition.partition,
                end.saturating_sub(1),
                limits,
            )?;
            if let Some(last) = read.records.last() {
                newest = Some(newest.map_or(last.timestamp, |t: i64| t.max(last.timestamp)));
            }
        }
        Ok(newest)
    }

    /// The schema of a product's output port (`port` as the data routes take it), with its fields.
    pub fn product_schema(&self, id: &str, port: Option<&str>) -> Result<ProductSchema> {
        let product = self.catalog().product(id)?;
        let port = pick_port(&product, port)?;
        let latest = self.registry().version(&port.schema_subject, VersionSpec::Latest, false).map_err(|_| {
            MeshError::PortSchemaMissing {
                product: id.to_string(),
                topic: port.topic.clone(),
                subject: port.schema_subject.clone(),
                format: port.format.to_string(),
            }
        })?;
        Ok(ProductSchema {
            product: id.to_string(),
            port: port.name.clone(),
            port_version: port.version.to_string(),
            topic: port.topic.clone(),
            subject: latest.subject.clone(),
            version: latest.version,
            id: latest.id,
            schema_type: latest.schema_type.as_str().to_string(),
            fields: field_summaries(latest.schema_type, &latest.schema),
            schema: latest.schema,
        })
    }
}
