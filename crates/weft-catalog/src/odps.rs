//! Data products as Open Data Product Standard (ODPS, Bitol) YAML documents: any document the
//! standard accepts is imported, every product exports to a document the standard accepts, and
//! nothing is lost on the way.
//!
//! # The standard
//! The standard's own JSON Schema (ODPS v1.0.0, the newest v1.x release, vendored unchanged in
//! `spec/odps-json-schema-v1.0.0.json`) is the judge both ways, through `weft-schema`'s validator
//! ([`standard`]): [`parse`] refuses a document the schema refuses, with the line, the field and why;
//! [`ProductSpec::validate`] refuses a spec whose document the schema would refuse (so the catalog
//! holds no product it cannot export); [`OdpsDocument::from_product`] checks what it writes.
//!
//! # Mapping
//! | Weft | ODPS |
//! |---|---|
//! | `id` (`DOMAIN.NAME`) | `id` when it is a Weft id in its `domain`; otherwise see *Ids* below |
//! | domain (the id's first part) | `domain` |
//! | `name`, `version`, `tags` | `name` (absent: the id's name part), `version` (absent: `1.0.0`), `tags` (blank and repeated tags are dropped, noted) |
//! | lifecycle | `status`: `draft`, `active` (Weft's *published*), `deprecated`, `retired`; on import, case aside, also `proposed` (a draft) and `published`; any other word is a draft (noted) |
//! | deprecation reason, sunset, successor | `customProperties` `deprecationReason`, `sunsetDate`, `successor`; a `deprecated` document without them gets a reason saying so and today as sunset (noted), and a product already deprecated keeps its own |
//! | `description` | `description.purpose` (`usage`, `limitations`... kept as extensions) |
//! | `owner` | `customProperties` `owner`; on import, else the `team` member whose role is `owner`, else the team's name, else its first member, else whoever imports (noted) |
//! | `documentation` (markdown), `qualityTier`, `slaTier`, `freshnessObjective` | `customProperties` of the same names |
//! | output port `name`, `version`, `description` | the same fields of an `outputPorts` entry |
//! | output port `contractId` (the ODCS contract its records keep) | its `contractId`; a contract attached to the port in the mesh's governance store ([`AttachedContracts`]) is written over it, and not stored again on import |
//! | output port `topic`, `schemaSubject`, `format`, `status` | its `customProperties` `topic`, `schemaSubject`, `format`, `portStatus`; a port without them is served from topic `ID.PORT.vMAJOR` (`PORT` a slug of its name), subject `TOPIC-value`, format `json` (noted) |
//! | input port `name`, `version` | the same fields of an `inputPorts` entry; `version: latest` when the input follows whatever its upstream serves |
//! | input port `contractId` | its `contractId` when it names one; else the upstream output port's `contractId`; else a reference to what is read: `weft:product/UPSTREAM/port/PORT[/vMAJOR]`, `weft:product/UPSTREAM`, `weft:topic/TOPIC`, or `weft:product/ID/input/NAME` for an external source (references are recomputed, not stored, on import) |
//! | input port `product`, `port` (the upstream Weft product), `topic` (a bare topic) | its `customProperties` `product`, `port`, `topic` |
//! | other custom properties | `customProperties`, after Weft's own, in their order |
//! | the standard's other fields (`apiVersion`, `tenant`, `team`, `support`, `managementPorts`, `authoritativeDefinitions`, `productCreatedTs`; ports' `type`, `tags`, `sbom`, `inputContracts`, `authoritativeDefinitions`...) | kept verbatim at their level |
//!
//! # What Weft holds differently
//! Where Weft cannot hold a field's value as written, it holds its own and keeps the document's in a
//! custom property, which export writes back into the field as long as it still stands for Weft's
//! value (and never as a custom property): `odpsId`, `odpsDomain`, `odpsStatus`, `odpsVersion` on the
//! product, `odpsName`, `odpsVersion` on ports ([`ODPS_SPELLINGS`]). Versions that are not
//! `MAJOR.MINOR.PATCH` are read as Weft reads them (`v2.1.0` as 2.1.0, `2` as 2.0.0, `2.1` as 2.1.0,
//! anything else as 1.0.0). Ports of one name and major version, and input ports of one name, are
//! told apart as `NAME@VERSION` (input ports of one name with versions 1.0.0 and 2.0.0 are the
//! standard's own example). Every such choice is returned as a [`MappingNote`].
//!
//! # Ids
//! A document's `id` is the product's id when it is `DOMAIN.NAME` and agrees with `domain`. Otherwise
//! (a UUID, say) the product is the one the caller names ([`ImportContext::product`]), else the one
//! the document's `customProperties` `weftId` names (export writes it whenever the two ids differ),
//! else `DOMAIN.NAME` from slugs of `domain` (or, for a document without one, the domain the caller
//! names: [`ImportContext::domain`]) and of `name` (else of `id`). The document's `id` is kept as
//! `odpsId`, so export gives it back; a slug that lands on a product holding another document's id is
//! refused rather than overwriting it.
//!
//! # What is still refused
//! A document the standard's schema refuses; Weft's own custom properties (the names above) with
//! values Weft cannot read; duplicate custom property names at one level; Weft's size limits
//! (names 200 characters, tags 64, description 10,000 bytes, the bounds below). Governance applies
//! as to any change (the domain must exist, publishing needs its requirements, a lifecycle only
//! moves forward): those are the catalog's refusals, not the document's.
//!
//! Everything else survives import -> export -> import unchanged (values may be re-ordered: Weft's
//! custom properties come first, unknown keys are sorted; empty lists and objects are not written).
//!
//! # Bounds
//! A document is untrusted input (`POST /api/v1/products:apply`): it is read by `weft-yaml`, which
//! refuses, at the line where the total crosses the limit, a document whose expansion (aliases
//! replaced by what they repeat) exceeds [`MAX_EXPANDED_NODES`] nodes, [`MAX_EXPANDED_BYTES`] bytes
//! of scalars or [`MAX_DEPTH`] levels of nesting, before anything is built.

use serde::{Deserialize, Serialize};

use crate::model::{CustomProperty, Extensions, Lifecycle, ProductSpec, Status};
use crate::values::{IsoDate, SemVer};
use crate::{CatalogError, DomainName, ProductId};

mod export;
mod import;
pub mod standard;

pub use crate::model::ODPS_SPELLINGS;
pub use export::Upstream;
pub(crate) use export::{check_exportable, unpin_upstream_contracts};

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

/// An ODPS document, with the fields Weft maps typed and the standard's other fields kept at their level.
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
    pub status: String,
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
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
    #[serde(flatten)]
    pub extensions: Extensions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdpsInputPort {
    pub name: String,
    pub version: String,
    pub contract_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_properties: Vec<CustomProperty>,
    #[serde(flatten)]
    pub extensions: Extensions,
}

/// Something import chose or kept because the document did not say it in Weft's terms: a value
/// chosen, a spelling kept, a field dropped. Returned with the product, so callers can show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingNote {
    /// The document's field, as a path (`id`, `outputPorts[1]`, `inputPorts[0].version`).
    pub field: String,
    pub message: String,
}

/// Where a document goes when it does not say so in Weft's terms (see *Ids*).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The product the document is for (`PUT /api/v1/products/{id}/odps`).
    pub product: Option<ProductId>,
    /// The domain of a document that names none.
    pub domain: Option<DomainName>,
}

/// What applying a document did: the product as it now is, what the mapping noted, and the
/// product's revision before (`None`: the document created it).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub product: crate::Product,
    pub notes: Vec<MappingNote>,
    pub previous_revision: Option<u64>,
}

/// The data contract attached to a product's output port (by product and port name) outside the
/// catalog: the mesh's governance store, which enforces it. On export it is the port's `contractId`
/// (over one the port's spec names); on import a `contractId` equal to it is not stored again.
pub type AttachedContracts<'a> = dyn Fn(&ProductId, &str) -> Option<String> + 'a;

/// `product` with the contracts attached to its output ports as their contract ids.
pub fn with_attached(product: &crate::Product, attached: &AttachedContracts) -> crate::Product {
    let mut product = product.clone();
    let id = product.spec.id.clone();
    for port in &mut product.spec.output_ports {
        if let Some(contract) = attached(&id, &port.name) {
            port.contract_id = Some(contract);
        }
    }
    product
}

/// What import needs beyond the document, for what the document leaves open.
#[derive(Debug, Clone)]
pub struct ImportContext<'a> {
    /// The product the document is sent to (`PUT /api/v1/products/{id}/odps`): the document's own
    /// Weft id, if it names one, must be this one.
    pub product: Option<&'a ProductId>,
    /// The domain of a document that names none and whose `id` is not a Weft id.
    pub domain: Option<&'a DomainName>,
    /// Who imports: the owner of a document that names none.
    pub actor: &'a str,
    /// The sunset date of a deprecated document that gives none.
    pub today: IsoDate,
}

/// The product a document describes, in Weft's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub spec: ProductSpec,
    /// The lifecycle the document's `status` asks for.
    pub lifecycle: Lifecycle,
    /// The document is deprecated without Weft's deprecation details: `lifecycle` holds defaults,
    /// which a product already deprecated does not take (it keeps its own).
    pub default_deprecation: bool,
    /// The id was made from slugs (see *Ids*): it must not land on a product holding another document.
    pub slug_id: bool,
    pub notes: Vec<MappingNote>,
}

/// Reads an ODPS YAML document, refusing one the standard's JSON Schema refuses (with its line).
pub fn parse(yaml: &str) -> Result<OdpsDocument, CatalogError> {
    let value: serde_json::Value =
        weft_yaml::from_str(yaml, &LIMITS).map_err(|e| CatalogError::InvalidOdps(e.to_string()))?;
    standard::check_document(yaml, &value)?;
    // The schema has just accepted it, so every typed field has the shape it asks for.
    serde_json::from_value(value).map_err(|e| CatalogError::InvalidOdps(e.to_string()))
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

/// A slug (see `ids`) made of any text: lowercase ASCII letters and digits kept, `_` kept, anything
/// else one `-`, trimmed to 63 characters, `prefix-` in front when it does not start with a letter.
fn slugify(text: &str, prefix: &str) -> String {
    let mut slug = String::new();
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' | '_' => slug.push(c),
            _ if !slug.ends_with('-') => slug.push('-'),
            _ => {}
        }
    }
    let mut slug = slug.trim_matches(['-', '_']).to_string();
    if !slug.starts_with(|c: char| c.is_ascii_lowercase()) {
        slug = if slug.is_empty() { prefix.to_string() } else { format!("{prefix}-{slug}") };
    }
    slug.truncate(63);
    slug.trim_end_matches(['-', '_']).to_string()
}

/// A version as Weft reads an ODPS one: a semantic version (a leading `v` or `V` dropped), or
/// `MAJOR` or `MAJOR.MINOR` completed with zeros; anything else is not read.
fn read_version(text: &str) -> Option<SemVer> {
    let bare = text.trim().strip_prefix(['v', 'V']).unwrap_or(text.trim());
    if let Ok(v) = SemVer::parse(bare) {
        return Some(v);
    }
    let mut numbers = bare.split('.').map(|n| n.parse::<u64>().ok().filter(|_| n.bytes().all(|b| b.is_ascii_digit())));
    match (numbers.next().flatten(), numbers.next(), numbers.next()) {
        (Some(major), None, None) => Some(SemVer::new(major, 0, 0)),
        (Some(major), Some(Some(minor)), None) => Some(SemVer::new(major, minor, 0)),
        _ => None,
    }
}

/// The version an ODPS version stands for in Weft: [`read_version`], else 1.0.0.
fn version_of(text: &str) -> SemVer {
    read_version(text).unwrap_or_default()
}

/// The status a document's `status` word stands for, and whether Weft knows the word.
fn status_of(word: &str) -> (Status, bool) {
    match word.trim().to_ascii_lowercase().as_str() {
        "draft" | "proposed" => (Status::Draft, true),
        "active" | "published" => (Status::Published, true),
        "deprecated" => (Status::Deprecated, true),
        "retired" => (Status::Retired, true),
        _ => (Status::Draft, false),
    }
}

/// The word export writes for a status.
fn status_word(status: Status) -> &'static str {
    match status {
        Status::Draft => "draft",
        Status::Published => "active",
        Status::Deprecated => "deprecated",
        Status::Retired => "retired",
    }
}

/// The prefixes of the contract references export makes for inputs without a contract id.
const CONTRACT_REFERENCES: [&str; 2] = ["weft:product/", "weft:topic/"];
