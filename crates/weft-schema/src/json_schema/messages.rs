//! What Weft says when a value breaks a schema: the JSON pointer of the failing value, then why, naming
//! the keyword. The same words describe payloads that break a schema and schemas that break their
//! metaschema, so both are said here, from the validator's structured errors (never its prose).

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::ReferencingError;
use serde_json::Value;

use super::types::{type_bit, type_names};
use crate::json::{kind, pointer_escape, preview};

/// The pointer to the failing value and the reason. Properties and items a keyword refuses by name
/// (`additionalProperties: false` and the like) are pointed at themselves, not at their object.
/// `schema` is the schema document, where bounds the error does not carry are read.
pub(super) fn describe(error: &jsonschema::ValidationError<'_>, schema: &Value) -> (String, String) {
    let path = error.instance_path().as_str().to_string();
    let instance = error.instance();
    let value: &Value = instance.as_ref();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => refused_property(path, unexpected, "additional"),
        ValidationErrorKind::UnevaluatedProperties { unexpected } => refused_property(path, unexpected, "unevaluated"),
        ValidationErrorKind::UnevaluatedItems { unexpected } => {
            (path, format!("items {} are not allowed by unevaluatedItems", unexpected.join(", ")))
        }
        ValidationErrorKind::AdditionalItems { limit } => {
            (format!("{path}/{limit}"), format!("the array may hold at most {limit} items (additionalItems)"))
        }
        ValidationErrorKind::PropertyNames { error } => {
            let (_, why) = describe(error, schema);
            let name = error.instance().as_ref().as_str().unwrap_or_default().to_string();
            (
                format!("{path}/{}", pointer_escape(&name)),
                format!("the property name '{name}' is not allowed by propertyNames: {why}"),
            )
        }
        ValidationErrorKind::Contains => (path, contains(error, schema)),
        ValidationErrorKind::Required { property } => (path, required(error, property, value, schema)),
        ValidationErrorKind::AnyOf { context } => (path, branches("anyOf", context, schema)),
        ValidationErrorKind::OneOfNotValid { context } => (path, branches("oneOf", context, schema)),
        kind => (path, message(kind, value)),
    }
}

/// A missing property, and the property whose presence requires it when `dependentRequired` (or
/// draft-07's `dependencies`) is why: a present property whose list names it, read from the schema
/// when the keyword's location is a plain pointer into it.
fn required(error: &jsonschema::ValidationError<'_>, property: &Value, value: &Value, schema: &Value) -> String {
    let name = property.as_str().map_or_else(|| property.to_string(), str::to_string);
    let location = error.schema_path().as_str();
    let Some(keyword) =
        ["dependentRequired", "dependencies"].into_iter().find(|k| location.ends_with(&format!("/{k}")))
    else {
        return format!("missing required property '{name}'");
    };
    let trigger = schema.pointer(location).and_then(Value::as_object).and_then(|dependencies| {
        dependencies.iter().find_map(|(trigger, names)| {
            let names = names.as_array()?;
            (value.get(trigger).is_some() && names.contains(property)).then_some(trigger)
        })
    });
    match trigger {
        Some(trigger) => format!("property '{name}' is required when '{trigger}' is present ({keyword})"),
        None => format!("property '{name}' is required by {keyword}"),
    }
}

/// `contains` failed: fewer items match it than `minContains` (1 by default) or more than
/// `maxContains`. The bounds are read from the schema when the keyword's location is a plain pointer
/// into it (not reached through a `$ref`).
fn contains(error: &jsonschema::ValidationError<'_>, schema: &Value) -> String {
    let location = error.schema_path().as_str();
    let parent = location.rsplit_once('/').map_or("", |(parent, _)| parent);
    let Some(keywords) = schema.pointer(parent).filter(|_| location.ends_with("Contains")) else {
        return "no item matches 'contains'".into();
    };
    let min = keywords.get("minContains").map_or_else(|| "1".to_string(), Value::to_string);
    match keywords.get("maxContains") {
        Some(max) => {
            format!("the number of items matching 'contains' is not between {min} and {max} (minContains, maxContains)")
        }
        None => format!("fewer than {min} items match 'contains' (minContains)"),
    }
}

fn refused_property(path: String, unexpected: &[String], keyword: &str) -> (String, String) {
    let Some(first) = unexpected.first() else { return (path, format!("{keyword}Properties refuses a property")) };
    let more = match unexpected.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    (
        format!("{path}/{}", pointer_escape(first)),
        format!("property '{first}' is not allowed ({keyword}Properties is false){more}"),
    )
}

fn message(error: &ValidationErrorKind, value: &Value) -> String {
    let found = || format!("{} {}", kind(value), preview(value));
    match error {
        ValidationErrorKind::Type { kind: TypeKind::Single(expected) } => {
            format!("expected {expected}, found {}", found())
        }
        ValidationErrorKind::Type { kind: TypeKind::Multiple(expected) } => {
            let bits = expected.iter().filter_map(|t| type_bit(t.as_str())).fold(0, |a, b| a | b);
            format!("expected {}, found {}", type_names(bits), found())
        }
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = match options.as_ref() {
                Value::Array(values) => values.iter().map(preview).collect(),
                other => vec![preview(other)],
            };
            format!("{} is not one of the allowed values [{}] (enum)", preview(value), allowed.join(", "))
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("expected the constant {}, found {} (const)", preview(expected_value), preview(value))
        }
        ValidationErrorKind::Minimum { limit } => format!("{} is less than the minimum {limit}", preview(value)),
        ValidationErrorKind::Maximum { limit } => format!("{} is greater than the maximum {limit}", preview(value)),
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!("{} is not greater than the exclusive minimum {limit}", preview(value))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            format!("{} is not less than the exclusive maximum {limit}", preview(value))
        }
        ValidationErrorKind::MultipleOf { multiple_of } => {
            format!("{} is not a multiple of {multiple_of} (multipleOf)", preview(value))
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("the string is {} characters long, shorter than minLength {limit}", chars(value))
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("the string is {} characters long, longer than maxLength {limit}", chars(value))
        }
        ValidationErrorKind::Pattern { pattern } => format!("{} does not match the pattern '{pattern}'", preview(value)),
        ValidationErrorKind::BacktrackLimitExceeded { error } => {
            format!("the pattern could not be checked against {}: {error}", preview(value))
        }
        ValidationErrorKind::RegexEngineFailure { message } => {
            format!("the pattern could not be checked against {}: {message}", preview(value))
        }
        ValidationErrorKind::Format { format } if format == "regex" => format!(
            "{} is not a regular expression Weft checks: ECMA-262 syntax, without look-around or back-references (format regex)",
            preview(value)
        ),
        ValidationErrorKind::Format { format } => format!("{} is not a valid {format} (format)", preview(value)),
        ValidationErrorKind::MinProperties { limit } => {
            format!("{} properties, fewer than minProperties {limit}", len(value))
        }
        ValidationErrorKind::MaxProperties { limit } => {
            format!("{} properties, more than maxProperties {limit}", len(value))
        }
        ValidationErrorKind::MinItems { limit } => format!("{} items, fewer than minItems {limit}", len(value)),
        ValidationErrorKind::MaxItems { limit } => format!("{} items, more than maxItems {limit}", len(value)),
        ValidationErrorKind::UniqueItems => "the array holds equal items, but uniqueItems is set".into(),
        ValidationErrorKind::FalseSchema => "no value is allowed here (schema false)".into(),
        ValidationErrorKind::Not { .. } => "the value matches the schema in 'not'".into(),
        ValidationErrorKind::OneOfMultipleValid { .. } => "the value matches more than one schema of oneOf".into(),
        ValidationErrorKind::Referencing(error) => referencing(error),
        ValidationErrorKind::ContentEncoding { content_encoding } => {
            format!("the string is not valid {content_encoding} (contentEncoding)")
        }
        ValidationErrorKind::ContentMediaType { content_media_type } => {
            format!("the string is not valid {content_media_type} (contentMediaType)")
        }
        ValidationErrorKind::FromUtf8 { error } => format!("the decoded content is not UTF-8: {error}"),
        ValidationErrorKind::Custom { keyword, message } => format!("{message} ({keyword})"),
        // Handled in `describe`, which points at the refused member.
        ValidationErrorKind::AdditionalItems { .. }
        | ValidationErrorKind::AdditionalProperties { .. }
        | ValidationErrorKind::UnevaluatedItems { .. }
        | ValidationErrorKind::UnevaluatedProperties { .. }
        | ValidationErrorKind::PropertyNames { .. }
        | ValidationErrorKind::Contains
        | ValidationErrorKind::Required { .. }
        | ValidationErrorKind::AnyOf { .. }
        | ValidationErrorKind::OneOfNotValid { .. } => error.keyword().to_string(),
    }
}

/// Why each branch of an `anyOf` or `oneOf` failed (its first error).
fn branches(keyword: &str, context: &[Vec<jsonschema::ValidationError<'static>>], schema: &Value) -> String {
    let reasons: Vec<String> = context
        .iter()
        .enumerate()
        .map(|(i, errors)| match errors.first() {
            Some(error) => {
                let (path, why) = describe(error, schema);
                let at = if path.is_empty() { String::new() } else { format!("at {path}: ") };
                format!("branch {i}: {at}{why}")
            }
            None => format!("branch {i}: valid"),
        })
        .collect();
    format!("the value matches no schema of {keyword} ({})", reasons.join("; "))
}

pub(super) fn referencing(error: &ReferencingError) -> String {
    match error {
        ReferencingError::Unretrievable { uri, .. } => {
            format!("cannot resolve $ref '{uri}': it is neither in this schema, nor one of its references, nor an official metaschema")
        }
        ReferencingError::PointerToNowhere { pointer } => {
            format!("cannot resolve $ref: no location '{pointer}' in this schema or its references")
        }
        ReferencingError::NoSuchAnchor { anchor } => {
            format!("cannot resolve $ref: no anchor '{anchor}' in this schema or its references")
        }
        other => format!("cannot resolve $ref: {other}"),
    }
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

fn len(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    }
}
