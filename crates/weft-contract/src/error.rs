//! The crate's one error type, and the located problems of a refused contract.

use serde::Serialize;

/// One reason a contract is refused: where (a path such as `schema[0].properties[2].logicalType` and,
/// when the contract came as YAML, its line) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// The element the problem is about, `schema[0].properties[1].name`; empty for the document itself.
    pub path: String,
    /// The line of the YAML text it was written on (1-based), when read from YAML.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Everything this crate refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContractError {
    /// The text is not YAML, or exceeds the bounds on untrusted YAML (size, nesting, alias expansion).
    #[error("invalid data contract YAML: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Yaml { line: Option<usize>, message: String },
    /// The document is not a valid ODCS contract (against the standard's JSON Schema) or fails Weft's
    /// own checks (rules naming properties that do not exist, patterns that do not compile, min > max...).
    #[error("invalid data contract: {}", summary(problems))]
    Invalid { problems: Vec<Problem> },
    /// A schema object was named that the contract does not have.
    #[error("the contract has no schema object '{name}' (it has: {})", list(objects))]
    UnknownObject { name: String, objects: Vec<String> },
    /// No object was named, and the contract does not have exactly one.
    #[error("the contract has {} schema objects ({}): name the one to use", objects.len(), list(objects))]
    ObjectRequired { objects: Vec<String> },
}

impl ContractError {
    /// A refusal with one problem.
    pub(crate) fn invalid(path: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> ContractError {
        ContractError::Invalid { problems: vec![Problem { path: path.into(), line, message: message.into() }] }
    }
}

fn summary(problems: &[Problem]) -> String {
    const SHOWN: usize = 5;
    let mut text = problems.iter().take(SHOWN).map(Problem::to_string).collect::<Vec<_>>().join("; ");
    if problems.len() > SHOWN {
        text.push_str(&format!("; and {} more", problems.len() - SHOWN));
    }
    text
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
