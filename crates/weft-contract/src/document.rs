//! The contract document: read (bounded YAML, the standard's JSON Schema, Weft's own checks), kept as
//! read, written back, and its typed accessors.

use serde_json::Value;
use weft_yaml::{Limits, LineIndex};

use crate::check::{self, Checker};
use crate::error::{ContractError, Problem};
use crate::model::{self, Property};
use crate::{semantic, spec};

/// The largest contract read, in bytes of YAML.
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;
/// How deeply a contract's YAML may nest, aliases expanded. Each level of nested properties costs two
/// (`properties` and the property), so a contract holds at most 29 levels of nested objects: the
/// bound on every recursion over a contract's properties.
pub const MAX_DEPTH: usize = 64;
/// How many nodes a contract may expand to, aliases expanded.
pub const MAX_EXPANDED_NODES: usize = 200_000;
/// How many bytes of scalar text a contract may expand to, aliases expanded.
pub const MAX_EXPANDED_BYTES: usize = 2 * MAX_DOCUMENT_BYTES;

const LIMITS: Limits = Limits {
    max_document_bytes: MAX_DOCUMENT_BYTES,
    max_depth: MAX_DEPTH,
    max_expanded_nodes: MAX_EXPANDED_NODES,
    max_expanded_bytes: MAX_EXPANDED_BYTES,
};

/// An ODCS v3 data contract, valid against the standard's JSON Schema and Weft's own checks, kept
/// exactly as read: every member (custom properties, free-form `arguments`, servers Weft does not
/// know...) is written back by [`Contract::to_yaml`] and [`Contract::to_json`].
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    document: Value,
}

impl Contract {
    /// Reads a contract from YAML: bounded parsing (size, nesting and alias expansion refused by line),
    /// then [`Contract::from_json`]'s checks, each problem located by path and line.
    pub fn from_yaml(text: &str) -> Result<Contract, ContractError> {
        let document: Value = weft_yaml::from_str(text, &LIMITS)
            .map_err(|e| ContractError::Yaml { line: e.line(), message: yaml_message(&e) })?;
        let lines = LineIndex::new(text);
        Contract::checked(document, Some(&lines))
    }

    /// Reads a contract from its JSON form (as [`Contract::to_json`] gives it): the standard's JSON
    /// Schema, then Weft's own checks (rules naming properties that do not exist, patterns that do not
    /// compile, min > max, SQL expressions that do not compile...).
    pub fn from_json(document: Value) -> Result<Contract, ContractError> {
        Contract::checked(document, None)
    }

    fn checked(document: Value, lines: Option<&LineIndex>) -> Result<Contract, ContractError> {
        if !document.is_object() {
            return Err(ContractError::invalid(
                "",
                lines.and_then(|l| l.line("")),
                format!("a data contract is a mapping of members, found {}", kind(&document)),
            ));
        }
        let (label, schema_problems) = spec::validate(&document);
        let problems: Vec<Problem> = if schema_problems.is_empty() {
            semantic::check(&document).into_iter().map(|p| locate(&document, lines, &p.pointer, p.message)).collect()
        } else {
            schema_problems
                .into_iter()
                .map(|p| {
                    locate(&document, lines, &p.pointer, format!("{} (against the {label} JSON Schema)", p.message))
                })
                .collect()
        };
        if problems.is_empty() {
            Ok(Contract { document })
        } else {
            Err(ContractError::Invalid { problems })
        }
    }

    /// The contract as YAML: every member as read, in the standard's usual order (`apiVersion`,
    /// `kind`, `id`, `name`, `version`, `status` first; members the order does not know after the
    /// ones it does, alphabetically). Reading it back gives the same document.
    pub fn to_yaml(&self) -> String {
        crate::yaml::write(&self.document)
    }

    /// The document as read.
    pub fn to_json(&self) -> &Value {
        &self.document
    }

    /// `id` (required by the standard).
    pub fn id(&self) -> &str {
        self.str_member("id").unwrap_or_default()
    }

    /// `version` (required by the standard).
    pub fn version(&self) -> &str {
        self.str_member("version").unwrap_or_default()
    }

    /// `status` (required by the standard): `proposed`, `draft`, `active`, `deprecated`, `retired`...
    pub fn status(&self) -> &str {
        self.str_member("status").unwrap_or_default()
    }

    /// `name`, when the contract has one.
    pub fn name(&self) -> Option<&str> {
        self.str_member("name")
    }

    /// `apiVersion`: the version of the standard the contract declares (`v3.1.0`).
    pub fn api_version(&self) -> &str {
        self.str_member("apiVersion").unwrap_or_default()
    }

    /// The names of the schema objects (`schema[].name`), in order.
    pub fn objects(&self) -> Vec<&str> {
        model::objects(&self.document).into_iter().map(|o| o.name).collect()
    }

    fn str_member(&self, name: &str) -> Option<&str> {
        self.document.get(name).and_then(Value::as_str)
    }

    /// The schema object named `name`, or the only one when `name` is `None`, as the root of its
    /// properties.
    pub(crate) fn object(&self, name: Option<&str>) -> Result<Property<'_>, ContractError> {
        let objects = model::objects(&self.document);
        let names = || objects.iter().map(|o| o.name.to_string()).collect::<Vec<_>>();
        let found = match name {
            Some(name) => objects.iter().find(|o| o.name == name),
            None if objects.len() == 1 => objects.first(),
            None => return Err(ContractError::ObjectRequired { objects: names() }),
        };
        found.cloned().ok_or_else(|| ContractError::UnknownObject {
            name: name.unwrap_or_default().to_string(),
            objects: names(),
        })
    }

    /// Compiles the schema object `object` (or the only one, when `None`) into a [`Checker`] of records.
    pub fn compile(&self, object: Option<&str>) -> Result<Checker, ContractError> {
        let object = self.object(object)?;
        // A contract is checked whole when it is read, so this fails only for a document changed since.
        check::build(&object, self.custom_properties()).map_err(|problems| ContractError::Invalid {
            problems: problems.into_iter().map(|p| locate(&self.document, None, &p.pointer, p.message)).collect(),
        })
    }

    /// The contract-level `customProperties`.
    pub(crate) fn custom_properties(&self) -> Option<&Value> {
        self.document.get("customProperties")
    }
}

/// The YAML error without the position the parser puts in its text when the line is reported apart.
fn yaml_message(e: &weft_yaml::YamlError) -> String {
    match e {
        weft_yaml::YamlError::Bound { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A problem at a JSON pointer, as a display path (`schema[0].properties[1]`) and its YAML line.
fn locate(document: &Value, lines: Option<&LineIndex>, pointer: &str, message: String) -> Problem {
    Problem { path: display_path(document, pointer), line: lines.and_then(|l| l.line(pointer)), message }
}

/// `/schema/0/properties/1/name` as `schema[0].properties[1].name`: indexes in brackets where the
/// document has an array, keys dotted.
pub(crate) fn display_path(document: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut node = Some(document);
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match node {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{segment}]"));
                node = segment.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&segment);
                node = other.and_then(|n| n.get(&segment));
            }
        }
    }
    out
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
