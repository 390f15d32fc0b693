//! Data products as Open Data Product Standard (ODPS, Bitol) YAML documents, imported and exported
//! without losing fields.
//!
//! # Mapping
//! | Weft | ODPS |
//! |---|---|
//! | `id` (`domain.name`) | `id` |
//! | `name`, `version`, `tags` | `name`, `version`, `tags` |
//! | domain (the id's first part) | `domain` (must agree with the id on import) |
//! | lifecycle | `status`: `draft`, `active` (Weft's *published*; `published` is accepted on import), `deprecated`, `retired` |
//! | deprecation reason, sunset, successor | `customProperties` `deprecationReason`, `sunsetDate`, `successor` |
//! | `description` | `description.purpose` (`usage`, `limitations`... are kept as extensions) |
//! | `owner` | `customProperties` `owner`; on import, else the first `team` member whose role is `owner` |
//! | `documentation` (markdown), `qualityTier`, `slaTier`, `freshnessObjective` | `customProperties` of the same names |
//! | output port `name`, `version`, `description` | the same fields of an `outputPorts` entry |
//! | output port `topic`, `schemaSubject`, `format`, `status` | its `customProperties` `topic`, `schemaSubject`, `format`, `portStatus` |
//! | input port `name`, `version` | the same fields of an `inputPorts` entry |
//! | input port `product`, `port` (the upstream Weft product), `topic` (a bare topic) | its `customProperties` `product`, `port`, `topic` |
//! | other custom properties | `customProperties`, after Weft's own, in their order |
//! | anything else (`apiVersion`, `tenant`, `team`, `support`, `contractId`, `sbom`, unknown fields...) | kept verbatim at its level |
//!
//! A missing `version` imports as `1.0.0`, a port's as `1.0.0`; a leading `v` on versions is dropped.
//! Everything else survives import -> export -> import unchanged (values may be re-ordered: Weft's
//! custom properties come first, unknown keys are sorted).
//!
//! # Bounds
//! A document is untrusted input (`POST /api/v1/products:apply`): it is read by `weft-yaml`, which
//! refuses, at the line where the total crosses the limit, a document whose expansion (aliases
//! replaced by what they repeat) exceeds [`MAX_EXPANDED_NODES`] nodes, [`MAX_EXPANDED_BYTES`] bytes
//! of scalars or [`MAX_DEPTH`] levels of nesting, before anything is built.

use serde::{Deserialize, Serialize};

use crate::model::{CustomProperty, Extensions, InputPort, Lifecycle, OutputPort, PortStatus, Product, ProductSpec};
use crate::values::{Format, Freshness, IsoDate, QualityTier, SemVer, SlaTier};
use crate::{CatalogError, ProductId};

/// The ODPS version Weft writes when a product did not come with one.
pub const ODPS_API_VERSION: &str = "v1.0.0";
/// The largest document [`parse`] reads.
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;
/// How deeply collections may nest, aliases expanded (ODPS itself nests about six levels).
pub const MAX_DEPTH: usize = 32;
/// How many nodes (scalars, sequences, mappings) a document may expand to, aliases expanded.
pub const MAX_EXPANDED_NODES: usize = 200_000;
/// How many bytes of scalar text a document may expand to, aliases expanded.
pub const MAX_EXPANDED_BYTES: usize = 2 * MAX_DOCUMENT_BYTES;

const LIMITS: weft_yaml::Limits = weft_yaml::Limits {
    max_document_bytes: MAX_DOCUMENT_BYTES,
    max_depth: MAX_DEPTH,
    max_expanded_nodes: MAX_EXPANDED_NODES,
    max_expanded_bytes: MAX_EXPANDED_BYTES,
};

/// An ODPS document, with the fields Weft maps typed and every other field kept at its level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdpsDocument {
    pub api_version: String,
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<OdpsDescription>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_ports: Vec<OdpsInputPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_ports: Vec<OdpsOutputPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
    #[serde(flatten)]
    pub extensions: Extensions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OdpsDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(flatten)]
    pub extensions: Extensions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdpsOutputPort {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
    #[serde(flatten)]
    pub extensions: Extensions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdpsInputPort {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
    #[serde(flatten)]
    pub extensions: Extensions,
}

/// Reads an ODPS YAML document.
pub fn parse(yaml: &str) -> Result<OdpsDocument, CatalogError> {
    weft_yaml::from_str(yaml, &LIMITS).map_err(|e| CatalogError::InvalidOdps(e.to_string()))
}

/// Writes an ODPS document as YAML.
pub fn to_yaml(doc: &OdpsDocument) -> Result<String, CatalogError> {
    serde_saphyr::to_string(doc).map_err(|e| CatalogError::Internal(format!("cannot write ODPS YAML: {e}")))
}

fn odps_err(what: impl std::fmt::Display) -> CatalogError {
    CatalogError::InvalidOdps(what.to_string())
}

/// Removes the custom property `name` from `props` and returns its value.
fn take(props: &mut Vec<CustomProperty>, name: &str) -> Option<serde_json::Value> {
    let i = props.iter().position(|p| p.property == name)?;
    Some(props.remove(i).value)
}

fn take_string(props: &mut Vec<CustomProperty>, name: &str, at: &str) -> Result<Option<String>, CatalogError> {
    match take(props, name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(odps_err(format!("{at}customProperties '{name}' must be a string, not {other}"))),
    }
}

fn prop(name: &str, value: impl Into<serde_json::Value>) -> CustomProperty {
    CustomProperty { property: name.to_string(), value: value.into(), description: None, extensions: Extensions::new() }
}

fn contextual<T>(at: &str, r: Result<T, CatalogError>) -> Result<T, CatalogError> {
    r.map_err(|e| odps_err(format!("{at}{e}")))
}

/// The owner from an ODPS `team`: a list of members (ODPS v1.0) or an object with `members` (v1.1).
fn team_owner(team: Option<&serde_json::Value>) -> Option<String> {
    let members = match team? {
        serde_json::Value::Array(members) => members,
        serde_json::Value::Object(o) => o.get("members")?.as_array()?,
        _ => return None,
    };
    members.iter().find_map(|m| {
        let role = m.get("role")?.as_str()?;
        if role.eq_ignore_ascii_case("owner") {
            m.get("username").or_else(|| m.get("name"))?.as_str().map(str::to_string)
        } else {
            None
        }
    })
}

impl OdpsDocument {
    /// The Weft product this document describes: its spec and the lifecycle its `status` asks for.
    pub fn to_product(&self) -> Result<(ProductSpec, Lifecycle), CatalogError> {
        if self.kind != "DataProduct" {
            return Err(odps_err(format!("kind is '{}'; an ODPS data product has kind DataProduct", self.kind)));
        }
        let id = ProductId::parse(&self.id).map_err(|e| {
            odps_err(format!("id: {e} (Weft identifies products as DOMAIN.NAME; put that in the id field)"))
        })?;
        if let Some(domain) = &self.domain {
            if domain != id.domain().as_str() {
                return Err(odps_err(format!(
                    "domain is '{domain}' but the id '{id}' places the product in domain '{}'",
                    id.domain()
                )));
            }
        }
        let mut props = self.custom_properties.clone();
        let mut extensions = self.extensions.clone();
        if self.api_version != ODPS_API_VERSION {
            extensions.insert("apiVersion".into(), self.api_version.clone().into());
        }
        let owner = match take_string(&mut props, "owner", "")? {
            Some(owner) => owner,
            None => team_owner(self.extensions.get("team")).ok_or_else(|| {
                odps_err("the product has no owner: add a customProperties entry 'owner', or a team member with role 'owner'")
            })?,
        };
        let parse_prop = |props: &mut Vec<CustomProperty>, name: &str| take_string(props, name, "");
        let quality_tier = parse_prop(&mut props, "qualityTier")?
            .map(|s| contextual("customProperties qualityTier: ", s.parse::<QualityTier>()))
            .transpose()?;
        let sla_tier = parse_prop(&mut props, "slaTier")?
            .map(|s| contextual("customProperties slaTier: ", s.parse::<SlaTier>()))
            .transpose()?;
        let freshness_objective = parse_prop(&mut props, "freshnessObjective")?
            .map(|s| contextual("customProperties freshnessObjective: ", Freshness::parse(&s)))
            .transpose()?;
        let documentation = parse_prop(&mut props, "documentation")?.unwrap_or_default();
        let reason = parse_prop(&mut props, "deprecationReason")?;
        let sunset = parse_prop(&mut props, "sunsetDate")?;
        let successor = parse_prop(&mut props, "successor")?;
        let status = self.status.as_deref().unwrap_or("draft");
        let lifecycle = match status {
            "draft" => Lifecycle::Draft,
            "active" | "published" => Lifecycle::Published,
            "retired" => Lifecycle::Retired,
            "deprecated" => {
                let reason = reason.clone().ok_or_else(|| {
                    odps_err("status is deprecated: add customProperties 'deprecationReason' (why) and 'sunsetDate' (YYYY-MM-DD)")
                })?;
                let sunset = sunset.clone().ok_or_else(|| {
                    odps_err("status is deprecated: add customProperties 'sunsetDate' (YYYY-MM-DD, when it stops being served)")
                })?;
                let sunset = contextual("customProperties sunsetDate: ", IsoDate::parse(&sunset))?;
                let successor = successor
                    .clone()
                    .map(|s| contextual("customProperties successor: ", ProductId::parse(&s)))
                    .transpose()?;
                Lifecycle::Deprecated { reason, sunset, successor }
            }
            other => {
                return Err(odps_err(format!(
                    "status '{other}' is not one Weft knows: use draft, active (or published), deprecated or retired"
                )))
            }
        };
        if !matches!(lifecycle, Lifecycle::Deprecated { .. })
            && (reason.is_some() || sunset.is_some() || successor.is_some())
        {
            return Err(odps_err(format!(
                "customProperties deprecationReason, sunsetDate and successor only apply to status deprecated, and the status is {status}"
            )));
        }
        let version = match &self.version {
            Some(v) => contextual("version: ", SemVer::parse(v))?,
            None => SemVer::default(),
        };
        let (description, description_extensions) = match &self.description {
            Some(d) => (d.purpose.clone().unwrap_or_default(), d.extensions.clone()),
            None => (String::new(), Extensions::new()),
        };
        let mut output_ports = Vec::with_capacity(self.output_ports.len());
        for (i, port) in self.output_ports.iter().enumerate() {
            let at = format!("outputPorts[{i}] ({}): ", port.name);
            let mut props = port.custom_properties.clone();
            let mut required = |name: &str| -> Result<String, CatalogError> {
                take_string(&mut props, name, &at)?
                    .ok_or_else(|| odps_err(format!("{at}add customProperties '{name}' (Weft serves an output port from a topic with a registered schema: topic, schemaSubject, format)")))
            };
            let topic = required("topic")?;
            let schema_subject = required("schemaSubject")?;
            let format = contextual(&at, required("format")?.parse::<Format>())?;
            let status = match take_string(&mut props, "portStatus", &at)?.as_deref() {
                None | Some("active") => PortStatus::Active,
                Some("deprecated") => PortStatus::Deprecated,
                Some("retired") => PortStatus::Retired,
                Some(other) => {
                    return Err(odps_err(format!("{at}portStatus '{other}' is not one of active, deprecated, retired")))
                }
            };
            let version = match &port.version {
                Some(v) => contextual(&at, SemVer::parse(v))?,
                None => SemVer::default(),
            };
            output_ports.push(OutputPort {
                name: port.name.clone(),
                version,
                description: port.description.clone().unwrap_or_default(),
                topic,
                schema_subject,
                format,
                status,
                custom_properties: props,
                extensions: port.extensions.clone(),
            });
        }
        let mut input_ports = Vec::with_capacity(self.input_ports.len());
        for (i, port) in self.input_ports.iter().enumerate() {
            let at = format!("inputPorts[{i}] ({}): ", port.name);
            let mut props = port.custom_properties.clone();
            let product =
                take_string(&mut props, "product", &at)?.map(|p| contextual(&at, ProductId::parse(&p))).transpose()?;
            let upstream_port = take_string(&mut props, "port", &at)?;
            let topic = take_string(&mut props, "topic", &at)?;
            let version = port.version.as_deref().map(|v| contextual(&at, SemVer::parse(v))).transpose()?;
            input_ports.push(InputPort {
                name: port.name.clone(),
                product,
                port: upstream_port,
                version,
                topic,
                custom_properties: props,
                extensions: port.extensions.clone(),
            });
        }
        let spec = ProductSpec {
            name: self.name.clone().unwrap_or_else(|| id.local_name().to_string()),
            id,
            owner,
            description,
            documentation,
            quality_tier,
            sla_tier,
            freshness_objective,
            tags: self.tags.clone(),
            version,
            output_ports,
            input_ports,
            custom_properties: props,
            extensions,
            description_extensions,
        };
        spec.validate().map_err(|e| odps_err(e.to_string()))?;
        Ok((spec, lifecycle))
    }

    /// The ODPS document of a product.
    pub fn from_product(product: &Product) -> Self {
        let spec = &product.spec;
        let mut extensions = spec.extensions.clone();
        let api_version = match extensions.remove("apiVersion") {
            Some(serde_json::Value::String(v)) => v,
            _ => ODPS_API_VERSION.to_string(),
        };
        let mut props = vec![prop("owner", spec.owner.as_str())];
        if !spec.documentation.is_empty() {
            props.push(prop("documentation", spec.documentation.as_str()));
        }
        if let Some(q) = spec.quality_tier {
            props.push(prop("qualityTier", q.as_str()));
        }
        if let Some(s) = spec.sla_tier {
            props.push(prop("slaTier", s.as_str()));
        }
        if let Some(f) = spec.freshness_objective {
            props.push(prop("freshnessObjective", f.to_string()));
        }
        let status = match &product.lifecycle {
            Lifecycle::Draft => "draft",
            Lifecycle::Published => "active",
            Lifecycle::Retired => "retired",
            Lifecycle::Deprecated { reason, sunset, successor } => {
                props.push(prop("deprecationReason", reason.as_str()));
                props.push(prop("sunsetDate", sunset.to_string()));
                if let Some(s) = successor {
                    props.push(prop("successor", s.as_str()));
                }
                "deprecated"
            }
        };
        props.extend(spec.custom_properties.iter().cloned());
        let description =
            (!spec.description.is_empty() || !spec.description_extensions.is_empty()).then(|| OdpsDescription {
                purpose: (!spec.description.is_empty()).then(|| spec.description.clone()),
                extensions: spec.description_extensions.clone(),
            });
        let output_ports = spec
            .output_ports
            .iter()
            .map(|p| {
                let mut props = vec![
                    prop("topic", p.topic.as_str()),
                    prop("schemaSubject", p.schema_subject.as_str()),
                    prop("format", p.format.as_str()),
                ];
                let status = match p.status {
                    PortStatus::Active => None,
                    PortStatus::Deprecated => Some("deprecated"),
                    PortStatus::Retired => Some("retired"),
                };
                if let Some(s) = status {
                    props.push(prop("portStatus", s));
                }
                props.extend(p.custom_properties.iter().cloned());
                OdpsOutputPort {
                    name: p.name.clone(),
                    version: Some(p.version.to_string()),
                    description: (!p.description.is_empty()).then(|| p.description.clone()),
                    custom_properties: props,
                    extensions: p.extensions.clone(),
                }
            })
            .collect();
        let input_ports = spec
            .input_ports
            .iter()
            .map(|p| {
                let mut props = Vec::new();
                if let Some(product) = &p.product {
                    props.push(prop("product", product.as_str()));
                }
                if let Some(port) = &p.port {
                    props.push(prop("port", port.as_str()));
                }
                if let Some(topic) = &p.topic {
                    props.push(prop("topic", topic.as_str()));
                }
                props.extend(p.custom_properties.iter().cloned());
                OdpsInputPort {
                    name: p.name.clone(),
                    version: p.version.as_ref().map(SemVer::to_string),
                    custom_properties: props,
                    extensions: p.extensions.clone(),
                }
            })
            .collect();
        OdpsDocument {
            api_version,
            kind: "DataProduct".into(),
            id: spec.id.to_string(),
            name: Some(spec.name.clone()),
            version: Some(spec.version.to_string()),
            status: Some(status.into()),
            domain: Some(spec.id.domain().to_string()),
            description,
            tags: spec.tags.clone(),
            input_ports,
            output_ports,
            custom_properties: props,
            extensions,
        }
    }
}
