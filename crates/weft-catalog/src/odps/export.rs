//! From a Weft product to an ODPS document the standard accepts: Weft's fields by the module's
//! table, the document's own spellings given back, and what the standard requires and Weft has no
//! value for (an input port's `contractId` and `version`) chosen by the table's rules.

use std::collections::BTreeMap;

use super::{
    prop, slugify, standard, status_of, status_word, take, version_of, OdpsDescription, OdpsDocument, OdpsInputPort,
    OdpsOutputPort, ODPS_API_VERSION,
};
use crate::model::ODPS_SPELLINGS;
use crate::model::{CustomProperty, Extensions, InputPort, Lifecycle, OutputPort, PortStatus, Product, ProductSpec};
use crate::values::SemVer;
use crate::{CatalogError, ProductId};

/// Finds the products input ports read (the catalog's state; `&|_| None` where there is none).
pub type Upstream<'a> = dyn Fn(&ProductId) -> Option<&'a Product> + 'a;

/// Removes the `odps*` spellings from a level's custom properties, returning those that are strings.
fn take_spellings(props: &mut Vec<CustomProperty>) -> BTreeMap<&'static str, String> {
    ODPS_SPELLINGS.iter().filter_map(|name| Some((*name, take(props, name)?.as_str()?.to_string()))).collect()
}

/// The output port of `upstream` an input reads: the one it names (of its pinned major version),
/// else the served port with the highest version, as the read path resolves it.
fn upstream_port<'a>(input: &InputPort, upstream: &'a Product) -> Option<&'a OutputPort> {
    upstream
        .spec
        .output_ports
        .iter()
        .filter(|o| o.status != PortStatus::Retired)
        .filter(|o| input.port.as_ref().is_none_or(|name| &o.name == name))
        .filter(|o| input.version.as_ref().is_none_or(|v| o.version.major == v.major))
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// The `contractId` of an input port without one of its own: what it reads, named stably.
fn input_reference(product: &ProductId, input: &InputPort) -> String {
    match (&input.product, &input.port, &input.topic) {
        (Some(upstream), Some(port), _) => match &input.version {
            Some(v) => format!("weft:product/{upstream}/port/{port}/v{}", v.major),
            None => format!("weft:product/{upstream}/port/{port}"),
        },
        (Some(upstream), None, _) => format!("weft:product/{upstream}"),
        (None, _, Some(topic)) => format!("weft:topic/{topic}"),
        (None, _, None) => format!("weft:product/{product}/input/{}", input.name),
    }
}

/// An input's contract id that is only its upstream port's (a document exported and imported again)
/// is that port's, not a pin of this product: it is dropped, so export keeps following the upstream.
pub(crate) fn unpin_upstream_contracts<'a>(spec: &mut ProductSpec, upstream: &Upstream<'a>) {
    for input in &mut spec.input_ports {
        let Some(product) = input.product.as_ref().and_then(upstream) else { continue };
        let theirs = upstream_port(input, product).and_then(|p| p.contract_id.as_ref());
        if theirs.is_some() && theirs == input.contract_id.as_ref() {
            input.contract_id = None;
        }
    }
}

/// The fields Weft writes itself at each level: an extension of one of these names would write the
/// field twice.
const PRODUCT_FIELDS: [&str; 11] = [
    "kind",
    "id",
    "name",
    "version",
    "status",
    "domain",
    "description",
    "tags",
    "inputPorts",
    "outputPorts",
    "customProperties",
];
const DESCRIPTION_FIELDS: [&str; 1] = ["purpose"];
const OUTPUT_PORT_FIELDS: [&str; 5] = ["name", "version", "description", "contractId", "customProperties"];
const INPUT_PORT_FIELDS: [&str; 4] = ["name", "version", "contractId", "customProperties"];

/// Moves the extensions that name a field Weft writes itself (kept by versions of Weft before it
/// wrote them) into custom properties of their level, taking a `contractId` as the port's when it
/// has none: ODPS imports of those versions kept the document's `contractId` as an extension.
fn unshadow(
    extensions: &mut Extensions,
    fields: &[&str],
    contract_id: Option<&mut Option<String>>,
    props: &mut Vec<CustomProperty>,
) {
    if let Some(contract_id) = contract_id {
        if contract_id.is_none() {
            if let Some(serde_json::Value::String(id)) = extensions.get("contractId") {
                *contract_id = Some(id.clone());
                extensions.remove("contractId");
            }
        }
    }
    for field in fields {
        if let Some(value) = extensions.remove(*field) {
            push_unique(props, field, value);
        }
    }
}

/// Refuses a spec whose ODPS document the standard would refuse (its extensions are kept verbatim,
/// so they must be the standard's, and not fields Weft writes itself), naming the field.
pub(crate) fn check_exportable(spec: &ProductSpec) -> Result<(), CatalogError> {
    let shadowing = |field: String, key: &str| CatalogError::InvalidInput {
        field,
        reason: format!("'{key}' is written by Weft from the product's own fields; set that field instead"),
    };
    let levels = [
        ("extensions", &spec.extensions, &PRODUCT_FIELDS[..]),
        ("descriptionExtensions", &spec.description_extensions, &DESCRIPTION_FIELDS[..]),
    ];
    for (at, extensions, fields) in levels {
        if let Some(key) = fields.iter().find(|f| extensions.contains_key(**f)) {
            return Err(shadowing(format!("{at}.{key}"), key));
        }
    }
    for (i, port) in spec.output_ports.iter().enumerate() {
        if let Some(key) = OUTPUT_PORT_FIELDS.iter().find(|f| port.extensions.contains_key(**f)) {
            return Err(shadowing(format!("outputPorts[{i}].extensions.{key}"), key));
        }
    }
    for (i, port) in spec.input_ports.iter().enumerate() {
        if let Some(key) = INPUT_PORT_FIELDS.iter().find(|f| port.extensions.contains_key(**f)) {
            return Err(shadowing(format!("inputPorts[{i}].extensions.{key}"), key));
        }
    }
    let product =
        Product { spec: spec.clone(), lifecycle: Lifecycle::Draft, revision: 1, created_at: 0, updated_at: 0 };
    let doc = build(&product, &|_| None);
    let value = serde_json::to_value(&doc).map_err(|e| CatalogError::Internal(e.to_string()))?;
    standard::validate(&value).map_err(|e| CatalogError::InvalidInput {
        field: standard::field_path(&e.path),
        reason: format!("the product's ODPS document would not be valid: {} (ODPS JSON Schema)", e.message),
    })
}

impl OdpsDocument {
    /// The ODPS document of a product, checked against the standard's schema. `upstream` finds the
    /// products its input ports read, for their ports' contract ids.
    ///
    /// Products recorded before the catalog checked their extensions against the standard may hold
    /// fields it has no place for, or of another shape: each is written as a custom property of its
    /// level (named after it), so the document is valid and nothing is lost.
    pub fn from_product<'a>(product: &Product, upstream: &Upstream<'a>) -> Result<Self, CatalogError> {
        let mut doc = build(product, upstream);
        // Each pass moves one field; a document has far fewer fields than this.
        for _ in 0..1000 {
            let value = serde_json::to_value(&doc).map_err(|e| CatalogError::Internal(e.to_string()))?;
            let Err(e) = standard::validate(&value) else { return Ok(doc) };
            if !move_aside(&mut doc, &e.path) {
                return Err(CatalogError::Internal(format!(
                    "the ODPS document of '{}' is not valid at {}: {}",
                    product.id(),
                    standard::field_path(&e.path),
                    e.message
                )));
            }
        }
        Err(CatalogError::Internal(format!("the ODPS document of '{}' could not be made valid", product.id())))
    }
}

/// Moves the field the schema refused at `pointer` into a custom property of its level; false when
/// that field is none Weft keeps verbatim.
fn move_aside(doc: &mut OdpsDocument, pointer: &str) -> bool {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    let index = |s: &str| s.parse::<usize>().ok();
    match segments.as_slice() {
        ["apiVersion", ..] => {
            let old = std::mem::replace(&mut doc.api_version, ODPS_API_VERSION.to_string());
            push_unique(&mut doc.custom_properties, "apiVersion", old.into());
            true
        }
        ["description", key, ..] => {
            let Some(value) = doc.description.as_mut().and_then(|d| d.extensions.remove(*key)) else { return false };
            push_unique(&mut doc.custom_properties, &format!("description.{key}"), value);
            true
        }
        ["outputPorts", i, rest @ ..] => match doc.output_ports.get_mut(index(i).unwrap_or(usize::MAX)) {
            Some(port) => move_from(&mut port.extensions, &mut port.custom_properties, rest),
            None => false,
        },
        ["inputPorts", i, rest @ ..] => match doc.input_ports.get_mut(index(i).unwrap_or(usize::MAX)) {
            Some(port) => move_from(&mut port.extensions, &mut port.custom_properties, rest),
            None => false,
        },
        rest => move_from(&mut doc.extensions, &mut doc.custom_properties, rest),
    }
}

/// Moves `key` (the first of `rest`) from a level's extensions to its custom properties; or, for
/// `customProperties/N/KEY`, a custom property's extension to a custom property `NAME.KEY` beside it.
fn move_from(extensions: &mut crate::model::Extensions, props: &mut Vec<CustomProperty>, rest: &[&str]) -> bool {
    match rest {
        ["customProperties", i, key, ..] => {
            let Some(p) = i.parse::<usize>().ok().and_then(|i| props.get_mut(i)) else { return false };
            let Some(value) = p.extensions.remove(*key) else { return false };
            let name = format!("{}.{key}", p.property);
            push_unique(props, &name, value);
            true
        }
        [key, ..] => match extensions.remove(*key) {
            Some(value) => {
                push_unique(props, key, value);
                true
            }
            None => false,
        },
        [] => false,
    }
}

/// Appends a custom property, suffixing its name (`NAME~2`...) if the level has one of that name.
fn push_unique(props: &mut Vec<CustomProperty>, name: &str, value: serde_json::Value) {
    let taken = |n: &str| props.iter().any(|p| p.property == n);
    let name = if taken(name) {
        (2..).map(|n| format!("{name}~{n}")).find(|n| !taken(n)).unwrap_or_else(|| name.to_string())
    } else {
        name.to_string()
    };
    props.push(prop(&name, value));
}

/// The document, by the module's table (not yet checked against the schema).
fn build<'a>(product: &Product, upstream: &Upstream<'a>) -> OdpsDocument {
    let spec = &product.spec;
    let mut extensions = spec.extensions.clone();
    let api_version = match extensions.remove("apiVersion") {
        Some(serde_json::Value::String(v)) => v,
        _ => ODPS_API_VERSION.to_string(),
    };
    let mut description_extensions = spec.description_extensions.clone();
    let mut shadowed = Vec::new();
    unshadow(&mut extensions, &PRODUCT_FIELDS, None, &mut shadowed);
    let mut description_shadowed = Vec::new();
    unshadow(&mut description_extensions, &DESCRIPTION_FIELDS, None, &mut description_shadowed);
    shadowed.extend(description_shadowed.into_iter().map(|mut p| {
        p.property = format!("description.{}", p.property);
        p
    }));
    let mut own = spec.custom_properties.clone();
    let mut spelled = take_spellings(&mut own);
    // Each spelling is written back while it still stands for Weft's value.
    let odps_id = spelled.remove("odpsId").filter(|id| !id.is_empty());
    let odps_domain = spelled.remove("odpsDomain").filter(|d| slugify(d, "domain") == spec.id.domain().as_str());
    let odps_status = spelled.remove("odpsStatus").filter(|s| status_of(s).0 == product.status());
    let odps_version = spelled.remove("odpsVersion").filter(|v| version_of(v) == spec.version);

    let id = odps_id.unwrap_or_else(|| spec.id.to_string());
    let mut props = Vec::new();
    if id != spec.id.as_str() {
        props.push(prop("weftId", spec.id.as_str()));
    }
    props.push(prop("owner", spec.owner.as_str()));
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
    if let Lifecycle::Deprecated { reason, sunset, successor } = &product.lifecycle {
        props.push(prop("deprecationReason", reason.as_str()));
        props.push(prop("sunsetDate", sunset.to_string()));
        if let Some(s) = successor {
            props.push(prop("successor", s.as_str()));
        }
    }
    props.extend(own);
    for p in shadowed {
        push_unique(&mut props, &p.property, p.value);
    }
    let description = (!spec.description.is_empty() || !description_extensions.is_empty()).then(|| OdpsDescription {
        purpose: (!spec.description.is_empty()).then(|| spec.description.clone()),
        extensions: description_extensions,
    });
    OdpsDocument {
        api_version,
        kind: "DataProduct".into(),
        id,
        name: Some(spec.name.clone()),
        version: Some(odps_version.unwrap_or_else(|| spec.version.to_string())),
        status: odps_status.unwrap_or_else(|| status_word(product.status()).to_string()),
        domain: Some(odps_domain.unwrap_or_else(|| spec.id.domain().to_string())),
        description,
        tags: spec.tags.clone(),
        input_ports: spec.input_ports.iter().map(|p| input_port(&spec.id, p, upstream)).collect(),
        output_ports: spec.output_ports.iter().map(output_port).collect(),
        custom_properties: props,
        extensions,
    }
}

/// A port's name and version as the document spelled them, while they still stand for Weft's
/// (a name Weft told apart from another begins with the document's).
fn port_spellings(props: &mut Vec<CustomProperty>, name: &str, version: Option<&SemVer>) -> (String, Option<String>) {
    let mut spelled = take_spellings(props);
    let name = spelled
        .remove("odpsName")
        .filter(|n| n.trim().is_empty() || name.starts_with(n.as_str()))
        .unwrap_or_else(|| name.to_string());
    let version =
        version.map(|v| spelled.remove("odpsVersion").filter(|s| version_of(s) == *v).unwrap_or_else(|| v.to_string()));
    (name, version)
}

fn output_port(p: &OutputPort) -> OdpsOutputPort {
    let mut own = p.custom_properties.clone();
    let (name, version) = port_spellings(&mut own, &p.name, Some(&p.version));
    let mut props = vec![
        prop("topic", p.topic.as_str()),
        prop("schemaSubject", p.schema_subject.as_str()),
        prop("format", p.format.as_str()),
    ];
    match p.status {
        PortStatus::Active => {}
        PortStatus::Deprecated => props.push(prop("portStatus", "deprecated")),
        PortStatus::Retired => props.push(prop("portStatus", "retired")),
    }
    props.extend(own);
    let (mut extensions, mut contract_id) = (p.extensions.clone(), p.contract_id.clone());
    unshadow(&mut extensions, &OUTPUT_PORT_FIELDS, Some(&mut contract_id), &mut props);
    OdpsOutputPort {
        name,
        version: version.unwrap_or_else(|| p.version.to_string()),
        description: (!p.description.is_empty()).then(|| p.description.clone()),
        contract_id,
        custom_properties: props,
        extensions,
    }
}

fn input_port<'a>(product: &ProductId, p: &InputPort, upstream: &Upstream<'a>) -> OdpsInputPort {
    let mut own = p.custom_properties.clone();
    let (name, version) = port_spellings(&mut own, &p.name, p.version.as_ref());
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
    props.extend(own);
    let (mut extensions, mut contract_id) = (p.extensions.clone(), p.contract_id.clone());
    unshadow(&mut extensions, &INPUT_PORT_FIELDS, Some(&mut contract_id), &mut props);
    let contract_id = contract_id
        .or_else(|| {
            let up = upstream(p.product.as_ref()?)?;
            upstream_port(p, up)?.contract_id.clone()
        })
        .unwrap_or_else(|| input_reference(product, p));
    OdpsInputPort {
        name,
        version: version.unwrap_or_else(|| "latest".to_string()),
        contract_id,
        custom_properties: props,
        extensions,
    }
}
