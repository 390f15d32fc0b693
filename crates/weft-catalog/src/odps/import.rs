//! From an ODPS document to a Weft product: what the document says in Weft's terms is read, what it
//! says otherwise is mapped by the rules of the module's table and noted.

use std::collections::BTreeSet;

use super::{
    contextual, odps_err, prop, read_version, slugify, status_of, status_word, take, take_string, version_of,
    ImportContext, Imported, MappingNote, OdpsDocument, OdpsInputPort, OdpsOutputPort, CONTRACT_REFERENCES,
    ODPS_API_VERSION,
};
use crate::model::ODPS_SPELLINGS;
use crate::model::{CustomProperty, Extensions, InputPort, Lifecycle, OutputPort, PortStatus, ProductSpec, Status};
use crate::values::{Format, Freshness, IsoDate, QualityTier, SemVer, SlaTier};
use crate::{CatalogError, DomainName, ProductId};

/// The notes of one import.
#[derive(Default)]
struct Notes(Vec<MappingNote>);

impl Notes {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(MappingNote { field: field.into(), message: message.into() });
    }
}

/// Removes the document's own `odps*` custom properties: Weft writes those from the fields.
fn drop_spellings(props: &mut Vec<CustomProperty>, at: &str, notes: &mut Notes) {
    for name in ODPS_SPELLINGS {
        if take(props, name).is_some() {
            notes.add(
                format!("{at}customProperties"),
                format!("'{name}' dropped: Weft keeps it itself, from the document's fields"),
            );
        }
    }
}

/// The owner from an ODPS `team` (an object with `members`; ODPS v0.9 drafts wrote a list of
/// members): the member whose role is owner, else the team's name, else its first member.
fn team_owner(team: Option<&serde_json::Value>) -> Option<(String, &'static str)> {
    let team = team?;
    let members = match team {
        serde_json::Value::Array(members) => members.as_slice(),
        serde_json::Value::Object(o) => o.get("members").and_then(|m| m.as_array()).map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    fn username(m: &serde_json::Value) -> Option<&str> {
        m.get("username").or_else(|| m.get("name")).and_then(|u| u.as_str()).filter(|u| !u.trim().is_empty())
    }
    let owner = members
        .iter()
        .find(|m| m.get("role").and_then(|r| r.as_str()).is_some_and(|r| r.trim().eq_ignore_ascii_case("owner")));
    if let Some(owner) = owner.and_then(username) {
        return Some((owner.to_string(), "the team member whose role is owner"));
    }
    if let Some(name) = team.get("name").and_then(|n| n.as_str()).filter(|n| !n.trim().is_empty()) {
        return Some((name.to_string(), "the team's name (no member has the role owner)"));
    }
    members.iter().find_map(username).map(|u| (u.to_string(), "the team's first member (no member has the role owner)"))
}

/// A name for the `index`th port whose own is blank, or that repeats one taken (`NAME@VERSION`).
fn distinct_name(name: &str, version: &str, kind: &str, index: usize, taken: impl Fn(&str) -> bool) -> String {
    let base = if name.trim().is_empty() { format!("{kind}-{}", index + 1) } else { name.to_string() };
    if !taken(&base) {
        return base;
    }
    let with_version = format!("{base}@{version}");
    if !taken(&with_version) {
        return with_version;
    }
    (2..).map(|n| format!("{with_version}#{n}")).find(|candidate| !taken(candidate)).unwrap_or(with_version)
}

impl OdpsDocument {
    /// The Weft product this document describes: its spec, the lifecycle its `status` asks for, and
    /// notes on what was mapped. Refuses only what the module's *What is still refused* lists.
    pub fn to_product(&self, cx: &ImportContext) -> Result<Imported, CatalogError> {
        let mut notes = Notes::default();
        let mut props = self.custom_properties.clone();
        drop_spellings(&mut props, "", &mut notes);
        // What Weft holds differently from the document, in the fixed order export reads them.
        let mut spellings = Vec::new();

        let (id, slug_id) = self.product_id(&mut props, cx, &mut notes)?;
        if self.id != id.as_str() {
            spellings.push(prop("odpsId", self.id.as_str()));
        }
        if let Some(domain) = &self.domain {
            if domain != id.domain().as_str() {
                if slugify(domain, "domain") != id.domain().as_str() {
                    return Err(odps_err(format!(
                        "domain is '{domain}' but product '{id}' is in domain '{}'",
                        id.domain()
                    )));
                }
                notes.add("domain", format!("'{domain}' is domain '{}' in Weft; the document's spelling is kept (customProperties odpsDomain)", id.domain()));
                spellings.push(prop("odpsDomain", domain.as_str()));
            }
        }

        let (status, known) = status_of(&self.status);
        if !known {
            notes.add(
                "status",
                format!("'{}' is not a status Weft knows (draft, proposed, active, deprecated, retired): the product is a draft", self.status),
            );
        }
        if self.status != status_word(status) {
            if known {
                notes.add(
                    "status",
                    format!(
                        "'{}' is {} in Weft; the document's word is kept (customProperties odpsStatus)",
                        self.status,
                        status.as_str()
                    ),
                );
            }
            spellings.push(prop("odpsStatus", self.status.as_str()));
        }

        let version = match &self.version {
            None => SemVer::default(),
            Some(text) => {
                let version = version_of(text);
                if read_version(text).is_none() {
                    notes.add("version", format!("'{text}' is not a version Weft reads: the product is at {version}; the document's is kept (customProperties odpsVersion)"));
                } else if *text != version.to_string() && text.trim_start_matches(['v', 'V']) != version.to_string() {
                    notes.add("version", format!("'{text}' is {version} in Weft; the document's spelling is kept (customProperties odpsVersion)"));
                }
                if *text != version.to_string() {
                    spellings.push(prop("odpsVersion", text.as_str()));
                }
                version
            }
        };

        let owner = match take_string(&mut props, "owner", "")?.filter(|o| !o.trim().is_empty()) {
            Some(owner) => owner,
            None => match team_owner(self.extensions.get("team")) {
                Some((owner, how)) => {
                    notes.add("team", format!("the owner is '{owner}', {how}"));
                    owner
                }
                None => {
                    notes.add(
                        "customProperties",
                        format!("the document names no owner (customProperties owner, or a team member whose role is owner): the owner is '{}', who imported it", cx.actor),
                    );
                    cx.actor.to_string()
                }
            },
        };
        let quality_tier = take_string(&mut props, "qualityTier", "")?
            .map(|s| contextual("customProperties qualityTier: ", s.parse::<QualityTier>()))
            .transpose()?;
        let sla_tier = take_string(&mut props, "slaTier", "")?
            .map(|s| contextual("customProperties slaTier: ", s.parse::<SlaTier>()))
            .transpose()?;
        let freshness_objective = take_string(&mut props, "freshnessObjective", "")?
            .map(|s| contextual("customProperties freshnessObjective: ", Freshness::parse(&s)))
            .transpose()?;
        let documentation = take_string(&mut props, "documentation", "")?.unwrap_or_default();
        let (lifecycle, default_deprecation) = self.lifecycle(status, &mut props, cx, &mut notes)?;

        let (description, description_extensions) = match &self.description {
            Some(d) => (d.purpose.clone().unwrap_or_default(), d.extensions.clone()),
            None => (String::new(), Extensions::new()),
        };
        let mut tags = Vec::new();
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.trim().is_empty() {
                notes.add(format!("tags[{i}]"), "a blank tag is dropped");
            } else if tags.contains(tag) {
                notes.add(format!("tags[{i}]"), format!("tag '{tag}' is listed before: dropped"));
            } else {
                tags.push(tag.clone());
            }
        }
        let mut output_ports: Vec<OutputPort> = Vec::with_capacity(self.output_ports.len());
        for (i, port) in self.output_ports.iter().enumerate() {
            let mapped = output_port(&id, i, port, &output_ports, &mut notes)?;
            output_ports.push(mapped);
        }
        let mut input_ports: Vec<InputPort> = Vec::with_capacity(self.input_ports.len());
        for (i, port) in self.input_ports.iter().enumerate() {
            let mapped = input_port(i, port, &input_ports, &mut notes)?;
            input_ports.push(mapped);
        }
        let mut extensions = self.extensions.clone();
        if self.api_version != ODPS_API_VERSION {
            extensions.insert("apiVersion".into(), self.api_version.clone().into());
        }
        spellings.extend(props);
        let spec = ProductSpec {
            name: match &self.name {
                Some(name) if !name.trim().is_empty() => name.clone(),
                _ => id.local_name().to_string(),
            },
            id,
            owner,
            description,
            documentation,
            quality_tier,
            sla_tier,
            freshness_objective,
            tags,
            version,
            output_ports,
            input_ports,
            custom_properties: spellings,
            extensions,
            description_extensions,
        };
        spec.validate().map_err(|e| odps_err(e.to_string()))?;
        Ok(Imported { spec, lifecycle, default_deprecation, slug_id, notes: notes.0 })
    }

    /// The product's id (see the module's *Ids*), and whether it was made from slugs.
    fn product_id(
        &self,
        props: &mut Vec<CustomProperty>,
        cx: &ImportContext,
        notes: &mut Notes,
    ) -> Result<(ProductId, bool), CatalogError> {
        let weft_id = take_string(props, "weftId", "")?
            .map(|s| contextual("customProperties weftId: ", ProductId::parse(&s)))
            .transpose()?;
        let own = ProductId::parse(&self.id)
            .ok()
            .filter(|id| self.domain.as_deref().is_none_or(|d| slugify(d, "domain") == id.domain().as_str()));
        let named = weft_id.or(own);
        if let Some(target) = cx.product {
            return match named {
                Some(named) if &named != target => Err(odps_err(format!(
                    "the document describes product '{named}' but was sent to product '{target}'"
                ))),
                Some(_) => Ok((target.clone(), false)),
                None => {
                    notes.add("id", format!("'{}' is not a Weft product id: the product is '{target}', the one it was sent to; its id is kept (customProperties odpsId)", self.id));
                    Ok((target.clone(), false))
                }
            };
        }
        if let Some(named) = named {
            return Ok((named, false));
        }
        let domain = match (&self.domain, cx.domain) {
            (Some(domain), Some(chosen)) if slugify(domain, "domain") != chosen.as_str() => {
                return Err(odps_err(format!(
                    "domain is '{domain}', not the domain '{chosen}' the document was sent to"
                )))
            }
            (Some(domain), _) => DomainName::parse(&slugify(domain, "domain"))?,
            (None, Some(chosen)) => chosen.clone(),
            (None, None) => {
                return Err(odps_err(format!(
                    "the document names no domain and its id '{}' is not a Weft product id (DOMAIN.NAME): add a domain, or name the domain or the product it is for",
                    self.id
                )))
            }
        };
        let (source, from) = match &self.name {
            Some(name) if !slugify(name, "").is_empty() => (name, "name"),
            _ => (&self.id, "id"),
        };
        let id = ProductId::new(&domain, &slugify(source, "product"))?;
        notes.add(
            "id",
            format!("'{}' is not a Weft product id (DOMAIN.NAME): the product is '{id}', from the domain and the {from}; its id is kept (customProperties odpsId)", self.id),
        );
        Ok((id, true))
    }

    /// The lifecycle `status` asks for, with its deprecation details, and whether they are defaults.
    fn lifecycle(
        &self,
        status: Status,
        props: &mut Vec<CustomProperty>,
        cx: &ImportContext,
        notes: &mut Notes,
    ) -> Result<(Lifecycle, bool), CatalogError> {
        let reason = take_string(props, "deprecationReason", "")?;
        let sunset = take_string(props, "sunsetDate", "")?
            .map(|s| contextual("customProperties sunsetDate: ", IsoDate::parse(&s)))
            .transpose()?;
        let successor = take_string(props, "successor", "")?
            .map(|s| contextual("customProperties successor: ", ProductId::parse(&s)))
            .transpose()?;
        let lifecycle = match status {
            Status::Draft => Lifecycle::Draft,
            Status::Published => Lifecycle::Published,
            Status::Retired => Lifecycle::Retired,
            Status::Deprecated => {
                let defaulted = reason.is_none() || sunset.is_none();
                let reason = reason.clone().unwrap_or_else(|| {
                    notes.add("customProperties", "status is deprecated without customProperties deprecationReason: the reason says the document gives none");
                    "deprecated in its ODPS document, which gives no reason".to_string()
                });
                let sunset = sunset.unwrap_or_else(|| {
                    notes.add("customProperties", format!("status is deprecated without customProperties sunsetDate: the sunset date is today, {}, as no later one was promised (a product already deprecated keeps its own)", cx.today));
                    cx.today
                });
                return Ok((Lifecycle::Deprecated { reason, sunset, successor }, defaulted));
            }
        };
        if reason.is_some() || sunset.is_some() || successor.is_some() {
            notes.add(
                "customProperties",
                format!("deprecationReason, sunsetDate and successor only apply to status deprecated, and the status is {}: dropped", self.status),
            );
        }
        Ok((lifecycle, false))
    }
}

fn output_port(
    id: &ProductId,
    i: usize,
    port: &OdpsOutputPort,
    before: &[OutputPort],
    notes: &mut Notes,
) -> Result<OutputPort, CatalogError> {
    let at = format!("outputPorts[{i}] ({}): ", port.name);
    let field = format!("outputPorts[{i}]");
    let mut props = port.custom_properties.clone();
    drop_spellings(&mut props, &format!("{field}."), notes);
    let mut spellings = Vec::new();
    let version = version_of(&port.version);
    if read_version(&port.version).is_none() {
        notes.add(
            format!("{field}.version"),
            format!("'{}' is not a version Weft reads: the port is at {version}", port.version),
        );
    }
    let name = distinct_name(&port.name, &port.version, "output", i, |name| {
        before.iter().any(|p| p.name == name && p.version.major == version.major)
    });
    if name != port.name {
        notes.add(
            format!("{field}.name"),
            format!("the port is named '{name}': a port is its name and major version, and '{}' (major {}) is blank or taken", port.name, version.major),
        );
        spellings.push(prop("odpsName", port.name.as_str()));
    }
    if port.version != version.to_string() {
        spellings.push(prop("odpsVersion", port.version.as_str()));
    }
    let mut chosen = Vec::new();
    let topic = match take_string(&mut props, "topic", &at)? {
        Some(topic) => topic,
        None => {
            let topic = format!("{id}.{}.v{}", slugify(&name, "port"), version.major);
            chosen.push(format!("topic '{topic}'"));
            topic
        }
    };
    let schema_subject = match take_string(&mut props, "schemaSubject", &at)? {
        Some(subject) => subject,
        None => {
            let subject = format!("{topic}-value");
            chosen.push(format!("schema subject '{subject}'"));
            subject
        }
    };
    let format = match take_string(&mut props, "format", &at)? {
        Some(format) => contextual(&at, format.parse::<Format>())?,
        None => {
            chosen.push("format json".to_string());
            Format::Json
        }
    };
    if !chosen.is_empty() {
        notes.add(
            field.as_str(),
            format!("Weft serves an output port from a topic with a registered schema; this one has none in customProperties topic, schemaSubject, format, so it gets {}", chosen.join(", ")),
        );
    }
    let status = match take_string(&mut props, "portStatus", &at)?.as_deref() {
        None | Some("active") => PortStatus::Active,
        Some("deprecated") => PortStatus::Deprecated,
        Some("retired") => PortStatus::Retired,
        Some(other) => {
            return Err(odps_err(format!("{at}portStatus '{other}' is not one of active, deprecated, retired")))
        }
    };
    spellings.extend(props);
    Ok(OutputPort {
        name,
        version,
        description: port.description.clone().unwrap_or_default(),
        topic,
        schema_subject,
        format,
        status,
        contract_id: port.contract_id.clone(),
        custom_properties: spellings,
        extensions: port.extensions.clone(),
    })
}

fn input_port(
    i: usize,
    port: &OdpsInputPort,
    before: &[InputPort],
    notes: &mut Notes,
) -> Result<InputPort, CatalogError> {
    let at = format!("inputPorts[{i}] ({}): ", port.name);
    let field = format!("inputPorts[{i}]");
    let mut props = port.custom_properties.clone();
    drop_spellings(&mut props, &format!("{field}."), notes);
    let mut spellings = Vec::new();
    let taken: BTreeSet<&str> = before.iter().map(|p| p.name.as_str()).collect();
    let name = distinct_name(&port.name, &port.version, "input", i, |name| taken.contains(name));
    if name != port.name {
        notes.add(
            format!("{field}.name"),
            format!(
                "the input is named '{name}': Weft tells inputs apart by name, and '{}' is blank or taken",
                port.name
            ),
        );
        spellings.push(prop("odpsName", port.name.as_str()));
    }
    // `latest` is how export says that the input follows whatever its upstream serves.
    let version = match port.version.as_str() {
        "latest" => None,
        text => {
            let version = version_of(text);
            if read_version(text).is_none() {
                notes.add(
                    format!("{field}.version"),
                    format!("'{text}' is not a version Weft reads: the input is pinned to {version}"),
                );
            }
            if text != version.to_string() {
                spellings.push(prop("odpsVersion", text));
            }
            Some(version)
        }
    };
    let product =
        take_string(&mut props, "product", &at)?.map(|p| contextual(&at, ProductId::parse(&p))).transpose()?;
    let upstream_port = take_string(&mut props, "port", &at)?;
    let topic = take_string(&mut props, "topic", &at)?;
    let contract_id =
        Some(port.contract_id.clone()).filter(|c| !CONTRACT_REFERENCES.iter().any(|prefix| c.starts_with(prefix)));
    spellings.extend(props);
    Ok(InputPort {
        name,
        product,
        port: upstream_port,
        version,
        topic,
        contract_id,
        custom_properties: spellings,
        extensions: port.extensions.clone(),
    })
}
