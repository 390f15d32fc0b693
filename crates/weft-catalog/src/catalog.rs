//! The catalog service: commands that validate, append events to the log, then apply them; and queries.
//!
//! Every command runs under one write lock: it validates fully against the current state, appends all
//! its events to [`CATALOG_TOPIC`] as one batch (durable and atomic), and only then applies them to the
//! in-memory state and the search index. A command that fails leaves no trace; a crash after the append
//! is repaired on the next start, which replays the log. Before deciding, a command applies what other
//! catalogs on the same log (other servers on one Kafka cluster) appended; [`Catalog::refresh`] does
//! the same between commands.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use weft_log::{CleanupPolicy, EventLog, LogError, ReadLimits, TopicConfig};

use crate::access::{
    check_text, may_decide, request_number, AccessDecision, AccessFilter, AccessRequest, AccessStatus, MAX_ACCESS_TEXT,
};
use crate::derived::{schema_field, DerivedLineage};
use crate::error::PublishGap;
use crate::event::{CatalogEvent, EventEnvelope, HistoryEntry, CATALOG_TOPIC};
use crate::lineage::{self, Direction, FieldEdge, FieldRef, ImpactReport, LineageGraph};
use crate::model::{Domain, DomainSpec, InputPort, Lifecycle, OutputPort, PortStatus, Product, ProductSpec, Status};
use crate::odps::{self, OdpsDocument};
use crate::schema::{FieldInfo, SchemaLookup};
use crate::search::{SearchHit, SearchIndex, SearchRequest, SearchResults};
use crate::state::{State, Touched};
use crate::values::IsoDate;
use crate::{CatalogError, DomainName, ProductId};

type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The longest search text.
pub const MAX_QUERY_CHARS: usize = 1000;
/// The most tags one search filters on.
pub const MAX_QUERY_TAGS: usize = 20;

/// A lifecycle transition a caller asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Transition {
    /// draft -> published, once the governance requirements are met.
    Publish,
    /// published -> deprecated. The sunset date may not be in the past.
    Deprecate {
        reason: String,
        sunset: IsoDate,
        #[serde(default)]
        successor: Option<ProductId>,
    },
    /// deprecated -> retired (on or after the sunset date), or draft -> retired (abandoning a draft).
    Retire,
}

impl Transition {
    fn target(&self) -> &'static str {
        match self {
            Transition::Publish => "published",
            Transition::Deprecate { .. } => "deprecated",
            Transition::Retire => "retired",
        }
    }
}

/// At most this many events are looked at by one [`Catalog::history_page`] call.
pub const HISTORY_SCAN_BUDGET: u64 = 5_000;

/// Which part of the catalog's history [`Catalog::history_page`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only entries older than this offset (the `next` of the previous page).
    pub before: Option<u64>,
    pub limit: usize,
    /// Only changes made by this actor.
    pub actor: Option<String>,
    /// Only changes to this domain or to its products.
    pub domain: Option<String>,
}

/// One change, with the entity it is about (`domain/NAME` or `product/ID`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityHistoryEntry {
    pub entity: String,
    #[serde(flatten)]
    pub entry: HistoryEntry,
}

/// A page of the catalog's history, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage {
    pub entries: Vec<EntityHistoryEntry>,
    /// Where the next (older) page starts; `None` when the beginning was reached.
    pub next: Option<u64>,
}

/// The domain an entity key belongs to: `domain/NAME` is NAME, `product/DOMAIN.NAME` is DOMAIN.
fn domain_of_entity(entity: &str) -> &str {
    match entity.split_once('/') {
        Some(("domain", name)) => name,
        Some(("product", id)) => id.split_once('.').map_or(id, |(domain, _)| domain),
        _ => entity,
    }
}

/// The output port governing a topic ([`Catalog::port_on_topic`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicPort {
    pub product: ProductId,
    pub status: Status,
    pub port: OutputPort,
}

/// What opening the catalog did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenStats {
    /// Events replayed from the log.
    pub events: u64,
    pub domains: usize,
    pub products: usize,
    /// Reading and applying the events.
    pub replay: Duration,
    /// Building the search index from the state.
    pub index: Duration,
}

/// The stream catalog. Cheap to share (`Arc<Catalog>`); every method may block on the log, so async
/// callers run them on a blocking thread.
pub struct Catalog {
    log: Arc<dyn EventLog>,
    schemas: Arc<dyn SchemaLookup>,
    state: RwLock<State>,
    index: SearchIndex,
    /// Serializes commands.
    write: Mutex<()>,
    stats: OpenStats,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() || actor.chars().count() > 200 || actor.chars().any(char::is_control) {
        return Err(CatalogError::invalid(
            "actor",
            "a change needs the name of who makes it (1 to 200 printable characters)",
        ));
    }
    Ok(())
}

fn check_revision(entity: impl FnOnce() -> String, current: u64, expected: Option<u64>) -> Result<()> {
    match expected {
        Some(expected) if expected != current => {
            Err(CatalogError::RevisionConflict { entity: entity(), current, expected })
        }
        _ => Ok(()),
    }
}

/// Applies to `state` every event of the catalog topic after the last one it holds, up to the high
/// watermark, and says what each touched.
fn replay(log: &dyn EventLog, state: &mut State) -> Result<Vec<Touched>> {
    let (start, end) = log.offsets(CATALOG_TOPIC, 0)?;
    // The topic is never compacted nor trimmed, so nothing before `start` is missed.
    let mut position = state.next_offset().unwrap_or(start).max(start);
    let mut touched = Vec::new();
    let limits = ReadLimits { max_records: 10_000, max_bytes: 64 << 20 };
    while position < end {
        let batch = log.read(CATALOG_TOPIC, 0, position, limits)?;
        if batch.records.is_empty() {
            break;
        }
        for record in &batch.records {
            let envelope = EventEnvelope::from_record(record.offset, record.value.as_deref())?;
            touched.push(state.apply(record.offset, envelope));
        }
        position = batch.next_offset;
    }
    Ok(touched)
}

impl Catalog {
    /// Opens the catalog over `log`: creates [`CATALOG_TOPIC`] on first use, replays it to rebuild the
    /// state, and builds the search index.
    pub fn open(log: Arc<dyn EventLog>, schemas: Arc<dyn SchemaLookup>) -> Result<Catalog> {
        if !log.list_topics().iter().any(|t| t == CATALOG_TOPIC) {
            // The history of the catalog: one partition (a total order), kept forever, never compacted.
            let config = TopicConfig { partitions: 1, retention_ms: None, ..TopicConfig::default() };
            match log.create_topic(CATALOG_TOPIC, config) {
                Ok(_) | Err(LogError::TopicExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let config = log.topic_config(CATALOG_TOPIC)?;
        if config.partitions != 1
            || config.retention_ms.is_some()
            || config.retention_bytes.is_some()
            || config.cleanup_policy != CleanupPolicy::Delete
        {
            return Err(CatalogError::Internal(format!(
                "topic {CATALOG_TOPIC} must have one partition and keep every event (no retention, no compaction), \
                 but it is configured {:?}",
                config.to_kafka()
            )));
        }
        let started = Instant::now();
        let mut state = State::default();
        let events = replay(log.as_ref(), &mut state)?.len() as u64;
        let replay = started.elapsed();
        let started = Instant::now();
        let index = SearchIndex::new()?;
        index.start_bulk_load();
        for product in state.products.values() {
            index.add(product, &schema_fields(schemas.as_ref(), &product.spec))?;
        }
        index.finish_bulk_load()?;
        let stats = OpenStats {
            events,
            domains: state.domains.len(),
            products: state.products.len(),
            replay,
            index: started.elapsed(),
        };
        Ok(Catalog { log, schemas, state: RwLock::new(state), index, write: Mutex::new(()), stats })
    }

    /// What opening the catalog did (for startup logs and the benchmark).
    pub fn open_stats(&self) -> OpenStats {
        self.stats
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the write lock, having applied what other servers appended since (so a command decides
    /// on the latest state the log holds).
    fn lock_writes(&self) -> Result<MutexGuard<'_, ()>> {
        let guard = self.write.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up()?;
        Ok(guard)
    }

    /// Applies the events other servers on the same log appended since this one last read it, and
    /// updates the search index for them. Call with the write lock held.
    fn catch_up(&self) -> Result<()> {
        let (start, end) = self.log.offsets(CATALOG_TOPIC, 0)?;
        if self.read_state().next_offset().unwrap_or(start) >= end {
            return Ok(());
        }
        let touched = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            replay(self.log.as_ref(), &mut state)?
        };
        if let Err(e) = self.reindex(&touched) {
            tracing::warn!(error = %e, "the search index update failed; it is rebuilt on restart");
        }
        Ok(())
    }

    /// Applies what other servers on the same log appended since this one last read it: a server
    /// calls this when the catalog topic grows (see `weft-mesh`'s follower), and every command does it
    /// before deciding.
    pub fn refresh(&self) -> Result<()> {
        self.lock_writes().map(drop)
    }

    /// Appends `events` as one batch, then applies them. Call with the write lock held.
    fn commit(&self, actor: &str, events: Vec<CatalogEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let at = now_ms();
        let envelopes: Vec<EventEnvelope> =
            events.into_iter().map(|event| EventEnvelope { actor: actor.to_string(), at, event }).collect();
        let records = envelopes.iter().map(EventEnvelope::to_record).collect::<Result<Vec<_>>>()?;
        let expected = self.read_state().next_offset();
        let appended = self.log.append(CATALOG_TOPIC, 0, records)?;
        let touched = if expected == Some(appended.base_offset) {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            envelopes
                .into_iter()
                .enumerate()
                .map(|(i, envelope)| state.apply(appended.base_offset + i as u64, envelope))
                .collect()
        } else {
            // Another server appended in between (or this is the first event): apply the log in its
            // order, these events included, as a restart would.
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            replay(self.log.as_ref(), &mut state)?
        };
        // The change is durable and applied; an index failure must not report it as failed. The index
        // is rebuilt from the log on the next start.
        if let Err(e) = self.reindex(&touched) {
            tracing::warn!(error = %e, "the search index update failed; it is rebuilt on restart");
        }
        Ok(())
    }

    fn reindex(&self, touched: &[Touched]) -> Result<()> {
        let state = self.read_state();
        let mut changed = false;
        for t in touched {
            match t {
                Touched::Product(id) => {
                    if let Some(p) = state.products.get(id) {
                        self.index.upsert(p, &schema_fields(self.schemas.as_ref(), &p.spec))?;
                        changed = true;
                    }
                }
                Touched::ProductRemoved(id) => {
                    self.index.remove(id);
                    changed = true;
                }
                Touched::Domain | Touched::None => {}
            }
        }
        if changed {
            self.index.commit()?;
        }
        Ok(())
    }

    // ----- domains -----

    /// Creates a domain.
    pub fn create_domain(&self, actor: &str, spec: DomainSpec) -> Result<Domain> {
        check_actor(actor)?;
        spec.validate()?;
        let _write = self.lock_writes()?;
        if self.read_state().domains.contains_key(&spec.name) {
            return Err(CatalogError::DomainExists(spec.name.to_string()));
        }
        let now = now_ms();
        let domain = Domain { spec, revision: 1, created_at: now, updated_at: now };
        self.commit(actor, vec![CatalogEvent::DomainCreated { after: domain.clone() }])?;
        Ok(domain)
    }

    /// Replaces a domain's description, team, contact and members. `if_revision`, when given, must be the
    /// domain's current revision. An update that changes nothing records nothing.
    pub fn update_domain(&self, actor: &str, name: &str, spec: DomainSpec, if_revision: Option<u64>) -> Result<Domain> {
        check_actor(actor)?;
        let name = DomainName::parse(name)?;
        if spec.name != name {
            return Err(CatalogError::invalid(
                "name",
                format!("the body describes domain '{}' but the change is for domain '{name}'", spec.name),
            ));
        }
        spec.validate()?;
        let _write = self.lock_writes()?;
        let before = self.domain(name.as_str())?;
        check_revision(|| format!("domain '{name}'"), before.revision, if_revision)?;
        if before.spec == spec {
            return Ok(before);
        }
        let after = Domain { spec, revision: before.revision + 1, created_at: before.created_at, updated_at: now_ms() };
        self.commit(actor, vec![CatalogEvent::DomainUpdated { before, after: after.clone() }])?;
        Ok(after)
    }

    /// Deletes a domain that has no products left.
    pub fn delete_domain(&self, actor: &str, name: &str) -> Result<Domain> {
        check_actor(actor)?;
        let name = DomainName::parse(name)?;
        let _write = self.lock_writes()?;
        let before = self.domain(name.as_str())?;
        {
            let state = self.read_state();
            let products: Vec<String> = state.products_of(&name).map(|p| p.id().to_string()).collect();
            if !products.is_empty() {
                let shown: Vec<&str> = products.iter().take(5).map(String::as_str).collect();
                return Err(CatalogError::InUse {
                    entity: format!("domain '{name}'"),
                    reason: format!(
                        "it still has {} product(s) ({}{}); retire and delete them first",
                        products.len(),
                        shown.join(", "),
                        if products.len() > 5 { ", ..." } else { "" }
                    ),
                });
            }
        }
        self.commit(actor, vec![CatalogEvent::DomainDeleted { before: before.clone() }])?;
        Ok(before)
    }

    pub fn domain(&self, name: &str) -> Result<Domain> {
        let name = DomainName::parse(name)?;
        self.read_state().domains.get(&name).cloned().ok_or_else(|| CatalogError::DomainNotFound(name.to_string()))
    }

    /// All domains, by name.
    pub fn domains(&self) -> Vec<Domain> {
        self.read_state().domains.values().cloned().collect()
    }

    // ----- products -----

    /// Creates a product as a draft in its domain (the first part of its id).
    pub fn create_product(&self, actor: &str, spec: ProductSpec) -> Result<Product> {
        check_actor(actor)?;
        spec.validate()?;
        let _write = self.lock_writes()?;
        let product = {
            let state = self.read_state();
            plan_create(&state, spec)?
        };
        self.commit(actor, vec![CatalogEvent::ProductCreated { after: product.clone() }])?;
        Ok(product)
    }

    /// Replaces a product's spec. On a product others may consume (published or deprecated) the change
    /// must keep every served output port as it is and keep the publishing requirements; a retired
    /// product is read-only. An update that changes nothing records nothing.
    pub fn update_product(
        &self,
        actor: &str,
        id: &str,
        spec: ProductSpec,
        if_revision: Option<u64>,
    ) -> Result<Product> {
        check_actor(actor)?;
        let id = ProductId::parse(id)?;
        if spec.id != id {
            return Err(CatalogError::invalid(
                "id",
                format!("the body describes product '{}' but the change is for product '{id}'", spec.id),
            ));
        }
        spec.validate()?;
        let _write = self.lock_writes()?;
        let (events, after) = {
            let state = self.read_state();
            let before = state.products.get(&id).ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
            check_revision(|| format!("data product '{id}'"), before.revision, if_revision)?;
            let mut events = Vec::new();
            let after = self.plan_update(&state, before, spec, &mut events)?;
            (events, after)
        };
        self.commit(actor, events)?;
        Ok(after)
    }

    /// Moves a product along its lifecycle: draft -> published -> deprecated -> retired.
    pub fn transition(
        &self,
        actor: &str,
        id: &str,
        transition: Transition,
        if_revision: Option<u64>,
    ) -> Result<Product> {
        check_actor(actor)?;
        let id = ProductId::parse(id)?;
        let _write = self.lock_writes()?;
        let (event, after) = {
            let state = self.read_state();
            let before = state.products.get(&id).ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
            check_revision(|| format!("data product '{id}'"), before.revision, if_revision)?;
            let lifecycle = self.plan_transition(&state, before, &before.spec, &transition)?;
            let mut after = before.clone();
            after.lifecycle = lifecycle.clone();
            after.revision += 1;
            let event = CatalogEvent::ProductStatusChanged {
                id: id.clone(),
                revision: after.revision,
                before: before.lifecycle.clone(),
                after: lifecycle,
            };
            (event, after)
        };
        self.commit(actor, vec![event])?;
        // The state's `updated_at` is the event's time; return exactly what the state holds.
        self.product(id.as_str()).or(Ok(after))
    }

    /// Deletes a retired product from the catalog. `confirm` must be true: deleting is explicit, and the
    /// returned product tells the caller which topics to delete (the catalog itself deletes no data).
    pub fn delete_product(&self, actor: &str, id: &str, confirm: bool) -> Result<Product> {
        check_actor(actor)?;
        let id = ProductId::parse(id)?;
        let _write = self.lock_writes()?;
        let before = {
            let state = self.read_state();
            let product = state.products.get(&id).ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
            if product.status() != Status::Retired {
                return Err(CatalogError::Forbidden {
                    product: id.to_string(),
                    reason: format!(
                        "only a retired product can be deleted, and it is {}: deprecate it, then retire it",
                        product.status().as_str()
                    ),
                });
            }
            if !confirm {
                return Err(CatalogError::ConfirmationRequired { product: id.to_string() });
            }
            let consumers: Vec<String> = state.downstream_of(&id).map(ProductId::to_string).collect();
            if !consumers.is_empty() {
                return Err(CatalogError::InUse {
                    entity: format!("data product '{id}'"),
                    reason: format!("{} still list(s) it as an input port", consumers.join(", ")),
                });
            }
            product.clone()
        };
        self.commit(actor, vec![CatalogEvent::ProductDeleted { before: before.clone() }])?;
        Ok(before)
    }

    pub fn product(&self, id: &str) -> Result<Product> {
        let id = ProductId::parse(id)?;
        self.read_state().products.get(&id).cloned().ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))
    }

    /// The products of one domain (or of all when `None`), by id.
    pub fn products(&self, domain: Option<&str>) -> Result<Vec<Product>> {
        let state = self.read_state();
        match domain {
            None => Ok(state.products.values().cloned().collect()),
            Some(d) => {
                let d = DomainName::parse(d)?;
                if !state.domains.contains_key(&d) {
                    return Err(CatalogError::DomainNotFound(d.to_string()));
                }
                Ok(state.products_of(&d).cloned().collect())
            }
        }
    }

    // ----- history -----

    /// A page of the whole catalog's history, newest first: the catalog topic read backwards, as an
    /// audit log answering "what happened lately, anywhere". Pages are cut by offset (`before`), which
    /// is stable while new changes arrive; at most [`HISTORY_SCAN_BUDGET`] events are looked at per
    /// call, so a filter that rarely matches cannot make one call read the whole history (the answer's
    /// `next` says where to go on).
    pub fn history_page(&self, query: &HistoryQuery) -> Result<HistoryPage> {
        const CHUNK: u64 = 256;
        let limit = query.limit.max(1);
        let (earliest, latest) = self.log.offsets(CATALOG_TOPIC, 0)?;
        let mut end = query.before.unwrap_or(latest).min(latest);
        let stop = end.saturating_sub(HISTORY_SCAN_BUDGET).max(earliest);
        let mut entries = Vec::new();
        while end > stop && entries.len() < limit {
            let start = end.saturating_sub(CHUNK).max(stop);
            let mut chunk = Vec::new();
            let mut at = start;
            // A read may stop early at its byte limit: read on until the chunk is complete.
            while at < end {
                let max_records = usize::try_from(end - at).unwrap_or(usize::MAX);
                let batch = self.log.read(CATALOG_TOPIC, 0, at, ReadLimits { max_records, max_bytes: 8 << 20 })?;
                let Some(last) = batch.records.last().map(|r| r.offset) else { break };
                chunk.extend(batch.records.into_iter().filter(|r| r.offset < end));
                at = last + 1;
            }
            for record in chunk.into_iter().rev() {
                let envelope = EventEnvelope::from_record(record.offset, record.value.as_deref())?;
                let entity = envelope.event.entity_key();
                let keep = query.actor.as_deref().is_none_or(|a| envelope.actor == a)
                    && query.domain.as_deref().is_none_or(|d| domain_of_entity(&entity) == d);
                // Everything at or after `end` has been looked at.
                end = record.offset;
                if keep {
                    entries.push(EntityHistoryEntry { entity, entry: HistoryEntry::new(record.offset, envelope) });
                    if entries.len() == limit {
                        break;
                    }
                }
            }
            if entries.len() < limit {
                end = start;
            }
        }
        let next = (end > earliest).then_some(end);
        Ok(HistoryPage { entries, next })
    }

    fn entries(&self, offsets: &[u64]) -> Result<Vec<HistoryEntry>> {
        let mut entries = Vec::with_capacity(offsets.len());
        for &offset in offsets {
            let batch = self.log.read(CATALOG_TOPIC, 0, offset, ReadLimits { max_records: 1, max_bytes: 1 })?;
            let Some(record) = batch.records.into_iter().next().filter(|r| r.offset == offset) else {
                return Err(CatalogError::CorruptEvent {
                    topic: CATALOG_TOPIC.into(),
                    offset,
                    reason: "the event is missing from the log".into(),
                });
            };
            let e = EventEnvelope::from_record(offset, record.value.as_deref())?;
            entries.push(HistoryEntry::new(offset, e));
        }
        Ok(entries)
    }

    /// Every change to a product, oldest first (also after the product was deleted).
    pub fn product_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        let id = ProductId::parse(id)?;
        let offsets = self.read_state().product_history(&id).to_vec();
        if offsets.is_empty() {
            return Err(CatalogError::ProductNotFound(id.to_string()));
        }
        self.entries(&offsets)
    }

    /// Every change to a domain, oldest first (also after the domain was deleted).
    pub fn domain_history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        let name = DomainName::parse(name)?;
        let offsets = self.read_state().domain_history(&name).to_vec();
        if offsets.is_empty() {
            return Err(CatalogError::DomainNotFound(name.to_string()));
        }
        self.entries(&offsets)
    }

    // ----- ODPS -----

    /// Creates or updates a product from an ODPS YAML document (any the standard accepts; `placement`
    /// says where one that does not name its Weft product goes), and moves it to the document's status
    /// through the lifecycle's transitions (each checked as if asked for one by one). Everything is
    /// validated before anything is recorded; all the changes are one atomic batch.
    ///
    /// `attached` names the contracts attached to output ports outside the catalog (see
    /// [`odps::AttachedContracts`]), so that an export applied again changes nothing.
    pub fn import_odps(
        &self,
        actor: &str,
        yaml: &str,
        placement: &odps::Placement,
        attached: &odps::AttachedContracts,
    ) -> Result<odps::Applied> {
        check_actor(actor)?;
        let document = odps::parse(yaml)?;
        let cx = odps::ImportContext {
            product: placement.product.as_ref(),
            domain: placement.domain.as_ref(),
            actor,
            today: IsoDate::from_epoch_ms(now_ms()),
        };
        let odps::Imported { mut spec, lifecycle: mut target, default_deprecation, slug_id, notes } =
            document.to_product(&cx)?;
        let id = spec.id.clone();
        let _write = self.lock_writes()?;
        let (events, previous_revision) = {
            let state = self.read_state();
            for port in &mut spec.output_ports {
                if port.contract_id.is_some() && port.contract_id == attached(&id, &port.name) {
                    port.contract_id = None;
                }
            }
            let upstreams = upstreams_with(&state, &spec, attached);
            odps::unpin_upstream_contracts(&mut spec, &|id| upstreams.get(id));
            let mut events = Vec::new();
            let previous_revision = state.products.get(&id).map(|p| p.revision);
            let mut product = match state.products.get(&id) {
                None => {
                    let p = plan_create(&state, spec)?;
                    events.push(CatalogEvent::ProductCreated { after: p.clone() });
                    p
                }
                Some(before) => {
                    let held = odps_id(&before.spec);
                    if slug_id && held != document.id {
                        return Err(CatalogError::InvalidOdps(format!(
                            "the document's id '{}' is not a Weft product id and maps to product '{id}', which holds the document '{held}': name the product it is for, or give it a customProperties weftId",
                            document.id
                        )));
                    }
                    if default_deprecation && matches!(before.lifecycle, Lifecycle::Deprecated { .. }) {
                        target = before.lifecycle.clone();
                    }
                    if before.spec == spec {
                        // A document applied again, even to a read-only (retired) product: no change.
                        before.clone()
                    } else {
                        self.plan_update(&state, before, spec, &mut events)?
                    }
                }
            };
            for transition in path(&product.lifecycle, &target) {
                let transition = transition.map_err(|(from, to)| CatalogError::ForbiddenTransition {
                    product: id.to_string(),
                    from,
                    to,
                    reason: "a product's lifecycle only moves forward: draft, published, deprecated, retired".into(),
                })?;
                let lifecycle = self.plan_transition(&state, &product, &product.spec, &transition)?;
                product.revision += 1;
                events.push(CatalogEvent::ProductStatusChanged {
                    id: id.clone(),
                    revision: product.revision,
                    before: product.lifecycle.clone(),
                    after: lifecycle.clone(),
                });
                product.lifecycle = lifecycle;
            }
            (events, previous_revision)
        };
        self.commit(actor, events)?;
        Ok(odps::Applied { product: self.product(id.as_str())?, notes, previous_revision })
    }

    /// The product as an ODPS YAML document, valid against the standard's schema; `attached` names
    /// the contracts attached to output ports outside the catalog ([`odps::AttachedContracts`]).
    pub fn export_odps(&self, id: &str, attached: &odps::AttachedContracts) -> Result<String> {
        let id = ProductId::parse(id)?;
        let state = self.read_state();
        let product = state.products.get(&id).ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
        let product = odps::with_attached(product, attached);
        let upstreams = upstreams_with(&state, &product.spec, attached);
        odps::to_yaml(&OdpsDocument::from_product(&product, &|upstream| upstreams.get(upstream))?)
    }

    // ----- search -----

    /// Full-text search with facet filters and facet counts.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        if request.text.chars().count() > MAX_QUERY_CHARS {
            return Err(CatalogError::invalid("text", format!("a search is at most {MAX_QUERY_CHARS} characters")));
        }
        if request.tags.len() > MAX_QUERY_TAGS {
            return Err(CatalogError::invalid("tags", format!("a search filters on at most {MAX_QUERY_TAGS} tags")));
        }
        let crate::search::RawResults { hits, total, facets } = self.index.search(request)?;
        let state = self.read_state();
        let hits = hits
            .into_iter()
            .filter_map(|(id, score)| {
                let p = state.products.get(&id)?;
                Some(SearchHit {
                    name: p.spec.name.clone(),
                    description: p.spec.description.clone(),
                    owner: p.spec.owner.clone(),
                    status: p.status(),
                    quality_tier: p.spec.quality_tier,
                    tags: p.spec.tags.clone(),
                    score,
                    id,
                })
            })
            .collect();
        Ok(SearchResults { total, hits, facets })
    }

    /// Re-indexes the products whose output ports use `subject`, after a new schema version was
    /// registered (their searchable field names may have changed). Returns how many were re-indexed.
    pub fn schema_changed(&self, subject: &str) -> Result<usize> {
        let _write = self.lock_writes()?;
        let touched: Vec<Touched> = self
            .read_state()
            .products
            .values()
            .filter(|p| p.spec.output_ports.iter().any(|o| o.schema_subject == subject))
            .map(|p| Touched::Product(p.id().clone()))
            .collect();
        self.reindex(&touched)?;
        Ok(touched.len())
    }

    // ----- lineage -----

    /// Replaces the field-level lineage of `product`: each edge says which field of an input product
    /// one of its fields is computed from. Edges must point into `product`, come from one of its input
    /// products, and name fields their schemas have (when the registry knows the schemas).
    pub fn set_field_lineage(&self, actor: &str, product: &str, edges: Vec<FieldEdge>) -> Result<Vec<FieldEdge>> {
        check_actor(actor)?;
        let id = ProductId::parse(product)?;
        let _write = self.lock_writes()?;
        let (before, after) = {
            let state = self.read_state();
            let p = state.products.get(&id).ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
            if p.status() == Status::Retired {
                return Err(retired_read_only(&id));
            }
            let inputs = p.upstream_ids();
            let mut known_fields: BTreeMap<&ProductId, Option<BTreeSet<String>>> = BTreeMap::new();
            for (i, edge) in edges.iter().enumerate() {
                if edge.to.product != id {
                    return Err(CatalogError::invalid(
                        format!("edges[{i}].to.product"),
                        format!(
                            "the field lineage of '{id}' describes its own fields, but this edge points into '{}'",
                            edge.to.product
                        ),
                    ));
                }
                if !inputs.contains(&edge.from.product) {
                    return Err(CatalogError::invalid(
                        format!("edges[{i}].from.product"),
                        format!("'{}' is not an input of '{id}': add an input port for it first", edge.from.product),
                    ));
                }
                for (side, r) in [("from", &edge.from), ("to", &edge.to)] {
                    let name = r.field.trim();
                    if name.is_empty() || r.field.chars().count() > 200 || r.field.chars().any(char::is_control) {
                        return Err(CatalogError::invalid(
                            format!("edges[{i}].{side}.field"),
                            "a field name is 1 to 200 printable characters",
                        ));
                    }
                    let fields = known_fields.entry(&r.product).or_insert_with(|| {
                        state.products.get(&r.product).and_then(|p| known_field_names(self.schemas.as_ref(), &p.spec))
                    });
                    if fields.as_ref().is_some_and(|f| !f.contains(&r.field)) {
                        return Err(CatalogError::FieldNotFound {
                            product: r.product.to_string(),
                            field: r.field.clone(),
                        });
                    }
                }
            }
            let after: Vec<FieldEdge> = edges.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
            let before = state.field_lineage.get(&id).cloned().unwrap_or_default();
            (before, after)
        };
        if before != after {
            self.commit(actor, vec![CatalogEvent::FieldLineageSet { product: id, before, after: after.clone() }])?;
        }
        Ok(after)
    }

    /// The field-level lineage edges into `product`.
    pub fn field_lineage(&self, product: &str) -> Result<Vec<FieldEdge>> {
        let id = ProductId::parse(product)?;
        let state = self.read_state();
        if !state.products.contains_key(&id) {
            return Err(CatalogError::ProductNotFound(id.to_string()));
        }
        Ok(state.field_lineage.get(&id).cloned().unwrap_or_default())
    }

    /// The products `product` is derived from, up to `max_depth` edges away (`None`: all).
    pub fn upstream(&self, product: &str, max_depth: Option<usize>) -> Result<LineageGraph> {
        self.walk(product, Direction::Upstream, max_depth)
    }

    /// The products derived from `product`, up to `max_depth` edges away (`None`: all).
    pub fn downstream(&self, product: &str, max_depth: Option<usize>) -> Result<LineageGraph> {
        self.walk(product, Direction::Downstream, max_depth)
    }

    fn walk(&self, product: &str, direction: Direction, max_depth: Option<usize>) -> Result<LineageGraph> {
        let id = ProductId::parse(product)?;
        let state = self.read_state();
        if !state.products.contains_key(&id) {
            return Err(CatalogError::ProductNotFound(id.to_string()));
        }
        Ok(lineage::walk(&state, &id, direction, max_depth))
    }

    /// Which products (and their owners) are affected if `product` changes, or only its field `field`.
    pub fn impact(&self, product: &str, field: Option<&str>) -> Result<ImpactReport> {
        let id = ProductId::parse(product)?;
        let state = self.read_state();
        let p = state.products.get(&id).ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
        if let Some(field) = field {
            if known_field_names(self.schemas.as_ref(), &p.spec).is_some_and(|f| !f.contains(field)) {
                return Err(CatalogError::FieldNotFound { product: id.to_string(), field: field.to_string() });
            }
        }
        Ok(lineage::impact(&state, &id, field))
    }

    // ----- streaming SQL -----

    /// Creates a draft product derived by a streaming query, with its field lineage, in one atomic
    /// change. `spec` carries the product's metadata and output port; its input ports are made here:
    /// one per (non-retired) product with a served output port on one of `lineage.input_topics`,
    /// else one naming the bare topic. Field lineage edges come from those products' columns; a
    /// column the schemas of either side do not have (a key column, say, which is not in the value
    /// schema) gets no edge.
    pub fn create_derived_product(
        &self,
        actor: &str,
        mut spec: ProductSpec,
        lineage: &DerivedLineage,
    ) -> Result<(Product, Vec<FieldEdge>)> {
        check_actor(actor)?;
        let _write = self.lock_writes()?;
        let (product, edges) = {
            let state = self.read_state();
            let mut by_topic: BTreeMap<&str, Vec<ProductId>> = BTreeMap::new();
            for topic in &lineage.input_topics {
                if by_topic.contains_key(topic.as_str()) {
                    continue;
                }
                let mut upstreams = Vec::new();
                for p in state.products.values().filter(|p| p.status() != Status::Retired && p.id() != &spec.id) {
                    let Some(port) = served_ports(p).find(|o| o.topic == *topic) else { continue };
                    spec.input_ports.push(InputPort {
                        name: p.id().to_string(),
                        product: Some(p.id().clone()),
                        port: Some(port.name.clone()),
                        version: Some(port.version.clone()),
                        topic: None,
                        contract_id: None,
                        custom_properties: Vec::new(),
                        extensions: Default::default(),
                    });
                    upstreams.push(p.id().clone());
                }
                if upstreams.is_empty() {
                    spec.input_ports.push(InputPort {
                        name: topic.clone(),
                        product: None,
                        port: None,
                        version: None,
                        topic: Some(topic.clone()),
                        contract_id: None,
                        custom_properties: Vec::new(),
                        extensions: Default::default(),
                    });
                }
                by_topic.insert(topic, upstreams);
            }
            spec.validate()?;
            let own_fields = known_field_names(self.schemas.as_ref(), &spec);
            let mut edges = BTreeSet::new();
            for field in &lineage.fields {
                let Some(to) = schema_field(own_fields.as_ref(), &field.field) else { continue };
                for source in &field.from {
                    for upstream in by_topic.get(source.topic.as_str()).into_iter().flatten() {
                        let known = state
                            .products
                            .get(upstream)
                            .and_then(|p| known_field_names(self.schemas.as_ref(), &p.spec));
                        let Some(from) = schema_field(known.as_ref(), &source.column) else { continue };
                        edges.insert(FieldEdge {
                            from: FieldRef { product: upstream.clone(), field: from },
                            to: FieldRef { product: spec.id.clone(), field: to.clone() },
                        });
                    }
                }
            }
            (plan_create(&state, spec)?, edges.into_iter().collect::<Vec<_>>())
        };
        let mut events = vec![CatalogEvent::ProductCreated { after: product.clone() }];
        if !edges.is_empty() {
            events.push(CatalogEvent::FieldLineageSet {
                product: product.id().clone(),
                before: Vec::new(),
                after: edges.clone(),
            });
        }
        self.commit(actor, events)?;
        Ok((product, edges))
    }

    /// Every product (any status) with an output port (any port status) on `topic`, in id order.
    pub fn products_on_topic(&self, topic: &str) -> Vec<ProductId> {
        self.read_state().products_on_topic(topic).map(|p| p.id().clone()).collect()
    }

    /// The output port that governs the records on `topic`: what format and schema writers must use
    /// and readers can expect. Among the served ports of products that are not retired, a published or
    /// deprecated product's wins over a draft's, then the highest port version, then the smallest id,
    /// so the answer is the same on every call. `None` for a topic no product serves.
    pub fn port_on_topic(&self, topic: &str) -> Option<TopicPort> {
        let state = self.read_state();
        state
            .products_on_topic(topic)
            .filter(|p| p.status() != Status::Retired)
            .flat_map(|p| served_ports(p).filter(|o| o.topic == topic).map(move |o| (p, o)))
            .max_by(|(a, pa), (b, pb)| {
                let live = |p: &Product| matches!(p.status(), Status::Published | Status::Deprecated);
                live(a).cmp(&live(b)).then(pa.version.cmp(&pb.version)).then(b.id().cmp(a.id()))
            })
            .map(|(product, port)| TopicPort {
                product: product.id().clone(),
                status: product.status(),
                port: port.clone(),
            })
    }

    /// The published or deprecated products that depend on `topic`: one of their served output
    /// ports is on it, an input port names it, or an input port reads an upstream product's port on
    /// it. Drafts and retired products have no consumers to protect. Sorted by id.
    pub fn products_depending_on_topic(&self, topic: &str) -> Vec<ProductId> {
        let state = self.read_state();
        let upstream_reads = |input: &InputPort| {
            let Some(upstream) = input.product.as_ref().and_then(|u| state.products.get(u)) else { return false };
            served_ports(upstream).any(|o| o.topic == topic && input.port.as_ref().is_none_or(|name| *name == o.name))
        };
        state
            .products
            .values()
            .filter(|p| matches!(p.status(), Status::Published | Status::Deprecated))
            .filter(|p| {
                served_ports(p).any(|o| o.topic == topic)
                    || p.spec.input_ports.iter().any(|i| i.topic.as_deref() == Some(topic) || upstream_reads(i))
            })
            .map(|p| p.id().clone())
            .collect()
    }

    // ----- access requests -----

    /// Asks, as `actor`, to consume `product` for `purpose` (on behalf of `consumer`, a team or
    /// domain, when given). A retired product takes no requests, and a requester has at most one
    /// pending request per product.
    pub fn request_access(
        &self,
        actor: &str,
        product: &str,
        purpose: &str,
        consumer: Option<&str>,
    ) -> Result<AccessRequest> {
        check_actor(actor)?;
        let id = ProductId::parse(product)?;
        check_text("purpose", purpose, true, MAX_ACCESS_TEXT)?;
        if let Some(consumer) = consumer {
            check_text("consumer", consumer, true, 200)?;
        }
        let _write = self.lock_writes()?;
        let request = {
            let state = self.read_state();
            let p = state.products.get(&id).ok_or_else(|| CatalogError::ProductNotFound(id.to_string()))?;
            if p.status() == Status::Retired {
                return Err(CatalogError::Forbidden {
                    product: id.to_string(),
                    reason: "a retired product takes no access requests".into(),
                });
            }
            if let Some(open) = state
                .access
                .values()
                .find(|r| r.product == id && r.requester == actor && r.status == AccessStatus::Pending)
            {
                return Err(CatalogError::AccessConflict(format!(
                    "{actor} already has a pending request for '{id}' ({}); wait for its decision",
                    open.id
                )));
            }
            let number = state.access.keys().next_back().map_or(1, |n| n + 1);
            AccessRequest {
                id: format!("ar-{number}"),
                product: id,
                requester: actor.to_string(),
                consumer: consumer.map(str::to_string),
                purpose: purpose.to_string(),
                status: AccessStatus::Pending,
                requested_at: now_ms(),
                decided_by: None,
                decided_at: None,
                reason: None,
                expires_at: None,
            }
        };
        self.commit(actor, vec![CatalogEvent::AccessRequested { request: request.clone() }])?;
        Ok(request)
    }

    /// Approves or denies a pending request, or revokes an approved one. Only the product's owner or
    /// an owner of its domain decides; a retired product's requests can be denied or revoked, not
    /// approved.
    pub fn decide_access(
        &self,
        actor: &str,
        request: &str,
        decision: AccessDecision,
        reason: Option<&str>,
    ) -> Result<AccessRequest> {
        self.decide_access_until(actor, request, decision, reason, None)
    }

    /// [`Catalog::decide_access`], an approval lasting until `expires_at` (epoch ms, in the future)
    /// when given: the grant then stops covering reads by itself.
    pub fn decide_access_until(
        &self,
        actor: &str,
        request: &str,
        decision: AccessDecision,
        reason: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<AccessRequest> {
        check_actor(actor)?;
        if let Some(at) = expires_at {
            if decision != AccessDecision::Approve {
                return Err(CatalogError::invalid("expiresAt", "only an approval has an expiry"));
            }
            if at <= now_ms() {
                return Err(CatalogError::invalid("expiresAt", "the expiry must be in the future"));
            }
        }
        if let Some(reason) = reason {
            check_text("reason", reason, false, MAX_ACCESS_TEXT)?;
        }
        let number = request_number(request).ok_or_else(|| CatalogError::AccessRequestNotFound(request.to_string()))?;
        let _write = self.lock_writes()?;
        let (before, after) = {
            let state = self.read_state();
            let before =
                state.access.get(&number).ok_or_else(|| CatalogError::AccessRequestNotFound(request.to_string()))?;
            let product = state
                .products
                .get(&before.product)
                .ok_or_else(|| CatalogError::ProductNotFound(before.product.to_string()))?;
            if !may_decide(actor, product, state.domains.get(&product.id().domain())) {
                return Err(CatalogError::NotAllowed {
                    actor: actor.to_string(),
                    action: format!("{} access request {}", decision.as_str(), before.id),
                    reason: format!(
                        "only the owner of '{}' ({}) or an owner of domain '{}' decides about access to it",
                        product.id(),
                        product.spec.owner,
                        product.id().domain()
                    ),
                });
            }
            let (from, to) = decision.transition();
            if before.status != from {
                return Err(CatalogError::AccessConflict(format!(
                    "{} is {}; only a {} request can be {}",
                    before.id,
                    before.status.as_str(),
                    from.as_str(),
                    to.as_str()
                )));
            }
            if decision == AccessDecision::Approve && product.status() == Status::Retired {
                return Err(CatalogError::Forbidden {
                    product: product.id().to_string(),
                    reason: "a retired product grants no access".into(),
                });
            }
            let mut after = before.clone();
            after.status = to;
            after.decided_by = Some(actor.to_string());
            after.decided_at = Some(now_ms());
            after.reason = reason.map(str::to_string).filter(|r| !r.trim().is_empty());
            if decision == AccessDecision::Approve {
                after.expires_at = expires_at;
            }
            (before.clone(), after)
        };
        self.commit(actor, vec![CatalogEvent::AccessDecided { before, after: after.clone() }])?;
        Ok(after)
    }

    pub fn access_request(&self, request: &str) -> Result<AccessRequest> {
        let state = self.read_state();
        request_number(request)
            .and_then(|n| state.access.get(&n))
            .cloned()
            .ok_or_else(|| CatalogError::AccessRequestNotFound(request.to_string()))
    }

    /// The requests matching every field of `filter`, oldest first.
    pub fn access_requests(&self, filter: &AccessFilter) -> Vec<AccessRequest> {
        let state = self.read_state();
        state
            .access
            .values()
            .filter(|r| filter.requester.as_ref().is_none_or(|u| *u == r.requester))
            .filter(|r| filter.status.is_none_or(|s| s == r.status))
            .filter(|r| filter.product.as_ref().is_none_or(|p| *p == r.product))
            .filter(|r| {
                filter.approver.as_ref().is_none_or(|user| {
                    state
                        .products
                        .get(&r.product)
                        .is_some_and(|p| may_decide(user, p, state.domains.get(&p.id().domain())))
                })
            })
            .cloned()
            .collect()
    }

    /// The approved (not revoked) requests of a product: who may consume it.
    pub fn grants(&self, product: &str) -> Result<Vec<AccessRequest>> {
        let id = ProductId::parse(product)?;
        if !self.read_state().products.contains_key(&id) {
            return Err(CatalogError::ProductNotFound(id.to_string()));
        }
        let filter =
            AccessFilter { status: Some(AccessStatus::Approved), product: Some(id), ..AccessFilter::default() };
        Ok(self.access_requests(&filter))
    }

    // ----- planning (validation against the state; nothing is written) -----

    fn plan_update(
        &self,
        state: &State,
        before: &Product,
        spec: ProductSpec,
        events: &mut Vec<CatalogEvent>,
    ) -> Result<Product> {
        let id = before.id().clone();
        if before.status() == Status::Retired {
            return Err(retired_read_only(&id));
        }
        if before.spec == spec {
            return Ok(before.clone());
        }
        check_inputs(state, &spec)?;
        if before.status() != Status::Draft {
            check_compatible(before, &spec)?;
            let gaps = self.publish_gaps(state, &spec);
            if !gaps.is_empty() {
                return Err(CatalogError::PublishRequirements { product: id.to_string(), gaps });
            }
        }
        let after = Product {
            spec,
            lifecycle: before.lifecycle.clone(),
            revision: before.revision + 1,
            created_at: before.created_at,
            updated_at: now_ms(),
        };
        events.push(CatalogEvent::ProductUpdated { before: before.clone(), after: after.clone() });
        // Field lineage from inputs the product no longer has goes with them.
        if let Some(edges) = state.field_lineage.get(&id) {
            let inputs = after.upstream_ids();
            let kept: Vec<FieldEdge> = edges.iter().filter(|e| inputs.contains(&e.from.product)).cloned().collect();
            if kept.len() != edges.len() {
                events.push(CatalogEvent::FieldLineageSet { product: id, before: edges.clone(), after: kept });
            }
        }
        Ok(after)
    }

    /// The lifecycle `transition` leads `product` (whose spec is `spec`) to, or why it may not.
    fn plan_transition(
        &self,
        state: &State,
        product: &Product,
        spec: &ProductSpec,
        transition: &Transition,
    ) -> Result<Lifecycle> {
        let id = product.id();
        let from = product.status();
        let forbid = |reason: String| CatalogError::ForbiddenTransition {
            product: id.to_string(),
            from: from.as_str(),
            to: transition.target(),
            reason,
        };
        let today = IsoDate::from_epoch_ms(now_ms());
        match (&product.lifecycle, transition) {
            (Lifecycle::Draft, Transition::Publish) => {
                let gaps = self.publish_gaps(state, spec);
                if !gaps.is_empty() {
                    return Err(CatalogError::PublishRequirements { product: id.to_string(), gaps });
                }
                Ok(Lifecycle::Published)
            }
            (Lifecycle::Published, Transition::Deprecate { reason, sunset, successor }) => {
                if reason.trim().is_empty() || reason.chars().count() > 2000 {
                    return Err(CatalogError::invalid("reason", "a deprecation needs a reason (1 to 2000 characters)"));
                }
                if *sunset < today {
                    return Err(CatalogError::invalid(
                        "sunset",
                        format!(
                            "{sunset} is in the past (today is {today}); consumers need a sunset date still to come"
                        ),
                    ));
                }
                if let Some(s) = successor {
                    if s == id {
                        return Err(CatalogError::invalid("successor", "a product cannot succeed itself"));
                    }
                    let Some(next) = state.products.get(s) else {
                        return Err(CatalogError::invalid("successor", format!("data product '{s}' does not exist")));
                    };
                    if matches!(next.status(), Status::Deprecated | Status::Retired) {
                        return Err(CatalogError::invalid(
                            "successor",
                            format!("data product '{s}' is {} and cannot be the successor", next.status().as_str()),
                        ));
                    }
                }
                Ok(Lifecycle::Deprecated { reason: reason.clone(), sunset: *sunset, successor: successor.clone() })
            }
            (Lifecycle::Deprecated { sunset, .. }, Transition::Retire) => {
                if today < *sunset {
                    return Err(forbid(format!(
                        "its sunset date {sunset} has not come yet (today is {today}); consumers were promised it until then"
                    )));
                }
                Ok(Lifecycle::Retired)
            }
            (Lifecycle::Draft, Transition::Retire) => Ok(Lifecycle::Retired),
            (Lifecycle::Retired, _) => Err(forbid("a retired product is final".into())),
            (Lifecycle::Published, Transition::Publish) => Err(forbid("it is already published".into())),
            (Lifecycle::Deprecated { .. }, Transition::Publish) => {
                Err(forbid("a deprecated product cannot be published again; publish its successor instead".into()))
            }
            (Lifecycle::Draft, Transition::Deprecate { .. }) => Err(forbid(
                "only a published product can be deprecated; a draft has no consumers to warn, so retire it instead"
                    .into(),
            )),
            (Lifecycle::Deprecated { sunset, .. }, Transition::Deprecate { .. }) => {
                Err(forbid(format!("it is already deprecated, with sunset date {sunset}")))
            }
            (Lifecycle::Published, Transition::Retire) => Err(forbid(
                "deprecate it first, with a reason and a sunset date, so its consumers can move away".into(),
            )),
        }
    }

    /// What governance demands of a product others consume, as a list of what is missing.
    fn publish_gaps(&self, state: &State, spec: &ProductSpec) -> Vec<PublishGap> {
        let mut gaps = Vec::new();
        if !state.domains.contains_key(&spec.id.domain()) {
            gaps.push(PublishGap::new(
                "id",
                "domain-exists",
                format!("its domain '{}' does not exist", spec.id.domain()),
            ));
        }
        if spec.description.trim().is_empty() {
            gaps.push(PublishGap::new("description", "description-required", "description is empty"));
        }
        if spec.quality_tier.is_none() {
            gaps.push(PublishGap::new(
                "qualityTier",
                "quality-tier-required",
                "qualityTier is not set (raw, curated or authoritative)",
            ));
        }
        let active: Vec<(usize, &OutputPort)> =
            spec.output_ports.iter().enumerate().filter(|(_, p)| p.status != PortStatus::Retired).collect();
        if active.is_empty() {
            gaps.push(PublishGap::new(
                "outputPorts",
                "output-port-required",
                "it has no output port that is not retired",
            ));
        } else if !active.iter().any(|(_, p)| self.schemas.subject_exists(&p.schema_subject, None)) {
            let subjects: Vec<&str> = active.iter().map(|(_, p)| p.schema_subject.as_str()).collect();
            gaps.push(PublishGap::new(
                format!("outputPorts[{}].schemaSubject", active[0].0),
                "schema-registered",
                format!(
                    "no output port has a registered schema (register one of the subjects: {})",
                    subjects.join(", ")
                ),
            ));
        }
        for (i, port) in spec.input_ports.iter().enumerate() {
            let Some(upstream) = &port.product else { continue };
            if state.products.get(upstream).is_some_and(|p| p.status() == Status::Retired) {
                gaps.push(PublishGap::new(
                    format!("inputPorts[{i}].product"),
                    "input-not-retired",
                    format!("its input '{upstream}' is retired"),
                ));
            }
        }
        gaps
    }

    /// What `spec` still lacks to be published (empty: it can be), without changing anything: the
    /// one place the publishing rules are written, asked by forms as they are filled in.
    pub fn publish_check(&self, spec: &ProductSpec) -> Vec<PublishGap> {
        self.publish_gaps(&self.read_state(), spec)
    }

    /// Metadata governance recommends beyond the publishing requirements (consumers look for it; its
    /// absence is a violation to report, not a refusal): documentation, an SLA tier, a freshness
    /// objective, tags.
    pub fn recommendation_gaps(spec: &ProductSpec) -> Vec<PublishGap> {
        let mut gaps = Vec::new();
        if spec.documentation.trim().is_empty() {
            gaps.push(PublishGap::new("documentation", "documentation-recommended", "no documentation for consumers"));
        }
        if spec.sla_tier.is_none() {
            gaps.push(PublishGap::new("slaTier", "sla-tier-recommended", "no SLA tier"));
        }
        if spec.freshness_objective.is_none() {
            gaps.push(PublishGap::new(
                "freshnessObjective",
                "freshness-objective-recommended",
                "no freshness objective",
            ));
        }
        if spec.tags.is_empty() {
            gaps.push(PublishGap::new("tags", "tags-recommended", "no tags"));
        }
        gaps
    }
}

/// The products `spec`'s input ports read, with the contracts attached to their ports.
fn upstreams_with(
    state: &State,
    spec: &ProductSpec,
    attached: &odps::AttachedContracts,
) -> BTreeMap<ProductId, Product> {
    spec.input_ports
        .iter()
        .filter_map(|input| input.product.as_ref())
        .filter_map(|id| Some((id.clone(), odps::with_attached(state.products.get(id)?, attached))))
        .collect()
}

/// The `id` of a product's ODPS document: the document's own, kept as `odpsId`, else the product's.
fn odps_id(spec: &ProductSpec) -> String {
    spec.custom_properties
        .iter()
        .find(|p| p.property == "odpsId")
        .and_then(|p| p.value.as_str())
        .map_or_else(|| spec.id.to_string(), str::to_string)
}

/// The output ports still served (not retired).
fn served_ports(product: &Product) -> impl Iterator<Item = &OutputPort> {
    product.spec.output_ports.iter().filter(|o| o.status != PortStatus::Retired)
}

fn retired_read_only(id: &ProductId) -> CatalogError {
    CatalogError::Forbidden { product: id.to_string(), reason: "a retired product is read-only".into() }
}

fn plan_create(state: &State, spec: ProductSpec) -> Result<Product> {
    let domain = spec.id.domain();
    if !state.domains.contains_key(&domain) {
        return Err(CatalogError::DomainNotFound(domain.to_string()));
    }
    if state.products.contains_key(&spec.id) {
        return Err(CatalogError::ProductExists(spec.id.to_string()));
    }
    check_inputs(state, &spec)?;
    let now = now_ms();
    Ok(Product { spec, lifecycle: Lifecycle::Draft, revision: 1, created_at: now, updated_at: now })
}

/// Input ports must name existing products and keep the lineage graph acyclic.
fn check_inputs(state: &State, spec: &ProductSpec) -> Result<()> {
    for (i, port) in spec.input_ports.iter().enumerate() {
        if let Some(upstream) = &port.product {
            if upstream != &spec.id && !state.products.contains_key(upstream) {
                return Err(CatalogError::invalid(
                    format!("inputPorts[{i}].product"),
                    format!("data product '{upstream}' does not exist"),
                ));
            }
        }
    }
    let upstreams: BTreeSet<ProductId> = spec.input_ports.iter().filter_map(|p| p.product.clone()).collect();
    match lineage::find_cycle(state, &spec.id, &upstreams) {
        Some(path) => Err(CatalogError::LineageCycle { path }),
        None => Ok(()),
    }
}

/// A published product's served ports keep their topic, subject and format; a new major version of a
/// port comes with a new major version of the product; versions never go down.
fn check_compatible(before: &Product, spec: &ProductSpec) -> Result<()> {
    let id = before.id().to_string();
    let breaking = |reason: String| CatalogError::BreakingChange { product: id.clone(), reason };
    let current = &before.spec.version;
    if spec.version < *current {
        return Err(CatalogError::invalid(
            "version",
            format!("{} is lower than the current version {current}", spec.version),
        ));
    }
    for old in &before.spec.output_ports {
        let major = old.version.major;
        let Some(new) = spec.output_ports.iter().find(|p| p.name == old.name && p.version.major == major) else {
            if old.status != PortStatus::Retired {
                return Err(breaking(format!(
                    "output port '{}' v{major} still serves consumers: set its status to retired before removing it",
                    old.name
                )));
            }
            continue;
        };
        for (what, a, b) in [
            ("topic", old.topic.as_str(), new.topic.as_str()),
            ("schema subject", old.schema_subject.as_str(), new.schema_subject.as_str()),
            ("format", old.format.as_str(), new.format.as_str()),
        ] {
            if a != b {
                return Err(breaking(format!(
                    "changing the {what} of output port '{}' v{major} from '{a}' to '{b}' would break its consumers: \
                     add output port '{}' v{} with the new {what} and release product version {}.0.0",
                    old.name,
                    old.name,
                    major + 1,
                    current.major + 1
                )));
            }
        }
        if new.status < old.status {
            return Err(breaking(
                format!(
                    "output port '{}' v{major} is {:?} and cannot become {:?} again; add a new port instead",
                    old.name, old.status, new.status
                )
                .to_lowercase(),
            ));
        }
    }
    for new in &spec.output_ports {
        let previous_major =
            before.spec.output_ports.iter().filter(|p| p.name == new.name).map(|p| p.version.major).max();
        if let Some(previous) = previous_major {
            if new.version.major > previous && spec.version.major <= current.major {
                return Err(breaking(format!(
                    "output port '{}' v{} is a new major version of the port: release it with a new major version \
                     of the product (the current version is {current}; use {}.0.0)",
                    new.name,
                    new.version.major,
                    current.major + 1
                )));
            }
        }
    }
    Ok(())
}

/// The transitions leading from `from` to `to`, or the (from, to) pair when the lifecycle cannot go back.
fn path(from: &Lifecycle, to: &Lifecycle) -> Vec<Result<Transition, (&'static str, &'static str)>> {
    let deprecate = |l: &Lifecycle| match l {
        Lifecycle::Deprecated { reason, sunset, successor } => {
            Transition::Deprecate { reason: reason.clone(), sunset: *sunset, successor: successor.clone() }
        }
        _ => Transition::Retire,
    };
    match (from.status(), to.status()) {
        (a, b) if a == b => {
            if from != to {
                // Deprecated with other details: a deprecation is not edited.
                vec![Ok(deprecate(to))]
            } else {
                vec![]
            }
        }
        (Status::Draft, Status::Published) => vec![Ok(Transition::Publish)],
        (Status::Draft, Status::Deprecated) => vec![Ok(Transition::Publish), Ok(deprecate(to))],
        (Status::Draft, Status::Retired) | (Status::Deprecated, Status::Retired) => vec![Ok(Transition::Retire)],
        (Status::Published, Status::Deprecated) => vec![Ok(deprecate(to))],
        // Published -> retired skips the deprecation: plan_transition refuses it with the reason.
        (Status::Published, Status::Retired) => vec![Ok(Transition::Retire)],
        (a, b) => vec![Err((a.as_str(), b.as_str()))],
    }
}

/// The fields of the product's served output ports' latest schemas (deduplicated by name).
fn schema_fields(schemas: &dyn SchemaLookup, spec: &ProductSpec) -> Vec<FieldInfo> {
    let mut seen = BTreeSet::new();
    let mut fields = Vec::new();
    for port in spec.output_ports.iter().filter(|p| p.status != PortStatus::Retired) {
        for f in schemas.latest_fields(&port.schema_subject).unwrap_or_default() {
            if seen.insert(f.name.clone()) {
                fields.push(f);
            }
        }
    }
    fields
}

/// The product's field names, or `None` when the registry knows none of its ports' schemas.
fn known_field_names(schemas: &dyn SchemaLookup, spec: &ProductSpec) -> Option<BTreeSet<String>> {
    let mut known = false;
    let mut names = BTreeSet::new();
    for port in spec.output_ports.iter().filter(|p| p.status != PortStatus::Retired) {
        if let Some(fields) = schemas.latest_fields(&port.schema_subject) {
            known = true;
            names.extend(fields.into_iter().map(|f| f.name));
        }
    }
    known.then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_belong_to_their_domain() {
        assert_eq!(domain_of_entity("domain/orders"), "orders");
        assert_eq!(domain_of_entity("product/orders.events"), "orders");
        assert_eq!(domain_of_entity("product/plain"), "plain");
    }

    #[test]
    fn the_catalog_can_be_shared_across_threads() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Catalog>();
    }

    #[test]
    fn lifecycle_paths_only_go_forward() {
        let deprecated = Lifecycle::Deprecated {
            reason: "r".into(),
            sunset: IsoDate::parse("2999-01-01").unwrap_or(IsoDate { year: 2999, month: 1, day: 1 }),
            successor: None,
        };
        let steps = |from: &Lifecycle, to: &Lifecycle| -> Vec<String> {
            path(from, to)
                .into_iter()
                .map(|s| match s {
                    Ok(t) => t.target().to_string(),
                    Err((a, b)) => format!("refused {a}->{b}"),
                })
                .collect()
        };
        assert_eq!(steps(&Lifecycle::Draft, &deprecated), ["published", "deprecated"]);
        assert_eq!(steps(&Lifecycle::Draft, &Lifecycle::Retired), ["retired"]);
        assert_eq!(steps(&Lifecycle::Published, &Lifecycle::Published), Vec::<String>::new());
        assert_eq!(steps(&Lifecycle::Published, &Lifecycle::Draft), ["refused published->draft"]);
        assert_eq!(steps(&Lifecycle::Retired, &Lifecycle::Published), ["refused retired->published"]);
    }
}
