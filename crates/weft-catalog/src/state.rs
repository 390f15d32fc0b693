//! The in-memory catalog: a fold of the catalog events. [`State::apply`] is the only code that changes
//! it, both when replaying the log on start and after a live command appended its events, so the state
//! after a restart is the state before it by construction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use crate::access::{request_number, AccessRequest};
use crate::event::{domain_key, product_key, CatalogEvent, EventEnvelope};
use crate::lineage::FieldEdge;
use crate::model::{Domain, Product};
use crate::{DomainName, ProductId};

/// What the search index must do after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Touched {
    None,
    Product(ProductId),
    ProductRemoved(ProductId),
    /// Products whose indexed domain data changed (nothing today, kept for clarity of intent).
    Domain,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct State {
    pub domains: BTreeMap<DomainName, Domain>,
    pub products: BTreeMap<ProductId, Product>,
    /// Product -> the products that list it as an input.
    pub downstream: HashMap<ProductId, BTreeSet<ProductId>>,
    /// Topic -> the products with an output port on it (any port status), so the write and read paths
    /// find the port governing a topic without scanning every product.
    pub output_topics: HashMap<String, BTreeSet<ProductId>>,
    /// Product -> its field-level lineage edges (each edge's `to.product` is the product).
    pub field_lineage: HashMap<ProductId, Vec<FieldEdge>>,
    /// Entity key -> offsets of its events in the catalog topic.
    pub history: HashMap<String, Vec<u64>>,
    /// Access requests by their number (`ar-N`).
    pub access: BTreeMap<u64, AccessRequest>,
    /// The offset of the last event applied.
    pub last_offset: Option<u64>,
}

impl State {
    /// The offset of the next event to apply (`None` before the first: the topic's start).
    pub fn next_offset(&self) -> Option<u64> {
        self.last_offset.map(|offset| offset + 1)
    }

    pub fn apply(&mut self, offset: u64, envelope: EventEnvelope) -> Touched {
        self.last_offset = Some(offset);
        let at = envelope.at;
        let event = envelope.event;
        self.history.entry(event.entity_key()).or_default().push(offset);
        match event {
            CatalogEvent::DomainCreated { after } | CatalogEvent::DomainUpdated { after, .. } => {
                self.domains.insert(after.name().clone(), after);
                Touched::Domain
            }
            CatalogEvent::DomainDeleted { before } => {
                self.domains.remove(before.name());
                Touched::Domain
            }
            CatalogEvent::ProductCreated { after } | CatalogEvent::ProductUpdated { after, .. } => {
                let id = after.id().clone();
                self.unlink(&id);
                for upstream in after.upstream_ids() {
                    self.downstream.entry(upstream).or_default().insert(id.clone());
                }
                for port in &after.spec.output_ports {
                    self.output_topics.entry(port.topic.clone()).or_default().insert(id.clone());
                }
                self.products.insert(id.clone(), after);
                Touched::Product(id)
            }
            CatalogEvent::ProductStatusChanged { id, revision, after, .. } => match self.products.get_mut(&id) {
                Some(product) => {
                    product.lifecycle = after;
                    product.revision = revision;
                    product.updated_at = at;
                    Touched::Product(id)
                }
                None => Touched::None,
            },
            CatalogEvent::ProductDeleted { before } => {
                let id = before.id();
                self.unlink(id);
                self.products.remove(id);
                self.field_lineage.remove(id);
                Touched::ProductRemoved(id.clone())
            }
            CatalogEvent::FieldLineageSet { product, after, .. } => {
                if after.is_empty() {
                    self.field_lineage.remove(&product);
                } else {
                    self.field_lineage.insert(product.clone(), after);
                }
                Touched::Product(product)
            }
            CatalogEvent::AccessRequested { request: r } | CatalogEvent::AccessDecided { after: r, .. } => {
                if let Some(n) = request_number(&r.id) {
                    self.access.insert(n, r);
                }
                Touched::None
            }
        }
    }

    /// Removes the lineage edges into `id` (from its current inputs) and its output topics.
    fn unlink(&mut self, id: &ProductId) {
        let Some(current) = self.products.get(id) else { return };
        for upstream in current.upstream_ids() {
            if let Some(set) = self.downstream.get_mut(&upstream) {
                set.remove(id);
                if set.is_empty() {
                    self.downstream.remove(&upstream);
                }
            }
        }
        for port in &current.spec.output_ports {
            if let Some(set) = self.output_topics.get_mut(&port.topic) {
                set.remove(id);
                if set.is_empty() {
                    self.output_topics.remove(&port.topic);
                }
            }
        }
    }

    /// The products with an output port on `topic`, in id order.
    pub fn products_on_topic<'a>(&'a self, topic: &str) -> impl Iterator<Item = &'a Product> + 'a {
        self.output_topics.get(topic).into_iter().flatten().filter_map(|id| self.products.get(id))
    }

    /// The products of a domain, in id order.
    pub fn products_of<'a>(&'a self, domain: &DomainName) -> impl Iterator<Item = &'a Product> + 'a {
        // Ids are `domain.name` and '/' sorts right after '.', so the domain's ids form one range.
        let start = format!("{domain}.");
        let end = format!("{domain}/");
        self.products.range::<str, _>((Bound::Included(start.as_str()), Bound::Excluded(end.as_str()))).map(|(_, p)| p)
    }

    pub fn domain_history(&self, name: &DomainName) -> &[u64] {
        self.history.get(&domain_key(name)).map_or(&[], Vec::as_slice)
    }

    pub fn product_history(&self, id: &ProductId) -> &[u64] {
        self.history.get(&product_key(id)).map_or(&[], Vec::as_slice)
    }

    pub fn downstream_of(&self, id: &ProductId) -> impl Iterator<Item = &ProductId> {
        self.downstream.get(id).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lifecycle, ProductSpec};

    fn created(id: &str) -> EventEnvelope {
        let spec = ProductSpec::new(ProductId::parse(id).unwrap(), "n", "o");
        let after = Product { spec, lifecycle: Lifecycle::Draft, revision: 1, created_at: 0, updated_at: 0 };
        EventEnvelope { actor: "a".into(), at: 0, event: CatalogEvent::ProductCreated { after } }
    }

    #[test]
    fn a_domain_range_holds_exactly_its_products() {
        let mut state = State::default();
        for (i, id) in ["a.x", "a-b.x", "a_b.x", "ab.x", "a.y", "b.x"].into_iter().enumerate() {
            state.apply(i as u64, created(id));
        }
        let ids: Vec<&str> = state.products_of(&DomainName::parse("a").unwrap()).map(|p| p.id().as_str()).collect();
        assert_eq!(ids, ["a.x", "a.y"]);
        assert_eq!(state.product_history(&ProductId::parse("a.y").unwrap()), [4]);
        assert_eq!(state.last_offset, Some(5));
    }
}
