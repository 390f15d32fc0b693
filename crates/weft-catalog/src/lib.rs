//! Weft's stream catalog: domains, data products, their lifecycle, search, lineage and history.
//!
//! # Map
//! - [`model`]: domains ([`DomainSpec`], [`Domain`]) and data products ([`ProductSpec`], [`Product`],
//!   [`Lifecycle`], ports), and the validation of what callers send.
//! - [`values`]: small validated values (semantic versions, dates, freshness, tiers).
//! - [`odps`]: import and export of products as Open Data Product Standard YAML, losslessly.
//! - [`event`]: the catalog's events, the records of the internal topic [`CATALOG_TOPIC`].
//! - [`search`]: the tantivy full-text and faceted index.
//! - [`lineage`]: the product and field graph, walks and impact analysis.
//! - [`schema`]: [`SchemaLookup`], what the catalog needs from the schema registry.
//! - [`access`]: access requests and grants ([`Catalog::request_access`], [`Catalog::decide_access`]).
//! - [`derived`]: products derived by streaming queries ([`Catalog::create_derived_product`]), in
//!   topics and columns, so the catalog does not depend on the SQL layer.
//! - [`Catalog`]: the service tying them together.
//!
//! # Invariants
//! - The log is the source of truth: every change is an event appended durably to [`CATALOG_TOPIC`]
//!   *before* the in-memory state changes, and the state is rebuilt by replaying the topic on open with
//!   the same function that applies live changes.
//! - Commands validate everything before appending; a command's events are one atomic batch, so nothing
//!   half-applies, even across a crash.
//! - A published or deprecated product always meets the publishing requirements, and its served output
//!   ports keep their topic, schema subject and format: breaking changes are new major versions.
//! - The lineage graph is acyclic.
//! - The catalog deletes no data: deleting a product needs it retired and an explicit flag, and the
//!   server deletes its topics.
//!
//! # For the REST layer
//! Commands take the acting user (`actor`) and typed inputs, and return typed results or a
//! [`CatalogError`], one variant per kind of refusal (the server's error table gives each its code). All
//! methods are blocking (they append to the log): call them from `spawn_blocking`.
//!
//! Not here: HTTP, authorization of metadata changes (who may change which domain; [`Domain::role_of`]
//! helps; only access decisions check it), enforcing grants on reads of a product's data, and the SQL
//! layer (the server translates a query's lineage into a [`DerivedLineage`], and asks
//! [`Catalog::products_depending_on_topic`] before a `DROP`).

pub mod access;
mod catalog;
pub mod derived;
mod error;
pub mod event;
mod ids;
pub mod lineage;
pub mod model;
pub mod odps;
#[cfg(feature = "openapi")]
mod openapi;
pub mod schema;
pub mod search;
mod state;
pub mod values;

pub use access::{AccessDecision, AccessFilter, AccessRequest, AccessStatus};
pub use catalog::{
    Catalog, EntityHistoryEntry, HistoryPage, HistoryQuery, OpenStats, TopicPort, Transition, HISTORY_SCAN_BUDGET,
    MAX_QUERY_CHARS, MAX_QUERY_TAGS,
};
pub use derived::{DerivedField, DerivedLineage, TopicColumn};
pub use error::{CatalogError, PublishGap};
pub use event::{CatalogEvent, EventEnvelope, HistoryEntry, CATALOG_TOPIC};
pub use ids::{DomainName, ProductId};
pub use lineage::{
    AffectedProduct, Certainty, Direction, FieldEdge, FieldRef, GrantConsumer, ImpactReport, LineageGraph,
};
pub use model::{
    CustomProperty, Domain, DomainSpec, InputPort, Lifecycle, Member, OutputPort, PortStatus, Product, ProductSpec,
    Role, Status,
};
pub use schema::{FieldInfo, InMemorySchemas, SchemaLookup};
pub use search::{SearchHit, SearchRequest, SearchResults};
pub use values::{Format, Freshness, IsoDate, QualityTier, SemVer, SlaTier};
