//! Lineage: the directed graph of products (edges from each product's input ports: upstream -> product)
//! and of fields where known (edges set by [`crate::Catalog::set_field_lineage`], later by the SQL layer).
//!
//! The graph is kept acyclic: a change that would close a cycle is refused with the cycle's path. Walks
//! are breadth-first, so every product appears once, at its shortest distance from the start, even in
//! diamonds.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::model::Status;
use crate::state::State;
use crate::ProductId;

/// A field of a product's schema (a dotted path for nested fields).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FieldRef {
    pub product: ProductId,
    pub field: String,
}

/// `to` is computed from `from`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FieldEdge {
    pub from: FieldRef,
    pub to: FieldRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upstream,
    Downstream,
}

/// A product in a lineage answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageNode {
    pub id: ProductId,
    pub name: String,
    pub owner: String,
    pub status: Status,
    /// Distance from the start (0 for the start itself).
    pub depth: usize,
}

/// A product-level edge: `to` is derived from `from`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LineageEdge {
    pub from: ProductId,
    pub to: ProductId,
}

/// The part of the graph reachable from `root` in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageGraph {
    pub root: ProductId,
    pub direction: Direction,
    /// Breadth-first order; the root first.
    pub nodes: Vec<LineageNode>,
    /// Every edge between two nodes of the answer, sorted.
    pub edges: Vec<LineageEdge>,
    /// The field-level edges between nodes of the answer, sorted.
    pub field_edges: Vec<FieldEdge>,
    /// Downstream only: who consumes the products of the answer by grant (approved access requests,
    /// not expired), the last hop of the lineage beyond the catalog's products.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<GrantConsumer>,
}

/// A consumer of a product by grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantConsumer {
    pub product: ProductId,
    /// Who asked (and reads).
    pub principal: String,
    /// The team it was granted for, when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The access request that grants it.
    pub request: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// How sure the catalog is that a product is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Certainty {
    /// Field lineage (or, for a whole-product change, an input port) says so.
    Known,
    /// The product consumes an affected product, but no field lineage tells which fields it uses.
    Possible,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedProduct {
    pub id: ProductId,
    pub name: String,
    pub owner: String,
    pub status: Status,
    pub depth: usize,
    pub certainty: Certainty,
    /// The product's fields derived from the changed field, where field lineage tells.
    pub fields: Vec<String>,
}

/// The answer to "which products and owners are affected if this product (or field) changes".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactReport {
    pub product: ProductId,
    pub field: Option<String>,
    /// Sorted by depth, then id.
    pub affected: Vec<AffectedProduct>,
    /// The owners of the affected products, sorted, each once.
    pub owners: Vec<String>,
}

fn neighbours<'a>(state: &'a State, id: &ProductId, direction: Direction) -> Vec<&'a ProductId> {
    match direction {
        Direction::Downstream => state.downstream_of(id).collect(),
        Direction::Upstream => state
            .products
            .get(id)
            .map(|p| p.spec.input_ports.iter().filter_map(|i| i.product.as_ref()).collect::<BTreeSet<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| state.products.get_key_value(u).map(|(k, _)| k))
            .collect(),
    }
}

/// The cycle that giving `product` the inputs `upstreams` would close, as a path whose first and last
/// nodes are the same, or `None` if the graph stays acyclic.
pub(crate) fn find_cycle(state: &State, product: &ProductId, upstreams: &BTreeSet<ProductId>) -> Option<Vec<String>> {
    if upstreams.contains(product) {
        return Some(vec![product.to_string(), product.to_string()]);
    }
    // A cycle exists iff some new upstream is already downstream of `product`.
    let mut parent: HashMap<&ProductId, &ProductId> = HashMap::new();
    let mut queue = VecDeque::from([product]);
    while let Some(current) = queue.pop_front() {
        for next in state.downstream_of(current) {
            if next == product || parent.contains_key(next) {
                continue;
            }
            parent.insert(next, current);
            if upstreams.contains(next) {
                // next -> product -> ... -> next
                let mut path = vec![next.to_string()];
                let mut back = vec![];
                let mut node = next;
                while let Some(p) = parent.get(node) {
                    back.push(p.to_string());
                    node = p;
                }
                back.reverse();
                path.extend(back);
                path.push(next.to_string());
                return Some(path);
            }
            queue.push_back(next);
        }
    }
    None
}

/// Walks the graph from `root` up to `max_depth` edges away (`None`: no limit).
pub(crate) fn walk(state: &State, root: &ProductId, direction: Direction, max_depth: Option<usize>) -> LineageGraph {
    let mut depth_of: HashMap<&ProductId, usize> = HashMap::from([(root, 0)]);
    let mut order = vec![root];
    let mut queue = VecDeque::from([root]);
    while let Some(current) = queue.pop_front() {
        let depth = depth_of.get(current).copied().unwrap_or(0);
        if max_depth.is_some_and(|max| depth >= max) {
            continue;
        }
        for next in neighbours(state, current, direction) {
            if !depth_of.contains_key(next) {
                depth_of.insert(next, depth + 1);
                order.push(next);
                queue.push_back(next);
            }
        }
    }
    let nodes: Vec<LineageNode> = order
        .iter()
        .filter_map(|id| {
            let p = state.products.get(*id)?;
            Some(LineageNode {
                id: (*id).clone(),
                name: p.spec.name.clone(),
                owner: p.spec.owner.clone(),
                status: p.status(),
                depth: depth_of.get(id).copied().unwrap_or(0),
            })
        })
        .collect();
    let mut edges = BTreeSet::new();
    let mut field_edges = BTreeSet::new();
    for id in &order {
        let Some(product) = state.products.get(*id) else { continue };
        for upstream in product.upstream_ids() {
            if depth_of.contains_key(&upstream) {
                edges.insert(LineageEdge { from: upstream, to: (*id).clone() });
            }
        }
        for edge in state.field_lineage.get(*id).into_iter().flatten() {
            if depth_of.contains_key(&edge.from.product) {
                field_edges.insert(edge.clone());
            }
        }
    }
    let consumers = if direction == Direction::Downstream {
        let now = crate::catalog::now_ms();
        let in_graph: BTreeSet<&ProductId> = nodes.iter().map(|n: &LineageNode| &n.id).collect();
        state
            .access
            .values()
            .filter(|r| r.grants_at(now) && in_graph.contains(&r.product))
            .map(|r| GrantConsumer {
                product: r.product.clone(),
                principal: r.requester.clone(),
                team: r.consumer.clone(),
                request: r.id.clone(),
                expires_at: r.expires_at,
            })
            .collect()
    } else {
        Vec::new()
    };
    LineageGraph {
        root: root.clone(),
        direction,
        nodes,
        edges: edges.into_iter().collect(),
        field_edges: field_edges.into_iter().collect(),
        consumers,
    }
}

/// What a change of `root` (or of its field `field`) affects downstream.
pub(crate) fn impact(state: &State, root: &ProductId, field: Option<&str>) -> ImpactReport {
    // Per product: (depth, certainty, known affected fields or None when unknown).
    struct Hit {
        depth: usize,
        certainty: Certainty,
        fields: Option<BTreeSet<String>>,
    }
    let mut hits: BTreeMap<ProductId, Hit> = BTreeMap::new();
    let root_fields: Option<BTreeSet<String>> = field.map(|f| BTreeSet::from([f.to_string()]));
    let mut queue: VecDeque<(ProductId, usize, Certainty, Option<BTreeSet<String>>)> =
        VecDeque::from([(root.clone(), 0, Certainty::Known, root_fields)]);
    // Fixed point: a product is re-visited only when what reaches it grows, and the graph is acyclic.
    while let Some((current, depth, certainty, fields)) = queue.pop_front() {
        for next in state.downstream_of(&current) {
            let declared: Vec<_> =
                state.field_lineage.get(next).into_iter().flatten().filter(|e| e.from.product == current).collect();
            let (next_certainty, next_fields) = match (&fields, declared.is_empty()) {
                // Whole-product change: every consumer is affected.
                (None, _) if field.is_none() => (certainty, None),
                (None, _) => (Certainty::Possible, None),
                (Some(_), true) => (Certainty::Possible, None),
                (Some(changed), false) => {
                    let derived: BTreeSet<String> = declared
                        .iter()
                        .filter(|e| changed.contains(&e.from.field))
                        .map(|e| e.to.field.clone())
                        .collect();
                    if derived.is_empty() {
                        continue;
                    }
                    (certainty, Some(derived))
                }
            };
            let grew = match hits.get_mut(next) {
                None => {
                    hits.insert(
                        next.clone(),
                        Hit { depth: depth + 1, certainty: next_certainty, fields: next_fields.clone() },
                    );
                    true
                }
                Some(hit) => {
                    let mut grew = false;
                    if next_certainty < hit.certainty {
                        hit.certainty = next_certainty;
                        grew = true;
                    }
                    hit.depth = hit.depth.min(depth + 1);
                    match (&mut hit.fields, &next_fields) {
                        (Some(have), Some(new)) => {
                            let before = have.len();
                            have.extend(new.iter().cloned());
                            grew |= have.len() > before;
                        }
                        (Some(_), None) if field.is_some() => {
                            // Unknown fields now reach it: everything downstream is possibly affected.
                            hit.fields = None;
                            grew = true;
                        }
                        _ => {}
                    }
                    grew
                }
            };
            if grew {
                if let Some(hit) = hits.get(next) {
                    queue.push_back((next.clone(), hit.depth, hit.certainty, hit.fields.clone()));
                }
            }
        }
    }
    let mut affected: Vec<AffectedProduct> = hits
        .into_iter()
        .filter_map(|(id, hit)| {
            let p = state.products.get(&id)?;
            Some(AffectedProduct {
                name: p.spec.name.clone(),
                owner: p.spec.owner.clone(),
                status: p.status(),
                depth: hit.depth,
                certainty: hit.certainty,
                fields: hit.fields.map(|f| f.into_iter().collect()).unwrap_or_default(),
                id,
            })
        })
        .collect();
    affected.sort_by(|a, b| (a.depth, &a.id).cmp(&(b.depth, &b.id)));
    let owners: BTreeSet<String> = affected.iter().map(|a| a.owner.clone()).collect();
    ImpactReport {
        product: root.clone(),
        field: field.map(str::to_string),
        affected,
        owners: owners.into_iter().collect(),
    }
}
