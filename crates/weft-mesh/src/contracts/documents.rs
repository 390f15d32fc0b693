//! Data contracts as documents the mesh keeps (ODCS v3, read by `weft-contract`): applied, listed,
//! read back and exported as they came, and attached to a product's output port, whose write path then
//! checks every record against the contract's rules.
//!
//! A contract version is immutable: applying the same id and version again with the same document
//! changes nothing, with another document is refused (bump the version). A port enforces one
//! version; moving it to another is an attach.

use serde::Serialize;
use serde_json::Value;
use weft_contract::{Contract, FieldMismatch, MismatchKind, RuleInfo};

use super::store::{ContractRef, GovernanceEvent, PortGovernance, StoredContract};
use crate::context::{now_ms, RequestContext};
use crate::error::{MeshError, Result};
use crate::{changed, Applied, Mesh};

/// A contract version as lists show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractSummary {
    pub id: String,
    pub version: String,
    pub name: Option<String>,
    pub status: String,
    /// Every version stored, oldest first.
    pub versions: Vec<String>,
    /// The ports that enforce a version of it, as `product:port@version`.
    pub ports: Vec<String>,
    pub applied_by: String,
    pub applied_at: i64,
}

/// One contract version in full: its document as it came, and its rules as the write path checks them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractView {
    #[serde(flatten)]
    pub summary: ContractSummary,
    /// The ODCS document, every field kept.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub document: Value,
    /// The rules of each schema object, by object name.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub rules: std::collections::BTreeMap<String, Vec<RuleInfo>>,
}

impl Mesh {
    /// Stores a contract version from ODCS YAML (validated against the standard and Weft's checks).
    pub fn apply_contract(&self, ctx: &RequestContext, yaml: &str) -> Result<(ContractSummary, Applied)> {
        let contract = Contract::from_yaml(yaml)?;
        self.store_contract(ctx, contract)
    }

    /// Stores a contract version given as JSON (the document `GET` answers).
    pub fn apply_contract_json(&self, ctx: &RequestContext, document: Value) -> Result<(ContractSummary, Applied)> {
        let contract = Contract::from_json(document)?;
        self.store_contract(ctx, contract)
    }

    fn store_contract(&self, ctx: &RequestContext, contract: Contract) -> Result<(ContractSummary, Applied)> {
        let (id, version) = (contract.id().to_string(), contract.version().to_string());
        // A contract naming its domain (ODCS `domain`) is that domain's to publish; one naming none is
        // a platform-wide standard, the platform admins'.
        match contract.to_json().get("domain").and_then(Value::as_str) {
            Some(domain) if self.catalog.domain(domain).is_ok() => self.authorizer().require_domain(
                ctx.principal(),
                domain,
                &format!("publish contract '{id}' of domain '{domain}'"),
                false,
            )?,
            _ => self.authorizer().require_admin(
                ctx.principal(),
                &format!("publish contract '{id}' (it names no domain of the catalog, so it is platform-wide)"),
            )?,
        }
        let applied = self.governance.store().write(|state| match state.contract(&id, Some(&version)) {
            Some(stored) if &stored.document == contract.to_json() => Ok((Applied::Unchanged, Vec::new())),
            Some(_) => Err(MeshError::ContractVersionExists { id: id.clone(), version: version.clone() }),
            None => {
                let created = if state.versions(&id).is_empty() { Applied::Created } else { Applied::Updated };
                let event = GovernanceEvent::ContractVersion {
                    id: id.clone(),
                    version: version.clone(),
                    document: contract.to_json().clone(),
                    principal: ctx.principal().to_string(),
                    at: now_ms(),
                };
                Ok((created, vec![event]))
            }
        })?;
        if applied != Applied::Unchanged {
            changed(ctx, "apply_contract", &format!("{id}@{version}"));
        }
        Ok((self.contract_summary(&id, Some(&version))?, applied))
    }

    /// Every contract's newest version.
    pub fn contracts(&self) -> Vec<ContractSummary> {
        let ids: Vec<String> = self.governance.store().state().contract_ids().map(str::to_string).collect();
        ids.iter().filter_map(|id| self.contract_summary(id, None).ok()).collect()
    }

    fn contract_summary(&self, id: &str, version: Option<&str>) -> Result<ContractSummary> {
        let state = self.governance.store().state();
        let stored = state.contract(id, version).ok_or_else(|| not_found(id, version))?;
        let name = stored.document.get("name").and_then(Value::as_str).map(str::to_string);
        let status = stored.document.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(ContractSummary {
            id: stored.id.clone(),
            version: stored.version.clone(),
            name,
            status,
            versions: state.versions(id).iter().map(|v| v.version.clone()).collect(),
            ports: state
                .ports_using(id)
                .into_iter()
                .map(|(product, port, v)| format!("{product}:{port}@{v}"))
                .collect(),
            applied_by: stored.principal.clone(),
            applied_at: stored.at,
        })
    }

    /// One contract version (`None`: the newest), with its rules.
    pub fn contract(&self, id: &str, version: Option<&str>) -> Result<ContractView> {
        let summary = self.contract_summary(id, version)?;
        let stored = self.stored_contract(id, Some(&summary.version))?;
        let contract = Contract::from_json(stored.document.clone())?;
        let mut rules = std::collections::BTreeMap::new();
        for object in contract.objects() {
            if let Ok(checker) = contract.compile(Some(object)) {
                rules.insert(object.to_string(), checker.rules().to_vec());
            }
        }
        Ok(ContractView { summary, document: stored.document, rules })
    }

    /// A contract version as ODCS YAML, every field as it came.
    pub fn contract_yaml(&self, id: &str, version: Option<&str>) -> Result<String> {
        let stored = self.stored_contract(id, version)?;
        Ok(Contract::from_json(stored.document)?.to_yaml())
    }

    fn stored_contract(&self, id: &str, version: Option<&str>) -> Result<StoredContract> {
        self.governance.store().state().contract(id, version).cloned().ok_or_else(|| not_found(id, version))
    }

    /// Makes a product's output port enforce a contract version (`None`: its newest) on every record
    /// written to it, with `object` the schema object describing the port's records (`None`: the
    /// contract's only one). The contract must compile; its fields must agree with the port's schema.
    pub fn attach_contract(
        &self,
        ctx: &RequestContext,
        product: &str,
        port: Option<&str>,
        id: &str,
        version: Option<&str>,
        object: Option<&str>,
    ) -> Result<(String, PortGovernance)> {
        let port = self.governed_port(product, port)?;
        let stored = self.stored_contract(id, version)?;
        let reference =
            ContractRef { id: stored.id.clone(), version: stored.version.clone(), object: object.map(str::to_string) };
        // Refused here, not on the first record: the object must exist and every rule compile.
        let checker = super::compile(&stored, object)?;
        self.agree_with_schema(ctx, product, &port, &stored, checker.object())?;
        let contract = Some(reference.clone());
        let governance =
            self.update_port_governance(ctx, product, &port, |current| PortGovernance { contract, ..current })?;
        changed(ctx, "attach_contract", &format!("{product}:{port} {}@{}", reference.id, reference.version));
        Ok((port, governance))
    }

    /// Keeps a contract and its port's schema in step, the contract describing what the schema lets
    /// through, never more: a port without a schema yet gets one generated from the contract (JSON
    /// ports; JSON Schema 2020-12); otherwise a field the contract names that the schema lacks, or
    /// types that cannot hold the same values, refuse the attachment with each differing field. The
    /// contract may describe fewer fields than the schema, and require what the schema leaves
    /// optional (that is what rules are for).
    fn agree_with_schema(
        &self,
        ctx: &RequestContext,
        product: &str,
        port: &str,
        stored: &StoredContract,
        object: &str,
    ) -> Result<()> {
        let contract = Contract::from_json(stored.document.clone())?;
        let found = self.catalog.product(product)?;
        let Some(spec) = found.spec.output_ports.iter().find(|p| p.name == port) else { return Ok(()) };
        let subject = &spec.schema_subject;
        let latest = match self.registry.version(subject, weft_registry::VersionSpec::Latest, false) {
            Ok(latest) => latest,
            Err(_) if spec.format == weft_catalog::Format::Json => {
                let schema = contract.to_json_schema(object)?.to_string();
                let definition = weft_registry::SchemaDefinition {
                    schema_type: weft_registry::SchemaType::Json,
                    schema,
                    references: Vec::new(),
                };
                self.register_schema(ctx, subject, &weft_registry::RegisterRequest::new(definition))?;
                return Ok(());
            }
            Err(_) => {
                return Err(MeshError::PortSchemaMissing {
                    product: product.to_string(),
                    topic: spec.topic.clone(),
                    subject: subject.clone(),
                    format: spec.format.to_string(),
                })
            }
        };
        let schema_fields = weft_registry::field_summaries(latest.schema_type, &latest.schema);
        let mismatches: Vec<FieldMismatch> =
            weft_contract::compare_with_schema_fields(&contract.fields(object)?, &schema_fields)
                .into_iter()
                .filter(|m| matches!(m.kind, MismatchKind::MissingInSchema | MismatchKind::TypeDiffers))
                .collect();
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(MeshError::ContractSchemaMismatch { contract: stored.id.clone(), subject: subject.clone(), mismatches })
        }
    }

    /// Stops a port enforcing its contract (its schema and policy stay).
    pub fn detach_contract(
        &self,
        ctx: &RequestContext,
        product: &str,
        port: Option<&str>,
    ) -> Result<(String, PortGovernance)> {
        let port = self.governed_port(product, port)?;
        let governance =
            self.update_port_governance(ctx, product, &port, |current| PortGovernance { contract: None, ..current })?;
        changed(ctx, "detach_contract", &format!("{product}:{port}"));
        Ok((port, governance))
    }
}

fn not_found(id: &str, version: Option<&str>) -> MeshError {
    MeshError::ContractNotFound { id: id.to_string(), version: version.map(str::to_string) }
}

/// How one rule fared over a product's recent records (`weft contract test`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleOutcome {
    pub rule: RuleInfo,
    /// Records that broke it.
    pub failed: u64,
    /// A few of them: `{offset, partition, reason}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub examples: Vec<Value>,
}

/// A contract run against a product's recent records.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractTest {
    pub contract: String,
    pub version: String,
    pub object: String,
    pub product: String,
    pub topic: String,
    /// Records checked (the newest ones of the product's port).
    pub records: u64,
    /// Every rule, failed or not; rules not checked at write time are listed with `checked_at_write`
    /// false and count nothing.
    pub rules: Vec<RuleOutcome>,
    /// No checked rule failed.
    pub passed: bool,
}

/// Examples of failures kept per rule.
const TEST_EXAMPLES: usize = 3;

impl Mesh {
    /// Checks a contract version (`None`: the newest) against the newest `limit` records of a
    /// product's served port, rule by rule, without writing anything (uniqueness within the records
    /// checked).
    pub fn test_contract(
        &self,
        ctx: &RequestContext,
        id: &str,
        version: Option<&str>,
        object: Option<&str>,
        product: &str,
        limit: usize,
    ) -> Result<ContractTest> {
        let stored = self.stored_contract(id, version)?;
        let checker = super::compile(&stored, object)?;
        let resolved = self.data.resolve(&crate::read::Target::Product { id: product.to_string(), port: None })?;
        let records = self.data.newest(ctx.principal(), &resolved.topic, limit.clamp(1, 100_000))?;
        let mut outcomes: Vec<RuleOutcome> = checker
            .rules()
            .iter()
            .map(|rule| RuleOutcome { rule: rule.clone(), failed: 0, examples: Vec::new() })
            .collect();
        let mut batch = checker.batch();
        for record in &records {
            if record.value.json.is_null() {
                continue;
            }
            for violation in batch.check(&record.value.json, record.timestamp) {
                if let Some(outcome) = outcomes.iter_mut().find(|o| o.rule.id == violation.rule) {
                    outcome.failed += 1;
                    if outcome.examples.len() < TEST_EXAMPLES {
                        outcome.examples.push(serde_json::json!({
                            "partition": record.partition, "offset": record.offset, "reason": violation.reason,
                        }));
                    }
                }
            }
        }
        let passed = outcomes.iter().all(|o| o.failed == 0);
        Ok(ContractTest {
            contract: stored.id,
            version: stored.version,
            object: checker.object().to_string(),
            product: product.to_string(),
            topic: resolved.topic,
            records: records.len() as u64,
            rules: outcomes,
            passed,
        })
    }
}
