//! The mesh's governance operations: a port's policy for invalid records, and the recovery of dead
//! letters (list, replay through the write path, drop with a reason), each change recorded in the
//! governance store with who made it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use weft_catalog::Status;
use weft_log::{LogError, ReadLimits};

use super::dead_letters::{dead_letter_topic, DeadLetterEntry};
use super::store::{GovernanceEvent, InvalidRecordPolicy, PortGovernance, Resolution};
use super::Violation;
use crate::context::{now_ms, RequestContext};
use crate::data::{OnBroken, Outcome};
use crate::error::{MeshError, Result};
use crate::records::{Decoder, JsonRecord};
use crate::{changed, Mesh};

/// One product's contract failures, as the Governance page lists them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductFailures {
    pub product: String,
    pub name: String,
    pub owner: String,
    /// The contracts attached to its ports, as `ID@VERSION`, sorted.
    pub contracts: Vec<String>,
    /// Dead letters its topic holds, resolved or not.
    pub total: u64,
    /// Those not yet replayed or dropped.
    pub unresolved: u64,
    /// How many unresolved ones broke each rule.
    pub by_rule: std::collections::BTreeMap<String, u64>,
}

/// The most dead letters one list or one replay handles.
pub const MAX_DEAD_LETTERS_PER_CALL: usize = 10_000;

/// Which dead letters a list, replay or drop is about. Every criterion given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct DeadLetterSelection {
    /// These offsets of the dead-letter topic only.
    #[serde(default)]
    pub offsets: Option<Vec<u64>>,
    /// Those that broke this rule (`schema`, or a contract rule's id).
    #[serde(default)]
    pub rule: Option<String>,
    /// Refused at or after this time (epoch ms).
    #[serde(default)]
    pub from: Option<i64>,
    /// Refused before this time (epoch ms).
    #[serde(default)]
    pub to: Option<i64>,
    /// Also those already replayed or dropped (lists only; replay and drop skip them).
    #[serde(default)]
    pub include_resolved: bool,
}

impl DeadLetterSelection {
    fn admits(&self, entry: &DeadLetterEntry) -> bool {
        let time = entry.refused_at.unwrap_or(entry.timestamp);
        self.offsets.as_ref().is_none_or(|offsets| offsets.contains(&entry.offset))
            && self.rule.as_ref().is_none_or(|rule| entry.broke(rule))
            && self.from.is_none_or(|from| time >= from)
            && self.to.is_none_or(|to| time < to)
            && (self.include_resolved || entry.resolution.is_none())
    }
}

/// A page of a product's dead letters.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetterPage {
    pub product: String,
    pub topic: String,
    pub entries: Vec<DeadLetterEntry>,
    /// Dead letters the topic holds, resolved or not.
    pub total: u64,
    /// Those not yet replayed or dropped.
    pub unresolved: u64,
    /// How many unresolved ones broke each rule.
    pub by_rule: std::collections::BTreeMap<String, u64>,
    /// The reader is not in the product's domain: the counts are governance for everyone, the
    /// records themselves the domain's to repair, so `entries` is left empty.
    pub entries_hidden: bool,
}

/// What a replay did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayReport {
    /// Passed this time and written to the product's topic.
    pub replayed: Vec<Replayed>,
    /// Still break rules; they stay in the dead letters, unresolved.
    pub failed: Vec<ReplayFailure>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replayed {
    /// The dead letter's offset.
    pub offset: u64,
    pub partition: u32,
    /// Its offset in the product's topic now.
    pub written_offset: u64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayFailure {
    pub offset: u64,
    pub violations: Vec<Violation>,
}

impl Mesh {
    /// What a product's output port enforces (`port`: its name; `None`: its one served port).
    pub fn port_governance(&self, product: &str, port: Option<&str>) -> Result<(String, PortGovernance)> {
        let port = self.governed_port(product, port)?;
        let governance = self.governance.store().state().port(product, &port);
        Ok((port, governance))
    }

    /// Sets a port's policy for records that break its rules.
    pub fn set_invalid_record_policy(
        &self,
        ctx: &RequestContext,
        product: &str,
        port: Option<&str>,
        policy: InvalidRecordPolicy,
    ) -> Result<(String, PortGovernance)> {
        let port = self.governed_port(product, port)?;
        let governance =
            self.update_port_governance(ctx, product, &port, |current| PortGovernance { policy, ..current })?;
        changed(ctx, "set_invalid_record_policy", &format!("{product}:{port} {}", policy.as_str()));
        Ok((port, governance))
    }

    /// Names the topic Kafka producers write `product`'s port records to directly (`None`: none any
    /// more); from then on they are validated into the port's topic and the product's dead letters
    /// ([`crate::raw_inputs`]). The topic must exist, be no internal topic, no topic a product serves,
    /// and no other port's raw input.
    pub fn set_raw_input_topic(
        &self,
        ctx: &RequestContext,
        product: &str,
        port: Option<&str>,
        raw: Option<&str>,
    ) -> Result<(String, PortGovernance)> {
        let port = self.governed_port(product, port)?;
        let raw = raw.map(str::trim).filter(|t| !t.is_empty());
        if let Some(raw) = raw {
            let invalid = |reason: String| MeshError::InvalidRequest(format!("raw_input_topic '{raw}': {reason}"));
            if weft_log::is_internal_topic(raw) {
                return Err(invalid("an internal topic cannot be a raw input".into()));
            }
            self.log.topic_config(raw)?;
            if let Some(served) = self.catalog.port_on_topic(raw) {
                return Err(invalid(format!(
                    "product '{}' serves it (port '{}'): a raw input holds unvalidated records, no product's",
                    served.product, served.port.name
                )));
            }
            let state = self.governance.store().state();
            let taken = state
                .ports()
                .find(|(p, o, g)| g.raw_input_topic.as_deref() == Some(raw) && !(*p == product && *o == port.as_str()));
            if let Some((other, other_port, _)) = taken {
                return Err(invalid(format!("it is already the raw input of '{other}' (port '{other_port}')")));
            }
        }
        let raw_input_topic = raw.map(str::to_string);
        let governance =
            self.update_port_governance(ctx, product, &port, |current| PortGovernance { raw_input_topic, ..current })?;
        changed(ctx, "set_raw_input_topic", &format!("{product}:{port} {}", raw.unwrap_or("(none)")));
        Ok((port, governance))
    }

    /// Changes what one port enforces, recording who changed it and when.
    pub(crate) fn update_port_governance(
        &self,
        ctx: &RequestContext,
        product: &str,
        port: &str,
        change: impl FnOnce(PortGovernance) -> PortGovernance,
    ) -> Result<PortGovernance> {
        self.authorizer().require_product_change(
            ctx.principal(),
            product,
            &format!("change what '{product}' enforces"),
        )?;
        self.governance.store().write(|state| {
            let governance = change(state.port(product, port));
            let event = GovernanceEvent::PortGovernance {
                product: product.to_string(),
                port: port.to_string(),
                governance: governance.clone(),
                principal: ctx.principal().to_string(),
                at: now_ms(),
            };
            Ok((governance, vec![event]))
        })
    }

    /// The name of `product`'s output port a governance call is about: `port` when it names one, else
    /// the product's only port.
    pub(crate) fn governed_port(&self, product: &str, port: Option<&str>) -> Result<String> {
        let found = self.catalog.product(product)?;
        let ports = &found.spec.output_ports;
        match port {
            Some(name) => ports.iter().find(|p| p.name == name).map(|p| p.name.clone()).ok_or_else(|| {
                MeshError::PortNotFound(format!("data product '{product}' has no output port named '{name}'"))
            }),
            None => match ports.as_slice() {
                [only] => Ok(only.name.clone()),
                [] => Err(MeshError::PortNotFound(format!("data product '{product}' has no output port"))),
                _ => Err(MeshError::InvalidRequest(format!(
                    "data product '{product}' has {} output ports: name one ({})",
                    ports.len(),
                    ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                ))),
            },
        }
    }

    /// Across the mesh (or one domain), every product with a contract attached or a dead-letter
    /// topic: its contracts and its dead-letter counts; the products with unresolved dead letters
    /// first (most first), then by id.
    pub fn contract_failures(&self, ctx: &RequestContext, domain: Option<&str>) -> Result<Vec<ProductFailures>> {
        let mut contracts: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        for (product, _, governance) in self.governance.store().state().ports() {
            if let Some(contract) = &governance.contract {
                contracts
                    .entry(product.to_string())
                    .or_default()
                    .insert(format!("{}@{}", contract.id, contract.version));
            }
        }
        let topics: BTreeSet<String> = self.topics().into_iter().collect();
        let mut out = Vec::new();
        for product in self.catalog.products(domain)? {
            let id = product.id().to_string();
            let has_topic = topics.contains(&dead_letter_topic(&id));
            let attached = contracts.remove(&id).unwrap_or_default();
            if attached.is_empty() && !has_topic {
                continue;
            }
            let (total, unresolved, by_rule) = if has_topic {
                let page = self.dead_letters(ctx, &id, &DeadLetterSelection::default(), 1)?;
                (page.total, page.unresolved, page.by_rule)
            } else {
                (0, 0, Default::default())
            };
            out.push(ProductFailures {
                product: id,
                name: product.spec.name.clone(),
                owner: product.spec.owner.clone(),
                contracts: attached.into_iter().collect(),
                total,
                unresolved,
                by_rule,
            });
        }
        out.sort_by(|a, b| b.unresolved.cmp(&a.unresolved).then_with(|| a.product.cmp(&b.product)));
        Ok(out)
    }

    /// Every dead letter of `product` the selection admits (at most [`MAX_DEAD_LETTERS_PER_CALL`]),
    /// oldest first, with counts over the whole topic.
    pub fn dead_letters(
        &self,
        ctx: &RequestContext,
        product: &str,
        selection: &DeadLetterSelection,
        limit: usize,
    ) -> Result<DeadLetterPage> {
        self.catalog.product(product)?;
        let topic = dead_letter_topic(product);
        // Dead letters are the producing domain's to repair: its members read them; others the counts.
        let entries_hidden = self.authorizer().require_product_change(ctx.principal(), product, "read").is_err();
        let limit = limit.clamp(1, MAX_DEAD_LETTERS_PER_CALL);
        let mut page = DeadLetterPage {
            product: product.to_string(),
            topic: topic.clone(),
            entries: Vec::new(),
            total: 0,
            unresolved: 0,
            by_rule: Default::default(),
            entries_hidden,
        };
        self.each_dead_letter(product, |entry| {
            page.total += 1;
            if entry.resolution.is_none() {
                page.unresolved += 1;
                for rule in entry.violations.iter().map(|v| &v.rule).collect::<BTreeSet<_>>() {
                    *page.by_rule.entry(rule.clone()).or_default() += 1;
                }
            }
            if !entries_hidden && page.entries.len() < limit && selection.admits(&entry) {
                page.entries.push(entry);
            }
        })?;
        Ok(page)
    }

    /// Writes the selected unresolved dead letters again through the write path, checked against
    /// what the port enforces now; those that pass are written and marked replayed, the others stay.
    pub fn replay_dead_letters(
        &self,
        ctx: &RequestContext,
        product: &str,
        selection: &DeadLetterSelection,
    ) -> Result<ReplayReport> {
        self.authorizer().require_product_change(
            ctx.principal(),
            product,
            &format!("replay the dead letters of '{product}'"),
        )?;
        let found = self.catalog.product(product)?;
        if found.status() == Status::Retired {
            return Err(MeshError::ProductRetired(product.to_string()));
        }
        let selection = DeadLetterSelection { include_resolved: false, ..selection.clone() };
        let mut chosen = Vec::new();
        self.each_dead_letter(product, |entry| {
            if chosen.len() < MAX_DEAD_LETTERS_PER_CALL && selection.admits(&entry) {
                chosen.push(entry);
            }
        })?;
        let mut report = ReplayReport { replayed: Vec::new(), failed: Vec::new() };
        // Grouped by the topic each was written to (a product's ports may have several topics).
        let mut by_topic: std::collections::BTreeMap<String, Vec<DeadLetterEntry>> = Default::default();
        for entry in chosen {
            by_topic.entry(entry.topic.clone()).or_default().push(entry);
        }
        for (topic, entries) in by_topic {
            let records = entries
                .iter()
                .map(|entry| JsonRecord {
                    key: Some(entry.key.clone()).filter(|k| !k.is_null()),
                    value: Some(entry.value.clone()).filter(|v| !v.is_null()),
                    headers: entry.headers.clone(),
                    partition: entry.partition,
                    timestamp: Some(entry.timestamp),
                })
                .collect();
            let produced = self.data.produce_with(ctx.principal(), &topic, records, OnBroken::Report)?;
            let mut resolved = Vec::new();
            for (entry, outcome) in entries.iter().zip(produced.outcomes) {
                match outcome {
                    Outcome::Written(place) => {
                        resolved.push((
                            entry.offset,
                            Resolution::Replayed {
                                partition: place.partition,
                                offset: place.offset,
                                principal: ctx.principal().to_string(),
                                at: now_ms(),
                            },
                        ));
                        report.replayed.push(Replayed {
                            offset: entry.offset,
                            partition: place.partition,
                            written_offset: place.offset,
                        });
                    }
                    Outcome::Refused { violations } | Outcome::DeadLettered { violations, .. } => {
                        report.failed.push(ReplayFailure { offset: entry.offset, violations })
                    }
                }
            }
            self.record_resolutions(product, resolved)?;
        }
        changed(
            ctx,
            "replay_dead_letters",
            &format!("{product}: {} replayed, {} still failing", report.replayed.len(), report.failed.len()),
        );
        Ok(report)
    }

    /// Marks the selected unresolved dead letters dropped, for `reason`; they stay in the topic.
    pub fn drop_dead_letters(
        &self,
        ctx: &RequestContext,
        product: &str,
        selection: &DeadLetterSelection,
        reason: &str,
    ) -> Result<Vec<u64>> {
        self.authorizer().require_product_change(
            ctx.principal(),
            product,
            &format!("drop the dead letters of '{product}'"),
        )?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(MeshError::InvalidRequest("dropping dead letters needs a reason".into()));
        }
        self.catalog.product(product)?;
        let selection = DeadLetterSelection { include_resolved: false, ..selection.clone() };
        let mut offsets = Vec::new();
        self.each_dead_letter(product, |entry| {
            if selection.admits(&entry) {
                offsets.push(entry.offset);
            }
        })?;
        let at = now_ms();
        let resolved = offsets
            .iter()
            .map(|&offset| {
                let resolution =
                    Resolution::Dropped { reason: reason.to_string(), principal: ctx.principal().to_string(), at };
                (offset, resolution)
            })
            .collect();
        self.record_resolutions(product, resolved)?;
        changed(ctx, "drop_dead_letters", &format!("{product}: {} dropped", offsets.len()));
        Ok(offsets)
    }

    fn record_resolutions(&self, product: &str, resolved: Vec<(u64, Resolution)>) -> Result<()> {
        if resolved.is_empty() {
            return Ok(());
        }
        self.governance
            .store()
            .write(|_| Ok(((), vec![GovernanceEvent::DeadLettersResolved { product: product.to_string(), resolved }])))
    }

    /// Calls `f` with every dead letter of `product`, oldest first, with its resolution.
    fn each_dead_letter(&self, product: &str, mut f: impl FnMut(DeadLetterEntry)) -> Result<()> {
        let topic = dead_letter_topic(product);
        let resolutions = self.governance.store().state().resolutions(product).cloned().unwrap_or_default();
        let mut decoder = Decoder::new(&self.registry);
        let mut offset = 0;
        loop {
            let read = match self.log.read(&topic, 0, offset, ReadLimits::default()) {
                Ok(read) => read,
                Err(LogError::TopicNotFound(_)) => return Ok(()),
                Err(LogError::OffsetOutOfRange { earliest, .. }) if earliest > offset => {
                    offset = earliest;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for record in &read.records {
                let resolution = resolutions.get(&record.offset).cloned();
                f(DeadLetterEntry::from_stored(record, &mut decoder, resolution));
            }
            if read.records.is_empty() || read.next_offset >= read.high_watermark {
                return Ok(());
            }
            offset = read.next_offset;
        }
    }
}
