//! Governance on the write path: what each output port enforces (its schema, its data contract's
//! rules) and what happens to a record that breaks them (its port's [`InvalidRecordPolicy`]), dead
//! letters and their recovery.
//!
//! - [`store`]: contracts, port policies and dead-letter resolutions, kept in `_weft_contracts`.
//! - [`dead_letters`]: the dead-letter topic of a product and what its records carry.
//!
//! **Counting invariant:** for every product, the records its writers sent that were taken
//! (`accepted`) plus those sent to its dead letters (`dead_lettered`) equal those `received` by a
//! write that succeeded; records of a refused request (`rejected`) are counted apart. The counts are
//! [`crate::metrics::DataMetrics::product_records`].

pub mod dead_letters;
pub mod recovery;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_catalog::TopicPort;
use weft_log::EventLog;

pub use dead_letters::{dead_letter_topic, DeadLetterEncoding, DeadLetterEntry, DEAD_LETTER_PREFIX};
pub use store::{
    ContractRef, GovernanceState, GovernanceStore, InvalidRecordPolicy, PortGovernance, Resolution, StoredContract,
    CONTRACTS_TOPIC,
};

use crate::error::Result;

/// One rule a record broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Violation {
    /// The rule's stable id: `schema` for the port's schema, else the contract rule's id.
    pub rule: String,
    /// The field it is about, as a dotted path (`value.amount`), when it is about one.
    pub field: Option<String>,
    pub reason: String,
}

/// The rules of a record beyond its schema (a compiled data contract).
pub trait RecordRules: Send + Sync {
    /// The rules `value` (the record's value as readers see it, JSON) breaks; empty when it passes.
    fn check(&self, value: &Value, timestamp_ms: i64) -> Vec<Violation>;
}

/// The records of one write that broke their port's rules, by their place in the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordViolations {
    pub index: usize,
    pub violations: Vec<Violation>,
}

/// What the write path enforces on one topic's records.
pub(crate) struct Enforcement {
    pub product: String,
    pub policy: InvalidRecordPolicy,
    pub rules: Option<Arc<dyn RecordRules>>,
}

/// Compiles a stored contract into the rules its ports check.
pub(crate) fn compile(stored: &StoredContract) -> Result<Arc<dyn RecordRules>> {
    Err(crate::MeshError::Internal(format!(
        "contract {} version {} cannot be compiled: no contract compiler is linked in",
        stored.id, stored.version
    )))
}

/// What turns a stored contract into the rules its ports check.
type Compiler = dyn Fn(&StoredContract) -> Result<Arc<dyn RecordRules>> + Send + Sync;

/// The store, and the compiled rules of the contracts ports enforce.
pub struct Governance {
    store: GovernanceStore,
    compiled: RwLock<HashMap<(String, String), Arc<dyn RecordRules>>>,
    compile: Box<Compiler>,
}

impl Governance {
    /// Opens the store; `compile` turns a stored contract into the rules its ports check.
    pub fn open(
        log: Arc<dyn EventLog>,
        compile: impl Fn(&StoredContract) -> Result<Arc<dyn RecordRules>> + Send + Sync + 'static,
    ) -> Result<Governance> {
        Ok(Governance { store: GovernanceStore::open(log)?, compiled: RwLock::default(), compile: Box::new(compile) })
    }

    pub fn store(&self) -> &GovernanceStore {
        &self.store
    }

    /// What the write path enforces on records of `port` (a topic's governing port).
    pub(crate) fn enforcement(&self, port: &TopicPort) -> Result<Enforcement> {
        let product = port.product.to_string();
        let governance = self.store.state().port(&product, &port.port.name);
        let rules = match &governance.contract {
            Some(contract) => Some(self.rules(contract)?),
            None => None,
        };
        Ok(Enforcement { product, policy: governance.policy, rules })
    }

    /// The compiled rules of a contract version, compiled once.
    fn rules(&self, contract: &ContractRef) -> Result<Arc<dyn RecordRules>> {
        let key = (contract.id.clone(), contract.version.clone());
        if let Some(rules) = self.compiled.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(rules.clone());
        }
        let stored = self.store.state().contract(&contract.id, Some(&contract.version)).cloned().ok_or_else(|| {
            crate::MeshError::Internal(format!("contract {} version {} is not stored", contract.id, contract.version))
        })?;
        let rules = (self.compile)(&stored)?;
        self.compiled.write().unwrap_or_else(|e| e.into_inner()).insert(key, rules.clone());
        Ok(rules)
    }
}
