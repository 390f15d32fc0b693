//! Domains and data products: what the catalog holds, and the validation of what callers send.
//!
//! A product is its [`ProductSpec`] (everything its owners edit) plus what the catalog manages: its
//! [`Lifecycle`], revision and timestamps. Every spec is validated by [`ProductSpec::validate`] before any
//! event is written, so the log only ever holds valid products.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::values::{Format, Freshness, IsoDate, QualityTier, SemVer, SlaTier};
use crate::{CatalogError, DomainName, ProductId};

/// Unknown fields kept verbatim (ODPS extensions, fields of newer ODPS versions) so round trips are lossless.
pub type Extensions = BTreeMap<String, serde_json::Value>;

const MAX_SHORT_TEXT: usize = 200;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_DOCUMENTATION: usize = 1 << 20;
const MAX_TAG: usize = 64;

/// A member's role in a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Manages the domain and its products.
    Owner,
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user: String,
    pub role: Role,
}

/// What a caller sends to create or replace a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainSpec {
    pub name: DomainName,
    #[serde(default)]
    pub description: String,
    /// The team that owns the domain.
    pub owning_team: String,
    /// How to reach the domain (an e-mail address, a chat channel...).
    #[serde(default)]
    pub contact: String,
    /// At least one member is an owner.
    pub members: Vec<Member>,
}

/// A domain as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Domain {
    pub spec: DomainSpec,
    /// Starts at 1 and grows by one with every change.
    pub revision: u64,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl Domain {
    pub fn name(&self) -> &DomainName {
        &self.spec.name
    }

    /// The role of `user` in this domain, if a member.
    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.spec.members.iter().find(|m| m.user == user).map(|m| m.role)
    }
}

impl DomainSpec {
    pub fn validate(&self) -> Result<(), CatalogError> {
        short_text("owningTeam", &self.owning_team, true)?;
        short_text("contact", &self.contact, false)?;
        long_text("description", &self.description, MAX_DESCRIPTION)?;
        let mut users = BTreeSet::new();
        for (i, m) in self.members.iter().enumerate() {
            short_text(&format!("members[{i}].user"), &m.user, true)?;
            if !users.insert(m.user.as_str()) {
                return Err(CatalogError::invalid(
                    format!("members[{i}].user"),
                    format!("'{}' is listed twice", m.user),
                ));
            }
        }
        if !self.members.iter().any(|m| m.role == Role::Owner) {
            return Err(CatalogError::invalid("members", "a domain needs at least one member with the role 'owner'"));
        }
        Ok(())
    }
}

/// Where a product is in its life. The data each state needs travels with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Lifecycle {
    /// Being prepared; invisible to governance checks, freely editable.
    Draft,
    /// Discoverable and consumable; changes must not break consumers.
    Published,
    /// Still served, but consumers should move away before `sunset`.
    Deprecated {
        reason: String,
        sunset: IsoDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        successor: Option<ProductId>,
    },
    /// No longer served; read-only, and the only state from which a product may be deleted.
    Retired,
}

impl Lifecycle {
    pub fn status(&self) -> Status {
        match self {
            Lifecycle::Draft => Status::Draft,
            Lifecycle::Published => Status::Published,
            Lifecycle::Deprecated { .. } => Status::Deprecated,
            Lifecycle::Retired => Status::Retired,
        }
    }
}

/// The status of a product without its data (for filters and facets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    Draft,
    Published,
    Deprecated,
    Retired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Published => "published",
            Status::Deprecated => "deprecated",
            Status::Retired => "retired",
        }
    }

    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        match value {
            "draft" => Ok(Status::Draft),
            "published" => Ok(Status::Published),
            "deprecated" => Ok(Status::Deprecated),
            "retired" => Ok(Status::Retired),
            _ => Err(CatalogError::invalid(
                "status",
                format!("'{value}' is not one of draft, published, deprecated, retired"),
            )),
        }
    }
}

/// The state of one output port. It only moves forward: active, deprecated, retired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PortStatus {
    #[default]
    Active,
    /// Still served; consumers should move to a newer major version of the port.
    Deprecated,
    /// No longer served; may be removed from the product.
    Retired,
}

/// A stream the product publishes: a topic, the schema subject of its records and their format.
/// `(name, version.major)` identifies a port; a breaking schema change is a new port with a new major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutputPort {
    pub name: String,
    pub version: SemVer,
    #[serde(default)]
    pub description: String,
    pub topic: String,
    pub schema_subject: String,
    pub format: Format,
    #[serde(default)]
    pub status: PortStatus,
    /// The id of the data contract (ODCS) the port's records keep: ODPS's `contractId`. Contracts are
    /// referenced by id only; what a contract holds lives with the contracts, not in the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub extensions: Extensions,
}

/// Something the product is derived from. `product` names an upstream Weft product (a lineage edge);
/// `None` means an external source the catalog does not know, which `topic` may name (a topic of the
/// log no product publishes, e.g. the input of a streaming query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InputPort {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductId>,
    /// The upstream product's output port name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<SemVer>,
    /// The topic read, for an input that is not a Weft product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The data contract this input expects, when it names one (ODPS's `contractId`); without it, the
    /// ODPS export names the upstream port's contract or a reference to what is read (see `odps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub extensions: Extensions,
}

/// An ODPS custom property: a named value of any JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomProperty {
    pub property: String,
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other members of the property, kept verbatim (an object's schema admits them already).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extensions: Extensions,
}

/// Everything a product's owners edit. Create and update both take a whole spec (replace semantics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductSpec {
    pub id: ProductId,
    /// The display name.
    pub name: String,
    /// The accountable person or team.
    pub owner: String,
    #[serde(default)]
    pub description: String,
    /// Markdown.
    #[serde(default)]
    pub documentation: String,
    #[serde(default)]
    pub quality_tier: Option<QualityTier>,
    #[serde(default)]
    pub sla_tier: Option<SlaTier>,
    #[serde(default)]
    pub freshness_objective: Option<Freshness>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub version: SemVer,
    #[serde(default)]
    pub output_ports: Vec<OutputPort>,
    #[serde(default)]
    pub input_ports: Vec<InputPort>,
    #[serde(default)]
    pub custom_properties: Vec<CustomProperty>,
    /// Unknown top-level ODPS fields, kept verbatim.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub extensions: Extensions,
    /// Unknown fields of the ODPS `description` object (`usage`, `limitations`...), kept verbatim.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub description_extensions: Extensions,
}

/// A data product as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    pub spec: ProductSpec,
    pub lifecycle: Lifecycle,
    /// Starts at 1 and grows by one with every change (spec or lifecycle).
    pub revision: u64,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl Product {
    pub fn id(&self) -> &ProductId {
        &self.spec.id
    }

    pub fn status(&self) -> Status {
        self.lifecycle.status()
    }

    /// The upstream Weft products this one is derived from (deduplicated, sorted).
    pub fn upstream_ids(&self) -> BTreeSet<ProductId> {
        self.spec.input_ports.iter().filter_map(|p| p.product.clone()).collect()
    }
}

/// Custom-property names Weft writes itself in ODPS documents (see the `odps` module), which a spec may
/// therefore not use for its own properties.
pub const RESERVED_PRODUCT_PROPERTIES: [&str; 9] = [
    "weftId",
    "owner",
    "documentation",
    "qualityTier",
    "slaTier",
    "freshnessObjective",
    "deprecationReason",
    "sunsetDate",
    "successor",
];
pub const RESERVED_OUTPUT_PORT_PROPERTIES: [&str; 4] = ["topic", "schemaSubject", "format", "portStatus"];
pub const RESERVED_INPUT_PORT_PROPERTIES: [&str; 3] = ["product", "port", "topic"];
/// Custom-property names in which Weft keeps an ODPS document's own spelling of a field it holds
/// differently (a UUID id, a `v1.0` version, a `proposed` status...); export writes them back into
/// their fields (see the `odps` module). Their values are strings.
pub const ODPS_SPELLINGS: [&str; 5] = ["odpsId", "odpsDomain", "odpsStatus", "odpsVersion", "odpsName"];

fn short_text(field: &str, value: &str, required: bool) -> Result<(), CatalogError> {
    if required && value.trim().is_empty() {
        return Err(CatalogError::invalid(field, "it is required and may not be blank"));
    }
    if value.chars().count() > MAX_SHORT_TEXT {
        return Err(CatalogError::invalid(field, format!("it is longer than {MAX_SHORT_TEXT} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(CatalogError::invalid(field, "control characters (such as newlines) are not allowed"));
    }
    Ok(())
}

fn long_text(field: &str, value: &str, max_bytes: usize) -> Result<(), CatalogError> {
    if value.len() > max_bytes {
        return Err(CatalogError::invalid(
            field,
            format!("it is {} bytes long; the limit is {max_bytes}", value.len()),
        ));
    }
    Ok(())
}

fn custom_properties(field: &str, props: &[CustomProperty], reserved: &[&str]) -> Result<(), CatalogError> {
    let mut seen = BTreeSet::new();
    for (i, p) in props.iter().enumerate() {
        let f = format!("{field}[{i}].property");
        short_text(&f, &p.property, true)?;
        if reserved.contains(&p.property.as_str()) {
            return Err(CatalogError::invalid(
                f,
                format!(
                    "'{}' is reserved by Weft; set the product field instead (reserved: {})",
                    p.property,
                    reserved.join(", ")
                ),
            ));
        }
        if !seen.insert(p.property.as_str()) {
            return Err(CatalogError::invalid(f, format!("'{}' is listed twice", p.property)));
        }
        if ODPS_SPELLINGS.contains(&p.property.as_str()) && !p.value.is_string() {
            return Err(CatalogError::invalid(
                format!("{field}[{i}].value"),
                format!("'{}' holds the ODPS document's own spelling of a field: a string", p.property),
            ));
        }
    }
    Ok(())
}

impl ProductSpec {
    /// A minimal draft spec: the fields every product has.
    pub fn new(id: ProductId, name: impl Into<String>, owner: impl Into<String>) -> Self {
        ProductSpec {
            id,
            name: name.into(),
            owner: owner.into(),
            description: String::new(),
            documentation: String::new(),
            quality_tier: None,
            sla_tier: None,
            freshness_objective: None,
            tags: Vec::new(),
            version: SemVer::default(),
            output_ports: Vec::new(),
            input_ports: Vec::new(),
            custom_properties: Vec::new(),
            extensions: Extensions::new(),
            description_extensions: Extensions::new(),
        }
    }

    /// Checks every field on its own (cross-entity rules, such as inputs existing, are the catalog's),
    /// and that the product's ODPS document would be one the standard accepts.
    pub fn validate(&self) -> Result<(), CatalogError> {
        short_text("name", &self.name, true)?;
        short_text("owner", &self.owner, true)?;
        long_text("description", &self.description, MAX_DESCRIPTION)?;
        long_text("documentation", &self.documentation, MAX_DOCUMENTATION)?;
        let mut tags = BTreeSet::new();
        for (i, tag) in self.tags.iter().enumerate() {
            let field = format!("tags[{i}]");
            short_text(&field, tag, true)?;
            if tag.chars().count() > MAX_TAG {
                return Err(CatalogError::invalid(field, format!("a tag is at most {MAX_TAG} characters")));
            }
            if !tags.insert(tag.as_str()) {
                return Err(CatalogError::invalid(field, format!("tag '{tag}' is listed twice")));
            }
        }
        let mut ports = BTreeSet::new();
        for (i, port) in self.output_ports.iter().enumerate() {
            let field = |f: &str| format!("outputPorts[{i}].{f}");
            short_text(&field("name"), &port.name, true)?;
            short_text(&field("description"), &port.description, false)?;
            if !ports.insert((port.name.as_str(), port.version.major)) {
                return Err(CatalogError::invalid(
                    field("version"),
                    format!("output port '{}' already has a major version {}", port.name, port.version.major),
                ));
            }
            weft_log::validate_topic_name(&port.topic)
                .map_err(|e| CatalogError::invalid(field("topic"), e.to_string()))?;
            short_text(&field("schemaSubject"), &port.schema_subject, true)?;
            custom_properties(&field("customProperties"), &port.custom_properties, &RESERVED_OUTPUT_PORT_PROPERTIES)?;
        }
        let mut inputs = BTreeSet::new();
        for (i, port) in self.input_ports.iter().enumerate() {
            let field = |f: &str| format!("inputPorts[{i}].{f}");
            short_text(&field("name"), &port.name, true)?;
            if !inputs.insert(port.name.as_str()) {
                return Err(CatalogError::invalid(
                    field("name"),
                    format!("input port '{}' is listed twice", port.name),
                ));
            }
            if let Some(p) = &port.port {
                short_text(&field("port"), p, true)?;
            }
            if let Some(topic) = &port.topic {
                if port.product.is_some() {
                    return Err(CatalogError::invalid(
                        field("topic"),
                        "an input port names either an upstream product or a topic, not both",
                    ));
                }
                weft_log::validate_topic_name(topic)
                    .map_err(|e| CatalogError::invalid(field("topic"), e.to_string()))?;
            }
            custom_properties(&field("customProperties"), &port.custom_properties, &RESERVED_INPUT_PORT_PROPERTIES)?;
        }
        custom_properties("customProperties", &self.custom_properties, &RESERVED_PRODUCT_PROPERTIES)?;
        // The standard's other fields are kept verbatim as extensions: they must be what it allows.
        crate::odps::check_exportable(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ProductSpec {
        ProductSpec::new(ProductId::parse("orders.events").unwrap(), "Order events", "alice")
    }

    fn port(name: &str, major: u64) -> OutputPort {
        OutputPort {
            name: name.into(),
            version: SemVer::new(major, 0, 0),
            description: String::new(),
            topic: format!("orders.{name}.v{major}"),
            schema_subject: format!("orders.{name}-value"),
            format: Format::Avro,
            status: PortStatus::Active,
            contract_id: None,
            custom_properties: vec![],
            extensions: Extensions::new(),
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = spec();
        s.owner = " ".into();
        assert_eq!(s.validate().unwrap_err().to_string(), "invalid owner: it is required and may not be blank");

        let mut s = spec();
        s.tags = vec!["a".into(), "a".into()];
        assert_eq!(s.validate().unwrap_err().to_string(), "invalid tags[1]: tag 'a' is listed twice");

        let mut s = spec();
        s.output_ports = vec![port("events", 1), port("events", 1)];
        assert!(s.validate().unwrap_err().to_string().starts_with("invalid outputPorts[1].version"));

        let mut s = spec();
        let mut p = port("events", 1);
        p.topic = "bad topic".into();
        s.output_ports = vec![p];
        assert!(s.validate().unwrap_err().to_string().starts_with("invalid outputPorts[0].topic"));

        let mut s = spec();
        s.custom_properties = vec![CustomProperty {
            property: "owner".into(),
            value: "x".into(),
            description: None,
            extensions: Extensions::new(),
        }];
        assert!(s.validate().unwrap_err().to_string().contains("'owner' is reserved by Weft"));

        let mut s = spec();
        s.name = "two\nlines".into();
        assert!(s.validate().unwrap_err().to_string().contains("control characters"));
    }

    #[test]
    fn domain_needs_an_owner() {
        let d = DomainSpec {
            name: DomainName::parse("orders").unwrap(),
            description: String::new(),
            owning_team: "team-orders".into(),
            contact: String::new(),
            members: vec![Member { user: "bob".into(), role: Role::Member }],
        };
        assert!(d.validate().unwrap_err().to_string().contains("at least one member with the role 'owner'"));
    }

    #[test]
    fn lifecycle_serializes_with_its_data() {
        let l = Lifecycle::Deprecated {
            reason: "replaced".into(),
            sunset: IsoDate::parse("2030-01-01").unwrap(),
            successor: Some(ProductId::parse("orders.events2").unwrap()),
        };
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json["status"], "deprecated");
        assert_eq!(json["sunset"], "2030-01-01");
        assert_eq!(serde_json::from_value::<Lifecycle>(json).unwrap(), l);
    }
}
