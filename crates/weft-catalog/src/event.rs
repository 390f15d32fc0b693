//! Catalog events: the records of the internal topic [`CATALOG_TOPIC`], the single source of truth.
//!
//! On-log format: one record per event; the key is the entity (`domain/NAME` or `product/ID`, UTF-8) and
//! the value is the [`EventEnvelope`] as JSON: `{"actor": "...", "at": <epoch ms>, "event": {"type":
//! "ProductUpdated", ...}}`. Events carry whole entities (`before` and `after`), so replaying them is
//! setting state, history needs no other source, and an event never depends on code that computed it.
//! All events of one command are appended as one batch, which the log makes durable atomically.
//! The topic has one partition (a total order) and is never compacted nor expired: it is the history.

use serde::{Deserialize, Serialize};

use crate::access::AccessRequest;
use crate::lineage::FieldEdge;
use crate::model::{Domain, Lifecycle, Product};
use crate::{CatalogError, DomainName, ProductId};

/// The internal topic holding the catalog's events.
pub const CATALOG_TOPIC: &str = "_weft_catalog";

/// One change to the catalog.
// Events are built once per command and short-lived; boxing the entities would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CatalogEvent {
    DomainCreated {
        after: Domain,
    },
    DomainUpdated {
        before: Domain,
        after: Domain,
    },
    DomainDeleted {
        before: Domain,
    },
    ProductCreated {
        after: Product,
    },
    /// A change to the spec (metadata, ports); the lifecycle is unchanged.
    ProductUpdated {
        before: Product,
        after: Product,
    },
    /// A lifecycle transition; `revision` is the product's revision after it.
    ProductStatusChanged {
        id: ProductId,
        revision: u64,
        before: Lifecycle,
        after: Lifecycle,
    },
    /// Deletion of a retired product (its data is the server's to delete, on an explicit flag).
    ProductDeleted {
        before: Product,
    },
    /// The field-level lineage of `product` was replaced (by hand or by the SQL layer).
    FieldLineageSet {
        product: ProductId,
        before: Vec<FieldEdge>,
        after: Vec<FieldEdge>,
    },
    /// Someone asked to consume a product (the request is pending).
    AccessRequested {
        request: AccessRequest,
    },
    /// An owner approved, denied or revoked a request.
    AccessDecided {
        before: AccessRequest,
        after: AccessRequest,
    },
}

impl CatalogEvent {
    /// What the event changed, as top-level field names of the spec (or `lifecycle`, `fieldLineage`);
    /// creations and deletions change everything and list nothing.
    pub fn changed_fields(&self) -> Vec<String> {
        match self {
            CatalogEvent::DomainUpdated { before, after } => diff_fields(&before.spec, &after.spec),
            CatalogEvent::ProductUpdated { before, after } => diff_fields(&before.spec, &after.spec),
            CatalogEvent::ProductStatusChanged { .. } => vec!["lifecycle".into()],
            CatalogEvent::FieldLineageSet { .. } => vec!["fieldLineage".into()],
            CatalogEvent::AccessRequested { .. } | CatalogEvent::AccessDecided { .. } => {
                vec!["accessRequests".into()]
            }
            CatalogEvent::DomainCreated { .. }
            | CatalogEvent::DomainDeleted { .. }
            | CatalogEvent::ProductCreated { .. }
            | CatalogEvent::ProductDeleted { .. } => Vec::new(),
        }
    }

    /// The entity the event is about: `domain/NAME` or `product/ID` (the record key).
    pub fn entity_key(&self) -> String {
        match self {
            CatalogEvent::DomainCreated { after: d } | CatalogEvent::DomainUpdated { after: d, .. } => {
                domain_key(d.name())
            }
            CatalogEvent::DomainDeleted { before } => domain_key(before.name()),
            CatalogEvent::ProductCreated { after: p } | CatalogEvent::ProductUpdated { after: p, .. } => {
                product_key(p.id())
            }
            CatalogEvent::ProductDeleted { before } => product_key(before.id()),
            CatalogEvent::ProductStatusChanged { id, .. } | CatalogEvent::FieldLineageSet { product: id, .. } => {
                product_key(id)
            }
            // Access requests are part of the product's history.
            CatalogEvent::AccessRequested { request } | CatalogEvent::AccessDecided { after: request, .. } => {
                product_key(&request.product)
            }
        }
    }
}

pub(crate) fn domain_key(name: &DomainName) -> String {
    format!("domain/{name}")
}

pub(crate) fn product_key(id: &ProductId) -> String {
    format!("product/{id}")
}

/// An event with who made it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub actor: String,
    /// Epoch milliseconds.
    pub at: i64,
    pub event: CatalogEvent,
}

impl EventEnvelope {
    /// The log record of this event.
    pub fn to_record(&self) -> Result<weft_log::Record, CatalogError> {
        let value = serde_json::to_vec(self)
            .map_err(|e| CatalogError::Internal(format!("cannot encode a catalog event: {e}")))?;
        Ok(weft_log::Record {
            key: Some(self.event.entity_key().into_bytes()),
            value: Some(value),
            headers: Vec::new(),
            timestamp: Some(self.at),
        })
    }

    /// Reads a record of the catalog topic.
    pub fn from_record(offset: u64, value: Option<&[u8]>) -> Result<Self, CatalogError> {
        let corrupt = |reason: String| CatalogError::CorruptEvent { topic: CATALOG_TOPIC.into(), offset, reason };
        let value = value.ok_or_else(|| corrupt("the record has no value".into()))?;
        serde_json::from_slice(value).map_err(|e| corrupt(e.to_string()))
    }
}

/// One entry of an entity's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// The event's offset in [`CATALOG_TOPIC`] (a stable, ordered id).
    pub offset: u64,
    pub actor: String,
    pub at: i64,
    /// What changed, as top-level field names (`description`, `outputPorts`, `lifecycle`...).
    pub changed: Vec<String>,
    /// The catalog event itself: `{"type": ..., ...}` as the catalog topic holds it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event: CatalogEvent,
}

impl HistoryEntry {
    pub fn new(offset: u64, envelope: EventEnvelope) -> Self {
        HistoryEntry {
            offset,
            actor: envelope.actor,
            at: envelope.at,
            changed: envelope.event.changed_fields(),
            event: envelope.event,
        }
    }
}

/// The top-level fields whose values differ between two serialized values.
fn diff_fields<T: Serialize>(before: &T, after: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut keys: Vec<String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}
