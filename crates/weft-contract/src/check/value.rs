//! The checks of one value: logical types, `logicalTypeOptions` and the value lists of quality rules.
//! Each answers `None` when the value passes, else the reason, naming the value (truncated).

use regex::Regex;
use serde_json::Value;
use weft_schema::json_schema::JsonSchema;

use crate::model::LogicalType;

/// How long a value may be when quoted in a reason.
const SHOWN_CHARS: usize = 64;

/// A value as a reason quotes it: its JSON text, cut at [`SHOWN_CHARS`] characters. Writing stops
/// there, so a huge or deep value costs no more than a short one.
pub(crate) fn shown(value: &Value) -> String {
    /// Takes bytes until it has enough, then refuses the rest (which stops the serializer).
    struct Prefix {
        text: Vec<u8>,
        cut: bool,
    }
    impl std::io::Write for Prefix {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let room = (SHOWN_CHARS * 4 + 4).saturating_sub(self.text.len());
            if buf.len() > room {
                self.text.extend_from_slice(&buf[..room]);
                self.cut = true;
                return Err(std::io::Error::other("enough"));
            }
            self.text.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Prefix { text: Vec::new(), cut: false };
    let _ = serde_json::to_writer(&mut out, value);
    let text = String::from_utf8_lossy(&out.text);
    if !out.cut && text.chars().count() <= SHOWN_CHARS {
        return text.into_owned();
    }
    let cut: String = text.chars().take(SHOWN_CHARS).collect();
    format!("{cut}...")
}

/// How a temporal value is read: Weft's ISO-8601 forms, or the contract's `format` when Weft can
/// read that pattern.
#[derive(Debug, Clone)]
pub(crate) struct Temporal {
    pub ty: LogicalType,
    pub format: Option<String>,
}

impl Temporal {
    /// The value as milliseconds (since the epoch; since midnight for `time`): text in the format
    /// (or ISO-8601: `2024-05-01`, `2024-05-01T10:00:00Z`, `10:00:00`), or an integer as Avro's
    /// logical types write them (days for `date`, milliseconds for `timestamp` and `time`).
    pub(crate) fn millis(&self, value: &Value) -> Option<i64> {
        match value {
            Value::String(text) => self.parse(text),
            Value::Number(n) => {
                let n = n.as_i64()?;
                match self.ty {
                    LogicalType::Date => n.checked_mul(86_400_000),
                    _ => Some(n),
                }
            }
            _ => None,
        }
    }

    pub(crate) fn parse(&self, text: &str) -> Option<i64> {
        if let Some(format) = &self.format {
            return weft_sql::functions::parse_millis(text, format, 0);
        }
        use weft_sql::types::Value as Sql;
        match self.ty {
            LogicalType::Date => match weft_sql::functions::parse_temporal_like(&Sql::Date(0), text)? {
                Sql::Date(days) => Some(i64::from(days) * 86_400_000),
                _ => None,
            },
            LogicalType::Time => match weft_sql::functions::parse_temporal_like(&Sql::Time(0), text)? {
                Sql::Time(ms) => Some(ms),
                _ => None,
            },
            _ => weft_sql::functions::parse_iso_timestamp(text),
        }
    }

    /// What the values look like, for reasons.
    pub(crate) fn expected(&self) -> String {
        match (&self.format, self.ty) {
            (Some(format), _) => format!("a {} in the format {format}", self.ty.name()),
            (None, LogicalType::Date) => "an ISO-8601 date (2024-05-01) or a number of days".into(),
            (None, LogicalType::Time) => "an ISO-8601 time (10:30:00) or milliseconds of the day".into(),
            _ => "an ISO-8601 timestamp (2024-05-01T10:30:00Z) or epoch milliseconds".into(),
        }
    }
}

/// The Java date pattern letters Weft's date parser (weft-sql's) reads. A `format` using others is
/// documentation only: its values are checked to be strings, not parsed.
pub(crate) fn readable_date_pattern(format: &str) -> bool {
    let mut quoted = false;
    for c in format.chars() {
        if c == '\'' {
            quoted = !quoted;
        } else if !quoted && c.is_ascii_alphabetic() && !"yuMdHhmsSaEXxZzVO".contains(c) {
            return false;
        }
    }
    true
}

/// The type check of a `logicalType`.
#[derive(Debug)]
pub(crate) enum TypeCheck {
    Plain(LogicalType),
    Temporal(Temporal),
    /// A temporal type whose `format` Weft cannot read: a string is all it checks.
    TemporalText(LogicalType),
}

impl TypeCheck {
    pub(crate) fn check(&self, value: &Value) -> Option<String> {
        let ok = match self {
            TypeCheck::Plain(ty) => match ty {
                LogicalType::String => value.is_string(),
                LogicalType::Number => value.is_number(),
                LogicalType::Integer => is_integer(value),
                LogicalType::Boolean => value.is_boolean(),
                LogicalType::Object => value.is_object(),
                LogicalType::Array => value.is_array(),
                LogicalType::Date | LogicalType::Timestamp | LogicalType::Time => value.is_string(),
            },
            TypeCheck::Temporal(t) => t.millis(value).is_some(),
            TypeCheck::TemporalText(_) => value.is_string(),
        };
        if ok {
            return None;
        }
        Some(match self {
            TypeCheck::Plain(ty) | TypeCheck::TemporalText(ty) => {
                format!("expected {} {}, found {}", article(ty.name()), ty.name(), shown(value))
            }
            TypeCheck::Temporal(t) => format!("expected {}, found {}", t.expected(), shown(value)),
        })
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

pub(crate) fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0),
        _ => false,
    }
}

/// One check of a value that is present and not null.
#[derive(Debug)]
pub(crate) enum ValueCheck {
    Minimum {
        bound: f64,
        exclusive: bool,
    },
    Maximum {
        bound: f64,
        exclusive: bool,
    },
    MultipleOf(f64),
    /// An integer `format` (`i32`, `u8`...): the range of that Rust type.
    IntegerRange {
        format: String,
        min: i128,
        max: i128,
    },
    /// `format: f32`: finite and within `f32`'s range.
    Float32,
    MinLength(usize),
    MaxLength(usize),
    Pattern(Regex),
    /// A string `format` Weft asserts (`email`, `uuid`, `uri`...), checked by weft-schema's JSON Schema
    /// formats.
    Format {
        name: String,
        schema: Box<JsonSchema>,
    },
    TemporalMinimum {
        temporal: Temporal,
        bound: i64,
        exclusive: bool,
        text: String,
    },
    TemporalMaximum {
        temporal: Temporal,
        bound: i64,
        exclusive: bool,
        text: String,
    },
    MinItems(usize),
    MaxItems(usize),
    UniqueItems,
    MinProperties(usize),
    MaxProperties(usize),
    RequiredMembers(Vec<String>),
    /// `invalidValues` with `validValues`: the value must be one of them (and the list as reasons show it).
    ValidValues(Vec<Value>, String),
    /// `invalidValues` with `pattern`: a string value must match it.
    ValidPattern(Regex),
    /// `missingValues`: the value must not be one of them (null is handled with absent values).
    MissingValues(Vec<Value>),
}

impl ValueCheck {
    /// Whether the check reads the value whatever its type (value lists), rather than only a value
    /// of the declared logical type.
    pub(crate) fn any_type(&self) -> bool {
        matches!(self, ValueCheck::ValidValues(..) | ValueCheck::MissingValues(_))
    }

    pub(crate) fn check(&self, value: &Value) -> Option<String> {
        match self {
            ValueCheck::Minimum { bound, exclusive } => {
                let x = value.as_f64()?;
                let fails = if *exclusive { x <= *bound } else { x < *bound };
                fails.then(|| {
                    let word = if *exclusive { "must be greater than" } else { "is less than the minimum" };
                    format!("{} {word} {}", shown(value), number(*bound))
                })
            }
            ValueCheck::Maximum { bound, exclusive } => {
                let x = value.as_f64()?;
                let fails = if *exclusive { x >= *bound } else { x > *bound };
                fails.then(|| {
                    let word = if *exclusive { "must be less than" } else { "is greater than the maximum" };
                    format!("{} {word} {}", shown(value), number(*bound))
                })
            }
            ValueCheck::MultipleOf(m) => {
                let x = value.as_f64()?;
                let q = x / m;
                ((q - q.round()).abs() > 1e-9 * q.abs().max(1.0))
                    .then(|| format!("{} is not a multiple of {}", shown(value), number(*m)))
            }
            ValueCheck::IntegerRange { format, min, max } => {
                let x = as_i128(value)?;
                (x < *min || x > *max).then(|| format!("{} does not fit {format} ({min} to {max})", shown(value)))
            }
            ValueCheck::Float32 => {
                let x = value.as_f64()?;
                (x.abs() > f64::from(f32::MAX)).then(|| format!("{} does not fit f32", shown(value)))
            }
            ValueCheck::MinLength(n) => {
                let len = value.as_str()?.chars().count();
                (len < *n).then(|| format!("{} is {len} characters long, shorter than the minimum {n}", shown(value)))
            }
            ValueCheck::MaxLength(n) => {
                let len = value.as_str()?.chars().count();
                (len > *n).then(|| format!("{} is {len} characters long, longer than the maximum {n}", shown(value)))
            }
            ValueCheck::Pattern(re) | ValueCheck::ValidPattern(re) => {
                let text = value.as_str()?;
                (!re.is_match(text)).then(|| format!("{} does not match the pattern {}", shown(value), re.as_str()))
            }
            ValueCheck::Format { name, schema } => {
                value.as_str()?;
                (!schema.is_valid(value)).then(|| format!("{} is not a valid {name}", shown(value)))
            }
            ValueCheck::TemporalMinimum { temporal, bound, exclusive, text } => {
                let x = temporal.millis(value)?;
                let fails = if *exclusive { x <= *bound } else { x < *bound };
                fails.then(|| {
                    let word = if *exclusive { "must be after" } else { "is before the minimum" };
                    format!("{} {word} {text}", shown(value))
                })
            }
            ValueCheck::TemporalMaximum { temporal, bound, exclusive, text } => {
                let x = temporal.millis(value)?;
                let fails = if *exclusive { x >= *bound } else { x > *bound };
                fails.then(|| {
                    let word = if *exclusive { "must be before" } else { "is after the maximum" };
                    format!("{} {word} {text}", shown(value))
                })
            }
            ValueCheck::MinItems(n) => {
                let len = value.as_array()?.len();
                (len < *n).then(|| format!("{len} items, fewer than the minimum {n}"))
            }
            ValueCheck::MaxItems(n) => {
                let len = value.as_array()?.len();
                (len > *n).then(|| format!("{len} items, more than the maximum {n}"))
            }
            ValueCheck::UniqueItems => {
                let items = value.as_array()?;
                for (i, a) in items.iter().enumerate() {
                    if let Some(j) = items[..i].iter().position(|b| weft_schema::json::json_equal(a, b)) {
                        return Some(format!("items {j} and {i} are equal ({})", shown(a)));
                    }
                }
                None
            }
            ValueCheck::MinProperties(n) => {
                let len = value.as_object()?.len();
                (len < *n).then(|| format!("{len} members, fewer than the minimum {n}"))
            }
            ValueCheck::MaxProperties(n) => {
                let len = value.as_object()?.len();
                (len > *n).then(|| format!("{len} members, more than the maximum {n}"))
            }
            ValueCheck::RequiredMembers(names) => {
                let map = value.as_object()?;
                let missing: Vec<&str> =
                    names.iter().filter(|n| !map.contains_key(n.as_str())).map(String::as_str).collect();
                (!missing.is_empty()).then(|| format!("lacks the required member(s) {}", missing.join(", ")))
            }
            ValueCheck::ValidValues(valid, list) => (!valid.iter().any(|v| weft_schema::json::json_equal(v, value)))
                .then(|| format!("{} is not one of the valid values {list}", shown(value))),
            ValueCheck::MissingValues(missing) => missing
                .iter()
                .any(|v| weft_schema::json::json_equal(v, value))
                .then(|| format!("{} is a missing value", shown(value))),
        }
    }
}

fn as_i128(value: &Value) -> Option<i128> {
    let n = value.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    (f.is_finite() && f.fract() == 0.0).then_some(f as i128)
}

/// A bound as the contract wrote it (`10`, not `10.0`).
pub(crate) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
