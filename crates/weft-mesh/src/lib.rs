//! The mesh: Weft's service layer between the HTTP server and the domain crates.
//!
//! **Architecture Invariant:** `weft-mesh` is the only crate that knows all the others (the log, the
//! registry, the catalog, the SQL engine); `weft-server` knows HTTP and this crate only. Every
//! operation the platform offers is one method of [`Mesh`] taking a [`RequestContext`] (who asks, the
//! request's id, when), and every workflow that spans domain crates lives here, not in a handler.
//!
//! # Map
//! - [`Mesh`]: opens and wires the log, registry, catalog and SQL engine ([`Mesh::open`]); its methods
//!   are the platform's operations, each change logged with its principal and request id.
//! - [`data`]: the one write path and the one read path of user data ([`DataPlane`]), where internal
//!   topics are refused and Kafka's partitioner places records; [`read`] builds pages, tails, samples
//!   and scans on it; [`records`] is the one place where records cross between JSON and bytes
//!   (encoding values as a product's port declares, decoding the Confluent wire format).
//! - [`sql`]: the SQL engine's access to data through the same paths, `from-sql`, the drop guard.
//! - [`schemas`]: the registry as the catalog and the SQL engine see it, and re-indexing products
//!   after their schemas change.
//! - [`export`]: exports of a product's data.
//! - [`profile`]: live profiles of every product's data, maintained by the write path, snapshotted
//!   to the log, and answered with freshness and throughput.
//! - [`metrics`]: what the data paths count.
//!
//! All methods block on log I/O: async callers run them on a blocking thread pool.
//!
//! The domain crates are re-exported ([`catalog`], [`registry`], [`sql`](crate::weft_sql),
//! [`log`]) so callers name their types through this crate.

mod background;
mod context;
pub mod contracts;
pub mod data;
mod error;
mod event_store;
pub mod export;
mod follow;
pub mod governance;
pub mod metrics;
pub mod policies;
pub mod product_sql;
pub mod profile;
pub mod raw_inputs;
pub mod raw_json;
pub mod read;
pub mod records;
pub mod schemas;
pub mod security;
pub mod sql;
pub mod webhooks;

use std::sync::Arc;

pub use weft_auth as auth;
pub use weft_catalog as catalog;
pub use weft_log as log;
pub use weft_registry as registry;
pub use weft_sql;

pub use context::{next_request_id, now_ms, RequestContext, ANONYMOUS, MAX_PRINCIPAL_CHARS, PLATFORM_ADMIN};
pub use data::{DataPlane, Outcome, Placed, Produced};
pub use error::{MeshError, Result};

use weft_catalog::{
    AccessDecision, AccessRequest, Catalog, Domain, DomainSpec, FieldEdge, Product, ProductSpec, Transition,
};
use weft_log::{CommittedOffset, EmbeddedLog, EventLog, LogOptions, TopicConfig, TopicDescription};
use weft_registry::{CompatibilityLevel, Mode, RegisterRequest, Registry, SchemaId, VersionSpec};
use weft_sql::{Engine, EngineOptions};

use crate::metrics::DataMetrics;
use crate::raw_json::RawJsonRecord;
use crate::records::JsonRecord;

/// How a mesh opens.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// The embedded log's directory and durability.
    pub log: LogOptions,
    /// Run persistent queries on their own threads (false: tests drive them).
    pub run_queries: bool,
    /// The most rows a SQL pull query answers ([`EngineOptions::max_pull_rows`]).
    pub max_pull_rows: usize,
    /// The most bytes a SQL pull query's answer takes ([`EngineOptions::max_pull_bytes`]).
    pub max_pull_bytes: usize,
    /// How often a live profile that changed is snapshotted to the log (also after
    /// [`profile::live::SNAPSHOT_RECORDS`] records, and on shutdown).
    pub profile_snapshot_interval: std::time::Duration,
    /// The most records a profile without a snapshot is rebuilt from on start (the newest; the
    /// profile says it is partial when the log holds more).
    pub profile_rebuild_records: u64,
    /// Enforce the authorization rules ([`security::authz`]): on when the server authenticates its
    /// callers; off, every principal is trusted as named (development, tests of other parts).
    pub authorization: bool,
    /// How the registry compiles JSON Schemas (whether `format` asserts under every draft).
    pub json_schema: weft_registry::json_schema::JsonSchemaOptions,
    /// Other servers share the log (several servers on one Kafka cluster): the work one server does
    /// alone (persistent queries, raw input validation) waits until [`Mesh::gate_background_work`]
    /// says this server is the one.
    pub await_leadership: bool,
    /// Threads a stateless persistent query of one input runs on, each with its share of the
    /// input's partitions ([`EngineOptions::query_tasks`]); the machine's cores by default, at
    /// most four.
    pub query_tasks: usize,
}

impl MeshOptions {
    pub fn new(log: LogOptions) -> Self {
        MeshOptions {
            log,
            run_queries: true,
            max_pull_rows: weft_sql::engine::DEFAULT_MAX_PULL_ROWS,
            max_pull_bytes: weft_sql::engine::DEFAULT_MAX_PULL_BYTES,
            profile_snapshot_interval: std::time::Duration::from_secs(30),
            profile_rebuild_records: profile::live::MAX_REBUILD_RECORDS,
            authorization: false,
            json_schema: Default::default(),
            await_leadership: false,
            query_tasks: std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
        }
    }
}

/// The platform, opened.
pub struct Mesh {
    log: Arc<dyn EventLog>,
    registry: Arc<Registry>,
    catalog: Arc<Catalog>,
    sql: Arc<Engine>,
    data: Arc<DataPlane>,
    metrics: Arc<DataMetrics>,
    governance: Arc<contracts::Governance>,
    security: security::Security,
    webhooks: Arc<webhooks::Webhooks>,
    /// Keeps live profiles caught up and snapshotted; stopped on shutdown.
    profiler: std::sync::Mutex<Option<profile::live::Worker>>,
    /// Applies what other servers sharing the log write to the platform's stores; stopped on shutdown.
    follower: std::sync::Mutex<Option<follow::Follower>>,
    /// The stores the follower refreshes, for [`Mesh::catch_up`].
    stores: Arc<follow::Stores>,
    /// Validates raw input topics into their products; stopped on shutdown.
    raw_inputs: std::sync::Mutex<Option<raw_inputs::Worker>>,
    /// Held while a product's SQL stream is looked for and declared ([`product_sql`]).
    sql_names: std::sync::Mutex<()>,
}

/// What `apply` of an ODPS document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    Unchanged,
}

impl Applied {
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Created => "created",
            Applied::Updated => "updated",
            Applied::Unchanged => "unchanged",
        }
    }
}

/// What deleting a product did.
#[derive(Debug, Clone)]
pub struct DeletedProduct {
    pub product: Product,
    /// The topics of its output ports; the catalog deletes no data, so they stay unless asked.
    pub topics: Vec<String>,
    pub deleted_topics: Vec<String>,
}

/// One consumer-group commit of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommit {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub metadata: String,
}

impl Mesh {
    /// Opens the embedded log in `options.log` and the platform on it.
    pub fn open(options: MeshOptions) -> Result<Mesh> {
        let log: Arc<dyn EventLog> = EmbeddedLog::open(options.log.clone())?;
        Mesh::open_on(log, &options)
    }

    /// Opens the platform on any log backend: its state is rebuilt from the log's internal topics,
    /// the registry first (the catalog reads schemas while it indexes), the SQL engine last (its
    /// persistent queries start running as soon as it opens).
    pub fn open_on(log: Arc<dyn EventLog>, options: &MeshOptions) -> Result<Mesh> {
        let registry = Arc::new(Registry::open_with(
            log.clone(),
            weft_registry::RegistryOptions { json_schema: options.json_schema },
        )?);
        let lookup = Arc::new(schemas::RegistrySchemas::new(registry.clone()));
        let catalog = Arc::new(Catalog::open(log.clone(), lookup)?);
        let metrics = Arc::new(DataMetrics::default());
        let governance = Arc::new(contracts::Governance::open(log.clone())?);
        let identities = Arc::new(security::identities::IdentityStore::open(log.clone())?);
        let authz =
            Arc::new(security::authz::Authorizer::new(options.authorization, identities.clone(), catalog.clone()));
        let security = security::Security {
            identities,
            authz: authz.clone(),
            audit: security::audit::AuditLog::open(log.clone())?,
        };
        let webhooks = Arc::new(webhooks::Webhooks::open(log.clone())?);
        let data = Arc::new(DataPlane::new(
            log.clone(),
            registry.clone(),
            catalog.clone(),
            metrics.clone(),
            governance.clone(),
            (authz, webhooks.clone()),
            // When live profiles are snapshotted, and how much a profile without one is rebuilt from.
            (options.profile_snapshot_interval, options.profile_rebuild_records),
        ));
        // Before the SQL engine starts its queries, which write: their records must find the
        // profiles' snapshots loaded.
        data.profiles().open()?;
        if options.await_leadership {
            *data.background_gate.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(|| false));
        }
        let profiler = profile::live::start_worker(Arc::downgrade(&data))
            .map_err(|e| MeshError::Internal(format!("cannot start the profile worker: {e}")))?;
        let raw_inputs = raw_inputs::start_worker(Arc::downgrade(&data))
            .map_err(|e| MeshError::Internal(format!("cannot start the raw input worker: {e}")))?;
        let sql_registry = Arc::new(schemas::SqlSchemas::new(registry.clone(), catalog.clone()));
        let engine_options = EngineOptions {
            background: options.run_queries,
            max_pull_rows: options.max_pull_rows,
            max_pull_bytes: options.max_pull_bytes,
            schema_registry: Some(weft_sql::registry::RegistryHandle(sql_registry)),
            data_access: Some(weft_sql::AccessHandle(Arc::new(sql::MeshAccess(data.clone())))),
            // With several servers on the log, each of a query's tasks runs on the one the gate
            // names, and moves with it.
            query_gate: options.await_leadership.then(|| {
                let data = data.clone();
                weft_sql::QueryGate(Arc::new(move |task, tasks| data.runs_query_task(task, tasks)))
            }),
            query_tasks: options.query_tasks,
            ..EngineOptions::default()
        };
        let sql = Arc::new(Engine::open(log.clone(), engine_options)?);
        // Followed from here: the SQL engine is one of the stores, and it has replayed its commands.
        let stores = Arc::new(follow::Stores {
            registry: registry.clone(),
            catalog: catalog.clone(),
            governance: governance.clone(),
            identities: security.identities.clone(),
            webhooks: webhooks.clone(),
            sql: sql.clone(),
        });
        let follower = follow::start(&log, stores.clone())?;
        // Dropping a stream or table that published data products depend on is refused.
        sql.set_drop_guard(Arc::new(sql::CatalogDropGuard(catalog.clone())));
        Ok(Mesh {
            log,
            registry,
            catalog,
            sql,
            data,
            metrics,
            governance,
            security,
            webhooks,
            profiler: std::sync::Mutex::new(Some(profiler)),
            follower: std::sync::Mutex::new(Some(follower)),
            stores,
            raw_inputs: std::sync::Mutex::new(Some(raw_inputs)),
            sql_names: std::sync::Mutex::new(()),
        })
    }

    /// Stops the SQL engine's queries and the profile worker, snapshots the live profiles, then
    /// flushes and closes the log.
    pub fn shutdown(&self) -> Result<()> {
        if let Some(mut follower) = self.follower.lock().unwrap_or_else(|e| e.into_inner()).take() {
            follower.stop();
        }
        self.sql.shutdown();
        if let Some(mut worker) = self.raw_inputs.lock().unwrap_or_else(|e| e.into_inner()).take() {
            worker.stop();
        }
        self.data.profiles().stop_catching_up();
        if let Some(mut profiler) = self.profiler.lock().unwrap_or_else(|e| e.into_inner()).take() {
            profiler.stop();
        }
        // A failed snapshot loses nothing: the next start reads the records after the last one.
        let _ = self.data.profiles().snapshot_all();
        Ok(self.log.shutdown()?)
    }

    /// Runs the work one server of a cluster must do alone (persistent queries, validating raw
    /// input topics) only while `gate` says so: with several servers on one Kafka cluster, while
    /// this one is the elected leader. Without a gate it always runs. A query that starts running
    /// here is reopened from the log first, so it resumes exactly where the server before left off.
    pub fn gate_background_work(&self, gate: data::BackgroundGate) {
        *self.data.background_gate.write().unwrap_or_else(|e| e.into_inner()) = Some(gate);
    }

    /// Shares the persistent queries' tasks among the servers on one cluster: this server runs
    /// task `index` of a query's `count` tasks while `gate(index, count)` says so. Without this
    /// gate, the queries' tasks follow [`Mesh::gate_background_work`]'s gate, all of them together.
    pub fn gate_query_tasks(&self, gate: data::TaskGate) {
        *self.data.task_gate.write().unwrap_or_else(|e| e.into_inner()) = Some(gate);
    }

    /// Applies what other servers sharing the log appended to the platform's stores, now rather
    /// than on the follower's next tick: a server that forwarded a change to the leader calls this
    /// before answering, so its caller reads the change back from it.
    pub fn catch_up(&self) -> Result<()> {
        self.stores.refresh_all()
    }

    /// Retention and compaction now, on a backend that does them itself (the embedded log also runs
    /// them on its own schedule).
    pub fn run_maintenance(&self) -> Result<()> {
        Ok(self.log.run_maintenance()?)
    }

    /// The catalog, for reading (changes go through the mesh's methods).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The schema registry, for reading (changes go through the mesh's methods).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The SQL engine, for reading its catalog (statements go through [`Mesh::sql_execute`] and
    /// [`Mesh::sql_query`]).
    pub fn sql(&self) -> &Engine {
        &self.sql
    }

    /// The write and read paths of user data.
    pub fn data(&self) -> &DataPlane {
        &self.data
    }

    pub(crate) fn registry_arc(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// What the data paths count.
    pub fn metrics(&self) -> &Arc<DataMetrics> {
        &self.metrics
    }

    // ----- topics and consumer groups -----

    pub fn topics(&self) -> Vec<String> {
        self.log.list_topics()
    }

    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        Ok(self.log.describe_topic(name)?)
    }

    pub fn create_topic(&self, ctx: &RequestContext, name: &str, config: TopicConfig) -> Result<TopicDescription> {
        if weft_log::is_internal_topic(name) {
            return Err(weft_log::LogError::InternalTopic(name.to_string()).into());
        }
        let created = self.log.create_topic(name, config)?;
        changed(ctx, "create_topic", name);
        Ok(created)
    }

    /// Deletes a topic and its data, unless a published or deprecated product serves or reads it (the
    /// same guard SQL's `DROP` has): such a topic goes once its products are retired.
    pub fn delete_topic(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.security.authz.check_write_topic(ctx.principal(), name, "delete")?;
        let dependents = self.catalog.products_depending_on_topic(name);
        if !dependents.is_empty() {
            return Err(MeshError::TopicInUse {
                topic: name.to_string(),
                products: dependents.iter().map(ToString::to_string).collect(),
            });
        }
        self.log.delete_topic(name)?;
        self.data.profiles().forget(name);
        changed(ctx, "delete_topic", name);
        Ok(())
    }

    /// Commits a consumer group's positions: every entry is checked (its topic and partition exist)
    /// before any is committed. Groups named `_weft*` are the platform's own (persistent queries keep
    /// their exactly-once positions there) and refused.
    pub fn commit_offsets(
        &self,
        ctx: &RequestContext,
        group: &str,
        commits: Vec<OffsetCommit>,
    ) -> Result<Vec<CommittedOffset>> {
        if group.starts_with(weft_log::INTERNAL_TOPIC_PREFIX) {
            return Err(MeshError::InternalGroup(group.to_string()));
        }
        let mut partitions: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
        for (index, commit) in commits.iter().enumerate() {
            let at = |error: weft_log::LogError| MeshError::At {
                at: format!("offsets[{index}]"),
                source: Box::new(error.into()),
            };
            let count = match partitions.get(commit.topic.as_str()) {
                Some(count) => *count,
                None => {
                    let count = self.log.topic_config(&commit.topic).map_err(at)?.partitions;
                    partitions.insert(&commit.topic, count);
                    count
                }
            };
            if commit.partition >= count {
                return Err(at(weft_log::LogError::PartitionNotFound {
                    topic: commit.topic.clone(),
                    partition: commit.partition,
                    partitions: count,
                }));
            }
        }
        let mut committed = Vec::with_capacity(commits.len());
        for commit in &commits {
            committed.push(self.log.commit_offset(
                group,
                &commit.topic,
                commit.partition,
                commit.offset,
                &commit.metadata,
            )?);
        }
        changed(ctx, "commit_offsets", group);
        Ok(committed)
    }

    pub fn committed_offsets(&self, group: &str) -> Result<Vec<CommittedOffset>> {
        Ok(self.log.committed_offsets(group)?)
    }

    // ----- data -----

    /// JSON records into `topic` through the write path (see [`DataPlane::produce`]).
    pub fn produce(&self, ctx: &RequestContext, topic: &str, records: Vec<JsonRecord>) -> Result<Produced> {
        self.data.produce(ctx.principal(), topic, records)
    }

    /// JSON records borrowed from a request's body into `topic` (see [`DataPlane::produce_raw`]).
    pub fn produce_raw(&self, ctx: &RequestContext, topic: &str, records: Vec<RawJsonRecord<'_>>) -> Result<Produced> {
        self.data.produce_raw(ctx.principal(), topic, records)
    }

    // ----- schemas -----

    /// Registers a schema under `subject` (Confluent's `POST /subjects/{s}/versions`); the products
    /// using the subject are re-indexed when its latest schema changed.
    pub fn register_schema(&self, ctx: &RequestContext, subject: &str, request: &RegisterRequest) -> Result<SchemaId> {
        self.security.authz.check_subject_change(
            ctx.principal(),
            subject,
            &format!("register a schema under '{subject}'"),
        )?;
        let before = self.registry.version(subject, VersionSpec::Latest, false).ok().map(|v| v.id);
        let floor = self.compatibility_floor(subject);
        let id = match self.registry.register_with_floor(subject, request, floor.as_ref().map(|(level, _)| *level)) {
            Err(weft_registry::RegistryError::BelowCompatibilityFloor {
                subject,
                floor: level,
                level: own,
                messages,
            }) => {
                let products = floor.map(|(_, products)| products.join(", ")).unwrap_or_default();
                let mut named = vec![format!(
                    "{{policy: 'minimumCompatibility {level}: the subjects of published products ({products}) \
                     stay at least {level} whatever their own level ({own}); a breaking schema needs a new major \
                     version of the port, under a new subject'}}"
                )];
                named.extend(messages);
                return Err(weft_registry::RegistryError::IncompatibleSchema { subject, messages: named }.into());
            }
            other => other?,
        };
        if before != Some(id) {
            schemas::schema_changed(&self.catalog, subject);
            changed(ctx, "register_schema", subject);
            let data = serde_json::json!({"subject": subject, "id": id, "by": ctx.principal()});
            self.notify("schema.changed", None, None, data);
        }
        Ok(id)
    }

    /// The minimum compatibility a `block` policy holds `subject` to, and the served products whose
    /// ports use it (`None`: no such policy, or no published or deprecated product uses it).
    pub fn compatibility_floor(&self, subject: &str) -> Option<(CompatibilityLevel, Vec<String>)> {
        let policy = self.policies().policies.minimum_compatibility?;
        if policy.enforcement != policies::Enforcement::Block {
            return None;
        }
        let products: Vec<String> = self
            .catalog
            .products(None)
            .ok()?
            .into_iter()
            .filter(|p| matches!(p.status(), weft_catalog::Status::Published | weft_catalog::Status::Deprecated))
            .filter(|p| p.spec.output_ports.iter().any(|port| port.schema_subject == subject))
            .map(|p| p.id().to_string())
            .collect();
        (!products.is_empty()).then_some((policy.level, products))
    }

    pub fn delete_subject(&self, ctx: &RequestContext, subject: &str, permanent: bool) -> Result<Vec<u32>> {
        self.security.authz.check_subject_change(ctx.principal(), subject, &format!("delete subject '{subject}'"))?;
        let deleted = self.registry.delete_subject(subject, permanent)?;
        schemas::schema_changed(&self.catalog, subject);
        changed(ctx, "delete_subject", subject);
        Ok(deleted)
    }

    pub fn delete_schema_version(
        &self,
        ctx: &RequestContext,
        subject: &str,
        version: VersionSpec,
        permanent: bool,
    ) -> Result<u32> {
        self.security.authz.check_subject_change(
            ctx.principal(),
            subject,
            &format!("delete a version of '{subject}'"),
        )?;
        let deleted = self.registry.delete_version(subject, version, permanent)?;
        schemas::schema_changed(&self.catalog, subject);
        changed(ctx, "delete_schema_version", &format!("{subject}/{deleted}"));
        Ok(deleted)
    }

    pub fn set_compatibility(
        &self,
        ctx: &RequestContext,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<CompatibilityLevel> {
        self.registry_setting_allowed(ctx, subject, "set the compatibility")?;
        let set = self.registry.set_config(subject, level)?;
        changed(ctx, "set_compatibility", subject.unwrap_or("(global)"));
        Ok(set)
    }

    pub fn delete_compatibility(&self, ctx: &RequestContext, subject: Option<&str>) -> Result<CompatibilityLevel> {
        self.registry_setting_allowed(ctx, subject, "delete the compatibility")?;
        let deleted = self.registry.delete_config(subject)?;
        changed(ctx, "delete_compatibility", subject.unwrap_or("(global)"));
        Ok(deleted)
    }

    pub fn set_mode(&self, ctx: &RequestContext, subject: Option<&str>, mode: Mode, force: bool) -> Result<Mode> {
        self.registry_setting_allowed(ctx, subject, "set the mode")?;
        let set = self.registry.set_mode(subject, mode, force)?;
        changed(ctx, "set_mode", subject.unwrap_or("(global)"));
        Ok(set)
    }

    pub fn delete_mode(&self, ctx: &RequestContext, subject: Option<&str>) -> Result<Mode> {
        self.registry_setting_allowed(ctx, subject, "delete the mode")?;
        let deleted = self.registry.delete_mode(subject)?;
        changed(ctx, "delete_mode", subject.unwrap_or("(global)"));
        Ok(deleted)
    }

    /// Global registry settings are the platform admins'; a subject's are its domain's.
    fn registry_setting_allowed(&self, ctx: &RequestContext, subject: Option<&str>, action: &str) -> Result<()> {
        match subject {
            None => self.security.authz.require_admin(ctx.principal(), &format!("{action} of the whole registry")),
            Some(subject) => {
                self.security.authz.check_subject_change(ctx.principal(), subject, &format!("{action} of '{subject}'"))
            }
        }
    }

    // ----- the catalog -----

    pub fn create_domain(&self, ctx: &RequestContext, spec: DomainSpec) -> Result<Domain> {
        self.security.authz.require_admin(ctx.principal(), "create a domain")?;
        let domain = self.catalog.create_domain(ctx.principal(), spec)?;
        changed(ctx, "create_domain", domain.name().as_str());
        Ok(domain)
    }

    pub fn update_domain(
        &self,
        ctx: &RequestContext,
        name: &str,
        spec: DomainSpec,
        if_revision: Option<u64>,
    ) -> Result<Domain> {
        self.security.authz.require_domain(ctx.principal(), name, &format!("change domain '{name}'"), true)?;
        let domain = self.catalog.update_domain(ctx.principal(), name, spec, if_revision)?;
        self.security.authz.forget_decisions();
        changed(ctx, "update_domain", name);
        Ok(domain)
    }

    pub fn delete_domain(&self, ctx: &RequestContext, name: &str) -> Result<Domain> {
        self.security.authz.require_domain(ctx.principal(), name, &format!("delete domain '{name}'"), true)?;
        let domain = self.catalog.delete_domain(ctx.principal(), name)?;
        changed(ctx, "delete_domain", name);
        Ok(domain)
    }

    pub fn create_product(&self, ctx: &RequestContext, spec: ProductSpec) -> Result<Product> {
        let domain = spec.id.domain();
        self.security.authz.require_domain(
            ctx.principal(),
            domain.as_str(),
            &format!("create product '{}'", spec.id),
            false,
        )?;
        let product = self.catalog.create_product(ctx.principal(), spec)?;
        changed(ctx, "create_product", product.id().as_str());
        Ok(product)
    }

    pub fn update_product(
        &self,
        ctx: &RequestContext,
        id: &str,
        spec: ProductSpec,
        if_revision: Option<u64>,
    ) -> Result<Product> {
        self.security.authz.require_product_change(ctx.principal(), id, &format!("change product '{id}'"))?;
        let product = self.catalog.update_product(ctx.principal(), id, spec, if_revision)?;
        changed(ctx, "update_product", id);
        Ok(product)
    }

    pub fn transition(
        &self,
        ctx: &RequestContext,
        id: &str,
        transition: Transition,
        if_revision: Option<u64>,
    ) -> Result<Product> {
        let action = match &transition {
            Transition::Publish => "publish_product",
            Transition::Deprecate { .. } => "deprecate_product",
            Transition::Retire => "retire_product",
        };
        self.security.authz.require_product_change(
            ctx.principal(),
            id,
            &format!("{} '{id}'", action.replace('_', " ")),
        )?;
        if !matches!(transition, Transition::Publish) {
            let product = self.catalog.transition(ctx.principal(), id, transition, if_revision)?;
            changed(ctx, action, id);
            self.notify_lifecycle(ctx, &product);
            return Ok(product);
        }
        // The policies judge the revision they read: the transition is pinned to it, and retried
        // on a newer one when the caller did not pin a revision of their own.
        let mut attempts = 0;
        loop {
            let current = self.catalog.product(id)?;
            if let Some(refusal) = self.publication_refusal(&current)? {
                return Err(refusal);
            }
            match self.catalog.transition(
                ctx.principal(),
                id,
                Transition::Publish,
                if_revision.or(Some(current.revision)),
            ) {
                Err(weft_catalog::CatalogError::RevisionConflict { .. }) if if_revision.is_none() && attempts < 3 => {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
                Ok(product) => {
                    changed(ctx, action, id);
                    self.notify_lifecycle(ctx, &product);
                    return Ok(product);
                }
            }
        }
    }

    /// Deletes a retired product (`confirm` must be true); with `delete_topics`, also the topics of its
    /// output ports that no other product has a port on.
    pub fn delete_product(
        &self,
        ctx: &RequestContext,
        id: &str,
        confirm: bool,
        delete_topics: bool,
    ) -> Result<DeletedProduct> {
        self.security.authz.require_product_change(ctx.principal(), id, &format!("delete product '{id}'"))?;
        let product = self.catalog.delete_product(ctx.principal(), id, confirm)?;
        changed(ctx, "delete_product", id);
        let mut topics: Vec<String> = product.spec.output_ports.iter().map(|p| p.topic.clone()).collect();
        topics.sort();
        topics.dedup();
        let mut deleted_topics = Vec::new();
        if delete_topics {
            for topic in &topics {
                if !self.catalog.products_on_topic(topic).is_empty() {
                    continue;
                }
                match self.log.delete_topic(topic) {
                    Ok(()) => {
                        self.data.profiles().forget(topic);
                        changed(ctx, "delete_topic", topic);
                        deleted_topics.push(topic.clone());
                    }
                    Err(weft_log::LogError::TopicNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(DeletedProduct { product, topics, deleted_topics })
    }

    /// Creates or updates the product an ODPS document describes and moves it to the document's status;
    /// idempotent. `placement` names the product (or the domain) for a document that does not name
    /// its Weft product; what the mapping chose is in the notes.
    pub fn apply_odps(
        &self,
        ctx: &RequestContext,
        yaml: &str,
        placement: &weft_catalog::odps::Placement,
    ) -> Result<(Applied, Product, Vec<weft_catalog::odps::MappingNote>)> {
        let governance = self.governance.store().state();
        let attached = |product: &weft_catalog::ProductId, port: &str| {
            governance.port(product.as_str(), port).contract.map(|contract| contract.id)
        };
        let done = self.catalog.import_odps(ctx.principal(), yaml, placement, &attached)?;
        let applied = match done.previous_revision {
            None => Applied::Created,
            Some(revision) if revision == done.product.revision => Applied::Unchanged,
            Some(_) => Applied::Updated,
        };
        if applied != Applied::Unchanged {
            changed(ctx, "apply_odps", done.product.id().as_str());
        }
        Ok((applied, done.product, done.notes))
    }

    /// The product as an ODPS YAML document (valid against the standard's schema), its output ports
    /// naming the data contracts attached to them.
    pub fn export_odps(&self, id: &str) -> Result<String> {
        let governance = self.governance.store().state();
        let attached = |product: &weft_catalog::ProductId, port: &str| {
            governance.port(product.as_str(), port).contract.map(|contract| contract.id)
        };
        Ok(self.catalog.export_odps(id, &attached)?)
    }

    pub fn set_field_lineage(
        &self,
        ctx: &RequestContext,
        product: &str,
        edges: Vec<FieldEdge>,
    ) -> Result<Vec<FieldEdge>> {
        self.security.authz.require_product_change(
            ctx.principal(),
            product,
            &format!("set the field lineage of '{product}'"),
        )?;
        let set = self.catalog.set_field_lineage(ctx.principal(), product, edges)?;
        changed(ctx, "set_field_lineage", product);
        Ok(set)
    }

    pub fn request_access(
        &self,
        ctx: &RequestContext,
        product: &str,
        purpose: &str,
        consumer: Option<&str>,
    ) -> Result<AccessRequest> {
        let request = self.catalog.request_access(ctx.principal(), product, purpose, consumer)?;
        changed(ctx, "request_access", &request.id);
        let data = serde_json::to_value(&request).unwrap_or_default();
        self.notify("access.requested", Some(request.product.as_str()), Some(&request.requester), data);
        Ok(request)
    }

    pub fn decide_access(
        &self,
        ctx: &RequestContext,
        request: &str,
        decision: AccessDecision,
        reason: Option<&str>,
    ) -> Result<AccessRequest> {
        self.decide_access_until(ctx, request, decision, reason, None)
    }

    /// [`Mesh::decide_access`], an approval lasting until `expires_at` (epoch ms) when given.
    pub fn decide_access_until(
        &self,
        ctx: &RequestContext,
        request: &str,
        decision: AccessDecision,
        reason: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<AccessRequest> {
        if self.security.authz.enforcing() && decision == AccessDecision::Approve {
            let asked = self.catalog.access_request(request)?;
            if asked.requester == ctx.principal() {
                return Err(MeshError::Forbidden {
                    principal: ctx.principal().to_string(),
                    action: format!("approve access request {request}"),
                    reason: "nobody approves their own request: another owner of the product's domain decides".into(),
                });
            }
        }
        let decided = self.catalog.decide_access_until(ctx.principal(), request, decision, reason, expires_at)?;
        let event = match decision {
            AccessDecision::Approve => Some("access.granted"),
            AccessDecision::Revoke => Some("access.revoked"),
            AccessDecision::Deny => None,
        };
        if let Some(event) = event {
            let data = serde_json::to_value(&decided).unwrap_or_default();
            self.notify(event, Some(decided.product.as_str()), Some(&decided.requester), data);
        }
        self.security.authz.forget_decisions();
        changed(ctx, "decide_access", request);
        Ok(decided)
    }

    // ----- SQL -----

    /// Runs statements as `ctx`'s principal (ksqlDB's `POST /ksql`).
    pub fn sql_execute(
        &self,
        ctx: &RequestContext,
        text: &str,
        properties: &std::collections::BTreeMap<String, String>,
    ) -> Result<weft_sql::engine::Executed> {
        let executed = self.sql.execute_each_as(ctx.principal(), text, properties)?;
        for result in &executed.results {
            if let weft_sql::StatementResult::Status { statement, .. } = result {
                tracing::info!(
                    principal = ctx.principal(),
                    request_id = ctx.request_id(),
                    action = "sql",
                    statement = statement.as_str(),
                    "sql statement ran"
                );
            }
        }
        Ok(executed)
    }

    /// A push or pull query or `PRINT` as `ctx`'s principal (ksqlDB's `POST /query`).
    pub fn sql_query(
        &self,
        ctx: &RequestContext,
        text: &str,
        properties: &std::collections::BTreeMap<String, String>,
    ) -> Result<weft_sql::QueryHandle> {
        Ok(self.sql.query_as(ctx.principal(), text, properties)?)
    }

    /// One row into a stream (ksqlDB's `/inserts-stream`).
    pub fn sql_insert(
        &self,
        ctx: &RequestContext,
        target: &str,
        row: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        Ok(self.sql.insert_json_as(ctx.principal(), target, row)?)
    }
}

impl Mesh {
    fn notify_lifecycle(&self, ctx: &RequestContext, product: &Product) {
        let event = match product.status() {
            weft_catalog::Status::Published => "product.published",
            weft_catalog::Status::Deprecated => "product.deprecated",
            weft_catalog::Status::Retired => "product.retired",
            weft_catalog::Status::Draft => return,
        };
        let data = serde_json::json!({"product": product.id().as_str(), "revision": product.revision,
            "lifecycle": product.lifecycle, "by": ctx.principal()});
        self.notify(event, Some(product.id().as_str()), None, data);
    }
}

/// The log line of every state change: who, which request, what, on what.
fn changed(ctx: &RequestContext, action: &str, object: &str) {
    tracing::info!(principal = ctx.principal(), request_id = ctx.request_id(), action, object, "state changed");
}
