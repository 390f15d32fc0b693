//! Test helpers: a catalog over a real embedded log in a temporary directory, and spec builders.

use std::sync::Arc;

use tempfile::TempDir;
use weft_catalog::{
    Catalog, DomainName, DomainSpec, FieldInfo, Format, InMemorySchemas, InputPort, IsoDate, Member, OutputPort,
    PortStatus, ProductId, ProductSpec, QualityTier, Role, SemVer,
};
use weft_log::{Durability, EmbeddedLog, LogOptions};

pub const ACTOR: &str = "alice";

pub struct Fixture {
    pub dir: TempDir,
    pub log: Arc<EmbeddedLog>,
    pub schemas: Arc<InMemorySchemas>,
    pub catalog: Catalog,
}

pub fn open_log(dir: &std::path::Path) -> Arc<EmbeddedLog> {
    let mut options = LogOptions::new(dir);
    options.durability = Durability::EveryBatch;
    EmbeddedLog::open(options).expect("open log")
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let schemas = Arc::new(InMemorySchemas::new());
        let log = open_log(dir.path());
        let catalog = Catalog::open(log.clone(), schemas.clone()).expect("open catalog");
        Fixture { dir, log, schemas, catalog }
    }

    /// Shuts the log down cleanly and opens log and catalog again.
    pub fn restart(self) -> Self {
        let Fixture { dir, log, schemas, catalog } = self;
        drop(catalog);
        log.shutdown().expect("shutdown");
        drop(log);
        Self::reopen(dir, schemas)
    }

    /// Drops everything without shutting down (as a killed process would) and opens again.
    pub fn crash(self) -> Self {
        let Fixture { dir, log, schemas, catalog } = self;
        drop(catalog);
        drop(log);
        Self::reopen(dir, schemas)
    }

    pub fn reopen(dir: TempDir, schemas: Arc<InMemorySchemas>) -> Self {
        let log = open_log(dir.path());
        let catalog = Catalog::open(log.clone(), schemas.clone()).expect("reopen catalog");
        Fixture { dir, log, schemas, catalog }
    }

    /// Creates a domain owned by ACTOR.
    pub fn domain(&self, name: &str) {
        self.catalog.create_domain(ACTOR, domain_spec(name)).expect("create domain");
    }

    /// Registers `SUBJECT` with fields and returns a publishable spec whose output port uses it.
    pub fn publishable(&self, id: &str, fields: &[(&str, &str)]) -> ProductSpec {
        let spec = publishable_spec(id);
        let subject = &spec.output_ports[0].schema_subject;
        self.schemas.register(
            subject,
            fields.iter().map(|(n, d)| FieldInfo::new(*n, "string", (!d.is_empty()).then_some(*d))).collect(),
        );
        spec
    }

    /// Creates (and registers the schema of) a publishable product, and publishes it.
    pub fn published(&self, id: &str, fields: &[(&str, &str)]) -> weft_catalog::Product {
        let spec = self.publishable(id, fields);
        self.catalog.create_product(ACTOR, spec).expect("create");
        self.catalog.transition(ACTOR, id, weft_catalog::Transition::Publish, None).expect("publish")
    }
}

pub fn domain_spec(name: &str) -> DomainSpec {
    DomainSpec {
        name: DomainName::parse(name).expect("domain name"),
        description: format!("The {name} domain"),
        owning_team: format!("team-{name}"),
        contact: format!("{name}@example.com"),
        members: vec![
            Member { user: ACTOR.into(), role: Role::Owner },
            Member { user: "bob".into(), role: Role::Member },
        ],
    }
}

pub fn id(s: &str) -> ProductId {
    ProductId::parse(s).expect("product id")
}

pub fn output_port(id: &ProductId, name: &str, major: u64) -> OutputPort {
    OutputPort {
        name: name.into(),
        version: SemVer::new(major, 0, 0),
        description: format!("{name} v{major}"),
        topic: format!("{id}.{name}.v{major}"),
        schema_subject: format!("{id}.{name}.v{major}-value"),
        format: Format::Avro,
        status: PortStatus::Active,
        contract_id: None,
        custom_properties: vec![],
        extensions: Default::default(),
    }
}

pub fn input_port(upstream: &str) -> InputPort {
    InputPort {
        name: upstream.into(),
        product: Some(id(upstream)),
        port: Some("events".into()),
        version: None,
        topic: None,
        contract_id: None,
        custom_properties: vec![],
        extensions: Default::default(),
    }
}

/// A spec meeting the publishing requirements (once its subject is registered).
pub fn publishable_spec(product: &str) -> ProductSpec {
    let pid = id(product);
    let mut spec = ProductSpec::new(pid.clone(), format!("{} product", pid.local_name()), ACTOR);
    spec.description = format!("Events of {product}");
    spec.quality_tier = Some(QualityTier::Curated);
    spec.output_ports = vec![output_port(&pid, "events", 1)];
    spec
}

pub fn today() -> IsoDate {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    IsoDate::from_epoch_ms(ms)
}

pub fn future() -> IsoDate {
    IsoDate::parse("2999-12-31").expect("date")
}

/// The kind of a catalog error, named as its variant: tests say which refusal they expect.
pub fn kind(error: &weft_catalog::CatalogError) -> &'static str {
    use weft_catalog::CatalogError as E;
    match error {
        E::InvalidId { .. } => "InvalidId",
        E::InvalidInput { .. } => "InvalidInput",
        E::InvalidOdps(_) => "InvalidOdps",
        E::NotOdps { .. } => "NotOdps",
        E::DomainNotFound(_) => "DomainNotFound",
        E::ProductNotFound(_) => "ProductNotFound",
        E::AccessRequestNotFound(_) => "AccessRequestNotFound",
        E::FieldNotFound { .. } => "FieldNotFound",
        E::DomainExists(_) => "DomainExists",
        E::ProductExists(_) => "ProductExists",
        E::RevisionConflict { .. } => "RevisionConflict",
        E::AccessConflict(_) => "AccessConflict",
        E::NotAllowed { .. } => "NotAllowed",
        E::InUse { .. } => "InUse",
        E::ForbiddenTransition { .. } => "ForbiddenTransition",
        E::Forbidden { .. } => "Forbidden",
        E::ConfirmationRequired { .. } => "ConfirmationRequired",
        E::BreakingChange { .. } => "BreakingChange",
        E::PublishRequirements { .. } => "PublishRequirements",
        E::LineageCycle { .. } => "LineageCycle",
        E::Log(_) => "Log",
        E::CorruptEvent { .. } => "CorruptEvent",
        E::Search(_) => "Search",
        E::Internal(_) => "Internal",
    }
}
