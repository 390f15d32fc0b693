//! The governance store: data contracts by id and version, what each output port enforces (its
//! contract and its policy for invalid records), and what was done with dead letters, kept as events in
//! the `_weft_contracts` topic and rebuilt from it on start.
//!
//! The protocol is the registry's: a change is planned against the state under the writer lock, its
//! events are appended (the commit point), then applied by the same `apply` that replay uses, so a
//! crash leaves either all of a change or none of it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLockReadGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_log::{EventLog, TopicConfig};

use crate::error::Result;
use crate::event_store::{EventStore, Unreadable};
use crate::policies::{GlobalPolicies, PoliciesVersion};

/// The internal topic the governance store lives in.
pub const CONTRACTS_TOPIC: &str = "_weft_contracts";

/// What an output port does with a record that breaks its schema or its contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum InvalidRecordPolicy {
    /// The whole request is refused, nothing of it written, and the producer told which records broke
    /// which rules (what every port does unless told otherwise).
    #[default]
    Reject,
    /// Good records are written; each broken one goes to the product's dead-letter topic with the
    /// rules it broke, and the producer's answer lists them.
    DeadLetter,
}

impl InvalidRecordPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidRecordPolicy::Reject => "reject",
            InvalidRecordPolicy::DeadLetter => "dead-letter",
        }
    }
}

impl std::str::FromStr for InvalidRecordPolicy {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "reject" => Ok(InvalidRecordPolicy::Reject),
            "dead-letter" | "dead_letter" | "deadletter" => Ok(InvalidRecordPolicy::DeadLetter),
            other => Err(format!("'{other}' is no policy for invalid records: use reject or dead-letter")),
        }
    }
}

/// A contract version a port enforces, and which of its schema objects describes the port's records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractRef {
    pub id: String,
    pub version: String,
    /// The schema object (`None`: the contract's only one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

/// What one output port enforces on the records written to its topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortGovernance {
    /// The contract checked on every record, besides the port's schema.
    pub contract: Option<ContractRef>,
    pub policy: InvalidRecordPolicy,
    /// A topic Kafka producers write to directly, validated into the port's topic and the product's
    /// dead letters ([`crate::raw_inputs`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_input_topic: Option<String>,
}

/// What was done with a dead letter after it landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Resolution {
    /// Written again through the write path, passing this time, to this place of the product's topic.
    Replayed { partition: u32, offset: u64, principal: String, at: i64 },
    /// Given up, for a reason.
    Dropped { reason: String, principal: String, at: i64 },
}

/// The store's events, one record each (key: the event's kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum GovernanceEvent {
    /// A contract version, as its document (JSON form of the ODCS YAML, every field kept).
    ContractVersion { id: String, version: String, document: Value, principal: String, at: i64 },
    /// What a port enforces from now on.
    PortGovernance { product: String, port: String, governance: PortGovernance, principal: String, at: i64 },
    /// Dead letters of a product resolved (by their offsets in its dead-letter topic).
    DeadLettersResolved { product: String, resolved: Vec<(u64, Resolution)> },
    /// The platform's global policies from now on (the whole document; its version is its place
    /// among these events, from 1).
    Policies { policies: GlobalPolicies, principal: String, at: i64 },
}

impl GovernanceEvent {
    fn kind(&self) -> &'static str {
        match self {
            GovernanceEvent::ContractVersion { .. } => "contract_version",
            GovernanceEvent::PortGovernance { .. } => "port_governance",
            GovernanceEvent::DeadLettersResolved { .. } => "dead_letters_resolved",
            GovernanceEvent::Policies { .. } => "policies",
        }
    }
}

/// A stored contract version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredContract {
    pub id: String,
    pub version: String,
    pub document: Value,
    pub principal: String,
    pub at: i64,
}

/// Everything the store knows, rebuilt by applying its events in order.
#[derive(Debug, Default)]
pub struct GovernanceState {
    /// Contract versions by id, then version, in the order they were stored.
    contracts: BTreeMap<String, Vec<StoredContract>>,
    ports: BTreeMap<(String, String), PortGovernance>,
    resolved: BTreeMap<String, BTreeMap<u64, Resolution>>,
    /// Every version of the global policies, oldest first.
    policies: Vec<PoliciesVersion>,
}

impl GovernanceState {
    fn apply(&mut self, event: GovernanceEvent) {
        match event {
            GovernanceEvent::ContractVersion { id, version, document, principal, at } => {
                let versions = self.contracts.entry(id.clone()).or_default();
                versions.retain(|stored| stored.version != version);
                versions.push(StoredContract { id, version, document, principal, at });
            }
            GovernanceEvent::PortGovernance { product, port, governance, .. } => {
                self.ports.insert((product, port), governance);
            }
            GovernanceEvent::DeadLettersResolved { product, resolved } => {
                self.resolved.entry(product).or_default().extend(resolved);
            }
            GovernanceEvent::Policies { policies, principal, at } => {
                let version = self.policies.len() as u64 + 1;
                self.policies.push(PoliciesVersion { version, principal, at, policies });
            }
        }
    }

    /// Contract ids, sorted.
    pub fn contract_ids(&self) -> impl Iterator<Item = &str> {
        self.contracts.keys().map(String::as_str)
    }

    /// The versions of a contract, oldest first.
    pub fn versions(&self, id: &str) -> &[StoredContract] {
        self.contracts.get(id).map_or(&[], Vec::as_slice)
    }

    /// One version of a contract, or its newest with `None`.
    pub fn contract(&self, id: &str, version: Option<&str>) -> Option<&StoredContract> {
        let versions = self.contracts.get(id)?;
        match version {
            Some(version) => versions.iter().find(|stored| stored.version == version),
            None => versions.last(),
        }
    }

    /// What a port enforces (nothing set: its schema only, invalid records rejected).
    pub fn port(&self, product: &str, port: &str) -> PortGovernance {
        self.ports.get(&(product.to_string(), port.to_string())).cloned().unwrap_or_default()
    }

    /// Every port with something set, as (product, port, governance).
    pub fn ports(&self) -> impl Iterator<Item = (&str, &str, &PortGovernance)> {
        self.ports.iter().map(|((product, port), governance)| (product.as_str(), port.as_str(), governance))
    }

    /// The ports that enforce a contract (any version of `id`).
    pub fn ports_using(&self, id: &str) -> Vec<(String, String, String)> {
        self.ports
            .iter()
            .filter_map(|((product, port), g)| {
                let contract = g.contract.as_ref().filter(|c| c.id == id)?;
                Some((product.clone(), port.clone(), contract.version.clone()))
            })
            .collect()
    }

    /// The global policies in force, if ever set.
    pub fn policies(&self) -> Option<&PoliciesVersion> {
        self.policies.last()
    }

    /// Every version of the global policies, oldest first.
    pub fn policies_history(&self) -> &[PoliciesVersion] {
        &self.policies
    }

    /// What was done with a product's dead letters, by offset.
    pub fn resolutions(&self, product: &str) -> Option<&BTreeMap<u64, Resolution>> {
        self.resolved.get(product)
    }
}

impl crate::event_store::Replayed for GovernanceState {
    type Event = GovernanceEvent;

    fn apply(&mut self, event: GovernanceEvent) {
        GovernanceState::apply(self, event);
    }

    fn key(event: &GovernanceEvent) -> Option<Vec<u8>> {
        Some(event.kind().as_bytes().to_vec())
    }
}

/// The store: state in memory, events in [`CONTRACTS_TOPIC`] (see [`crate::event_store`]).
pub struct GovernanceStore {
    store: EventStore<GovernanceState>,
}

impl GovernanceStore {
    /// Opens the store, creating its topic on first start, and applies every stored event.
    pub fn open(log: Arc<dyn EventLog>) -> Result<GovernanceStore> {
        let config = TopicConfig { retention_ms: None, ..TopicConfig::default() };
        Ok(GovernanceStore { store: EventStore::open(log, CONTRACTS_TOPIC, config, Unreadable::Fail)? })
    }

    /// Read access to the state; drop the guard before calling a method that writes.
    pub fn state(&self) -> RwLockReadGuard<'_, GovernanceState> {
        self.store.state()
    }

    /// Applies what other servers on the same log appended since this one last read it.
    pub(crate) fn refresh(&self) -> Result<()> {
        self.store.refresh()
    }

    /// Plans a change against the current state, appends its events, then applies them.
    pub(crate) fn write<T>(
        &self,
        plan: impl FnOnce(&GovernanceState) -> Result<(T, Vec<GovernanceEvent>)>,
    ) -> Result<T> {
        self.store.write(plan)
    }

    /// Offsets of `product`'s dead letters that were resolved, among `offsets`.
    pub fn already_resolved(&self, product: &str, offsets: &BTreeSet<u64>) -> Vec<u64> {
        let state = self.state();
        let Some(resolved) = state.resolutions(product) else { return Vec::new() };
        offsets.iter().copied().filter(|offset| resolved.contains_key(offset)).collect()
    }
}
