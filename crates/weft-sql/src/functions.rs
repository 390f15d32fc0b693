//! Scalar functions, casts and the date/time helpers they share (ksqlDB's built-in UDFs).
//!
//! Functions return null for null inputs unless documented otherwise (COALESCE, IFNULL, CONCAT),
//! and null instead of failing on bad input, as ksqlDB does after logging the error.

use std::collections::BTreeSet;

use crate::error::{Result, SqlError};
use crate::types::{Decimal, SqlType, Value};
use crate::url;
use crate::zone::Zone;

/// A resolved scalar function.
#[derive(Clone, Copy)]
pub struct ScalarFn {
    pub name: &'static str,
    pub eval: fn(&[Value]) -> Value,
    /// False for functions whose result changes between calls (RANDOM, UNIX_TIMESTAMP()).
    pub deterministic: bool,
}

impl std::fmt::Debug for ScalarFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Aggregate function names (resolved by the aggregation planner, not here).
pub const AGGREGATES: &[&str] = &[
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "COUNT_DISTINCT",
    "LATEST_BY_OFFSET",
    "EARLIEST_BY_OFFSET",
    "COLLECT_LIST",
    "COLLECT_SET",
    "TOPK",
    "TOPKDISTINCT",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "SUM_LIST",
    "CORRELATION",
    "HISTOGRAM",
];

pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

/// Functions whose first argument is a time unit keyword (`TIMESTAMPADD(SECONDS, 5, ts)`).
pub fn takes_time_unit(name: &str) -> bool {
    matches!(name, "TIMESTAMPADD" | "TIMESTAMPSUB" | "DATEADD" | "DATESUB" | "TIMEADD" | "TIMESUB")
}

/// The length of a time unit keyword in milliseconds.
pub fn time_unit_millis(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_uppercase().trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return None,
    })
}

/// `unit millis, interval, value` of the TIMESTAMPADD family as milliseconds to add.
fn interval_millis(a: &[Value], sign: i64) -> Option<i64> {
    a[0].as_i64()?.checked_mul(a[1].as_i64()?)?.checked_mul(sign)
}

/// Names of the scalar functions, for `SHOW FUNCTIONS`.
pub const SCALAR_FUNCTIONS: &[&str] = &[
    "ABS",
    "ACOS",
    "ARRAY_CONCAT",
    "ARRAY_CONTAINS",
    "ARRAY_DISTINCT",
    "ARRAY_EXCEPT",
    "ARRAY_INTERSECT",
    "ARRAY_JOIN",
    "ARRAY_LENGTH",
    "ARRAY_MAX",
    "ARRAY_MIN",
    "ARRAY_REMOVE",
    "ARRAY_SORT",
    "ARRAY_UNION",
    "AS_MAP",
    "AS_VALUE",
    "ASIN",
    "ATAN",
    "ATAN2",
    "CBRT",
    "CEIL",
    "CHR",
    "COALESCE",
    "CONCAT",
    "CONCAT_WS",
    "DATEADD",
    "ENCODE",
    "DATESUB",
    "COS",
    "COSH",
    "COT",
    "DEGREES",
    "DATETOSTRING",
    "ELT",
    "EXP",
    "EXTRACTJSONFIELD",
    "FIELD",
    "FLOOR",
    "FORMAT_DATE",
    "FORMAT_TIMESTAMP",
    "FROM_BYTES",
    "FROM_DAYS",
    "FROM_UNIXTIME",
    "GENERATE_SERIES",
    "GEO_DISTANCE",
    "GREATEST",
    "IFNULL",
    "INITCAP",
    "INSTR",
    "JSON_CONCAT",
    "MASK_LEFT",
    "MASK_RIGHT",
    "MASK_KEEP_LEFT",
    "MASK_KEEP_RIGHT",
    "UUID",
    "MD5",
    "JSON_ARRAY_CONTAINS",
    "JSON_ITEMS",
    "INT_FROM_BYTES",
    "BIGINT_FROM_BYTES",
    "DOUBLE_FROM_BYTES",
    "FORMAT_TIME",
    "PARSE_TIME",
    "CONVERT_TZ",
    "ENTRIES",
    "REGEXP_EXTRACT",
    "REGEXP_EXTRACT_ALL",
    "REGEXP_REPLACE",
    "REGEXP_SPLIT_TO_ARRAY",
    "SPLIT_TO_MAP",
    "TRANSFORM",
    "FILTER",
    "REDUCE",
    "IS_JSON_STRING",
    "JSON_ARRAY_LENGTH",
    "JSON_KEYS",
    "JSON_RECORDS",
    "LCASE",
    "LEAST",
    "LEN",
    "LN",
    "LOG",
    "LPAD",
    "LTRIM",
    "MAP_KEYS",
    "MAP_UNION",
    "MAP_VALUES",
    "MASK",
    "NULLIF",
    "PARSE_DATE",
    "PARSE_TIMESTAMP",
    "PI",
    "POWER",
    "RADIANS",
    "RANDOM",
    "REPLACE",
    "ROUND",
    "RPAD",
    "RTRIM",
    "SIGN",
    "SIN",
    "SINH",
    "SLICE",
    "SPLIT",
    "SQRT",
    "STRINGTODATE",
    "STRINGTOTIMESTAMP",
    "SUBSTRING",
    "TAN",
    "TANH",
    "TIMEADD",
    "TIMESTAMPADD",
    "TIMESTAMPSUB",
    "TIMESTAMPTOSTRING",
    "TIMESUB",
    "TO_BYTES",
    "TO_JSON_STRING",
    "TRIM",
    "TRUNC",
    "UCASE",
    "UNIX_DATE",
    "UNIX_TIMESTAMP",
    "URL_DECODE_PARAM",
    "URL_ENCODE_PARAM",
    "URL_EXTRACT_FRAGMENT",
    "URL_EXTRACT_HOST",
    "URL_EXTRACT_PARAMETER",
    "URL_EXTRACT_PATH",
    "URL_EXTRACT_PORT",
    "URL_EXTRACT_PROTOCOL",
    "URL_EXTRACT_QUERY",
];

type EvalFn = fn(&[Value]) -> Value;

fn f(name: &'static str, eval: EvalFn) -> ScalarFn {
    ScalarFn { name, eval, deterministic: true }
}

/// ksqlDB's error for a call no signature of the function accepts.
pub fn no_signature(name: &str, types: &[SqlType]) -> SqlError {
    let list: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    SqlError::analysis(format!("Function '{name}' does not accept parameters ({}).", list.join(", ")))
}

fn arity(name: &str, types: &[SqlType], min: usize, max: usize) -> Result<()> {
    if types.len() < min || types.len() > max {
        return Err(no_signature(name, types));
    }
    Ok(())
}

fn want(name: &str, t: &SqlType, ok: bool, expected: &str) -> Result<()> {
    if ok || *t == SqlType::Null {
        Ok(())
    } else {
        Err(SqlError::analysis(format!("Function '{name}' does not accept parameters ({t}): it expects {expected}")))
    }
}

fn is_string(t: &SqlType) -> bool {
    matches!(t, SqlType::String | SqlType::Null)
}

fn is_integer(t: &SqlType) -> bool {
    matches!(t, SqlType::Int | SqlType::Bigint | SqlType::Null)
}

fn unknown_function(name: &str) -> SqlError {
    SqlError::analysis(format!("Can't find any functions with the name '{name}'"))
}

/// Whether `name` is a function of any kind (scalar, aggregate, table, or taking lambdas).
pub fn exists(name: &str) -> bool {
    is_aggregate(name)
        || matches!(name, "TRANSFORM" | "FILTER" | "REDUCE" | "EXPLODE" | "CUBE_EXPLODE")
        || !matches!(resolve(name, &[]), Err(SqlError::Analysis(m)) if m == unknown_function(name).to_string())
}

/// Resolves a scalar function call by name and argument types.
pub fn resolve(name: &str, types: &[SqlType]) -> Result<(ScalarFn, SqlType)> {
    // ksqlDB names a UDF by its registered, lower-case name when no signature fits
    // (`Function 'geo_distance' does not accept parameters`); COALESCE is built in and upper-case.
    resolve_signature(name, types).map_err(|e| match e {
        SqlError::Analysis(m) if name != "COALESCE" => {
            let upper = format!("Function '{name}'");
            match m.strip_prefix(&upper) {
                Some(rest) => SqlError::Analysis(format!("Function '{}'{rest}", name.to_ascii_lowercase())),
                None => SqlError::Analysis(m),
            }
        }
        other => other,
    })
}

fn resolve_signature(name: &str, types: &[SqlType]) -> Result<(ScalarFn, SqlType)> {
    let t0 = types.first().cloned().unwrap_or(SqlType::Null);
    let strings = |min, max| -> Result<()> {
        arity(name, types, min, max)?;
        for t in types {
            want(name, t, is_string(t), "STRING arguments")?;
        }
        Ok(())
    };
    Ok(match name {
        "UCASE" | "UPPER" => {
            strings(1, 1)?;
            (f("UCASE", |a| map_str(&a[0], |s| Value::String(s.to_uppercase()))), SqlType::String)
        }
        "LCASE" | "LOWER" => {
            strings(1, 1)?;
            (f("LCASE", |a| map_str(&a[0], |s| Value::String(s.to_lowercase()))), SqlType::String)
        }
        "LEN" | "LENGTH" => {
            arity(name, types, 1, 1)?;
            want(name, &t0, matches!(t0, SqlType::String | SqlType::Bytes), "STRING or BYTES")?;
            (
                f("LEN", |a| match &a[0] {
                    Value::String(s) => Value::Int(s.chars().count() as i32),
                    Value::Bytes(b) => Value::Int(b.len() as i32),
                    _ => Value::Null,
                }),
                SqlType::Int,
            )
        }
        "TRIM" => {
            strings(1, 1)?;
            (f("TRIM", |a| map_str(&a[0], |s| Value::String(s.trim().to_string()))), SqlType::String)
        }
        "LTRIM" => {
            strings(1, 1)?;
            (f("LTRIM", |a| map_str(&a[0], |s| Value::String(s.trim_start().to_string()))), SqlType::String)
        }
        "RTRIM" => {
            strings(1, 1)?;
            (f("RTRIM", |a| map_str(&a[0], |s| Value::String(s.trim_end().to_string()))), SqlType::String)
        }
        "INITCAP" => {
            strings(1, 1)?;
            (f("INITCAP", |a| map_str(&a[0], |s| Value::String(initcap(s)))), SqlType::String)
        }
        // The BYTES forms run the string forms over one character per byte.
        "CONCAT" | "CONCAT_WS" | "LPAD" | "RPAD" if matches!(t0, SqlType::Bytes) => {
            let string_types: Vec<SqlType> =
                types.iter().map(|t| if *t == SqlType::Bytes { SqlType::String } else { t.clone() }).collect();
            let expect_bytes = |i: usize| name != "LPAD" && name != "RPAD" || i != 1;
            for (i, t) in types.iter().enumerate() {
                if expect_bytes(i) && !matches!(t, SqlType::Bytes | SqlType::Null) {
                    return Err(no_signature(name, types));
                }
            }
            let (string_fn, _) = resolve(name, &string_types)?;
            let (fname, eval): (&'static str, EvalFn) = match string_fn.name {
                "CONCAT" => ("CONCAT", |a| {
                    over_bytes(a, |t| match t[0] {
                        Value::Null => Value::Null,
                        _ => concat_strings(t),
                    })
                }),
                "CONCAT_WS" => ("CONCAT_WS", |a| {
                    over_bytes(a, |t| {
                        let Value::String(sep) = &t[0] else { return Value::Null };
                        let parts: Vec<&str> = t[1..].iter().filter_map(Value::as_str).collect();
                        Value::String(parts.join(sep))
                    })
                }),
                // BYTES padding must not be empty, even when none is needed (bytes-lpad-rpad.json).
                "LPAD" => {
                    ("LPAD", |a| over_bytes(a, |t| if t[2].as_str() == Some("") { Value::Null } else { pad(t, true) }))
                }
                _ => {
                    ("RPAD", |a| over_bytes(a, |t| if t[2].as_str() == Some("") { Value::Null } else { pad(t, false) }))
                }
            };
            (f(fname, eval), SqlType::Bytes)
        }
        "CONCAT" => {
            if types.is_empty() {
                return Err(no_signature(name, types));
            }
            for t in types {
                want(name, t, matches!(t, SqlType::String | SqlType::Bytes), "STRING arguments")?;
            }
            (f("CONCAT", concat_strings), SqlType::String)
        }
        "CONCAT_WS" => {
            if types.len() < 2 {
                return Err(no_signature(name, types));
            }
            strings(2, usize::MAX)?;
            (
                f("CONCAT_WS", |a| {
                    let Value::String(sep) = &a[0] else { return Value::Null };
                    let parts: Vec<&str> = a[1..].iter().filter_map(Value::as_str).collect();
                    Value::String(parts.join(sep))
                }),
                SqlType::String,
            )
        }
        "SUBSTRING" if matches!(t0, SqlType::Bytes) => {
            arity(name, types, 2, 3)?;
            for t in &types[1..] {
                want(name, t, is_integer(t), "integer positions")?;
            }
            (f("SUBSTRING", substring_bytes), SqlType::Bytes)
        }
        "SUBSTRING" => {
            arity(name, types, 2, 3)?;
            want(name, &t0, is_string(&t0), "a STRING")?;
            for t in &types[1..] {
                want(name, t, is_integer(t), "integer positions")?;
            }
            (f("SUBSTRING", substring), SqlType::String)
        }
        "REPLACE" => {
            strings(3, 3)?;
            (
                f("REPLACE", |a| match (&a[0], &a[1], &a[2]) {
                    (Value::String(s), Value::String(from), Value::String(to)) => {
                        Value::String(if from.is_empty() { s.clone() } else { s.replace(from.as_str(), to) })
                    }
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "INSTR" => {
            arity(name, types, 2, 4)?;
            want(name, &t0, is_string(&t0), "a STRING")?;
            want(name, &types[1], is_string(&types[1]), "a STRING substring")?;
            for t in &types[2..] {
                want(name, t, is_integer(t), "integer position and occurrence")?;
            }
            (f("INSTR", instr), SqlType::Int)
        }
        "REGEXP_EXTRACT" | "REGEXP_EXTRACT_ALL" => {
            arity(name, types, 2, 3)?;
            want(name, &t0, is_string(&t0), "a STRING pattern")?;
            want(name, &types[1], is_string(&types[1]), "a STRING input")?;
            if let Some(t) = types.get(2) {
                want(name, t, is_integer(t), "an integer group")?;
            }
            if name == "REGEXP_EXTRACT" {
                (f("REGEXP_EXTRACT", |a| regexp_extract(a, false)), SqlType::String)
            } else {
                (f("REGEXP_EXTRACT_ALL", |a| regexp_extract(a, true)), SqlType::Array(Box::new(SqlType::String)))
            }
        }
        "REGEXP_REPLACE" => {
            strings(3, 3)?;
            (
                f("REGEXP_REPLACE", |a| match (&a[0], &a[1], &a[2]) {
                    (Value::String(s), Value::String(p), Value::String(to)) => {
                        with_regex(p, |re| Value::String(re.replace_all(s, to.as_str()).into_owned()))
                    }
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "REGEXP_SPLIT_TO_ARRAY" => {
            strings(2, 2)?;
            (
                f("REGEXP_SPLIT_TO_ARRAY", |a| match (&a[0], &a[1]) {
                    (Value::String(s), Value::String(p)) => {
                        with_regex(p, |re| Value::Array(re.split(s).map(|x| Value::String(x.to_string())).collect()))
                    }
                    _ => Value::Null,
                }),
                SqlType::Array(Box::new(SqlType::String)),
            )
        }
        "SPLIT_TO_MAP" => {
            strings(3, 3)?;
            (f("SPLIT_TO_MAP", split_to_map), SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::String)))
        }
        // Called by the planner for the table function of that name: the rows it emits.
        "CUBE_EXPLODE" => {
            arity(name, types, 1, 1)?;
            let SqlType::Array(_) = &t0 else {
                return Err(no_signature(name, types));
            };
            (f("CUBE_EXPLODE", cube), SqlType::Array(Box::new(t0.clone())))
        }
        "MD5" => {
            strings(1, 1)?;
            (
                f("MD5", |a| {
                    map_str(&a[0], |s| Value::String(md5(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()))
                }),
                SqlType::String,
            )
        }
        "JSON_CONCAT" => {
            arity(name, types, 2, usize::MAX)?;
            for t in types {
                want(name, t, is_string(t), "STRING arguments")?;
            }
            (f("JSON_CONCAT", json_concat), SqlType::String)
        }
        "JSON_ARRAY_CONTAINS" => {
            arity(name, types, 2, 2)?;
            want(name, &t0, is_string(&t0), "a STRING")?;
            (f("JSON_ARRAY_CONTAINS", json_array_contains), SqlType::Boolean)
        }
        "JSON_ITEMS" => {
            strings(1, 1)?;
            (
                f("JSON_ITEMS", |a| match &a[0] {
                    Value::String(s) => json_array_items(s)
                        .map_or(Value::Null, |items| Value::Array(items.into_iter().map(Value::String).collect())),
                    _ => Value::Null,
                }),
                SqlType::Array(Box::new(SqlType::String)),
            )
        }
        "INT_FROM_BYTES" | "BIGINT_FROM_BYTES" | "DOUBLE_FROM_BYTES" => {
            arity(name, types, 1, 2)?;
            want(name, &t0, matches!(t0, SqlType::Bytes | SqlType::Null), "BYTES")?;
            if let Some(t) = types.get(1) {
                want(name, t, is_string(t), "a STRING byte order")?;
            }
            match name {
                "INT_FROM_BYTES" => (f("INT_FROM_BYTES", |a| number_from_bytes(a, 4)), SqlType::Int),
                "BIGINT_FROM_BYTES" => (f("BIGINT_FROM_BYTES", |a| number_from_bytes(a, 8)), SqlType::Bigint),
                _ => (f("DOUBLE_FROM_BYTES", |a| number_from_bytes(a, 0)), SqlType::Double),
            }
        }
        "FORMAT_TIME" => {
            arity(name, types, 2, 2)?;
            want(name, &t0, matches!(t0, SqlType::Time | SqlType::Null), "a TIME")?;
            (
                f("FORMAT_TIME", |a| match (&a[0], &a[1]) {
                    (Value::Time(ms), Value::String(fmt)) => {
                        format_millis(*ms, fmt, 0).map_or(Value::Null, Value::String)
                    }
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "PARSE_TIME" => {
            strings(2, 2)?;
            (
                f("PARSE_TIME", |a| match (&a[0], &a[1]) {
                    (Value::String(s), Value::String(fmt)) => {
                        parse_millis(s, fmt, 0).map_or(Value::Null, |ms| Value::Time(ms.rem_euclid(86_400_000)))
                    }
                    _ => Value::Null,
                }),
                SqlType::Time,
            )
        }
        "CONVERT_TZ" => {
            arity(name, types, 3, 3)?;
            want(name, &t0, matches!(t0, SqlType::Timestamp | SqlType::Null), "a TIMESTAMP")?;
            (
                // Both offsets at the instant itself, as ksqlDB's ConvertTz takes them.
                f("CONVERT_TZ", |a| match (&a[0], &a[1], &a[2]) {
                    (Value::Timestamp(ms), Value::String(from), Value::String(to)) => {
                        match (Zone::parse(from), Zone::parse(to)) {
                            (Some(f), Some(t)) => Value::Timestamp(ms + (t.offset_at(*ms) - f.offset_at(*ms)) * 60_000),
                            _ => Value::Null,
                        }
                    }
                    _ => Value::Null,
                }),
                SqlType::Timestamp,
            )
        }
        "ENTRIES" => {
            arity(name, types, 2, 2)?;
            let SqlType::Map(_, v) = &t0 else {
                return Err(no_signature(name, types));
            };
            want(name, &types[1], matches!(types[1], SqlType::Boolean | SqlType::Null), "a BOOLEAN")?;
            let entry = SqlType::Struct(vec![("K".into(), SqlType::String), ("V".into(), (**v).clone())]);
            (
                // Unsorted, ksqlDB lists its HashMap's entries in that map's order.
                f("ENTRIES", |a| match &a[0] {
                    Value::Map(m) => {
                        let mut entries = crate::types::java_hash_order(m);
                        if matches!(a[1], Value::Bool(true)) {
                            entries.sort_by(|x, y| x.0.cmp(y.0));
                        }
                        let entry =
                            |(k, v): (&String, &Value)| Value::Struct(vec![Value::String(k.clone()), v.clone()]);
                        Value::Array(entries.into_iter().map(entry).collect())
                    }
                    _ => Value::Null,
                }),
                SqlType::Array(Box::new(entry)),
            )
        }
        "LPAD" | "RPAD" => {
            arity(name, types, 3, 3)?;
            let left = name == "LPAD";
            let eval: fn(&[Value]) -> Value = if left { |a| pad(a, true) } else { |a| pad(a, false) };
            (f(if left { "LPAD" } else { "RPAD" }, eval), SqlType::String)
        }
        "SPLIT" if matches!(t0, SqlType::Bytes) => {
            arity(name, types, 2, 2)?;
            want(name, &types[1], matches!(types[1], SqlType::Bytes | SqlType::Null), "BYTES delimiter")?;
            (f("SPLIT", split_bytes), SqlType::Array(Box::new(SqlType::Bytes)))
        }
        "SPLIT" => {
            strings(2, 2)?;
            (
                f("SPLIT", |a| match (&a[0], &a[1]) {
                    (Value::String(s), _) if s.is_empty() => Value::Array(vec![Value::String(String::new())]),
                    (Value::String(s), Value::String(d)) => Value::Array(if d.is_empty() {
                        s.chars().map(|c| Value::String(c.to_string())).collect()
                    } else {
                        s.split(d.as_str()).map(|p| Value::String(p.to_string())).collect()
                    }),
                    _ => Value::Null,
                }),
                SqlType::Array(Box::new(SqlType::String)),
            )
        }
        "URL_ENCODE_PARAM" => {
            strings(1, 1)?;
            (f("URL_ENCODE_PARAM", |a| map_str(&a[0], |s| Value::String(url::encode_param(s)))), SqlType::String)
        }
        "URL_DECODE_PARAM" => {
            strings(1, 1)?;
            let decode = |a: &[Value]| map_str(&a[0], |s| url::decode_param(s).map_or(Value::Null, Value::String));
            (f("URL_DECODE_PARAM", decode), SqlType::String)
        }
        "URL_EXTRACT_FRAGMENT"
        | "URL_EXTRACT_HOST"
        | "URL_EXTRACT_PATH"
        | "URL_EXTRACT_PROTOCOL"
        | "URL_EXTRACT_QUERY" => {
            strings(1, 1)?;
            fn part(a: &[Value], pick: fn(&url::Url<'_>) -> Option<String>) -> Value {
                map_str(&a[0], |s| url::parse(s).and_then(|u| pick(&u)).map_or(Value::Null, Value::String))
            }
            let eval: EvalFn = match name {
                "URL_EXTRACT_FRAGMENT" => |a| part(a, |u| u.fragment.map(str::to_string)),
                "URL_EXTRACT_HOST" => |a| part(a, |u| u.host.map(str::to_string)),
                "URL_EXTRACT_PATH" => |a| part(a, |u| Some(u.path.to_string())),
                "URL_EXTRACT_PROTOCOL" => |a| part(a, |u| u.scheme.map(str::to_string)),
                _ => |a| part(a, |u| u.query.map(str::to_string)),
            };
            (f("URL_EXTRACT", eval), SqlType::String)
        }
        "URL_EXTRACT_PARAMETER" => {
            strings(2, 2)?;
            let eval = |a: &[Value]| match (&a[0], &a[1]) {
                (Value::String(s), Value::String(name)) => url::parse(s)
                    .and_then(|u| url::parameter(&u, name).map(str::to_string))
                    .map_or(Value::Null, Value::String),
                _ => Value::Null,
            };
            (f("URL_EXTRACT_PARAMETER", eval), SqlType::String)
        }
        "URL_EXTRACT_PORT" => {
            strings(1, 1)?;
            let eval =
                |a: &[Value]| map_str(&a[0], |s| url::parse(s).and_then(|u| u.port).map_or(Value::Null, Value::Int));
            (f("URL_EXTRACT_PORT", eval), SqlType::Int)
        }
        "CHR" => {
            arity(name, types, 1, 1)?;
            (
                f("CHR", |a| match &a[0] {
                    Value::Int(i) => u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .map_or(Value::Null, |c| Value::String(c.to_string())),
                    // ksqlDB reads `\uXXXX` escapes (a surrogate pair gives one character) and
                    // nothing else.
                    Value::String(s) => chr_escapes(s).map_or(Value::Null, Value::String),
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "ELT" => {
            if types.is_empty() {
                return Err(no_signature(name, types));
            }
            (
                f("ELT", |a| {
                    let Some(i) = a[0].as_i64() else { return Value::Null };
                    if i < 1 {
                        return Value::Null;
                    }
                    a.get(i as usize).cloned().unwrap_or(Value::Null)
                }),
                SqlType::String,
            )
        }
        "FIELD" => {
            if types.is_empty() {
                return Err(no_signature(name, types));
            }
            (
                f("FIELD", |a| {
                    let Value::String(s) = &a[0] else { return Value::Int(0) };
                    Value::Int(a[1..].iter().position(|v| v.as_str() == Some(s)).map_or(0, |p| p as i32 + 1))
                }),
                SqlType::Int,
            )
        }
        "ABS" => {
            numeric_one(name, types)?;
            (
                f("ABS", |a| match &a[0] {
                    Value::Int(v) => Value::Int(v.wrapping_abs()),
                    Value::Bigint(v) => Value::Bigint(v.wrapping_abs()),
                    Value::Double(v) => Value::Double(v.abs()),
                    Value::Decimal(d) => Value::Decimal(Decimal { unscaled: d.unscaled.abs(), scale: d.scale }),
                    _ => Value::Null,
                }),
                t0,
            )
        }
        "SIGN" => {
            numeric_one(name, types)?;
            (
                f("SIGN", |a| match a[0].as_f64() {
                    Some(v) if v > 0.0 => Value::Int(1),
                    Some(v) if v < 0.0 => Value::Int(-1),
                    Some(_) => Value::Int(0),
                    None => Value::Null,
                }),
                SqlType::Int,
            )
        }
        "CEIL" | "FLOOR" => {
            numeric_one(name, types)?;
            let ceil = name == "CEIL";
            let eval: fn(&[Value]) -> Value =
                if ceil { |a| round_like(&a[0], f64::ceil) } else { |a| round_like(&a[0], f64::floor) };
            let ty = match &t0 {
                SqlType::Decimal { precision, .. } => SqlType::Decimal { precision: *precision, scale: 0 },
                t => t.clone(),
            };
            (f(if ceil { "CEIL" } else { "FLOOR" }, eval), ty)
        }
        "AS_VALUE" => {
            // Copies a key column into the value; as an expression it is the identity.
            arity(name, types, 1, 1)?;
            (f("AS_VALUE", |a| a[0].clone()), t0)
        }
        "ROUND" | "TRUNC" => {
            arity(name, types, 1, 2)?;
            want(name, &t0, t0.is_numeric(), "a number")?;
            // TRUNC types as ROUND does; only the rounding differs.
            let truncate = name == "TRUNC";
            let fname = if truncate { "TRUNC" } else { "ROUND" };
            let places: fn(&[Value]) -> Value = if truncate { trunc_places } else { round_places };
            let whole: fn(&[Value]) -> Value = if truncate { trunc_whole } else { round_half_up };
            if types.len() == 2 {
                want(name, &types[1], is_integer(&types[1]), "an integer number of decimal places")?;
                let ty = match &t0 {
                    SqlType::Decimal { .. } => t0.clone(),
                    _ => SqlType::Double,
                };
                (f(fname, places), ty)
            } else {
                // ROUND(INT) is INT, ROUND(BIGINT|DOUBLE) is BIGINT, ROUND(DECIMAL(p, s)) is DECIMAL(p - s, 0).
                let ty = match &t0 {
                    SqlType::Int => SqlType::Int,
                    SqlType::Decimal { precision, scale } => {
                        SqlType::Decimal { precision: (precision - scale).max(1), scale: 0 }
                    }
                    _ => SqlType::Bigint,
                };
                (f(fname, whole), ty)
            }
        }
        "CBRT" | "DEGREES" | "RADIANS" | "SIN" | "COS" | "TAN" | "ASIN" | "ACOS" | "ATAN" | "COT" | "COSH" | "SINH"
        | "TANH" => {
            numeric_one(name, types)?;
            let (n, op): (&'static str, fn(&[Value]) -> Value) = match name {
                "CBRT" => ("CBRT", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.cbrt()))),
                "DEGREES" => ("DEGREES", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.to_degrees()))),
                "RADIANS" => ("RADIANS", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.to_radians()))),
                "SIN" => ("SIN", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.sin()))),
                "COS" => ("COS", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.cos()))),
                "TAN" => ("TAN", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.tan()))),
                "ASIN" => ("ASIN", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.asin()))),
                "ACOS" => ("ACOS", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.acos()))),
                // ksqlDB's COT is 1 / TAN: Infinity at 0, as Java's division gives.
                "COT" => ("COT", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(1.0 / v.tan()))),
                "COSH" => ("COSH", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.cosh()))),
                "SINH" => ("SINH", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.sinh()))),
                "TANH" => ("TANH", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.tanh()))),
                _ => ("ATAN", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.atan()))),
            };
            (f(n, op), SqlType::Double)
        }
        "TO_BYTES" => {
            arity(name, types, 2, 2)?;
            want(name, &t0, is_string(&t0), "a STRING")?;
            want(name, &types[1], is_string(&types[1]), "a STRING encoding")?;
            (
                f("TO_BYTES", |a| match (&a[0], &a[1]) {
                    (Value::String(s), Value::String(enc)) => text_to_bytes(s, enc).map_or(Value::Null, Value::Bytes),
                    _ => Value::Null,
                }),
                SqlType::Bytes,
            )
        }
        "FROM_BYTES" => {
            arity(name, types, 2, 2)?;
            want(name, &t0, matches!(t0, SqlType::Bytes | SqlType::Null), "BYTES")?;
            want(name, &types[1], is_string(&types[1]), "a STRING encoding")?;
            (
                f("FROM_BYTES", |a| match (&a[0], &a[1]) {
                    // FROM_BYTES writes hex in upper case (ksqlDB's BytesUtils), ENCODE in lower.
                    (Value::Bytes(b), Value::String(enc)) if enc.eq_ignore_ascii_case("hex") => {
                        bytes_to_text(b, enc).map_or(Value::Null, |t| Value::String(t.to_ascii_uppercase()))
                    }
                    (Value::Bytes(b), Value::String(enc)) => bytes_to_text(b, enc).map_or(Value::Null, Value::String),
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "ENCODE" => {
            strings(3, 3)?;
            (
                f("ENCODE", |a| match (&a[0], &a[1], &a[2]) {
                    (Value::String(s), Value::String(from), Value::String(to)) => {
                        let s = if from.eq_ignore_ascii_case("hex") { hex_strip(s) } else { s.into() };
                        text_to_bytes(&s, from).and_then(|b| bytes_to_text(&b, to)).map_or(Value::Null, Value::String)
                    }
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "GEO_DISTANCE" => {
            arity(name, types, 4, 5)?;
            for t in &types[..4] {
                want(name, t, t.is_numeric(), "numeric latitudes and longitudes")?;
            }
            if let Some(t) = types.get(4) {
                want(name, t, is_string(t), "a STRING unit")?;
            }
            (f("GEO_DISTANCE", geo_distance), SqlType::Double)
        }
        "ATAN2" => {
            arity(name, types, 2, 2)?;
            for t in types {
                want(name, t, t.is_numeric() || *t == SqlType::Null, "numeric arguments")?;
            }
            (
                f("ATAN2", |a| match (a[0].as_f64(), a[1].as_f64()) {
                    (Some(y), Some(x)) => Value::Double(y.atan2(x)),
                    _ => Value::Null,
                }),
                SqlType::Double,
            )
        }
        "LOG" => {
            arity(name, types, 1, 2)?;
            for t in types {
                want(name, t, t.is_numeric() || *t == SqlType::Null, "numeric arguments")?;
            }
            let op: fn(&[Value]) -> Value = if types.len() == 1 {
                // One argument: the natural logarithm (Math.log), NaN below zero, -Infinity at 0.
                |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.ln()))
            } else {
                // ksqlDB: NaN for a base of 0 or 1 or a negative base or value; -Infinity at 0.
                |a| match (a[0].as_f64(), a[1].as_f64()) {
                    (Some(b), Some(v)) if b <= 0.0 || b == 1.0 || v < 0.0 => Value::Double(f64::NAN),
                    (Some(b), Some(v)) => Value::Double(v.ln() / b.ln()),
                    _ => Value::Null,
                }
            };
            (f("LOG", op), SqlType::Double)
        }
        "MASK" => {
            strings(1, 5)?;
            (
                f("MASK", |a| match &a[0] {
                    Value::String(s) => Value::String(mask_chars(s, &a[1..], |_| true)),
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "SLICE" => {
            arity(name, types, 3, 3)?;
            want(name, &t0, matches!(t0, SqlType::Array(_)), "an ARRAY")?;
            for t in &types[1..] {
                want(name, t, is_integer(t), "INT bounds")?;
            }
            (
                // 1-based, both ends included; a NULL bound is open; bounds outside the array give NULL.
                f("SLICE", |a| {
                    let Value::Array(items) = &a[0] else { return Value::Null };
                    let start = if a[1].is_null() { Some(0) } else { a[1].as_i64().map(|v| v - 1) };
                    let end = if a[2].is_null() { Some(items.len() as i64) } else { a[2].as_i64() };
                    match (start, end) {
                        (Some(s), Some(e)) if s >= 0 && e <= items.len() as i64 && s <= e => {
                            Value::Array(items[s as usize..e as usize].to_vec())
                        }
                        _ => Value::Null,
                    }
                }),
                t0.clone(),
            )
        }
        "GENERATE_SERIES" => {
            arity(name, types, 2, 3)?;
            for t in types {
                want(name, t, is_integer(t), "INT or BIGINT arguments")?;
            }
            let big = types[..2].contains(&SqlType::Bigint);
            let op: fn(&[Value]) -> Value = if big {
                |a| series(a).map_or(Value::Null, |v| Value::Array(v.into_iter().map(Value::Bigint).collect()))
            } else {
                |a| {
                    series(a).map_or(Value::Null, |v| {
                        Value::Array(v.into_iter().map(|x| i32::try_from(x).map_or(Value::Null, Value::Int)).collect())
                    })
                }
            };
            (f("GENERATE_SERIES", op), SqlType::Array(Box::new(if big { SqlType::Bigint } else { SqlType::Int })))
        }
        "MAP_UNION" => {
            arity(name, types, 2, 2)?;
            let mut ty = SqlType::Null;
            for t in types {
                match t {
                    SqlType::Map(..) if ty == SqlType::Null => ty = t.clone(),
                    SqlType::Map(..) | SqlType::Null => {}
                    _ => return Err(no_signature(name, types)),
                }
            }
            (
                f("MAP_UNION", |a| match (&a[0], &a[1]) {
                    (Value::Map(x), Value::Map(y)) => {
                        let mut m = x.clone();
                        m.extend(y.iter().map(|(k, v)| (k.clone(), v.clone())));
                        Value::Map(m)
                    }
                    (Value::Map(x), _) | (_, Value::Map(x)) => Value::Map(x.clone()),
                    _ => Value::Null,
                }),
                ty,
            )
        }
        "AS_MAP" => {
            arity(name, types, 2, 2)?;
            let vt = match (&types[0], &types[1]) {
                (SqlType::Array(k), SqlType::Array(v)) if is_string(k) => (**v).clone(),
                (SqlType::Null, SqlType::Array(v)) => (**v).clone(),
                (SqlType::Array(k), SqlType::Null) if is_string(k) => SqlType::Null,
                _ => return Err(no_signature(name, types)),
            };
            (
                f("AS_MAP", |a| match (&a[0], &a[1]) {
                    (Value::Array(keys), Value::Array(vals)) => {
                        let mut m = crate::types::SqlMap::new();
                        for (i, k) in keys.iter().enumerate() {
                            if let Value::String(k) = k {
                                m.insert(k.clone(), vals.get(i).cloned().unwrap_or(Value::Null));
                            }
                        }
                        Value::map(m)
                    }
                    _ => Value::Null,
                }),
                SqlType::Map(Box::new(SqlType::String), Box::new(vt)),
            )
        }
        "PI" => {
            arity(name, types, 0, 0)?;
            (f("PI", |_| Value::Double(std::f64::consts::PI)), SqlType::Double)
        }
        "ARRAY_DISTINCT" | "ARRAY_MAX" | "ARRAY_MIN" | "ARRAY_SORT" | "ARRAY_JOIN" | "ARRAY_REMOVE"
        | "ARRAY_CONCAT" | "ARRAY_EXCEPT" | "ARRAY_INTERSECT" | "ARRAY_UNION" => return resolve_array_fn(name, types),
        "SQRT" | "EXP" | "LN" => {
            numeric_one(name, types)?;
            let (n, eval): (&'static str, fn(&[Value]) -> Value) = match name {
                "SQRT" => ("SQRT", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.sqrt()))),
                "EXP" => ("EXP", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.exp()))),
                _ => ("LN", |a| a[0].as_f64().map_or(Value::Null, |v| Value::Double(v.ln()))),
            };
            (f(n, eval), SqlType::Double)
        }
        "POWER" => {
            arity(name, types, 2, 2)?;
            (
                f("POWER", |a| match (a[0].as_f64(), a[1].as_f64()) {
                    (Some(x), Some(y)) => Value::Double(x.powf(y)),
                    _ => Value::Null,
                }),
                SqlType::Double,
            )
        }
        "UUID" => {
            arity(name, types, 0, 0)?;
            (ScalarFn { name: "UUID", eval: |_| Value::String(uuid_v4()), deterministic: false }, SqlType::String)
        }
        "MASK_LEFT" | "MASK_RIGHT" | "MASK_KEEP_LEFT" | "MASK_KEEP_RIGHT" => {
            arity(name, types, 2, 6)?;
            want(name, &t0, is_string(&t0), "a STRING")?;
            want(name, &types[1], is_integer(&types[1]), "an integer number of characters")?;
            for t in &types[2..] {
                want(name, t, is_string(t), "STRING masks")?;
            }
            let eval: EvalFn = match name {
                "MASK_LEFT" => |a| mask_part(a, |i, len, n| i < n.min(len)),
                "MASK_RIGHT" => |a| mask_part(a, |i, len, n| i >= len.saturating_sub(n)),
                "MASK_KEEP_LEFT" => |a| mask_part(a, |i, _, n| i >= n),
                _ => |a| mask_part(a, |i, len, n| i < len.saturating_sub(n)),
            };
            let fname = match name {
                "MASK_LEFT" => "MASK_LEFT",
                "MASK_RIGHT" => "MASK_RIGHT",
                "MASK_KEEP_LEFT" => "MASK_KEEP_LEFT",
                _ => "MASK_KEEP_RIGHT",
            };
            (f(fname, eval), SqlType::String)
        }
        "RANDOM" => {
            arity(name, types, 0, 0)?;
            (ScalarFn { name: "RANDOM", eval: |_| Value::Double(random_f64()), deterministic: false }, SqlType::Double)
        }
        "GREATEST" | "LEAST" => {
            // ksqlDB declares these in lower case, and names them so in its errors.
            let declared = name.to_ascii_lowercase();
            if types.is_empty() {
                return Err(no_signature(&declared, types));
            }
            // ksqlDB has one variant per type: nulls only, or numbers of several types none of
            // them DOUBLE (which BIGINT, DECIMAL and DOUBLE variants all accept), match no one
            // variant best.
            let numeric_kinds: BTreeSet<u8> = types
                .iter()
                .filter_map(|t| match t {
                    SqlType::Int => Some(0),
                    SqlType::Bigint => Some(1),
                    SqlType::Decimal { .. } => Some(2),
                    SqlType::Double => Some(3),
                    _ => None,
                })
                .collect();
            let mixed_without_double = numeric_kinds.len() > 1 && !numeric_kinds.contains(&3);
            if types.iter().all(|t| *t == SqlType::Null) || mixed_without_double {
                let list: Vec<String> =
                    types.iter().map(|t| if *t == SqlType::Null { "null".into() } else { t.to_string() }).collect();
                return Err(SqlError::analysis(format!(
                    "Function '{declared}' cannot be resolved due to ambiguous method parameters ({}).",
                    list.join(", ")
                )));
            }
            let ty = extreme_type(types).ok_or_else(|| no_signature(&declared, types))?;
            let greatest = name == "GREATEST";
            let eval: fn(&[Value]) -> Value = if greatest { |a| extreme(a, true) } else { |a| extreme(a, false) };
            (f(if greatest { "GREATEST" } else { "LEAST" }, eval), ty)
        }
        "COALESCE" => {
            if types.is_empty() {
                return Err(no_signature(name, types));
            }
            let ty = crate::expr::common_type(types)
                .map_err(|_| SqlError::analysis("function COALESCE needs arguments of one type"))?;
            (f("COALESCE", |a| a.iter().find(|v| !v.is_null()).cloned().unwrap_or(Value::Null)), ty)
        }
        "IFNULL" => {
            arity(name, types, 2, 2)?;
            let ty = crate::expr::common_type(types)
                .map_err(|_| SqlError::analysis("function IFNULL needs arguments of one type"))?;
            (f("IFNULL", |a| if a[0].is_null() { a[1].clone() } else { a[0].clone() }), ty)
        }
        "NULLIF" => {
            arity(name, types, 2, 2)?;
            (
                f("NULLIF", |a| {
                    if a[0].sql_cmp(&a[1]) == Some(std::cmp::Ordering::Equal) {
                        Value::Null
                    } else {
                        a[0].clone()
                    }
                }),
                t0,
            )
        }
        "ARRAY_LENGTH" => {
            arity(name, types, 1, 1)?;
            (
                f("ARRAY_LENGTH", |a| match &a[0] {
                    Value::Array(v) => Value::Int(v.len() as i32),
                    _ => Value::Null,
                }),
                SqlType::Int,
            )
        }
        "ARRAY_CONTAINS" => {
            arity(name, types, 2, 2)?;
            (
                f("ARRAY_CONTAINS", |a| match &a[0] {
                    Value::Array(v) => {
                        Value::Bool(v.iter().any(|x| x == &a[1] || x.sql_cmp(&a[1]) == Some(std::cmp::Ordering::Equal)))
                    }
                    _ => Value::Bool(false),
                }),
                SqlType::Boolean,
            )
        }
        "MAP_KEYS" => {
            arity(name, types, 1, 1)?;
            (
                f("MAP_KEYS", |a| match &a[0] {
                    // In ksqlDB's HashMap order.
                    Value::Map(m) => Value::Array(
                        crate::types::java_hash_order(m).into_iter().map(|(k, _)| Value::String(k.clone())).collect(),
                    ),
                    _ => Value::Null,
                }),
                SqlType::Array(Box::new(SqlType::String)),
            )
        }
        "MAP_VALUES" => {
            arity(name, types, 1, 1)?;
            let vt = match &t0 {
                SqlType::Map(_, v) => (**v).clone(),
                _ => SqlType::Null,
            };
            (
                f("MAP_VALUES", |a| match &a[0] {
                    Value::Map(m) => {
                        Value::Array(crate::types::java_hash_order(m).into_iter().map(|(_, v)| v.clone()).collect())
                    }
                    _ => Value::Null,
                }),
                SqlType::Array(Box::new(vt)),
            )
        }
        "EXTRACTJSONFIELD" => {
            strings(2, 2)?;
            (f("EXTRACTJSONFIELD", extract_json_field), SqlType::String)
        }
        "IS_JSON_STRING" => {
            strings(1, 1)?;
            (
                f("IS_JSON_STRING", |a| match &a[0] {
                    Value::String(s) => Value::Bool(serde_json::from_str::<serde_json::Value>(s).is_ok()),
                    _ => Value::Bool(false),
                }),
                SqlType::Boolean,
            )
        }
        "JSON_ARRAY_LENGTH" => {
            strings(1, 1)?;
            (
                f("JSON_ARRAY_LENGTH", |a| match json_of(&a[0]) {
                    Some(serde_json::Value::Array(items)) => Value::Int(items.len() as i32),
                    _ => Value::Null,
                }),
                SqlType::Int,
            )
        }
        "JSON_KEYS" => {
            strings(1, 1)?;
            (
                f("JSON_KEYS", |a| match (json_of(&a[0]), &a[0]) {
                    // In the order written (serde_json's map sorts).
                    (Some(serde_json::Value::Object(_)), Value::String(text)) => {
                        Value::Array(json_object_keys(text).into_iter().map(Value::String).collect())
                    }
                    _ => Value::Null,
                }),
                SqlType::Array(Box::new(SqlType::String)),
            )
        }
        "JSON_RECORDS" => {
            strings(1, 1)?;
            (
                f("JSON_RECORDS", |a| match json_of(&a[0]) {
                    Some(serde_json::Value::Object(m)) => {
                        // A string value is its text, anything else its JSON.
                        let text = |v: &serde_json::Value| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        Value::map(m.iter().map(|(k, v)| (k.clone(), Value::String(text(v)))).collect())
                    }
                    _ => Value::Null,
                }),
                SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::String)),
            )
        }
        "TIMESTAMPADD" | "TIMESTAMPSUB" | "DATEADD" | "DATESUB" | "TIMEADD" | "TIMESUB" => {
            // Compiled with the unit first, as milliseconds (see `takes_time_unit`).
            arity(name, types, 3, 3)?;
            want(name, &types[1], is_integer(&types[1]), "an INT interval")?;
            let (target, n, op): (SqlType, &'static str, EvalFn) = match name {
                "TIMESTAMPADD" => (SqlType::Timestamp, "TIMESTAMPADD", |a| match (&a[2], interval_millis(a, 1)) {
                    (Value::Timestamp(t), Some(d)) => t.checked_add(d).map_or(Value::Null, Value::Timestamp),
                    _ => Value::Null,
                }),
                "TIMESTAMPSUB" => (SqlType::Timestamp, "TIMESTAMPSUB", |a| match (&a[2], interval_millis(a, -1)) {
                    (Value::Timestamp(t), Some(d)) => t.checked_add(d).map_or(Value::Null, Value::Timestamp),
                    _ => Value::Null,
                }),
                "DATEADD" | "DATESUB" => {
                    let op: fn(&[Value]) -> Value =
                        if name == "DATEADD" { |a| shift_date(a, 1) } else { |a| shift_date(a, -1) };
                    (SqlType::Date, if name == "DATEADD" { "DATEADD" } else { "DATESUB" }, op)
                }
                _ => {
                    let op: fn(&[Value]) -> Value =
                        if name == "TIMEADD" { |a| shift_time(a, 1) } else { |a| shift_time(a, -1) };
                    (SqlType::Time, if name == "TIMEADD" { "TIMEADD" } else { "TIMESUB" }, op)
                }
            };
            want(name, &types[2], types[2] == target || types[2] == SqlType::Null, &format!("a {target} value"))?;
            (f(n, op), target)
        }
        "TIMESTAMPTOSTRING" => {
            arity(name, types, 2, 3)?;
            want(name, &t0, is_integer(&t0), "BIGINT epoch milliseconds")?;
            (
                f("TIMESTAMPTOSTRING", |a| match (a[0].as_i64(), &a[1]) {
                    (Some(ms), Value::String(fmt)) => {
                        let zone = match a.get(2) {
                            Some(Value::String(tz)) => match Zone::parse(tz) {
                                Some(z) => z,
                                None => return Value::Null,
                            },
                            Some(_) => return Value::Null,
                            None => Zone::UTC,
                        };
                        format_millis_in(ms, fmt, zone).map_or(Value::Null, Value::String)
                    }
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "STRINGTOTIMESTAMP" => {
            strings(2, 3)?;
            (
                f("STRINGTOTIMESTAMP", |a| match parse_with_zone_arg(a) {
                    Some(ms) => Value::Bigint(ms),
                    None => Value::Null,
                }),
                SqlType::Bigint,
            )
        }
        "FORMAT_TIMESTAMP" => {
            arity(name, types, 2, 3)?;
            (
                f("FORMAT_TIMESTAMP", |a| match (&a[0], &a[1]) {
                    (Value::Timestamp(ms), Value::String(fmt)) => {
                        let zone = match a.get(2) {
                            Some(Value::String(tz)) => match Zone::parse(tz) {
                                Some(z) => z,
                                None => return Value::Null,
                            },
                            _ => Zone::UTC,
                        };
                        format_millis_in(*ms, fmt, zone).map_or(Value::Null, Value::String)
                    }
                    _ => Value::Null,
                }),
                SqlType::String,
            )
        }
        "PARSE_TIMESTAMP" => {
            strings(2, 3)?;
            (f("PARSE_TIMESTAMP", |a| parse_with_zone_arg(a).map_or(Value::Null, Value::Timestamp)), SqlType::Timestamp)
        }
        "DATETOSTRING" | "FORMAT_DATE" => {
            arity(name, types, 2, 2)?;
            (
                f("FORMAT_DATE", |a| {
                    let days = match &a[0] {
                        Value::Date(d) => i64::from(*d),
                        Value::Int(d) => i64::from(*d),
                        _ => return Value::Null,
                    };
                    match &a[1] {
                        Value::String(fmt) => {
                            format_millis(days * 86_400_000, fmt, 0).map_or(Value::Null, Value::String)
                        }
                        _ => Value::Null,
                    }
                }),
                SqlType::String,
            )
        }
        "STRINGTODATE" => {
            strings(2, 2)?;
            (
                f("STRINGTODATE", |a| match (&a[0], &a[1]) {
                    (Value::String(s), Value::String(fmt)) => {
                        parse_millis(s, fmt, 0).map_or(Value::Null, |ms| Value::Int(ms.div_euclid(86_400_000) as i32))
                    }
                    _ => Value::Null,
                }),
                SqlType::Int,
            )
        }
        "PARSE_DATE" => {
            strings(2, 2)?;
            (
                f("PARSE_DATE", |a| match (&a[0], &a[1]) {
                    (Value::String(s), Value::String(fmt)) => parse_millis_at(s, fmt, Zone::UTC, true)
                        .map_or(Value::Null, |ms| Value::Date(ms.div_euclid(86_400_000) as i32)),
                    _ => Value::Null,
                }),
                SqlType::Date,
            )
        }
        "UNIX_TIMESTAMP" => {
            arity(name, types, 0, 1)?;
            if types.is_empty() {
                (
                    ScalarFn { name: "UNIX_TIMESTAMP", eval: |_| Value::Bigint(now_ms()), deterministic: false },
                    SqlType::Bigint,
                )
            } else {
                (
                    f("UNIX_TIMESTAMP", |a| match &a[0] {
                        Value::Timestamp(ms) => Value::Bigint(*ms),
                        _ => Value::Null,
                    }),
                    SqlType::Bigint,
                )
            }
        }
        "UNIX_DATE" => {
            arity(name, types, 0, 1)?;
            if types.is_empty() {
                (
                    ScalarFn {
                        name: "UNIX_DATE",
                        eval: |_| Value::Int(now_ms().div_euclid(86_400_000) as i32),
                        deterministic: false,
                    },
                    SqlType::Int,
                )
            } else {
                (
                    f("UNIX_DATE", |a| match &a[0] {
                        Value::Date(d) => Value::Int(*d),
                        _ => Value::Null,
                    }),
                    SqlType::Int,
                )
            }
        }
        "FROM_UNIXTIME" => {
            arity(name, types, 1, 1)?;
            (f("FROM_UNIXTIME", |a| a[0].as_i64().map_or(Value::Null, Value::Timestamp)), SqlType::Timestamp)
        }
        "FROM_DAYS" => {
            arity(name, types, 1, 1)?;
            (f("FROM_DAYS", |a| a[0].as_i64().map_or(Value::Null, |d| Value::Date(d as i32))), SqlType::Date)
        }
        _ => return Err(unknown_function(name)),
    })
}

/// ksqlDB's INSTR: the 1-based position of the `occurrence`-th match at or after `position`, or,
/// for a negative position, of the `occurrence`-th match counted back from that position from the
/// end; 0 when there is none (or an argument is null).
fn instr(a: &[Value]) -> Value {
    let (Value::String(s), Value::String(sub)) = (&a[0], &a[1]) else { return Value::Int(0) };
    let position = a.get(2).map_or(Some(1), Value::as_i64);
    let occurrence = a.get(3).map_or(Some(1), Value::as_i64);
    let (Some(position), Some(occurrence)) = (position, occurrence) else { return Value::Null };
    let mut hay: Vec<char> = s.chars().collect();
    let mut needle: Vec<char> = sub.chars().collect();
    let len = hay.len() as i64;
    if position.abs() > len || occurrence < 1 {
        return Value::Int(0);
    }
    let reversed = position < 0;
    if reversed {
        hay.reverse();
        needle.reverse();
    }
    let from = (position.abs() - 1).max(0) as usize;
    let mut seen = 0;
    let mut found = None;
    for i in from..=hay.len().saturating_sub(needle.len()) {
        if hay[i..].starts_with(&needle) {
            seen += 1;
            if seen == occurrence {
                found = Some((i - from) as i64);
                break;
            }
        }
    }
    let Some(i) = found else { return Value::Int(0) };
    let p = position.abs();
    Value::Int(if reversed { len - p - i } else { i + p } as i32)
}

/// Runs `f` with `pattern` compiled; null for a pattern that does not compile (ksqlDB fails the
/// call: "Invalid regular expression pattern"). Compiled patterns are kept per thread, since a
/// query calls these functions with one constant pattern for every record.
fn with_regex(pattern: &str, f: impl FnOnce(&regex::Regex) -> Value) -> Value {
    const CACHED: usize = 64;
    thread_local! {
        static PATTERNS: std::cell::RefCell<std::collections::HashMap<String, Option<regex::Regex>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() >= CACHED {
                cache.clear();
            }
            cache.insert(pattern.to_string(), regex::Regex::new(pattern).ok());
        }
        match cache.get(pattern) {
            Some(Some(re)) => f(re),
            _ => Value::Null,
        }
    })
}

/// REGEXP_EXTRACT(pattern, input[, group]) and REGEXP_EXTRACT_ALL: the group (0, the whole
/// match, by default) of the first match or of every match; null for a group the pattern lacks.
fn regexp_extract(a: &[Value], all: bool) -> Value {
    let (Value::String(p), Value::String(s)) = (&a[0], &a[1]) else { return Value::Null };
    let group = match a.get(2) {
        None => 0,
        Some(v) => match v.as_i64() {
            Some(g) if g >= 0 => g as usize,
            _ => return Value::Null,
        },
    };
    with_regex(p, |re| {
        if group >= re.captures_len() {
            return Value::Null;
        }
        let text = |c: regex::Captures<'_>| c.get(group).map_or(Value::Null, |m| Value::String(m.as_str().to_string()));
        if all {
            Value::Array(re.captures_iter(s).map(text).collect())
        } else {
            re.captures(s).map_or(Value::Null, text)
        }
    })
}

/// ksqlDB's CUBE_EXPLODE rows: every combination of the elements kept or replaced by null, in
/// binary counting order from all nulls (the first element is the most significant), each
/// combination once.
fn cube(a: &[Value]) -> Value {
    let Value::Array(items) = &a[0] else { return Value::Null };
    // 2^n rows: beyond 20 elements that is a million rows per record; ksqlDB has no limit, but a
    // record must not exhaust memory.
    if items.len() > 20 {
        return Value::Null;
    }
    let n = items.len();
    let bit = |i: usize| 1u32 << (n - 1 - i);
    // Keeping a null element gives the row that replacing it gave, earlier: skip those masks.
    let null_bits: u32 = (0..n).filter(|&i| items[i].is_null()).map(bit).sum();
    let rows = (0u32..(1 << n)).filter(|mask| mask & null_bits == 0).map(|mask| {
        Value::Array((0..n).map(|i| if mask & bit(i) != 0 { items[i].clone() } else { Value::Null }).collect())
    });
    Value::Array(rows.collect())
}

/// `s` with the characters at the positions `masked` selects replaced: upper case, lower case,
/// digits and others by the masks given (default `X`, `x`, `n`, `-`; a NULL mask keeps them).
fn mask_chars(s: &str, masks: &[Value], masked: impl Fn(usize) -> bool) -> String {
    let defaults = ['X', 'x', 'n', '-'];
    let mut chosen: [Option<char>; 4] = defaults.map(Some);
    for (i, m) in chosen.iter_mut().enumerate() {
        if let Some(v) = masks.get(i) {
            *m = match v {
                Value::String(t) => t.chars().next(),
                _ => None,
            };
        }
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if !masked(i) {
                return c;
            }
            let class = if c.is_uppercase() {
                0
            } else if c.is_lowercase() {
                1
            } else if c.is_ascii_digit() {
                2
            } else {
                3
            };
            chosen[class].unwrap_or(c)
        })
        .collect()
}

/// MASK_LEFT, MASK_RIGHT, MASK_KEEP_LEFT, MASK_KEEP_RIGHT(s, n, masks...): `select(index,
/// length, n)` tells which characters are masked; a negative `n` is null (ksqlDB refuses it).
fn mask_part(a: &[Value], select: fn(usize, usize, usize) -> bool) -> Value {
    let (Value::String(s), Some(n)) = (&a[0], a[1].as_i64()) else { return Value::Null };
    let Ok(n) = usize::try_from(n) else { return Value::Null };
    let len = s.chars().count();
    Value::String(mask_chars(s, &a[2..], |i| select(i, len, n)))
}

/// CONCAT skips null arguments (ksqlDB: null inputs are ignored).
fn chr_escapes(s: &str) -> Option<String> {
    let mut units = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let hex = rest.strip_prefix("\\u")?.get(..4)?;
        units.push(u16::from_str_radix(hex, 16).ok()?);
        rest = &rest[6..];
    }
    if units.is_empty() {
        return None;
    }
    String::from_utf16(&units).ok()
}

fn concat_strings(a: &[Value]) -> Value {
    let mut out = String::new();
    for v in a {
        if let Value::String(s) = v {
            out.push_str(s);
        }
    }
    Value::String(out)
}

/// SUBSTRING over BYTES: positions count bytes, as SUBSTRING counts characters.
fn substring_bytes(a: &[Value]) -> Value {
    over_bytes(a, substring)
}

/// Runs a string function over BYTES arguments: each byte becomes one character (U+0100 plus the
/// byte, so that every byte is one `char`), and a string result becomes bytes again.
fn over_bytes(a: &[Value], f: fn(&[Value]) -> Value) -> Value {
    let args: Vec<Value> = a
        .iter()
        .map(|v| match v {
            Value::Bytes(b) => {
                Value::String(b.iter().map(|x| char::from_u32(u32::from(*x) + 0x100).unwrap_or('?')).collect())
            }
            other => other.clone(),
        })
        .collect();
    match f(&args) {
        Value::String(s) => Value::Bytes(s.chars().map(|c| u32::from(c).wrapping_sub(0x100) as u8).collect()),
        other => other,
    }
}

/// The elements of a JSON array, each as compact JSON text with its object keys in the order
/// written (as ksqlDB's Jackson keeps them); None for text that is not a JSON array.
fn json_array_items(text: &str) -> Option<Vec<String>> {
    if !matches!(serde_json::from_str::<serde_json::Value>(text).ok()?, serde_json::Value::Array(_)) {
        return None;
    }
    let compact = weft_schema::json::compact(text);
    let inner = compact.strip_prefix('[')?.strip_suffix(']')?;
    Some(top_level_items(inner).into_iter().map(str::to_string).collect())
}

/// What stands between the brackets of a compact JSON array or object, split into its elements or
/// members at the commas outside strings and nested values.
fn top_level_items(inner: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0i32, false, false, 0usize);
    for (i, c) in inner.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner.is_empty() {
        items.push(&inner[start..]);
    }
    items
}

/// The keys of a valid JSON object's text, in the order written.
fn json_object_keys(text: &str) -> Vec<String> {
    let compact = weft_schema::json::compact(text);
    let Some(inner) = compact.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else { return Vec::new() };
    top_level_items(inner).into_iter().filter_map(|m| Some(split_member(m)?.0)).collect()
}

/// JSON_CONCAT: objects merge (a later key wins); otherwise the arguments concatenate as arrays,
/// a non-array argument as one element. Null when an argument is null or not JSON.
fn json_concat(a: &[Value]) -> Value {
    let mut parsed = Vec::with_capacity(a.len());
    for v in a {
        let Value::String(s) = v else { return Value::Null };
        match serde_json::from_str::<serde_json::Value>(s) {
            Ok(j) => parsed.push(j),
            Err(_) => return Value::Null,
        }
    }
    let out = if parsed.iter().all(serde_json::Value::is_object) {
        let mut merged = serde_json::Map::new();
        for j in parsed {
            if let serde_json::Value::Object(m) = j {
                merged.extend(m);
            }
        }
        serde_json::Value::Object(merged)
    } else {
        let mut items = Vec::new();
        for j in parsed {
            match j {
                serde_json::Value::Array(v) => items.extend(v),
                other => items.push(other),
            }
        }
        serde_json::Value::Array(items)
    };
    Value::String(out.to_string())
}

/// JSON_ARRAY_CONTAINS(json, value): whether the JSON array holds an element equal to `value`
/// (false for text that is not a JSON array).
fn json_array_contains(a: &[Value]) -> Value {
    let Value::String(s) = &a[0] else { return Value::Bool(false) };
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(s) else {
        return Value::Bool(false);
    };
    let found = items.iter().any(|j| match (j, &a[1]) {
        (serde_json::Value::Null, Value::Null) => true,
        (serde_json::Value::String(x), Value::String(y)) => x == y,
        (serde_json::Value::Bool(x), Value::Bool(y)) => x == y,
        (serde_json::Value::Number(n), Value::Int(_) | Value::Bigint(_)) => n.as_i64() == a[1].as_i64(),
        (serde_json::Value::Number(n), Value::Double(d)) => n.as_f64() == Some(*d),
        _ => false,
    });
    Value::Bool(found)
}

/// INT_FROM_BYTES (`width` 4), BIGINT_FROM_BYTES (8), DOUBLE_FROM_BYTES (`width` 0: 8 bytes, an
/// IEEE double): big-endian unless the second argument is `LITTLE_ENDIAN`; null for another length.
fn number_from_bytes(a: &[Value], width: usize) -> Value {
    let Value::Bytes(b) = &a[0] else { return Value::Null };
    let little = match a.get(1) {
        None => false,
        Some(Value::String(o)) if o.eq_ignore_ascii_case("BIG_ENDIAN") => false,
        Some(Value::String(o)) if o.eq_ignore_ascii_case("LITTLE_ENDIAN") => true,
        Some(_) => return Value::Null,
    };
    let len = if width == 0 { 8 } else { width };
    let mut bytes = b.clone();
    if bytes.len() != len {
        return Value::Null;
    }
    if little {
        bytes.reverse();
    }
    let mut eight = [0u8; 8];
    eight[8 - len..].copy_from_slice(&bytes);
    match width {
        4 => Value::Int(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        8 => Value::Bigint(i64::from_be_bytes(eight)),
        _ => Value::Double(f64::from_be_bytes(eight)),
    }
}

/// The MD5 digest (RFC 1321) of `data`: MD5 is one function's worth of code, not a dependency.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
        20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6,
        10, 15, 21,
    ];
    // K[i] = floor(|sin(i + 1)| * 2^32).
    let k: Vec<u32> = (0..64).map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32).collect();
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_le_bytes());
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk.chunks(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a.wrapping_add(f).wrapping_add(k[i]).wrapping_add(m[g]).rotate_left(S[i]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(rotated);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 16];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// SPLIT over BYTES: an empty delimiter splits into single bytes.
fn split_bytes(a: &[Value]) -> Value {
    let (Value::Bytes(b), Value::Bytes(d)) = (&a[0], &a[1]) else { return Value::Null };
    if d.is_empty() {
        if b.is_empty() {
            return Value::Array(vec![Value::Bytes(Vec::new())]);
        }
        return Value::Array(b.iter().map(|x| Value::Bytes(vec![*x])).collect());
    }
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + d.len() <= b.len() {
        if b[i..].starts_with(d) {
            parts.push(Value::Bytes(b[start..i].to_vec()));
            i += d.len();
            start = i;
        } else {
            i += 1;
        }
    }
    parts.push(Value::Bytes(b[start..].to_vec()));
    Value::Array(parts)
}

/// SPLIT_TO_MAP(input, entryDelimiter, kvDelimiter): empty entries and entries without the
/// key-value delimiter are skipped, text after a second key-value delimiter is dropped, the last
/// of two equal keys wins; null when a delimiter is empty or both are equal.
fn split_to_map(a: &[Value]) -> Value {
    let (Value::String(s), Value::String(entry), Value::String(kv)) = (&a[0], &a[1], &a[2]) else {
        return Value::Null;
    };
    if entry.is_empty() || kv.is_empty() || entry == kv {
        return Value::Null;
    }
    let mut out = crate::types::SqlMap::new();
    for e in s.split(entry.as_str()).filter(|e| !e.is_empty() && e.contains(kv.as_str())) {
        let mut parts = e.split(kv.as_str());
        if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    Value::map(out)
}

#[cfg(test)]
mod more_tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn partial_masks_follow_the_documented_examples() {
        let s = |t: &str| Value::String(t.into());
        let call = |name: &str| {
            let (f, _) = resolve(name, &[SqlType::String, SqlType::Int]).unwrap();
            (f.eval)(&[s("AbCd12#$"), Value::Int(4)])
        };
        // ksqlDB's default masks: upper X, lower x, digit n, other -.
        assert_eq!(call("MASK_LEFT"), s("XxXx12#$"));
        assert_eq!(call("MASK_KEEP_RIGHT"), s("XxXx12#$"));
        assert_eq!(call("MASK_RIGHT"), s("AbCdnn--"));
        assert_eq!(call("MASK_KEEP_LEFT"), s("AbCdnn--"));
        let uuid = uuid_v4();
        assert_eq!((uuid.len(), &uuid[14..15]), (36, "4"));
    }

    #[test]
    fn md5_matches_the_rfc_1321_test_suite() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        let long = b"12345678901234567890123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(hex(&md5(long)), "57edf4a22be3c955ac49da2e2107b67a");
    }

    #[test]
    fn instr_counts_from_either_end() {
        let call = |p: i64, o: i64| {
            instr(&[
                Value::String("corporate floor".into()),
                Value::String("or".into()),
                Value::Int(p as i32),
                Value::Int(o as i32),
            ])
        };
        // ksqlDB's docs: INSTR('CORPORATE FLOOR', 'OR', 3, 2) is 14; from the end, -3 and 2 give 2.
        assert_eq!(call(3, 2), Value::Int(14));
        assert_eq!(call(-3, 2), Value::Int(2));
        assert_eq!(call(1, 3), Value::Int(14));
        assert_eq!(call(1, 4), Value::Int(0));
    }

    #[test]
    fn round_ties_go_toward_positive_infinity() {
        let d = |s: &str| Decimal::parse(s).unwrap();
        assert_eq!(round_decimal(d("-1.5"), 0), Some(d("-1")));
        assert_eq!(round_decimal(d("1.5"), 0), Some(d("2")));
        assert_eq!(round_decimal(d("125.5"), -1), Some(d("130")));
        assert_eq!(round_decimal(d("-125"), -1), Some(d("-120")));
    }
}

fn numeric_one(name: &str, types: &[SqlType]) -> Result<()> {
    arity(name, types, 1, 1)?;
    want(name, &types[0], types[0].is_numeric(), "a number")
}

fn map_str(v: &Value, f: impl FnOnce(&str) -> Value) -> Value {
    match v {
        Value::String(s) => f(s),
        _ => Value::Null,
    }
}

fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_whitespace() {
            start = true;
            out.push(c);
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// ksqlDB SUBSTRING: 1-based start; a negative start counts from the end; out-of-range parts are cut.
fn substring(a: &[Value]) -> Value {
    let Value::String(s) = &a[0] else { return Value::Null };
    let Some(pos) = a[1].as_i64() else { return Value::Null };
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    let start = if pos > 0 {
        pos - 1
    } else if pos < 0 {
        (len + pos).max(0)
    } else {
        0
    };
    let end = match a.get(2) {
        Some(v) => match v.as_i64() {
            Some(n) => start.saturating_add(n.max(0)),
            None => return Value::Null,
        },
        None => len,
    };
    let (start, end) = (start.clamp(0, len) as usize, end.clamp(0, len) as usize);
    if start >= end {
        return Value::String(String::new());
    }
    Value::String(chars[start..end].iter().collect())
}

const MAX_PAD: i64 = 16 << 20;

fn pad(a: &[Value], left: bool) -> Value {
    let (Value::String(s), Some(len), Value::String(p)) = (&a[0], a[1].as_i64(), &a[2]) else {
        return Value::Null;
    };
    // A negative or absurd length (over 16 MiB) yields null rather than an allocation storm.
    if !(0..=MAX_PAD).contains(&len) || (p.is_empty() && (len as usize) > s.chars().count()) {
        return Value::Null;
    }
    let len = len as usize;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= len {
        return Value::String(chars[..len].iter().collect());
    }
    let fill: String = p.chars().cycle().take(len - chars.len()).collect();
    Value::String(if left { format!("{fill}{s}") } else { format!("{s}{fill}") })
}

fn round_like(v: &Value, op: fn(f64) -> f64) -> Value {
    match v {
        Value::Int(_) | Value::Bigint(_) => v.clone(),
        Value::Double(d) => Value::Double(op(*d)),
        Value::Decimal(d) => {
            let f = 10i128.pow(u32::from(d.scale));
            let q = d.unscaled.div_euclid(f);
            let floor = q;
            let result = if op(0.5) == 1.0 && d.unscaled.rem_euclid(f) != 0 { floor + 1 } else { floor };
            Value::Decimal(Decimal { unscaled: result, scale: 0 })
        }
        _ => Value::Null,
    }
}

/// Java's `Math.round`: half up toward positive infinity.
fn round_half_up(a: &[Value]) -> Value {
    match &a[0] {
        Value::Int(_) => a[0].clone(),
        Value::Bigint(v) => Value::Bigint(*v),
        Value::Double(d) => Value::Bigint((d + 0.5).floor() as i64),
        Value::Decimal(d) => round_decimal(*d, 0).map_or(Value::Null, Value::Decimal),
        _ => Value::Null,
    }
}

/// Text as bytes under one of ksqlDB's encodings (`hex`, `utf8`, `ascii`, `base64`, any case);
/// `ascii` turns what is not ASCII into `?` as Java's US_ASCII charset does. None for an unknown
/// encoding or text that is not in it.
fn text_to_bytes(s: &str, encoding: &str) -> Option<Vec<u8>> {
    match encoding.to_ascii_lowercase().as_str() {
        "hex" => {
            // Pairs of digits, as Java's hex decoders read them: an odd count is refused.
            let digits: Vec<u8> = s.chars().map(|c| c.to_digit(16).map(|d| d as u8)).collect::<Option<_>>()?;
            if !digits.len().is_multiple_of(2) {
                return None;
            }
            Some(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
        }
        "utf8" => Some(s.as_bytes().to_vec()),
        "ascii" => Some(s.chars().map(|c| if c.is_ascii() { c as u8 } else { b'?' }).collect()),
        "base64" => crate::format::unbase64(s),
        _ => None,
    }
}

/// ENCODE's hex input without its `0x` prefix (an odd count of digits after it gets a leading
/// zero) or its `X'...'` quotes, as ksqlDB's `Encode.hexStrip`; other text as it is.
fn hex_strip(s: &str) -> std::borrow::Cow<'_, str> {
    if let Some(digits) = s.strip_prefix("0x") {
        return if !s.len().is_multiple_of(2) { format!("0{digits}").into() } else { digits.into() };
    }
    match s.strip_prefix("x'").or_else(|| s.strip_prefix("X'")).and_then(|r| r.strip_suffix('\'')) {
        Some(inner) => inner.into(),
        None => s.into(),
    }
}

/// Bytes as text under one of ksqlDB's encodings; bytes that do not decode become U+FFFD, as in Java.
fn bytes_to_text(b: &[u8], encoding: &str) -> Option<String> {
    match encoding.to_ascii_lowercase().as_str() {
        "hex" => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
        "utf8" => Some(String::from_utf8_lossy(b).into_owned()),
        "ascii" => Some(b.iter().map(|&x| if x.is_ascii() { x as char } else { '\u{FFFD}' }).collect()),
        "base64" => Some(crate::format::base64(b)),
        _ => None,
    }
}

/// ksqlDB's GEO_DISTANCE: the haversine great-circle distance, in kilometres (radius 6371) or
/// miles (3959); null for coordinates out of range or an unknown unit (ksqlDB fails the record).
fn geo_distance(a: &[Value]) -> Value {
    let [Some(lat1), Some(lon1), Some(lat2), Some(lon2)] = [0, 1, 2, 3].map(|i| a[i].as_f64()) else {
        return Value::Null;
    };
    if [lat1, lat2].iter().any(|l| !(-90.0..=90.0).contains(l))
        || [lon1, lon2].iter().any(|l| !(-180.0..=180.0).contains(l))
    {
        return Value::Null;
    }
    let radius = match a.get(4) {
        None | Some(Value::Null) => 6371.0,
        Some(Value::String(unit)) => match unit.trim().to_lowercase().as_str() {
            "" | "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => 6371.0,
            "mi" | "mile" | "miles" => 3959.0,
            _ => return Value::Null,
        },
        Some(_) => return Value::Null,
    };
    let haversin = |x: f64| (x / 2.0).sin().powi(2);
    let h = haversin((lat2 - lat1).to_radians())
        + haversin((lon2 - lon1).to_radians()) * lat1.to_radians().cos() * lat2.to_radians().cos();
    Value::Double(2.0 * h.sqrt().asin() * radius)
}

/// Drops the digits of `d` below `10^-places` (`places` may be negative), keeping its scale.
fn truncate_decimal(d: Decimal, places: i64) -> Decimal {
    let scale = i64::from(d.scale);
    if places >= scale {
        return d;
    }
    match u32::try_from(scale - places).ok().and_then(|n| 10i128.checked_pow(n)) {
        Some(div) => Decimal { unscaled: (d.unscaled / div).saturating_mul(div), scale: d.scale },
        None => Decimal { unscaled: 0, scale: d.scale },
    }
}

/// ksqlDB's TRUNC(x): toward zero.
fn trunc_whole(a: &[Value]) -> Value {
    match &a[0] {
        Value::Int(_) | Value::Bigint(_) => a[0].clone(),
        Value::Double(d) => Value::Bigint(d.trunc() as i64),
        Value::Decimal(d) => truncate_decimal(*d, 0).rescale(0).map_or(Value::Null, Value::Decimal),
        _ => Value::Null,
    }
}

/// ksqlDB's TRUNC(x, places): toward zero at `places` decimal places (negative: tens, hundreds).
fn trunc_places(a: &[Value]) -> Value {
    let Some(places) = a[1].as_i64() else { return Value::Null };
    match &a[0] {
        Value::Decimal(d) => Value::Decimal(truncate_decimal(*d, places)),
        v => match v.as_f64() {
            // On the decimal text of x, as BigDecimal.setScale(places, DOWN) sees it.
            Some(x) => match Decimal::parse(&format!("{x}")) {
                Some(d) => Value::Double(truncate_decimal(d, places).to_f64()),
                None => Value::Double(x),
            },
            None => Value::Null,
        },
    }
}

fn round_places(a: &[Value]) -> Value {
    let Some(places) = a[1].as_i64() else { return Value::Null };
    match &a[0] {
        // ROUND(DECIMAL(p, s), n) keeps the type DECIMAL(p, s).
        Value::Decimal(d) => {
            round_decimal(*d, places).and_then(|r| r.rescale(d.scale)).map_or(Value::Null, Value::Decimal)
        }
        v => match v.as_f64() {
            // BigDecimal.valueOf(x), the decimal text of x, rounded.
            Some(x) if x.is_finite() => match Decimal::parse(&format!("{x}")).and_then(|d| round_decimal(d, places)) {
                Some(d) => Value::Double(d.to_f64()),
                None => Value::Double(x),
            },
            Some(x) => Value::Double(x),
            None => Value::Null,
        },
    }
}

/// `d` rounded to `places` decimal places (negative: tens, hundreds, at scale 0), ties toward
/// positive infinity: ksqlDB's ROUND uses HALF_UP above zero and HALF_DOWN below, so that it
/// agrees with `Math.round` (`ROUND(-1.5)` is -1).
fn round_decimal(d: Decimal, places: i64) -> Option<Decimal> {
    let dropped = i64::from(d.scale) - places;
    if dropped <= 0 {
        return d.rescale(u8::try_from(places).ok()?);
    }
    let factor = 10i128.checked_pow(u32::try_from(dropped).ok()?)?;
    let (q, r) = (d.unscaled.div_euclid(factor), d.unscaled.rem_euclid(factor));
    let q = if r >= factor - r { q + 1 } else { q };
    if places >= 0 {
        Some(Decimal { unscaled: q, scale: u8::try_from(places).ok()? })
    } else {
        let up = 10i128.checked_pow(u32::try_from(-places).ok()?)?;
        Some(Decimal { unscaled: q.checked_mul(up)?, scale: 0 })
    }
}

/// The type GREATEST and LEAST compare and return: the widest number, or one temporal type
/// whose string arguments are read as it, or STRING or BYTES alone.
fn extreme_type(types: &[SqlType]) -> Option<SqlType> {
    let known: Vec<&SqlType> = types.iter().filter(|t| **t != SqlType::Null).collect();
    let first = (*known.first()?).clone();
    if first.is_numeric() {
        return known.iter().try_fold(first, |acc, t| SqlType::widen_numeric(&acc, t));
    }
    let temporal = known.iter().find(|t| matches!(t, SqlType::Date | SqlType::Time | SqlType::Timestamp));
    let target = temporal.map_or(first, |t| (*t).clone());
    known.iter().all(|t| **t == target || (temporal.is_some() && **t == SqlType::String)).then_some(target)
}

/// Whether a function's arguments are cast to its result type before the call (its result is
/// one of them, so it must be of the declared type).
pub fn casts_arguments_to_result(name: &str) -> bool {
    matches!(name, "GREATEST" | "LEAST")
}

fn extreme(a: &[Value], greatest: bool) -> Value {
    let mut best: Option<&Value> = None;
    for v in a.iter().filter(|v| !v.is_null()) {
        best = match best {
            None => Some(v),
            Some(b) => {
                let ord = v.sql_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
                if (greatest && ord == std::cmp::Ordering::Greater) || (!greatest && ord == std::cmp::Ordering::Less) {
                    Some(v)
                } else {
                    Some(b)
                }
            }
        };
    }
    best.cloned().unwrap_or(Value::Null)
}

fn random_f64() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Xorshift over a per-thread state seeded from the clock: RANDOM and UUID need no more.
fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(now_ms() as u64 ^ 0x9E37_79B9_7F4A_7C15);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// A random (version 4, RFC 4122 variant) UUID in its 36-character text form.
fn uuid_v4() -> String {
    let (hi, lo) = (random_u64(), random_u64());
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    let hex = format!("{hi:016x}{lo:016x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// EXTRACTJSONFIELD(json, '$.a.b[0]'): the value as a string (strings unquoted), or null.
fn extract_json_field(a: &[Value]) -> Value {
    let (Value::String(json), Value::String(path)) = (&a[0], &a[1]) else { return Value::Null };
    // Jackson reads the first value and ignores what follows it (extract-json-field.json).
    let mut values = serde_json::Deserializer::from_str(json).into_iter::<serde::de::IgnoredAny>();
    let Some(Ok(_)) = values.next() else { return Value::Null };
    // Navigated as text, so that what is found is written as it was: numbers keep their digits
    // (`1.23450`, as ksqlDB's Jackson reads them with BigDecimal) and objects their key order.
    let mut v = weft_schema::json::compact(&json[..values.byte_offset()]);
    let Some(rest) = path.trim().strip_prefix('$') else { return Value::Null };
    let mut rest = rest;
    while !rest.is_empty() {
        let found = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            rest = &r[end..];
            json_member(&v, key)
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { return Value::Null };
            let inner = r[..end].trim();
            rest = &r[end + 1..];
            if let Some(key) = inner.strip_prefix(['\'', '"']).and_then(|k| k.strip_suffix(['\'', '"'])) {
                json_member(&v, key)
            } else {
                let Ok(i) = inner.parse::<usize>() else { return Value::Null };
                json_array_items(&v).and_then(|mut items| (i < items.len()).then(|| items.swap_remove(i)))
            }
        } else {
            return Value::Null;
        };
        match found {
            Some(text) => v = text,
            None => return Value::Null,
        }
    }
    match v.as_str() {
        "null" => Value::Null,
        s if s.starts_with('"') => serde_json::from_str::<String>(s).map_or(Value::Null, Value::String),
        _ => Value::String(v),
    }
}

/// The compact text of member `key` of a JSON object's compact text (the last one of that name,
/// as Jackson keeps it); None when the text is not an object or has no such member.
fn json_member(text: &str, key: &str) -> Option<String> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    // The last member of that name, as Jackson keeps it.
    top_level_items(inner)
        .into_iter()
        .rev()
        .filter_map(split_member)
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.to_string())
}

/// A compact object member `"key":value` as its decoded key and its value's text.
fn split_member(m: &str) -> Option<(String, &str)> {
    let mut keys = serde_json::Deserializer::from_str(m).into_iter::<String>();
    let key = keys.next()?.ok()?;
    let rest = m[keys.byte_offset()..].strip_prefix(':')?;
    Some((key, rest))
}

// ---- casts ----

/// Refuses casts ksqlDB refuses at analysis time.
pub fn check_cast(from: &SqlType, to: &SqlType) -> Result<()> {
    use SqlType::*;
    let ok = match (from, to) {
        (Null, _) => true,
        (a, b) if a == b => true,
        (_, String) => true,
        (String, Boolean | Int | Bigint | Double | Decimal { .. } | Timestamp | Date | Time | Bytes) => true,
        (a, b) if a.is_numeric() && b.is_numeric() => true,
        (Boolean, Int | Bigint) => false,
        (Timestamp, Date | Time) | (Date, Timestamp) => true,
        (Array(a), Array(b)) => check_cast(a, b).is_ok(),
        (Map(_, a), Map(_, b)) => check_cast(a, b).is_ok(),
        (Struct(_), Struct(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(SqlError::analysis(format!("Cast of {from} to {to} is not supported")))
    }
}

/// Casts a value whose type is known: structs convert field by field by name, and complex values
/// print with their field names (`Struct{F0=1,f1=3}`), as ksqlDB does.
pub fn cast_typed(v: &Value, from: &SqlType, to: &SqlType) -> Value {
    match (v, from, to) {
        (Value::Null, _, _) => Value::Null,
        (_, _, SqlType::String) => Value::String(display_typed(v, from)),
        (Value::Struct(fields), SqlType::Struct(from_fields), SqlType::Struct(to_fields)) => Value::Struct(
            to_fields
                .iter()
                .map(|(name, t)| {
                    // Field names are case-sensitive; a field differing only in case is taken when
                    // neither struct has the name exactly (`f0` never fills `F0` beside an `f0`).
                    let exact = from_fields.iter().position(|(n, _)| n == name);
                    let folded = || {
                        from_fields
                            .iter()
                            .position(|(n, _)| n.eq_ignore_ascii_case(name) && !to_fields.iter().any(|(m, _)| m == n))
                    };
                    match exact.or_else(folded) {
                        Some(i) => fields.get(i).map_or(Value::Null, |f| cast_typed(f, &from_fields[i].1, t)),
                        None => Value::Null,
                    }
                })
                .collect(),
        ),
        (Value::Array(items), SqlType::Array(fi), SqlType::Array(ti)) => {
            Value::Array(items.iter().map(|i| cast_typed(i, fi, ti)).collect())
        }
        (Value::Map(m), SqlType::Map(_, fv), SqlType::Map(_, tv)) => {
            Value::map(m.iter().map(|(k, x)| (k.clone(), cast_typed(x, fv, tv))).collect())
        }
        _ => cast_value(v, to),
    }
}

/// The string form of a value of a known type (struct fields with their names).
pub fn display_typed(v: &Value, ty: &SqlType) -> String {
    match (v, ty) {
        (Value::Struct(fields), SqlType::Struct(defs)) => {
            let parts: Vec<String> =
                defs.iter().zip(fields).map(|((n, t), f)| format!("{n}={}", display_typed(f, t))).collect();
            format!("Struct{{{}}}", parts.join(","))
        }
        (Value::Array(items), SqlType::Array(t)) => {
            let parts: Vec<String> = items.iter().map(|i| display_typed(i, t)).collect();
            format!("[{}]", parts.join(", "))
        }
        (Value::Map(m), SqlType::Map(_, t)) => {
            let parts: Vec<String> = m.iter().map(|(k, x)| format!("{k}={}", display_typed(x, t))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        _ => to_display_string(v),
    }
}

/// Casts a value; null when the value does not convert (ksqlDB logs and yields null).
pub fn cast_value(v: &Value, to: &SqlType) -> Value {
    match (v, to) {
        (Value::Null, _) => Value::Null,
        (_, SqlType::String) => Value::String(to_display_string(v)),
        (Value::String(s), SqlType::Int) => s.trim().parse::<i32>().map_or(Value::Null, Value::Int),
        (Value::String(s), SqlType::Bigint) => s.trim().parse::<i64>().map_or(Value::Null, Value::Bigint),
        (Value::String(s), SqlType::Double) => s.trim().parse::<f64>().map_or(Value::Null, Value::Double),
        (Value::String(s), SqlType::Boolean) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" => Value::Bool(true),
            "false" | "f" | "no" | "n" => Value::Bool(false),
            _ => Value::Null,
        },
        (Value::String(s), SqlType::Decimal { precision, scale }) => {
            Decimal::parse(s).map_or(Value::Null, |d| fit_decimal(d, *precision, *scale))
        }
        (Value::String(s), SqlType::Timestamp) => parse_iso_timestamp(s).map_or(Value::Null, Value::Timestamp),
        // A partial date is its first day (date.json: '1970-01' is day 0).
        (Value::String(s), SqlType::Date) => ["yyyy-MM-dd", "yyyy-MM", "yyyy"]
            .iter()
            .find_map(|f| parse_millis(s, f, 0))
            .map_or(Value::Null, |ms| Value::Date(ms.div_euclid(86_400_000) as i32)),
        (Value::String(s), SqlType::Time) => parse_time_of_day(s).map_or(Value::Null, Value::Time),
        (Value::String(s), SqlType::Bytes) => Value::Bytes(s.as_bytes().to_vec()),
        (Value::Int(_) | Value::Bigint(_) | Value::Double(_) | Value::Decimal(_), SqlType::Int) => match v {
            Value::Double(d) => Value::Int(*d as i32),
            Value::Decimal(d) => Value::Int((d.unscaled / 10i128.pow(u32::from(d.scale))) as i32),
            other => other.as_i64().map_or(Value::Null, |i| Value::Int(i as i32)),
        },
        (Value::Int(_) | Value::Bigint(_) | Value::Double(_) | Value::Decimal(_), SqlType::Bigint) => match v {
            Value::Double(d) => Value::Bigint(*d as i64),
            Value::Decimal(d) => Value::Bigint((d.unscaled / 10i128.pow(u32::from(d.scale))) as i64),
            other => other.as_i64().map_or(Value::Null, Value::Bigint),
        },
        (Value::Int(_) | Value::Bigint(_) | Value::Double(_) | Value::Decimal(_), SqlType::Double) => {
            v.as_f64().map_or(Value::Null, Value::Double)
        }
        (Value::Int(i), SqlType::Decimal { precision, scale }) => {
            fit_decimal(Decimal { unscaled: i128::from(*i), scale: 0 }, *precision, *scale)
        }
        (Value::Bigint(i), SqlType::Decimal { precision, scale }) => {
            fit_decimal(Decimal { unscaled: i128::from(*i), scale: 0 }, *precision, *scale)
        }
        (Value::Decimal(d), SqlType::Decimal { precision, scale }) => fit_decimal(*d, *precision, *scale),
        (Value::Double(x), SqlType::Decimal { precision, scale }) => {
            Decimal::parse(&format!("{x}")).map_or(Value::Null, |d| fit_decimal(d, *precision, *scale))
        }
        (Value::Timestamp(ms), SqlType::Date) => Value::Date(ms.div_euclid(86_400_000) as i32),
        (Value::Timestamp(ms), SqlType::Time) => Value::Time(ms.rem_euclid(86_400_000)),
        (Value::Date(d), SqlType::Timestamp) => Value::Timestamp(i64::from(*d) * 86_400_000),
        (Value::Array(items), SqlType::Array(inner)) => {
            Value::Array(items.iter().map(|i| cast_value(i, inner)).collect())
        }
        (Value::Map(m), SqlType::Map(_, inner)) => {
            Value::map(m.iter().map(|(k, v)| (k.clone(), cast_value(v, inner))).collect::<crate::types::SqlMap>())
        }
        (v, t) if value_has_type(v, t) => v.clone(),
        _ => Value::Null,
    }
}

fn value_has_type(v: &Value, t: &SqlType) -> bool {
    matches!(
        (v, t),
        (Value::Bool(_), SqlType::Boolean)
            | (Value::Int(_), SqlType::Int)
            | (Value::Bigint(_), SqlType::Bigint)
            | (Value::Double(_), SqlType::Double)
            | (Value::Bytes(_), SqlType::Bytes)
            | (Value::Timestamp(_), SqlType::Timestamp)
            | (Value::Date(_), SqlType::Date)
            | (Value::Time(_), SqlType::Time)
            | (Value::Struct(_), SqlType::Struct(_))
    )
}

/// Rescales to `scale` (HALF_UP) and checks the value fits `precision` digits.
pub fn fit_decimal(d: Decimal, precision: u8, scale: u8) -> Value {
    match d.rescale(scale) {
        Some(r) if r.integer_digits() <= u32::from(precision - scale.min(precision)) => Value::Decimal(r),
        _ => Value::Null,
    }
}

/// Java's `Double.toString`.
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let a = d.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{d}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // Java writes at least two digits, the two closest to the value when one would do
        // (4.9E-324, not 5.0E-324, for the smallest subnormal).
        let shortest = format!("{d:e}");
        let s =
            if shortest.split_once('e').is_some_and(|(m, _)| m.contains('.')) { shortest } else { format!("{d:.1e}") };
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{mantissa}E{exp}")
    }
}

/// The string form ksqlDB gives a value (CAST to STRING, string concatenation of keys).
/// ksqlDB's `TO_JSON_STRING`: the value as compact JSON, dates and times as their ISO strings
/// (`"1972-09-27"`, `"16:43:40"`, `"1971-11-28T23:46:40.000"`), a null as `null`.
pub fn to_json_string(v: &Value, ty: &SqlType) -> String {
    fn temporal_as_text(v: &Value, ty: &SqlType) -> (Value, SqlType) {
        match (v, ty) {
            (Value::Timestamp(_) | Value::Date(_) | Value::Time(_), _) => {
                (Value::String(to_display_string(v)), SqlType::String)
            }
            (Value::Array(items), SqlType::Array(t)) => {
                let converted: Vec<(Value, SqlType)> = items.iter().map(|i| temporal_as_text(i, t)).collect();
                let inner = converted.first().map_or_else(|| (**t).clone(), |(_, t)| t.clone());
                (Value::Array(converted.into_iter().map(|(v, _)| v).collect()), SqlType::Array(Box::new(inner)))
            }
            (Value::Map(m), SqlType::Map(k, t)) => {
                let mut inner = (**t).clone();
                let mut out = crate::types::SqlMap::new();
                for (key, item) in m.iter() {
                    let (v, t) = temporal_as_text(item, t);
                    inner = t;
                    out.insert(key.clone(), v);
                }
                (Value::map(out), SqlType::Map(k.clone(), Box::new(inner)))
            }
            (Value::Struct(fields), SqlType::Struct(defs)) => {
                let (values, defs) = fields
                    .iter()
                    .zip(defs)
                    .map(|(f, (n, t))| {
                        let (v, t) = temporal_as_text(f, t);
                        (v, (n.clone(), t))
                    })
                    .unzip();
                (Value::Struct(values), SqlType::Struct(defs))
            }
            _ => (v.clone(), ty.clone()),
        }
    }
    let (v, ty) = temporal_as_text(v, ty);
    let mut buf = Vec::new();
    crate::format::write_json(&mut buf, &v, &ty);
    String::from_utf8_lossy(&buf).into_owned()
}

pub fn to_display_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Bigint(i) => i.to_string(),
        Value::Double(d) => java_double(*d),
        Value::Decimal(d) => d.to_string(),
        Value::String(s) => s.clone(),
        Value::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Value::Timestamp(ms) => format_millis(*ms, "yyyy-MM-dd'T'HH:mm:ss.SSS", 0).unwrap_or_default(),
        Value::Date(d) => format_millis(i64::from(*d) * 86_400_000, "yyyy-MM-dd", 0).unwrap_or_default(),
        Value::Time(ms) => format_millis(*ms, "HH:mm:ss", 0).unwrap_or_default(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(to_display_string).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Map(m) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", to_display_string(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Struct(fields) => {
            let parts: Vec<String> = fields.iter().map(to_display_string).collect();
            format!("Struct{{{}}}", parts.join(","))
        }
    }
}

// ---- dates and times ----

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Splits a Java `DateTimeFormatter` pattern into letter runs and literals.
fn pattern_parts(fmt: &str) -> Vec<(Option<char>, String)> {
    let mut parts: Vec<(Option<char>, String)> = Vec::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            let mut lit = String::new();
            if chars.peek() == Some(&'\'') {
                chars.next();
                parts.push((None, "'".into()));
                continue;
            }
            for n in chars.by_ref() {
                if n == '\'' {
                    break;
                }
                lit.push(n);
            }
            parts.push((None, lit));
        } else if c.is_ascii_alphabetic() {
            let mut run = c.to_string();
            while chars.peek() == Some(&c) {
                run.push(c);
                chars.next();
            }
            parts.push((Some(c), run));
        } else {
            parts.push((None, c.to_string()));
        }
    }
    parts
}

/// Formats epoch milliseconds with a Java date pattern at a fixed UTC offset in minutes.
pub fn format_millis(ms: i64, fmt: &str, offset_minutes: i64) -> Option<String> {
    format_millis_in(ms, fmt, Zone::Fixed(offset_minutes))
}

/// Formats epoch milliseconds with a Java date pattern in `zone` (its offset at that instant).
pub fn format_millis_in(ms: i64, fmt: &str, zone: Zone) -> Option<String> {
    let offset_minutes = zone.offset_at(ms);
    let local = ms.checked_add(offset_minutes * 60_000)?;
    let days = local.div_euclid(86_400_000);
    let in_day = local.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    let mut out = String::new();
    for (letter, run) in pattern_parts(fmt) {
        let n = run.len();
        let num = |v: i64, width: usize| format!("{v:0width$}");
        match letter {
            None => out.push_str(&run),
            Some('y') | Some('u') => out.push_str(&if n == 2 { num(y.rem_euclid(100), 2) } else { num(y, n) }),
            Some('M') => out.push_str(&match n {
                1 | 2 => num(i64::from(mo), n),
                3 => MONTHS[(mo - 1) as usize].to_string(),
                _ => return None,
            }),
            Some('d') => out.push_str(&num(i64::from(d), n)),
            Some('D') => out.push_str(&num(days - days_from_civil(y, 1, 1) + 1, n)),
            Some('H') => out.push_str(&num(h, n)),
            Some('h') => out.push_str(&num(if h % 12 == 0 { 12 } else { h % 12 }, n)),
            Some('a') => out.push_str(if h < 12 { "AM" } else { "PM" }),
            Some('m') => out.push_str(&num(mi, n)),
            Some('s') => out.push_str(&num(s, n)),
            Some('S') => {
                let digits = format!("{milli:03}");
                out.push_str(&if n <= 3 { digits[..n].to_string() } else { format!("{digits}{}", "0".repeat(n - 3)) });
            }
            Some('E') => out.push_str(WEEKDAYS[days.rem_euclid(7) as usize]),
            Some('z') if n <= 3 => out.push_str(&zone.short_name_at(ms)),
            Some('V') if n == 2 => out.push_str(&zone.id()),
            Some('X') | Some('x') | Some('Z') => {
                if offset_minutes == 0 && letter == Some('X') {
                    out.push('Z');
                } else {
                    let sign = if offset_minutes < 0 { '-' } else { '+' };
                    let a = offset_minutes.abs();
                    let (hh, mm) = (a / 60, a % 60);
                    let text = match (letter, n) {
                        (Some('Z'), _) => format!("{sign}{hh:02}{mm:02}"),
                        (_, 1) if mm == 0 => format!("{sign}{hh:02}"),
                        (_, 1) | (_, 2) => format!("{sign}{hh:02}{mm:02}"),
                        _ => format!("{sign}{hh:02}:{mm:02}"),
                    };
                    out.push_str(&text);
                }
            }
            Some(_) => return None,
        }
    }
    Some(out)
}

/// Parses text with a Java date pattern; fields absent from the pattern default to 1970-01-01 00:00.
pub fn parse_millis(text: &str, fmt: &str, default_offset_minutes: i64) -> Option<i64> {
    parse_millis_at(text, fmt, Zone::Fixed(default_offset_minutes), false)
}

/// `parse_millis` that may stop before the end of `text` (`trailing`): PARSE_DATE reads a date
/// from the start of longer text, as ksqlDB's does (null.json: `'2003-12-24-01-01'` with
/// `yyyy-MM-dd` is 2003-12-24).
fn parse_millis_at(text: &str, fmt: &str, default_zone: Zone, trailing: bool) -> Option<i64> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut ms) = (1970i64, 1u32, 1u32, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut zone = default_zone;
    let bytes = text.as_bytes();
    let mut i = 0usize;
    let parts = pattern_parts(fmt);
    for (idx, (letter, run)) in parts.iter().enumerate() {
        let n = run.len();
        // Adjacent numeric fields (yyyyMMdd) need fixed widths; otherwise read all digits.
        let next_is_numeric = matches!(parts.get(idx + 1), Some((Some(c), _)) if "yuMdHhmsSD".contains(*c));
        let limit = |max: usize| if next_is_numeric { n.max(1) } else { max };
        match letter {
            None => {
                if !text[i..].starts_with(run.as_str()) {
                    return None;
                }
                i += run.len();
            }
            Some('y') | Some('u') => {
                let neg = bytes.get(i) == Some(&b'-');
                if neg {
                    i += 1;
                }
                let v = read_digits(text, &mut i, limit(9))?;
                y = if n == 2 {
                    2000 + v
                } else if neg {
                    -v
                } else {
                    v
                };
            }
            Some('M') if n >= 3 => {
                let name = text.get(i..i + 3)?;
                mo = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))? as u32 + 1;
                i += 3;
            }
            Some('M') => mo = u32::try_from(read_digits(text, &mut i, limit(2))?).ok()?,
            Some('d') => d = u32::try_from(read_digits(text, &mut i, limit(2))?).ok()?,
            Some('H') | Some('h') => h = read_digits(text, &mut i, limit(2))?,
            Some('m') => mi = read_digits(text, &mut i, limit(2))?,
            Some('s') => s = read_digits(text, &mut i, limit(2))?,
            Some('S') => {
                let start = i;
                let v = read_digits(text, &mut i, limit(9))?;
                let width = (i - start) as u32;
                ms = if width >= 3 { v / 10i64.pow(width - 3) } else { v * 10i64.pow(3 - width) };
            }
            Some('a') => {
                let t = text.get(i..i + 2)?;
                pm = Some(t.eq_ignore_ascii_case("PM"));
                i += 2;
            }
            Some('E') => {
                let t = text.get(i..i + 3)?;
                WEEKDAYS.iter().position(|w| w.eq_ignore_ascii_case(t))?;
                i += 3;
            }
            Some('X') | Some('x') | Some('Z') | Some('z') | Some('V') | Some('O') => {
                let rest = &text[i..];
                let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
                // ksqlDB parses case-insensitively: `z` is `Z`.
                zone = Zone::parse_text(&rest[..end])?;
                i += end;
            }
            Some(_) => return None,
        }
    }
    if (i != bytes.len() && !trailing)
        || !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    if let Some(pm) = pm {
        h = h % 12 + if pm { 12 } else { 0 };
    }
    let days = days_from_civil(y, mo, d);
    let local = days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms;
    Some(local - zone.offset_of_local(local) * 60_000)
}

fn read_digits(text: &str, i: &mut usize, limit: usize) -> Option<i64> {
    let bytes = text.as_bytes();
    let start = *i;
    while *i < bytes.len() && bytes[*i].is_ascii_digit() && *i - start < limit {
        *i += 1;
    }
    if *i == start {
        return None;
    }
    text[start..*i].parse().ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_with_zone_arg(a: &[Value]) -> Option<i64> {
    let (Value::String(s), Value::String(fmt)) = (&a[0], &a[1]) else { return None };
    let zone = match a.get(2) {
        Some(Value::String(tz)) => Zone::parse(tz)?,
        Some(_) => return None,
        None => Zone::UTC,
    };
    parse_millis_at(s, fmt, zone, false)
}

/// ISO-8601 timestamps as ksqlDB accepts them: `2020-01-02`, `2020-01-02T03:04`, `...:05.678`, with an
/// optional `Z` or offset.
/// ksqlDB's `PartialStringToTimestampParser`: `yyyy[-MM[-dd[THH[:mm[:ss[.SSS]]]]]]` with an optional
/// offset (`Z`, `+hhmm`, `+hh:mm`), the missing parts the start of their range, UTC by default.
pub fn parse_partial_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_once('T').unwrap_or((text, ""));
    let (time, zone) = match rest.find(['+', '-', 'Z']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    const DATE: &str = "0000-01-01";
    const TIME: &str = "00:00:00.000";
    if date.len() < 4 || date.len() > DATE.len() || time.len() > TIME.len() {
        return None;
    }
    let full = format!("{date}{}T{time}{}{}", &DATE[date.len()..], &TIME[time.len()..], zone.replace(':', ""));
    let fmt = if zone.is_empty() { "yyyy-MM-dd'T'HH:mm:ss.SSS" } else { "yyyy-MM-dd'T'HH:mm:ss.SSSX" };
    parse_millis(&full, fmt, 0)
}

pub fn parse_iso_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    for fmt in [
        "yyyy-MM-dd'T'HH:mm:ss.SSSX",
        "yyyy-MM-dd'T'HH:mm:ss.SSS",
        "yyyy-MM-dd'T'HH:mm:ssX",
        "yyyy-MM-dd'T'HH:mm:ss",
        "yyyy-MM-dd'T'HH:mmX",
        "yyyy-MM-dd'T'HH:mm",
        "yyyy-MM-dd'T'HH",
        "yyyy-MM-dd",
    ] {
        if let Some(ms) = parse_millis(s, fmt, 0) {
            return Some(ms);
        }
    }
    None
}

fn parse_time_of_day(s: &str) -> Option<i64> {
    for fmt in ["HH:mm:ss.SSS", "HH:mm:ss", "HH:mm"] {
        if let Some(ms) = parse_millis(s, fmt, 0) {
            return Some(ms);
        }
    }
    None
}

/// Parses a string compared with a temporal value into that value's type.
pub fn parse_temporal_like(like: &Value, s: &str) -> Option<Value> {
    match like {
        Value::Timestamp(_) => parse_iso_timestamp(s).map(Value::Timestamp),
        Value::Date(_) => parse_millis(s, "yyyy-MM-dd", 0).map(|ms| Value::Date(ms.div_euclid(86_400_000) as i32)),
        Value::Time(_) => parse_time_of_day(s).map(Value::Time),
        _ => None,
    }
}

/// GENERATE_SERIES(start, end [, step]): `None` for a zero step or one pointing away from `end`.
fn series(a: &[Value]) -> Option<Vec<i64>> {
    let (start, end) = (a[0].as_i64()?, a[1].as_i64()?);
    let step = match a.get(2) {
        Some(v) => v.as_i64()?,
        None => {
            if end >= start {
                1
            } else {
                -1
            }
        }
    };
    if step == 0 || (end > start && step < 0) || (end < start && step > 0) {
        return None;
    }
    // Bounded: a series longer than this is refused rather than exhausting memory.
    let count = (end.checked_sub(start)? / step).checked_add(1)?;
    if count > 1_000_000 {
        return None;
    }
    Some((0..count).map(|i| start + i * step).collect())
}

fn shift_date(a: &[Value], sign: i64) -> Value {
    match (&a[2], interval_millis(a, sign)) {
        (Value::Date(d), Some(ms)) => {
            let days = (i64::from(*d) * 86_400_000 + ms).div_euclid(86_400_000);
            i32::try_from(days).map_or(Value::Null, Value::Date)
        }
        _ => Value::Null,
    }
}

fn shift_time(a: &[Value], sign: i64) -> Value {
    match (&a[2], interval_millis(a, sign)) {
        (Value::Time(t), Some(ms)) => Value::Time((t + ms.rem_euclid(86_400_000)).rem_euclid(86_400_000)),
        _ => Value::Null,
    }
}

fn json_of(v: &Value) -> Option<serde_json::Value> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok(),
        _ => None,
    }
}

fn same_element(a: &Value, b: &Value) -> bool {
    a == b || a.sql_cmp(b) == Some(std::cmp::Ordering::Equal)
}

fn distinct_into(out: &mut Vec<Value>, items: impl IntoIterator<Item = Value>, keep: impl Fn(&Value) -> bool) {
    for v in items {
        if keep(&v) && !out.iter().any(|x| same_element(x, &v)) {
            out.push(v);
        }
    }
}

/// The collection functions over arrays (ksqlDB's `ARRAY_*`).
fn resolve_array_fn(name: &str, types: &[SqlType]) -> Result<(ScalarFn, SqlType)> {
    let (min, max) = match name {
        "ARRAY_DISTINCT" | "ARRAY_MAX" | "ARRAY_MIN" => (1, 1),
        "ARRAY_SORT" | "ARRAY_JOIN" => (1, 2),
        _ => (2, 2),
    };
    arity(name, types, min, max)?;
    let arrays = match name {
        "ARRAY_CONCAT" | "ARRAY_EXCEPT" | "ARRAY_INTERSECT" | "ARRAY_UNION" => 2,
        _ => 1,
    };
    let mut elem = SqlType::Null;
    for t in &types[..arrays] {
        match t {
            SqlType::Array(e) if elem == SqlType::Null => elem = (**e).clone(),
            SqlType::Array(_) | SqlType::Null => {}
            _ => return Err(no_signature(name, types)),
        }
    }
    let primitive = !matches!(elem, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_));
    if matches!(name, "ARRAY_MAX" | "ARRAY_MIN" | "ARRAY_SORT" | "ARRAY_JOIN") && !primitive {
        return Err(no_signature(name, types));
    }
    if matches!(name, "ARRAY_SORT" | "ARRAY_JOIN") && types.len() == 2 && !is_string(&types[1]) {
        return Err(no_signature(name, types));
    }
    let array = SqlType::Array(Box::new(elem.clone()));
    Ok(match name {
        "ARRAY_DISTINCT" => (
            f("ARRAY_DISTINCT", |a| match &a[0] {
                Value::Array(items) => {
                    let mut out = Vec::new();
                    distinct_into(&mut out, items.iter().cloned(), |_| true);
                    Value::Array(out)
                }
                _ => Value::Null,
            }),
            array,
        ),
        "ARRAY_MAX" | "ARRAY_MIN" => {
            let op: fn(&[Value]) -> Value = if name == "ARRAY_MAX" {
                |a| array_extreme(&a[0], std::cmp::Ordering::Greater)
            } else {
                |a| array_extreme(&a[0], std::cmp::Ordering::Less)
            };
            (f(if name == "ARRAY_MAX" { "ARRAY_MAX" } else { "ARRAY_MIN" }, op), elem)
        }
        "ARRAY_SORT" => (
            f("ARRAY_SORT", |a| {
                let Value::Array(items) = &a[0] else { return Value::Null };
                let desc = match a.get(1) {
                    None => false,
                    Some(Value::String(d)) if d.eq_ignore_ascii_case("DESC") => true,
                    Some(Value::String(d)) if d.eq_ignore_ascii_case("ASC") => false,
                    Some(_) => return Value::Null,
                };
                let (mut vals, nulls): (Vec<Value>, Vec<Value>) = items.iter().cloned().partition(|v| !v.is_null());
                vals.sort_by(|x, y| x.sql_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
                if desc {
                    vals.reverse();
                }
                vals.extend(nulls);
                Value::Array(vals)
            }),
            array,
        ),
        "ARRAY_JOIN" => (
            f("ARRAY_JOIN", |a| {
                let Value::Array(items) = &a[0] else { return Value::Null };
                let delimiter = match a.get(1) {
                    Some(Value::String(d)) => d.as_str(),
                    Some(_) => "",
                    None => ",",
                };
                let parts: Vec<String> = items.iter().map(to_display_string).collect();
                Value::String(parts.join(delimiter))
            }),
            SqlType::String,
        ),
        "ARRAY_REMOVE" => (
            f("ARRAY_REMOVE", |a| match &a[0] {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .filter(|v| if a[1].is_null() { !v.is_null() } else { !same_element(v, &a[1]) })
                        .cloned()
                        .collect(),
                ),
                _ => Value::Null,
            }),
            array,
        ),
        "ARRAY_CONCAT" => (
            f("ARRAY_CONCAT", |a| match (&a[0], &a[1]) {
                (Value::Array(x), Value::Array(y)) => Value::Array(x.iter().chain(y).cloned().collect()),
                (Value::Array(x), _) | (_, Value::Array(x)) => Value::Array(x.clone()),
                _ => Value::Null,
            }),
            array,
        ),
        "ARRAY_EXCEPT" => (
            f("ARRAY_EXCEPT", |a| match (&a[0], &a[1]) {
                (Value::Array(x), Value::Array(y)) => {
                    let mut out = Vec::new();
                    distinct_into(&mut out, x.iter().cloned(), |v| !y.iter().any(|w| same_element(v, w)));
                    Value::Array(out)
                }
                _ => Value::Null,
            }),
            array,
        ),
        "ARRAY_INTERSECT" => (
            f("ARRAY_INTERSECT", |a| match (&a[0], &a[1]) {
                (Value::Array(x), Value::Array(y)) => {
                    let mut out = Vec::new();
                    distinct_into(&mut out, x.iter().cloned(), |v| y.iter().any(|w| same_element(v, w)));
                    Value::Array(out)
                }
                _ => Value::Null,
            }),
            array,
        ),
        _ => (
            f("ARRAY_UNION", |a| match (&a[0], &a[1]) {
                (Value::Array(x), Value::Array(y)) => {
                    let mut out = Vec::new();
                    distinct_into(&mut out, x.iter().chain(y).cloned(), |_| true);
                    Value::Array(out)
                }
                _ => Value::Null,
            }),
            array,
        ),
    })
}

/// The largest (`Greater`) or smallest (`Less`) non-null element; NULL when there is none.
fn array_extreme(v: &Value, want: std::cmp::Ordering) -> Value {
    let Value::Array(items) = v else { return Value::Null };
    let mut best: Option<&Value> = None;
    for x in items.iter().filter(|x| !x.is_null()) {
        if best.is_none_or(|b| x.sql_cmp(b) == Some(want)) {
            best = Some(x);
        }
    }
    best.cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Value>) -> Value {
        let types: Vec<SqlType> = args
            .iter()
            .map(|v| match v {
                Value::Int(_) => SqlType::Int,
                Value::Bigint(_) => SqlType::Bigint,
                Value::Double(_) => SqlType::Double,
                Value::String(_) => SqlType::String,
                Value::Decimal(d) => SqlType::Decimal { precision: 10, scale: d.scale },
                Value::Timestamp(_) => SqlType::Timestamp,
                _ => SqlType::Null,
            })
            .collect();
        let (f, _) = resolve(name, &types).unwrap();
        (f.eval)(&args)
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn string_functions() {
        assert_eq!(call("SUBSTRING", vec![s("hello"), Value::Int(2)]), s("ello"));
        assert_eq!(call("SUBSTRING", vec![s("hello"), Value::Int(2), Value::Int(3)]), s("ell"));
        assert_eq!(call("SUBSTRING", vec![s("hello"), Value::Int(-3)]), s("llo"));
        assert_eq!(call("SUBSTRING", vec![s("hello"), Value::Int(10)]), s(""));
        assert_eq!(call("CONCAT", vec![s("a"), Value::Null, s("b")]), s("ab"));
        assert_eq!(call("CONCAT_WS", vec![s("-"), s("a"), Value::Null, s("b")]), s("a-b"));
        assert_eq!(call("UCASE", vec![s("aBc")]), s("ABC"));
        assert_eq!(call("LCASE", vec![Value::Null]), Value::Null);
        assert_eq!(call("LEN", vec![s("héllo")]), Value::Int(5));
        assert_eq!(call("INITCAP", vec![s("the quICK fox")]), s("The Quick Fox"));
        assert_eq!(call("LPAD", vec![s("ab"), Value::Int(5), s("xy")]), s("xyxab"));
        assert_eq!(call("RPAD", vec![s("abcdef"), Value::Int(3), s("x")]), s("abc"));
        assert_eq!(call("INSTR", vec![s("corporate"), s("or")]), Value::Int(2));
        assert_eq!(call("REPLACE", vec![s("aXbX"), s("X"), s("-")]), s("a-b-"));
        assert_eq!(call("SPLIT", vec![s("a,b"), s(",")]), Value::Array(vec![s("a"), s("b")]));
        assert_eq!(call("TRIM", vec![s("  x ")]), s("x"));
    }

    #[test]
    fn math_functions() {
        assert_eq!(call("ABS", vec![Value::Int(-3)]), Value::Int(3));
        assert_eq!(call("ROUND", vec![Value::Double(2.5)]), Value::Bigint(3));
        assert_eq!(call("ROUND", vec![Value::Double(-2.5)]), Value::Bigint(-2));
        assert_eq!(call("ROUND", vec![Value::Double(1.2345), Value::Int(2)]), Value::Double(1.23));
        assert_eq!(call("ROUND", vec![Value::Double(1.235), Value::Int(2)]), Value::Double(1.24));
        assert_eq!(call("CEIL", vec![Value::Double(1.2)]), Value::Double(2.0));
        assert_eq!(call("FLOOR", vec![Value::Double(-1.2)]), Value::Double(-2.0));
        assert_eq!(call("GREATEST", vec![Value::Int(1), Value::Int(5), Value::Null]), Value::Int(5));
        assert_eq!(call("COALESCE", vec![Value::Null, Value::Int(2)]), Value::Int(2));
        assert_eq!(call("IFNULL", vec![Value::Null, Value::Int(2)]), Value::Int(2));
        assert_eq!(call("SQRT", vec![Value::Int(16)]), Value::Double(4.0));
    }

    #[test]
    fn time_functions() {
        assert_eq!(
            call("TIMESTAMPTOSTRING", vec![Value::Bigint(1_600_000_000_123), s("yyyy-MM-dd HH:mm:ss.SSS")]),
            s("2020-09-13 12:26:40.123")
        );
        assert_eq!(
            call("TIMESTAMPTOSTRING", vec![Value::Bigint(0), s("yyyy-MM-dd'T'HH:mm:ssX"), s("+02:00")]),
            s("1970-01-01T02:00:00+02")
        );
        assert_eq!(
            call("STRINGTOTIMESTAMP", vec![s("2020-09-13 12:26:40.123"), s("yyyy-MM-dd HH:mm:ss.SSS")]),
            Value::Bigint(1_600_000_000_123)
        );
        assert_eq!(call("STRINGTOTIMESTAMP", vec![s("nonsense"), s("yyyy")]), Value::Null);
        assert_eq!(call("STRINGTOTIMESTAMP", vec![s("2019-02-29"), s("yyyy-MM-dd")]), Value::Null);
        assert_eq!(call("STRINGTODATE", vec![s("1970-01-11"), s("yyyy-MM-dd")]), Value::Int(10));
        assert_eq!(parse_iso_timestamp("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_iso_timestamp("1970-01-01T00:00:01.500Z"), Some(1500));
        assert_eq!(parse_iso_timestamp("1970-01-02"), Some(86_400_000));
        for days in [-800_000i64, -1, 0, 1, 18_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn json_and_display() {
        let j = s(r#"{"a":{"b":[1,{"c":"x"}]},"n":null}"#);
        assert_eq!(call("EXTRACTJSONFIELD", vec![j.clone(), s("$.a.b[1].c")]), s("x"));
        assert_eq!(call("EXTRACTJSONFIELD", vec![j.clone(), s("$.a.b[0]")]), s("1"));
        assert_eq!(call("EXTRACTJSONFIELD", vec![j.clone(), s("$.n")]), Value::Null);
        assert_eq!(call("EXTRACTJSONFIELD", vec![j, s("$.zz")]), Value::Null);
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(1.5e10), "1.5E10");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(123.25), "123.25");
    }
}
