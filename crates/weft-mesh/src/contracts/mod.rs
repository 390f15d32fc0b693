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
pub mod documents;
pub mod recovery;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use weft_catalog::TopicPort;
use weft_contract::{Checker, Contract};
pub use weft_contract::{ContractError, Problem, RuleInfo};
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

impl From<weft_contract::Violation> for Violation {
    /// A contract's field paths are within the record's value; the write path names them from the
    /// record (`value.amount`), as it names schema violations.
    fn from(violation: weft_contract::Violation) -> Violation {
        let field = match violation.field {
            Some(field) if field.starts_with('[') => Some(format!("value{field}")),
            Some(field) => Some(format!("value.{field}")),
            None => None,
        };
        Violation { rule: violation.rule, field, reason: violation.reason }
    }
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
    pub rules: Option<Arc<Checker>>,
}

/// Compiles one schema object of a stored contract into the checks its port runs on every record.
pub(crate) fn compile(stored: &StoredContract, object: Option<&str>) -> Result<Checker> {
    let contract = Contract::from_json(stored.document.clone())?;
    Ok(contract.compile(object)?)
}

/// The store, and the compiled rules of the contracts ports enforce.
pub struct Governance {
    store: GovernanceStore,
    /// Checkers by contract id, version and object, compiled once (a checker holds the uniqueness
    /// windows, so every port on one contract version and object shares them).
    compiled: RwLock<HashMap<ContractRef, Arc<Checker>>>,
}

impl Governance {
    /// Opens the store.
    pub fn open(log: Arc<dyn EventLog>) -> Result<Governance> {
        Ok(Governance { store: GovernanceStore::open(log)?, compiled: RwLock::default() })
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

    /// The checker of a contract version's object, compiled once.
    pub(crate) fn rules(&self, contract: &ContractRef) -> Result<Arc<Checker>> {
        if let Some(rules) = self.compiled.read().unwrap_or_else(|e| e.into_inner()).get(contract) {
            return Ok(rules.clone());
        }
        let stored = self.store.state().contract(&contract.id, Some(&contract.version)).cloned().ok_or_else(|| {
            crate::MeshError::Internal(format!("contract {} version {} is not stored", contract.id, contract.version))
        })?;
        let rules = Arc::new(compile(&stored, contract.object.as_deref())?);
        self.compiled.write().unwrap_or_else(|e| e.into_inner()).insert(contract.clone(), rules.clone());
        Ok(rules)
    }
}
