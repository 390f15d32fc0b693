//! Global governance policies: what platform admins demand of every product, kept as one versioned
//! document in the governance store (`_weft_contracts`, events `policies`), evaluated here by the
//! server, never by the browser.
//!
//! The document (JSON; the CLI also reads it as YAML), every part optional, each with its
//! `enforcement` (`block`: publication is refused, or for `minimumCompatibility` the registration;
//! `warn`: only listed as a violation):
//!
//! ```yaml
//! requiredMetadata:      {fields: [description, owner, tags], enforcement: block}
//! minimumCompatibility:  {level: BACKWARD, enforcement: block}
//! classification:        {restricted: [pii], enforcement: warn}
//! naming:                {productId: '^[a-z]+\.[a-z0-9-]+$', topic: '^[a-z0-9.-]+$', enforcement: warn}
//! contractRequired:      {qualityTiers: [authoritative], enforcement: block}
//! ```
//!
//! - `requiredMetadata.fields`: among `description`, `documentation`, `qualityTier`, `slaTier`,
//!   `freshnessObjective`, `tags`, `owner`, on top of the catalog's own publishing requirements.
//! - `minimumCompatibility.level`: a compatibility level the schema subjects of published (and
//!   deprecated) products are held to whatever their own configuration says
//!   ([`weft_registry::Registry::register_with_floor`]); a breaking schema needs a new major
//!   version of the port, which is a new subject. Listed: such subjects configured below it.
//! - `classification.restricted`: classifications (case-insensitive) that need restricted access:
//!   a product with a field so classified, in its port's schema or its attached contract, must
//!   carry the custom property `access: restricted` (access by grant only).
//! - `naming`: regular expressions product ids and output-port topics must match (whole string).
//! - `contractRequired.qualityTiers`: products of these tiers need a data contract attached to every
//!   output port.
//!
//! Only platform admins change the document ([`crate::security::authz::Authorizer::is_admin`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use weft_catalog::{ProductSpec, PublishGap, QualityTier, Status};
use weft_registry::{field_summaries, CompatibilityLevel, VersionSpec};

use crate::context::RequestContext;
use crate::contracts::store::GovernanceEvent;
use crate::error::{MeshError, Result};
use crate::Mesh;

/// The custom property that says a product's access is by grant only, and its value.
pub const RESTRICTED_PROPERTY: (&str, &str) = ("access", "restricted");

/// The longest regular expression a naming policy takes, in characters.
const MAX_PATTERN_CHARS: usize = 1_000;

/// What breaking a policy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Publication (for `minimumCompatibility`, the registration) is refused.
    Block,
    /// Listed as a violation, nothing refused.
    Warn,
}

/// Product metadata a policy can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum MetadataField {
    Description,
    Documentation,
    QualityTier,
    SlaTier,
    FreshnessObjective,
    Tags,
    Owner,
}

impl MetadataField {
    const ALL: [(&'static str, MetadataField); 7] = [
        ("description", MetadataField::Description),
        ("documentation", MetadataField::Documentation),
        ("qualityTier", MetadataField::QualityTier),
        ("slaTier", MetadataField::SlaTier),
        ("freshnessObjective", MetadataField::FreshnessObjective),
        ("tags", MetadataField::Tags),
        ("owner", MetadataField::Owner),
    ];

    /// The spec field's name (as the API and ODPS-like documents spell it).
    pub fn as_str(self) -> &'static str {
        MetadataField::ALL.iter().find(|(_, f)| *f == self).map_or("", |(name, _)| name)
    }

    fn is_set(self, spec: &ProductSpec) -> bool {
        match self {
            MetadataField::Description => !spec.description.trim().is_empty(),
            MetadataField::Documentation => !spec.documentation.trim().is_empty(),
            MetadataField::QualityTier => spec.quality_tier.is_some(),
            MetadataField::SlaTier => spec.sla_tier.is_some(),
            MetadataField::FreshnessObjective => spec.freshness_objective.is_some(),
            MetadataField::Tags => !spec.tags.is_empty(),
            MetadataField::Owner => !spec.owner.trim().is_empty(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequiredMetadata {
    pub fields: Vec<MetadataField>,
    pub enforcement: Enforcement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinimumCompatibility {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub level: CompatibilityLevel,
    pub enforcement: Enforcement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassificationPolicy {
    /// Classifications that need restricted access, lower case.
    pub restricted: Vec<String>,
    pub enforcement: Enforcement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NamingPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub enforcement: Enforcement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContractRequired {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub quality_tiers: Vec<QualityTier>,
    pub enforcement: Enforcement,
}

/// The platform's global policies; a part left out is no policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GlobalPolicies {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_metadata: Option<RequiredMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_compatibility: Option<MinimumCompatibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<ClassificationPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naming: Option<NamingPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_required: Option<ContractRequired>,
}

/// One version of the policies, who set it and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoliciesVersion {
    /// 1 for the first document set, one more with each change (0: never set).
    pub version: u64,
    pub principal: String,
    /// Epoch milliseconds.
    pub at: i64,
    pub policies: GlobalPolicies,
}

/// A document that is not a valid policies document: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PolicyError {
    /// Dotted path in the document (`naming.productId`, `requiredMetadata.fields[2]`).
    pub field: String,
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> PolicyError {
    PolicyError { field: field.into(), reason: reason.into() }
}

fn object<'a>(value: &'a Value, at: &str, known: &[&str]) -> std::result::Result<&'a Map<String, Value>, PolicyError> {
    let Value::Object(map) = value else {
        return Err(bad(if at.is_empty() { "(document)" } else { at }, "must be an object"));
    };
    for key in map.keys() {
        if !known.contains(&key.as_str()) {
            let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            return Err(bad(path, format!("unknown field; known: {}", known.join(", "))));
        }
    }
    Ok(map)
}

fn strings(map: &Map<String, Value>, at: &str, key: &str) -> std::result::Result<Vec<(String, String)>, PolicyError> {
    let path = format!("{at}.{key}");
    let Some(value) = map.get(key) else { return Err(bad(path, "is required")) };
    let Value::Array(items) = value else { return Err(bad(path, "must be a list of strings")) };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::String(text) = item else { return Err(bad(format!("{path}[{index}]"), "must be a string")) };
        out.push((format!("{path}[{index}]"), text.clone()));
    }
    Ok(out)
}

fn enforcement(map: &Map<String, Value>, at: &str) -> std::result::Result<Enforcement, PolicyError> {
    let path = format!("{at}.enforcement");
    match map.get("enforcement") {
        None => Err(bad(path, "is required: block or warn")),
        Some(Value::String(s)) if s == "block" => Ok(Enforcement::Block),
        Some(Value::String(s)) if s == "warn" => Ok(Enforcement::Warn),
        Some(other) => Err(bad(path, format!("{other} is no enforcement: use block or warn"))),
    }
}

/// A naming pattern, anchored to the whole name, with a bounded compiled size.
fn compile(pattern: &str) -> std::result::Result<regex::Regex, String> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!("is longer than {MAX_PATTERN_CHARS} characters"));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("is not a regular expression: {}", e.to_string().lines().last().unwrap_or_default()))
}

impl GlobalPolicies {
    /// Reads and checks a policies document; the first problem is named by its field.
    pub fn from_json(document: &Value) -> std::result::Result<GlobalPolicies, PolicyError> {
        let root = object(
            document,
            "",
            &["requiredMetadata", "minimumCompatibility", "classification", "naming", "contractRequired"],
        )?;
        let mut policies = GlobalPolicies::default();
        if let Some(value) = root.get("requiredMetadata") {
            let at = "requiredMetadata";
            let map = object(value, at, &["fields", "enforcement"])?;
            let mut fields = Vec::new();
            for (path, name) in strings(map, at, "fields")? {
                let Some((_, field)) = MetadataField::ALL.iter().find(|(n, _)| *n == name) else {
                    let known: Vec<&str> = MetadataField::ALL.iter().map(|(n, _)| *n).collect();
                    return Err(bad(path, format!("'{name}' is no metadata field; known: {}", known.join(", "))));
                };
                if fields.contains(field) {
                    return Err(bad(path, format!("'{name}' is listed twice")));
                }
                fields.push(*field);
            }
            if fields.is_empty() {
                return Err(bad(format!("{at}.fields"), "lists no field: leave the policy out instead"));
            }
            policies.required_metadata = Some(RequiredMetadata { fields, enforcement: enforcement(map, at)? });
        }
        if let Some(value) = root.get("minimumCompatibility") {
            let at = "minimumCompatibility";
            let map = object(value, at, &["level", "enforcement"])?;
            let level = match map.get("level") {
                None => return Err(bad(format!("{at}.level"), "is required")),
                Some(Value::String(text)) => text.parse::<CompatibilityLevel>().map_err(|_| {
                    bad(
                        format!("{at}.level"),
                        format!(
                            "'{text}' is no compatibility level: use BACKWARD, BACKWARD_TRANSITIVE, FORWARD, \
                             FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE"
                        ),
                    )
                })?,
                Some(_) => return Err(bad(format!("{at}.level"), "must be a string")),
            };
            if level == CompatibilityLevel::None {
                return Err(bad(format!("{at}.level"), "NONE is no minimum: leave the policy out instead"));
            }
            policies.minimum_compatibility = Some(MinimumCompatibility { level, enforcement: enforcement(map, at)? });
        }
        if let Some(value) = root.get("classification") {
            let at = "classification";
            let map = object(value, at, &["restricted", "enforcement"])?;
            let mut restricted = Vec::new();
            for (path, name) in strings(map, at, "restricted")? {
                let name = name.trim().to_lowercase();
                if name.is_empty() {
                    return Err(bad(path, "is empty"));
                }
                if !restricted.contains(&name) {
                    restricted.push(name);
                }
            }
            if restricted.is_empty() {
                return Err(bad(format!("{at}.restricted"), "lists no classification: leave the policy out instead"));
            }
            policies.classification = Some(ClassificationPolicy { restricted, enforcement: enforcement(map, at)? });
        }
        if let Some(value) = root.get("naming") {
            let at = "naming";
            let map = object(value, at, &["productId", "topic", "enforcement"])?;
            let pattern = |key: &str| -> std::result::Result<Option<String>, PolicyError> {
                let path = format!("{at}.{key}");
                match map.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(text)) => {
                        compile(text).map_err(|reason| bad(path, reason))?;
                        Ok(Some(text.clone()))
                    }
                    Some(_) => Err(bad(path, "must be a string (a regular expression)")),
                }
            };
            let (product_id, topic) = (pattern("productId")?, pattern("topic")?);
            if product_id.is_none() && topic.is_none() {
                return Err(bad(at, "names no pattern: give productId, topic or both"));
            }
            policies.naming = Some(NamingPolicy { product_id, topic, enforcement: enforcement(map, at)? });
        }
        if let Some(value) = root.get("contractRequired") {
            let at = "contractRequired";
            let map = object(value, at, &["qualityTiers", "enforcement"])?;
            let mut quality_tiers = Vec::new();
            for (path, name) in strings(map, at, "qualityTiers")? {
                let tier: QualityTier = serde_json::from_value(Value::String(name.clone())).map_err(|_| {
                    bad(path, format!("'{name}' is no quality tier: use raw, curated or authoritative"))
                })?;
                if !quality_tiers.contains(&tier) {
                    quality_tiers.push(tier);
                }
            }
            if quality_tiers.is_empty() {
                return Err(bad(format!("{at}.qualityTiers"), "lists no tier: leave the policy out instead"));
            }
            policies.contract_required = Some(ContractRequired { quality_tiers, enforcement: enforcement(map, at)? });
        }
        Ok(policies)
    }
}

/// The kinds of policy violation, in the order they are listed (after the catalog's own kinds).
pub const POLICY_KINDS: [&str; 5] =
    ["required-metadata", "minimum-compatibility", "classification", "naming", "contract-required"];

/// One product breaking one global policy in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// One of [`POLICY_KINDS`].
    pub kind: &'static str,
    /// The spec field to fix (`tags`, `id`, `outputPorts[0].topic`, `customProperties`).
    pub field: String,
    pub message: String,
    pub enforcement: Enforcement,
}

impl Finding {
    /// Whether this finding refuses publication (a `block` policy that is about publishing).
    pub fn blocks_publication(&self) -> bool {
        self.enforcement == Enforcement::Block && self.kind != "minimum-compatibility"
    }

    fn gap(&self) -> PublishGap {
        PublishGap { field: self.field.clone(), rule: self.kind.to_string(), message: self.message.clone() }
    }
}

/// Naming patterns compiled once per evaluation.
struct Compiled {
    product_id: Option<regex::Regex>,
    topic: Option<regex::Regex>,
}

impl Mesh {
    /// The policies in force (version 0, empty, when none were ever set).
    pub fn policies(&self) -> PoliciesVersion {
        self.governance.store().state().policies().cloned().unwrap_or(PoliciesVersion {
            version: 0,
            principal: String::new(),
            at: 0,
            policies: GlobalPolicies::default(),
        })
    }

    /// Every version of the policies, oldest first, without their documents.
    pub fn policies_history(&self) -> Vec<(u64, String, i64)> {
        let state = self.governance.store().state();
        state.policies_history().iter().map(|v| (v.version, v.principal.clone(), v.at)).collect()
    }

    /// Replaces the policies with `document` (checked whole first: nothing of a bad document is
    /// kept). Only platform admins may; `if_version` makes the change conditional on the version
    /// it was based on.
    pub fn set_policies(
        &self,
        ctx: &RequestContext,
        document: &Value,
        if_version: Option<u64>,
    ) -> Result<PoliciesVersion> {
        if !self.authorizer().is_admin(ctx.principal()) {
            return Err(MeshError::NotPlatformAdmin(ctx.principal().to_string()));
        }
        let policies = GlobalPolicies::from_json(document)
            .map_err(|e| MeshError::InvalidPolicy { field: e.field, reason: e.reason })?;
        let set = self.governance.store().write(|state| {
            let current = state.policies().map_or(0, |v| v.version);
            if let Some(expected) = if_version.filter(|expected| *expected != current) {
                return Err(MeshError::PoliciesChanged { expected, current });
            }
            let version = PoliciesVersion {
                version: current + 1,
                principal: ctx.principal().to_string(),
                at: ctx.at(),
                policies,
            };
            let event = GovernanceEvent::Policies {
                policies: version.policies.clone(),
                principal: version.principal.clone(),
                at: version.at,
            };
            Ok((version, vec![event]))
        })?;
        crate::changed(ctx, "set_policies", &format!("version {}", set.version));
        Ok(set)
    }

    /// How a product's spec breaks the policies in force. `status` says which apply: the
    /// compatibility floor is about served products' subjects, everything else about every product
    /// that is not retired.
    pub fn policy_findings(&self, spec: &ProductSpec, status: Status) -> Result<Vec<Finding>> {
        let policies = self.policies().policies;
        let compiled = compile_naming(&policies)?;
        Ok(self.findings(&policies, &compiled, spec, status))
    }

    /// The publishing gaps of `block` policies for a spec about to be published.
    pub(crate) fn blocking_gaps(&self, spec: &ProductSpec) -> Result<Vec<PublishGap>> {
        let findings = self.policy_findings(spec, Status::Draft)?;
        Ok(findings.iter().filter(|f| f.blocks_publication()).map(Finding::gap).collect())
    }

    /// The publishing hints of `warn` policies for a spec.
    pub(crate) fn warning_gaps(&self, spec: &ProductSpec) -> Result<Vec<PublishGap>> {
        let findings = self.policy_findings(spec, Status::Draft)?;
        Ok(findings.iter().filter(|f| !f.blocks_publication()).map(Finding::gap).collect())
    }

    /// Every product's findings, for the violations list (`policies` and their patterns read once).
    pub(crate) fn findings_of_all<'a>(
        &self,
        products: impl Iterator<Item = &'a weft_catalog::Product>,
    ) -> Result<Vec<(&'a weft_catalog::Product, Finding)>> {
        let policies = self.policies().policies;
        let compiled = compile_naming(&policies)?;
        let mut out = Vec::new();
        for product in products {
            if product.status() == Status::Retired {
                continue;
            }
            for finding in self.findings(&policies, &compiled, &product.spec, product.status()) {
                out.push((product, finding));
            }
        }
        Ok(out)
    }

    fn findings(
        &self,
        policies: &GlobalPolicies,
        compiled: &Compiled,
        spec: &ProductSpec,
        status: Status,
    ) -> Vec<Finding> {
        let mut found = Vec::new();
        if let Some(policy) = &policies.required_metadata {
            for field in policy.fields.iter().filter(|f| !f.is_set(spec)) {
                found.push(Finding {
                    kind: "required-metadata",
                    field: field.as_str().to_string(),
                    message: format!("{} is required by the platform's policy requiredMetadata", field.as_str()),
                    enforcement: policy.enforcement,
                });
            }
        }
        if let (Some(policy), Status::Published | Status::Deprecated) = (&policies.minimum_compatibility, status) {
            for (index, port) in spec.output_ports.iter().enumerate() {
                let Ok(level) = self.registry.config(Some(&port.schema_subject), true) else { continue };
                if !level.covers(policy.level) {
                    let effect = match policy.enforcement {
                        Enforcement::Block => "schemas breaking it are refused anyway",
                        Enforcement::Warn => "schemas breaking it are accepted",
                    };
                    found.push(Finding {
                        kind: "minimum-compatibility",
                        field: format!("outputPorts[{index}].schemaSubject"),
                        message: format!(
                            "subject {} has compatibility {level}, below the minimum {} of the policy \
                             minimumCompatibility ({effect}); a breaking change needs a new major version of port {}",
                            port.schema_subject, policy.level, port.name
                        ),
                        enforcement: policy.enforcement,
                    });
                }
            }
        }
        if let Some(policy) = &policies.classification {
            let classified = self.classified_fields(spec, &policy.restricted);
            let restricted = spec
                .custom_properties
                .iter()
                .any(|p| p.property == RESTRICTED_PROPERTY.0 && p.value.as_str() == Some(RESTRICTED_PROPERTY.1));
            if !classified.is_empty() && !restricted {
                let fields: Vec<String> =
                    classified.iter().map(|(field, class)| format!("{field} ({class})")).collect();
                found.push(Finding {
                    kind: "classification",
                    field: "customProperties".into(),
                    message: format!(
                        "fields classified {} without access restriction: {}; set the custom property {}: {} \
                         (access by grant only), as the policy classification requires",
                        policy.restricted.join(" or "),
                        fields.join(", "),
                        RESTRICTED_PROPERTY.0,
                        RESTRICTED_PROPERTY.1
                    ),
                    enforcement: policy.enforcement,
                });
            }
        }
        if let Some(policy) = &policies.naming {
            if let Some(pattern) = &compiled.product_id {
                if !pattern.is_match(spec.id.as_str()) {
                    found.push(Finding {
                        kind: "naming",
                        field: "id".into(),
                        message: format!(
                            "product id {} does not match the naming policy's productId {}",
                            spec.id,
                            policy.product_id.as_deref().unwrap_or_default()
                        ),
                        enforcement: policy.enforcement,
                    });
                }
            }
            if let Some(pattern) = &compiled.topic {
                for (index, port) in spec.output_ports.iter().enumerate() {
                    if !pattern.is_match(&port.topic) {
                        found.push(Finding {
                            kind: "naming",
                            field: format!("outputPorts[{index}].topic"),
                            message: format!(
                                "topic {} of port {} does not match the naming policy's topic {}",
                                port.topic,
                                port.name,
                                policy.topic.as_deref().unwrap_or_default()
                            ),
                            enforcement: policy.enforcement,
                        });
                    }
                }
            }
        }
        if let Some(policy) = &policies.contract_required {
            if let Some(tier) = spec.quality_tier.filter(|tier| policy.quality_tiers.contains(tier)) {
                let state = self.governance.store().state();
                for (index, port) in spec.output_ports.iter().enumerate() {
                    if state.port(spec.id.as_str(), &port.name).contract.is_none() {
                        found.push(Finding {
                            kind: "contract-required",
                            field: format!("outputPorts[{index}]"),
                            message: format!(
                                "port {} has no data contract attached; the policy contractRequired demands one on \
                                 every output port of {} products",
                                port.name,
                                serde_json::to_value(tier)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_string))
                                    .unwrap_or_default()
                            ),
                            enforcement: policy.enforcement,
                        });
                    }
                }
            }
        }
        found
    }

    /// Fields of a product's ports (their latest schemas and attached contracts) classified as one
    /// of `restricted`, as (field, classification), deduplicated.
    fn classified_fields(&self, spec: &ProductSpec, restricted: &[String]) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        let matches = |class: &str| restricted.iter().any(|r| r.eq_ignore_ascii_case(class.trim()));
        for port in &spec.output_ports {
            if let Ok(latest) = self.registry.version(&port.schema_subject, VersionSpec::Latest, false) {
                for field in field_summaries(latest.schema_type, &latest.schema) {
                    for class in field.classification.iter().filter(|c| matches(c)) {
                        out.insert((field.path.clone(), class.to_lowercase()));
                    }
                }
            }
            let governance = self.governance.store().state().port(spec.id.as_str(), &port.name);
            let Some(attached) = governance.contract else { continue };
            let Some(document) = self
                .governance
                .store()
                .state()
                .contract(&attached.id, Some(&attached.version))
                .map(|stored| stored.document.clone())
            else {
                continue;
            };
            let Ok(contract) = weft_contract::Contract::from_json(document) else { continue };
            let object = attached.object.clone().or_else(|| contract.objects().first().map(|o| o.to_string()));
            let Some(object) = object else { continue };
            if let Ok(fields) = contract.fields(&object) {
                for field in fields {
                    if let Some(class) = field.classification.filter(|c| matches(c)) {
                        out.insert((field.path, class.to_lowercase()));
                    }
                }
            }
        }
        out
    }
}

fn compile_naming(policies: &GlobalPolicies) -> Result<Compiled> {
    let compile_one = |pattern: Option<&String>| -> Result<Option<regex::Regex>> {
        pattern
            .map(|p| compile(p).map_err(|reason| MeshError::Internal(format!("stored naming pattern {p} {reason}"))))
            .transpose()
    };
    let naming = policies.naming.as_ref();
    Ok(Compiled {
        product_id: compile_one(naming.and_then(|n| n.product_id.as_ref()))?,
        topic: compile_one(naming.and_then(|n| n.topic.as_ref()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(document: Value) -> PolicyError {
        GlobalPolicies::from_json(&document).expect_err("the document should be refused")
    }

    #[test]
    fn a_full_document_reads_and_writes_back_the_same() {
        let document = json!({
            "requiredMetadata": {"fields": ["description", "owner", "tags"], "enforcement": "block"},
            "minimumCompatibility": {"level": "BACKWARD", "enforcement": "block"},
            "classification": {"restricted": ["pii"], "enforcement": "warn"},
            "naming": {"productId": "[a-z]+\\.[a-z0-9-]+", "enforcement": "warn"},
            "contractRequired": {"qualityTiers": ["authoritative"], "enforcement": "block"}
        });
        let policies = GlobalPolicies::from_json(&document).unwrap();
        assert_eq!(serde_json::to_value(&policies).unwrap(), document);
        assert_eq!(GlobalPolicies::from_json(&json!({})).unwrap(), GlobalPolicies::default());
    }

    #[test]
    fn bad_documents_are_refused_naming_the_field() {
        let cases = [
            (json!([]), "(document)", "object"),
            (json!({"requiredMetdata": {}}), "requiredMetdata", "unknown field"),
            (json!({"requiredMetadata": {"fields": ["description"]}}), "requiredMetadata.enforcement", "required"),
            (
                json!({"requiredMetadata": {"fields": ["description", "colour"], "enforcement": "block"}}),
                "requiredMetadata.fields[1]",
                "no metadata field",
            ),
            (
                json!({"requiredMetadata": {"fields": ["tags", "tags"], "enforcement": "warn"}}),
                "requiredMetadata.fields[1]",
                "twice",
            ),
            (json!({"requiredMetadata": {"fields": "tags", "enforcement": "warn"}}), "requiredMetadata.fields", "list"),
            (
                json!({"requiredMetadata": {"fields": ["tags"], "enforcement": "strict"}}),
                "requiredMetadata.enforcement",
                "block or warn",
            ),
            (
                json!({"minimumCompatibility": {"level": "SIDEWAYS", "enforcement": "block"}}),
                "minimumCompatibility.level",
                "no compatibility level",
            ),
            (
                json!({"minimumCompatibility": {"level": "NONE", "enforcement": "block"}}),
                "minimumCompatibility.level",
                "NONE",
            ),
            (
                json!({"classification": {"restricted": [], "enforcement": "warn"}}),
                "classification.restricted",
                "no classification",
            ),
            (
                json!({"naming": {"productId": "([a-z", "enforcement": "warn"}}),
                "naming.productId",
                "regular expression",
            ),
            (json!({"naming": {"enforcement": "warn"}}), "naming", "no pattern"),
            (json!({"naming": {"topic": 3, "enforcement": "warn"}}), "naming.topic", "string"),
            (
                json!({"contractRequired": {"qualityTiers": ["gold"], "enforcement": "block"}}),
                "contractRequired.qualityTiers[0]",
                "no quality tier",
            ),
        ];
        for (document, field, reason) in cases {
            let error = refused(document.clone());
            assert_eq!(error.field, field, "{document}: {error}");
            assert!(error.reason.contains(reason), "{document}: {error}");
        }
    }

    #[test]
    fn naming_patterns_match_whole_names() {
        let pattern = compile("[a-z]+").unwrap();
        assert!(pattern.is_match("orders"));
        assert!(!pattern.is_match("orders.placed"), "a pattern is anchored at both ends");
        assert!(compile(&"a".repeat(MAX_PATTERN_CHARS + 1)).is_err());
    }
}
