//! Untrusted YAML, read within bounds: the one place Weft turns YAML text into values.
//!
//! Documents such as ODPS products (`weft-catalog`) and ODCS contracts (`weft-contract`) arrive over
//! the API, and YAML's aliases let a few kilobytes stand for gigabytes ("billion laughs"). Before
//! anything is built, one streaming pass over the parser's events ([`check_bounds`]) counts what the
//! document *expands* to, each alias charged the nodes, bytes and depth of what it repeats: more than
//! [`Limits::max_expanded_nodes`] nodes, [`Limits::max_expanded_bytes`] bytes of scalars or
//! [`Limits::max_depth`] levels of nesting is refused at the line where the total crosses the limit.
//! The pass keeps one counter per anchor and stops at the first breach, so it is linear in the
//! document and bounded in memory. The deserializer (serde-saphyr) then runs with the same limits as
//! its own budget, as a second line of defence.
//!
//! Scalars are read as YAML 1.2 (as serde_yaml read them): `yes` and `0755` stay strings, `<<` is an
//! ordinary key.
//!
//! [`LineIndex`] maps JSON pointers into the document to the lines they were written on, so that a
//! problem found in the value (by a JSON Schema, by semantic checks) can name its line.
//!
//! **Architecture Invariant:** this crate depends on nothing of ours and knows no document kind.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde_saphyr::granit_parser::{ErrorKind, Event, Parser};

/// How much a document may hold. Each reader of YAML chooses its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest document read, in bytes of text.
    pub max_document_bytes: usize,
    /// How deeply collections may nest, aliases expanded.
    pub max_depth: usize,
    /// How many nodes (scalars, sequences, mappings) a document may expand to, aliases expanded.
    pub max_expanded_nodes: usize,
    /// How many bytes of scalar text a document may expand to, aliases expanded.
    pub max_expanded_bytes: usize,
}

/// Why a YAML text was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// The text is longer than [`Limits::max_document_bytes`].
    #[error("the document is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    /// The document expands beyond a limit; `line` is where the total crossed it (1-based).
    #[error("line {line}: {message}")]
    Bound { line: usize, message: String },
    /// Not YAML, or not of the shape asked for; the message is the parser's and names the position.
    #[error("{message}")]
    Syntax { line: Option<usize>, message: String },
}

impl YamlError {
    /// The line the error is about, when known (1-based).
    pub fn line(&self) -> Option<usize> {
        match self {
            YamlError::TooLarge { .. } => None,
            YamlError::Bound { line, .. } => Some(*line),
            YamlError::Syntax { line, .. } => *line,
        }
    }
}

/// Reads a YAML document into `T` within `limits`: the size first, then [`check_bounds`], then the
/// deserializer with the same limits as its budget.
pub fn from_str<T: DeserializeOwned>(yaml: &str, limits: &Limits) -> Result<T, YamlError> {
    if yaml.len() > limits.max_document_bytes {
        return Err(YamlError::TooLarge { size: yaml.len(), limit: limits.max_document_bytes });
    }
    check_bounds(yaml, limits)?;
    serde_saphyr::from_str_with_options(yaml, options(limits)).map_err(|e| YamlError::Syntax {
        line: e.location().map(|l| l.line() as usize).filter(|l| *l > 0),
        message: e.to_string(),
    })
}

/// The deserializer's options: YAML 1.2 scalars as serde_yaml read them (so that documents
/// imported before keep their values: `yes` and `0755` stay strings, `<<` is an ordinary key), and
/// `limits` as its budget.
pub fn options(limits: &Limits) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    budget.max_nodes = limits.max_expanded_nodes;
    budget.max_total_scalar_bytes = limits.max_expanded_bytes;
    // Expansion is counted in total (check_bounds), which bounds it; a ratio of aliases to anchors
    // would also refuse a plain document reusing one anchor in a hundred places.
    budget.enforce_alias_anchor_ratio = false;
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = limits.max_expanded_nodes;
    alias_limits.max_replay_stack_depth = limits.max_depth;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits = alias_limits;
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.merge_keys = serde_saphyr::MergeKeyPolicy::AsOrdinary;
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
    options
}

/// What a node stands for once its aliases are expanded.
#[derive(Clone, Copy, Default)]
struct Expanded {
    nodes: usize,
    bytes: usize,
    /// Levels of collections, the node's own included (a scalar is 0).
    height: usize,
}

/// An open collection: its anchor, the totals when it started, and its highest child.
struct Open {
    anchor: usize,
    nodes: usize,
    bytes: usize,
    child_height: usize,
}

/// Refuses a document whose expansion (aliases replaced by what they name) exceeds the node, byte or
/// depth limits of `limits`, in one pass over the parser's events. Syntax errors are left to the
/// deserializer, which reports them.
pub fn check_bounds(yaml: &str, limits: &Limits) -> Result<(), YamlError> {
    let mut anchors: HashMap<usize, Expanded> = HashMap::new();
    let mut open: Vec<Open> = Vec::new();
    let mut total = Expanded::default();
    for event in Parser::new_from_str(yaml) {
        let (event, span) = match event {
            Ok(event) => event,
            // The scanner caps flow nesting itself, ahead of the events this pass counts.
            Err(e) if matches!(e.kind(), ErrorKind::RecursionLimitExceeded) => {
                return Err(bound_exceeded(e.marker().line(), depth_exceeded(limits)));
            }
            Err(_) => return Ok(()),
        };
        let line = span.start.line();
        // Each node event adds `node` to the totals and, within its parent, is `node.height` high.
        let (node, anchor) = match event {
            Event::Scalar(value, _, anchor, _) => (Expanded { nodes: 1, bytes: value.len(), height: 0 }, anchor),
            Event::Alias(id) => (anchors.get(&id).copied().unwrap_or_default(), 0),
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                total.nodes += 1;
                open.push(Open { anchor, nodes: total.nodes - 1, bytes: total.bytes, child_height: 0 });
                if open.len() > limits.max_depth {
                    return Err(bound_exceeded(line, depth_exceeded(limits)));
                }
                if total.nodes > limits.max_expanded_nodes {
                    return Err(too_many_nodes(line, limits));
                }
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(done) = open.pop() else { return Ok(()) };
                let node = Expanded {
                    nodes: total.nodes - done.nodes,
                    bytes: total.bytes - done.bytes,
                    height: done.child_height + 1,
                };
                if done.anchor != 0 {
                    anchors.insert(done.anchor, node);
                }
                if let Some(parent) = open.last_mut() {
                    parent.child_height = parent.child_height.max(node.height);
                }
                continue;
            }
            _ => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, node);
        }
        total.nodes = total.nodes.saturating_add(node.nodes);
        total.bytes = total.bytes.saturating_add(node.bytes);
        if open.len() + node.height > limits.max_depth {
            return Err(bound_exceeded(
                line,
                format!("collections nest deeper than {} levels (aliases expanded)", limits.max_depth),
            ));
        }
        if let Some(parent) = open.last_mut() {
            parent.child_height = parent.child_height.max(node.height);
        }
        if total.nodes > limits.max_expanded_nodes {
            return Err(too_many_nodes(line, limits));
        }
        if total.bytes > limits.max_expanded_bytes {
            return Err(bound_exceeded(
                line,
                format!(
                    "the document expands to more than {} bytes of text (an alias counts as the text it repeats)",
                    limits.max_expanded_bytes
                ),
            ));
        }
    }
    Ok(())
}

fn depth_exceeded(limits: &Limits) -> String {
    format!("collections nest deeper than {} levels", limits.max_depth)
}

fn too_many_nodes(line: usize, limits: &Limits) -> YamlError {
    bound_exceeded(
        line,
        format!(
            "the document expands to more than {} nodes (an alias counts as the nodes it repeats)",
            limits.max_expanded_nodes
        ),
    )
}

fn bound_exceeded(line: usize, message: String) -> YamlError {
    YamlError::Bound { line, message }
}

/// The line (1-based) each node of a document was written on, by JSON pointer (RFC 6901: `/schema/0/name`).
///
/// Built from the parser's events, so it agrees with the value the deserializer builds as long as
/// mapping keys are scalars (other keys are not JSON). A node inside an alias has no line of its own:
/// [`LineIndex::line`] answers the line of its nearest ancestor written in the text (the alias).
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

/// A collection being walked while the index is built.
enum Frame {
    Sequence {
        next: usize,
    },
    /// `key` is the pending key and the line it was written on, once read (`None`: the next node is a key).
    Mapping {
        key: Option<(String, usize)>,
    },
}

/// A key that is not a scalar: not JSON, so its value gets a segment no pointer names.
const COMPLEX_KEY: &str = "\u{0}";

impl LineIndex {
    /// Indexes `yaml`. Meant for text that passed [`check_bounds`] (its size is then bounded); a
    /// syntax error ends the index where it is.
    pub fn new(yaml: &str) -> LineIndex {
        let mut lines = HashMap::new();
        // The pointer of each open collection, and how it is walked.
        let mut open: Vec<(String, Frame)> = Vec::new();
        // Levels of a collection used as a mapping key, whose nodes are not indexed.
        let mut in_complex_key = 0usize;
        for event in Parser::new_from_str(yaml) {
            let Ok((event, span)) = event else { break };
            let line = span.start.line();
            let opens = match event {
                Event::Scalar(..) | Event::Alias(_) => false,
                Event::SequenceStart(..) | Event::MappingStart(..) => true,
                Event::SequenceEnd | Event::MappingEnd => {
                    if in_complex_key > 0 {
                        in_complex_key -= 1;
                    } else {
                        open.pop();
                    }
                    continue;
                }
                _ => continue,
            };
            if in_complex_key > 0 {
                in_complex_key += usize::from(opens);
                continue;
            }
            // Where this node sits: under a key of a mapping (on the key's line), or as an item.
            let (pointer, line) = match open.last_mut() {
                None => (String::new(), line),
                Some((parent, Frame::Sequence { next })) => {
                    *next += 1;
                    (format!("{parent}/{}", *next - 1), line)
                }
                Some((parent, Frame::Mapping { key })) => match key.take() {
                    Some((key, key_line)) => (format!("{parent}/{key}"), key_line),
                    None => {
                        let name = match &event {
                            Event::Scalar(value, ..) => escape(value),
                            _ => COMPLEX_KEY.to_string(),
                        };
                        *key = Some((name, line));
                        in_complex_key = usize::from(opens);
                        continue;
                    }
                },
            };
            lines.entry(pointer.clone()).or_insert(line);
            match event {
                Event::SequenceStart(..) => open.push((pointer, Frame::Sequence { next: 0 })),
                Event::MappingStart(..) => open.push((pointer, Frame::Mapping { key: None })),
                _ => {}
            }
        }
        LineIndex { lines }
    }

    /// The line of the node at `pointer`, or of its nearest ancestor that has one.
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut pointer = pointer;
        loop {
            if let Some(line) = self.lines.get(pointer) {
                return Some(*line);
            }
            let cut = pointer.rfind('/')?;
            pointer = &pointer[..cut];
        }
    }
}

/// A mapping key as a JSON pointer segment (RFC 6901: `~` as `~0`, `/` as `~1`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests;
