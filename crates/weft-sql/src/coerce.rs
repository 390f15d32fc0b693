//! ksqlDB's implicit coercion of user-supplied lists (`x IN (a, b, c)`): the common type of the
//! elements, and how a literal element converts to it.
//!
//! This is ksqlDB's `CoercionUtil`: the common type is the widest of the elements' types, taken in
//! order; a string literal joins a numeric or BOOLEAN list when it parses as one (its own numeric
//! type then widens the list, so `INT IN ('2147483648')` compares as BIGINT); other literals
//! coerce laxly (a number or boolean literal joins a STRING list), other expressions strictly
//! (numeric widening only, element by element through ARRAY, MAP and STRUCT); an ARRAY, MAP or
//! STRUCT constructor is resolved element by element against the list's type (a struct
//! constructor adds its fields to the list's struct type).

use crate::ast::{Expr, Literal};
use crate::error::SqlError;
use crate::expr::{self, Scope};
use crate::functions;
use crate::types::{Decimal, SqlType, Value};

/// Why a list has no common type.
#[derive(Debug)]
pub enum Failure {
    /// A string literal that does not parse as the list's type (ksqlDB's "invalid input syntax").
    Syntax(String),
    /// An element whose type does not coerce to the list's ("operator does not exist").
    Mismatch(String),
    /// A sub-expression that does not compile.
    Sql(SqlError),
}

impl Failure {
    /// The error a constructor reports (ksqlDB gives its message as it is).
    pub fn into_plain(self) -> SqlError {
        match self {
            Failure::Syntax(m) | Failure::Mismatch(m) => SqlError::analysis(m),
            Failure::Sql(e) => e,
        }
    }

    /// The error a statement reports, with ksqlDB's prefix for the construct (`Invalid Predicate`).
    pub fn into_error(self, context: &str) -> SqlError {
        match self {
            Failure::Syntax(m) | Failure::Mismatch(m) => SqlError::analysis(format!("{context}: {m}")),
            Failure::Sql(e) => e,
        }
    }
}

/// The common type of `items` (each an expression and its compiled type), `None` when every
/// element is a NULL literal.
pub fn common_type(items: &[(&Expr, &SqlType)], scope: &Scope) -> Result<Option<SqlType>, Failure> {
    let mut common = None;
    for (e, t) in items {
        common = resolve(e, t, common, scope, 0)?;
    }
    Ok(common)
}

/// How deep constructors inside constructors are resolved element by element; deeper ones are
/// taken by their type alone, so that resolving costs bounded time and stack.
const MAX_NESTING: usize = 16;

fn resolve(
    e: &Expr,
    ty: &SqlType,
    common: Option<SqlType>,
    scope: &Scope,
    depth: usize,
) -> Result<Option<SqlType>, Failure> {
    let Some(target) = common else {
        return Ok((*ty != SqlType::Null).then(|| ty.clone()));
    };
    if *ty == SqlType::Null {
        return Ok(Some(target));
    }
    match e {
        Expr::Array(_) | Expr::Map(_) | Expr::Struct(_) if depth >= MAX_NESTING => simple(e, ty, &target),
        Expr::Array(items) => {
            let SqlType::Array(inner) = &target else {
                return Err(mismatch(e, ty, &target));
            };
            let item = structured(inner, items.iter(), scope, depth).map_err(|f| rewrap(f, e, ty, &target))?;
            Ok(Some(SqlType::Array(Box::new(item))))
        }
        Expr::Map(entries) => {
            let SqlType::Map(key, value) = &target else {
                return Err(mismatch(e, ty, &target));
            };
            let k =
                structured(key, entries.iter().map(|(k, _)| k), scope, depth).map_err(|f| rewrap(f, e, ty, &target))?;
            let v = structured(value, entries.iter().map(|(_, v)| v), scope, depth)
                .map_err(|f| rewrap(f, e, ty, &target))?;
            Ok(Some(SqlType::Map(Box::new(k), Box::new(v))))
        }
        Expr::Struct(fields) => {
            let SqlType::Struct(target_fields) = &target else {
                return Err(mismatch(e, ty, &target));
            };
            struct_type(fields, target_fields, scope, depth).map(Some).map_err(|f| rewrap(f, e, ty, &target))
        }
        Expr::Literal(Literal::String(s)) if target.is_numeric() => numeric_from_string(s, &target).map(Some),
        Expr::Literal(Literal::String(s)) if target == SqlType::Boolean => match parse_boolean(s) {
            Some(_) => Ok(Some(target)),
            None => Err(syntax(s, &target)),
        },
        _ => simple(e, ty, &target),
    }
}

/// An element taken by its type: literals coerce laxly, other expressions strictly.
fn simple(e: &Expr, ty: &SqlType, target: &SqlType) -> Result<Option<SqlType>, Failure> {
    let lax = matches!(e, Expr::Literal(_));
    can_coerce(ty, target, lax).or_else(|| can_coerce(target, ty, lax)).map(Some).ok_or_else(|| mismatch(e, ty, target))
}

/// The common type of a constructor's elements, starting from the type the list needs of them.
fn structured<'a>(
    target: &SqlType,
    items: impl Iterator<Item = &'a Expr>,
    scope: &Scope,
    depth: usize,
) -> Result<SqlType, Failure> {
    let mut common = Some(target.clone());
    for item in items {
        let ty = expr::compile(item, scope).map_err(Failure::Sql)?.ty;
        common = resolve(item, &ty, common, scope, depth + 1)?;
    }
    Ok(common.unwrap_or_else(|| target.clone()))
}

/// A struct constructor against a struct type: the union of their fields, the constructor's first.
fn struct_type(
    fields: &[(String, Expr)],
    target: &[(String, SqlType)],
    scope: &Scope,
    depth: usize,
) -> Result<SqlType, Failure> {
    let mut out: Vec<(String, SqlType)> = Vec::new();
    for (name, value) in fields {
        if out.iter().any(|(n, _)| n == name) {
            continue;
        }
        let ty = expr::compile(value, scope).map_err(Failure::Sql)?.ty;
        let resolved = match target.iter().find(|(n, _)| n == name) {
            Some((_, t)) => resolve(value, &ty, Some(t.clone()), scope, depth + 1)?.unwrap_or_else(|| t.clone()),
            None => ty,
        };
        out.push((name.clone(), resolved));
    }
    for (name, t) in target {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.clone(), t.clone()));
        }
    }
    Ok(SqlType::Struct(out))
}

/// The type a value of `from` takes to join `to`, if it may: strictly by numeric widening (through
/// collections and struct fields), laxly also a number or boolean to STRING and a string to a
/// temporal type.
fn can_coerce(from: &SqlType, to: &SqlType, lax: bool) -> Option<SqlType> {
    use SqlType::*;
    if from == to {
        return Some(to.clone());
    }
    if from.is_numeric() && to.is_numeric() {
        let rank = |t: &SqlType| match t {
            Int => 0,
            Bigint => 1,
            Decimal { .. } => 2,
            _ => 3,
        };
        return (rank(from) <= rank(to)).then(|| SqlType::widen_numeric(from, to)).flatten();
    }
    match (from, to) {
        (Array(a), Array(b)) => can_coerce(a, b, lax).map(|t| Array(Box::new(t))),
        (Map(k1, v1), Map(k2, v2)) => Some(Map(Box::new(can_coerce(k1, k2, lax)?), Box::new(can_coerce(v1, v2, lax)?))),
        (Struct(a), Struct(b)) => {
            if !a.iter().all(|(n, _)| b.iter().any(|(m, _)| m == n)) {
                return None;
            }
            let fields = b
                .iter()
                .map(|(n, t)| match a.iter().find(|(m, _)| m == n) {
                    Some((_, f)) => can_coerce(f, t, lax).map(|t| (n.clone(), t)),
                    None => Some((n.clone(), t.clone())),
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Struct(fields))
        }
        (f, String) if lax && (f.is_numeric() || *f == Boolean) => Some(String),
        (String, Timestamp | Date | Time) if lax => Some(to.clone()),
        _ => None,
    }
}

/// ksqlDB's `SqlBooleans.parseBooleanExact`: a non-empty prefix of `true`/`yes` or `false`/`no`,
/// in any case.
fn parse_boolean(s: &str) -> Option<bool> {
    let lower = s.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return None;
    }
    if "true".starts_with(&lower) || "yes".starts_with(&lower) {
        Some(true)
    } else if "false".starts_with(&lower) || "no".starts_with(&lower) {
        Some(false)
    } else {
        None
    }
}

/// A numeric string as Java's `BigDecimal` reads it: the unscaled value and the scale (negative
/// for a positive exponent), or `None` when it is not a number.
fn parse_number(s: &str) -> Option<(i128, i32)> {
    let s = s.trim();
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let d = Decimal::parse(mantissa)?;
    Some((d.unscaled, i32::from(d.scale) - exponent))
}

/// The SQL type of a numeric string (ksqlDB's `getStringNumericType`): INT or BIGINT for an
/// integer strictly inside their range, else the decimal of its digits.
fn string_numeric_type(s: &str) -> Option<SqlType> {
    let (unscaled, scale) = parse_number(s)?;
    if !s.contains(['.', 'e', 'E']) && scale == 0 {
        if unscaled > i128::from(i32::MIN) && unscaled < i128::from(i32::MAX) {
            return Some(SqlType::Int);
        }
        if unscaled > i128::from(i64::MIN) && unscaled < i128::from(i64::MAX) {
            return Some(SqlType::Bigint);
        }
    }
    let (digits, scale) = if scale < 0 {
        (unscaled.unsigned_abs().to_string().len() as i32 - scale, 0)
    } else {
        (unscaled.unsigned_abs().to_string().len() as i32, scale)
    };
    let precision = digits.max(scale + 1);
    if precision > 38 {
        return Some(SqlType::Double);
    }
    Some(SqlType::Decimal { precision: precision as u8, scale: scale as u8 })
}

fn numeric_from_string(s: &str, target: &SqlType) -> Result<SqlType, Failure> {
    let source = string_numeric_type(s).ok_or_else(|| syntax(s, target))?;
    Ok(SqlType::widen_numeric(&source, target).unwrap_or(SqlType::Double))
}

/// A literal's value as the list's common type (the common type was resolved with it, so it
/// converts; a string that does not is refused there).
pub fn convert_literal(value: &Value, from: &SqlType, to: &SqlType) -> Value {
    match (value, to) {
        (Value::String(s), SqlType::Boolean) => parse_boolean(s).map_or(Value::Null, Value::Bool),
        (Value::String(s), SqlType::Decimal { precision, scale }) => match parse_number(s) {
            Some((unscaled, sc)) => {
                let d = if sc < 0 {
                    unscaled.checked_mul(10i128.pow(sc.unsigned_abs())).map(|u| Decimal { unscaled: u, scale: 0 })
                } else {
                    u8::try_from(sc).ok().map(|scale| Decimal { unscaled, scale })
                };
                d.map_or(Value::Null, |d| functions::fit_decimal(d, *precision, *scale))
            }
            None => Value::Null,
        },
        _ => functions::cast_typed(value, from, to),
    }
}

/// The base name ksqlDB gives a type in "invalid input syntax" (`DECIMAL`, not its shape).
fn base_name(t: &SqlType) -> String {
    match t {
        SqlType::Decimal { .. } => "DECIMAL".into(),
        SqlType::Array(_) => "ARRAY".into(),
        SqlType::Map(..) => "MAP".into(),
        SqlType::Struct(_) => "STRUCT".into(),
        other => other.to_string(),
    }
}

fn syntax(value: &str, target: &SqlType) -> Failure {
    Failure::Syntax(format!("invalid input syntax for type {}: \"{value}\".", base_name(target)))
}

fn mismatch(e: &Expr, ty: &SqlType, target: &SqlType) -> Failure {
    Failure::Mismatch(format!(
        "operator does not exist: {target} = {ty} ({e})\nHint: You might need to add explicit type casts."
    ))
}

/// An element's mismatch inside a constructor is reported as the constructor's.
fn rewrap(f: Failure, e: &Expr, ty: &SqlType, target: &SqlType) -> Failure {
    match f {
        Failure::Mismatch(_) => mismatch(e, ty, target),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_strings_type_as_ksqldb_reads_them() {
        assert_eq!(string_numeric_type("10"), Some(SqlType::Int));
        assert_eq!(string_numeric_type(" 2147483648 "), Some(SqlType::Bigint));
        // ksqlDB's bounds are exclusive: the largest INT is read as a BIGINT.
        assert_eq!(string_numeric_type("2147483647"), Some(SqlType::Bigint));
        assert_eq!(string_numeric_type("4.000"), Some(SqlType::Decimal { precision: 4, scale: 3 }));
        assert_eq!(string_numeric_type("0.005"), Some(SqlType::Decimal { precision: 4, scale: 3 }));
        assert_eq!(string_numeric_type("1e3"), Some(SqlType::Decimal { precision: 4, scale: 0 }));
        assert_eq!(string_numeric_type("10 - not a number"), None);
        assert_eq!(string_numeric_type(""), None);
    }

    #[test]
    fn booleans_accept_prefixes_of_true_yes_false_no() {
        for (s, b) in [("TrUe", true), ("tr", true), ("Y", true), ("f", false), ("NO", false)] {
            assert_eq!(parse_boolean(s), Some(b), "{s}");
        }
        assert_eq!(parse_boolean("Not a boolean"), None);
        assert_eq!(parse_boolean(" "), None);
    }

    #[test]
    fn strict_coercion_only_widens() {
        assert_eq!(can_coerce(&SqlType::Int, &SqlType::Bigint, false), Some(SqlType::Bigint));
        assert_eq!(can_coerce(&SqlType::Bigint, &SqlType::Int, false), None);
        assert_eq!(can_coerce(&SqlType::Int, &SqlType::String, false), None);
        assert_eq!(can_coerce(&SqlType::Int, &SqlType::String, true), Some(SqlType::String));
        assert_eq!(can_coerce(&SqlType::Boolean, &SqlType::Int, true), None);
        assert_eq!(
            can_coerce(&SqlType::Int, &SqlType::Decimal { precision: 4, scale: 2 }, false),
            Some(SqlType::Decimal { precision: 12, scale: 2 })
        );
    }
}
