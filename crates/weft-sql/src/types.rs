//! SQL types and values (ksqlDB's type system).

use std::cmp::Ordering;
use std::fmt;

/// A ksqlDB column type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    Boolean,
    Int,
    Bigint,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    String,
    Bytes,
    /// Epoch milliseconds.
    Timestamp,
    /// Days since the epoch.
    Date,
    /// Milliseconds since midnight.
    Time,
    Array(Box<SqlType>),
    /// ksqlDB map keys are strings.
    Map(Box<SqlType>, Box<SqlType>),
    Struct(Vec<(String, SqlType)>),
    /// The type of a bare `NULL` literal, which fits anywhere.
    Null,
}

impl SqlType {
    pub fn is_struct(&self) -> bool {
        matches!(self, SqlType::Struct(_))
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Decimal { .. })
    }

    /// Numeric widening order: INT < BIGINT < DECIMAL < DOUBLE.
    fn numeric_rank(&self) -> u8 {
        match self {
            SqlType::Int => 1,
            SqlType::Bigint => 2,
            SqlType::Decimal { .. } => 3,
            SqlType::Double => 4,
            _ => 0,
        }
    }

    /// The precision and scale an integer type has when widened to DECIMAL.
    pub fn decimal_shape(&self) -> Option<(u8, u8)> {
        match self {
            SqlType::Int => Some((10, 0)),
            SqlType::Bigint => Some((19, 0)),
            SqlType::Decimal { precision, scale } => Some((*precision, *scale)),
            _ => None,
        }
    }

    /// The common type two numeric types widen to.
    pub fn widen_numeric(a: &SqlType, b: &SqlType) -> Option<SqlType> {
        if !a.is_numeric() || !b.is_numeric() {
            return None;
        }
        if matches!(a, SqlType::Decimal { .. }) || matches!(b, SqlType::Decimal { .. }) {
            if a == &SqlType::Double || b == &SqlType::Double {
                return Some(SqlType::Double);
            }
            let (p1, s1) = a.decimal_shape()?;
            let (p2, s2) = b.decimal_shape()?;
            let scale = s1.max(s2);
            let int_digits = (p1 - s1).max(p2 - s2);
            return Some(SqlType::Decimal { precision: (int_digits + scale).min(38), scale });
        }
        Some(if a.numeric_rank() >= b.numeric_rank() { a.clone() } else { b.clone() })
    }

    /// Whether a value of `self` can be compared with one of `other`.
    pub fn comparable_with(&self, other: &SqlType) -> bool {
        if self == &SqlType::Null || other == &SqlType::Null {
            return true;
        }
        if self.is_numeric() && other.is_numeric() {
            return true;
        }
        let temporal = |t: &SqlType| matches!(t, SqlType::Timestamp | SqlType::Date | SqlType::Time | SqlType::String);
        match (self, other) {
            (SqlType::Array(a), SqlType::Array(b)) => a.comparable_with(b),
            (SqlType::Map(_, a), SqlType::Map(_, b)) => a.comparable_with(b),
            (SqlType::Struct(_), SqlType::Struct(_)) => self == other,
            (SqlType::String, SqlType::String) => true,
            (a, b) if temporal(a) && temporal(b) => true,
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::Int => f.write_str("INTEGER"),
            SqlType::Bigint => f.write_str("BIGINT"),
            SqlType::Double => f.write_str("DOUBLE"),
            SqlType::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            SqlType::String => f.write_str("STRING"),
            SqlType::Bytes => f.write_str("BYTES"),
            SqlType::Timestamp => f.write_str("TIMESTAMP"),
            SqlType::Date => f.write_str("DATE"),
            SqlType::Time => f.write_str("TIME"),
            SqlType::Array(t) => write!(f, "ARRAY<{t}>"),
            SqlType::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            SqlType::Struct(fields) => {
                f.write_str("STRUCT<")?;
                for (i, (name, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{name}` {t}")?;
                }
                f.write_str(">")
            }
            SqlType::Null => f.write_str("NULL"),
        }
    }
}

/// A decimal number: `unscaled * 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    pub unscaled: i128,
    pub scale: u8,
}

impl Decimal {
    pub fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (neg, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
            || frac_part.len() > 38
        {
            return None;
        }
        let mut unscaled: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        Some(Decimal { unscaled: if neg { -unscaled } else { unscaled }, scale: frac_part.len() as u8 })
    }

    pub fn from_f64(v: f64, scale: u8) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        let scaled = (v * 10f64.powi(i32::from(scale))).round();
        if scaled.abs() >= 1e38 {
            return None;
        }
        Some(Decimal { unscaled: scaled as i128, scale })
    }

    pub fn to_f64(self) -> f64 {
        self.unscaled as f64 / 10f64.powi(i32::from(self.scale))
    }

    /// Rescales, rounding half up (Java's `RoundingMode.HALF_UP`) when digits are dropped.
    pub fn rescale(self, scale: u8) -> Option<Decimal> {
        match scale.cmp(&self.scale) {
            Ordering::Equal => Some(self),
            Ordering::Greater => {
                let f = 10i128.checked_pow(u32::from(scale - self.scale))?;
                Some(Decimal { unscaled: self.unscaled.checked_mul(f)?, scale })
            }
            Ordering::Less => {
                let f = 10i128.checked_pow(u32::from(self.scale - scale))?;
                let q = self.unscaled / f;
                let r = self.unscaled % f;
                let adj = if r.abs() * 2 >= f { self.unscaled.signum() } else { 0 };
                Some(Decimal { unscaled: q + adj, scale })
            }
        }
    }

    /// Number of significant digits left of the point.
    pub fn integer_digits(self) -> u32 {
        let f = 10i128.pow(u32::from(self.scale));
        let int = (self.unscaled / f).unsigned_abs();
        if int == 0 {
            0
        } else {
            int.ilog10() + 1
        }
    }

    pub fn cmp_value(self, other: Decimal) -> Ordering {
        let scale = self.scale.max(other.scale);
        match (self.rescale(scale), other.rescale(scale)) {
            (Some(a), Some(b)) => a.unscaled.cmp(&b.unscaled),
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.unscaled < 0;
        let digits = self.unscaled.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if neg {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() <= scale {
            write!(f, "0.{}{}", "0".repeat(scale - digits.len()), digits)
        } else {
            let (i, d) = digits.split_at(digits.len() - scale);
            write!(f, "{i}.{d}")
        }
    }
}

/// A MAP value's entries.
pub type SqlMap = indexmap::IndexMap<String, Value>;

/// The entries of `m` in the order in which Java's `HashMap` iterates them when ksqlDB builds it with
/// room for them and puts them in `m`'s order, as its JSON deserializer does (`new
/// HashMap<>(size)`): by bucket (the key's `String.hashCode`, spread as `HashMap.hash` spreads it,
/// masked by the table size) and, within a bucket, in insertion order. What follows that order in
/// ksqlDB (`REDUCE` over a map, `MAP_KEYS`, unsorted `ENTRIES`) then sees the same sequence.
/// Buckets of eight or more keys, which Java turns into trees, are not modelled.
pub fn java_hash_order(m: &SqlMap) -> Vec<(&String, &Value)> {
    // `HashMap(n)` starts with the next power of two and doubles while `n` exceeds three quarters.
    let mut table = m.len().max(1).next_power_of_two();
    while m.len() > table * 3 / 4 {
        table *= 2;
    }
    let bucket = |key: &str| {
        let h = key.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c))) as u32;
        (h ^ (h >> 16)) as usize & (table - 1)
    };
    let mut entries: Vec<(usize, (&String, &Value))> = m.iter().map(|e| (bucket(e.0), e)).collect();
    // Stable: within a bucket, insertion order.
    entries.sort_by_key(|(b, _)| *b);
    entries.into_iter().map(|(_, e)| e).collect()
}

/// A SQL value. Struct fields are positional: their names live in the [`SqlType::Struct`].
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i32),
    Bigint(i64),
    Double(f64),
    Decimal(Decimal),
    String(String),
    Bytes(Vec<u8>),
    Timestamp(i64),
    Date(i32),
    Time(i64),
    Array(Vec<Value>),
    /// Entries in insertion order (a record's order for a decoded map), which what follows Java's
    /// `HashMap` iteration in ksqlDB needs (`REDUCE`); equality ignores the order. Boxed: an
    /// `IndexMap` inline made every value 80 bytes, and rows and aggregation state are arrays of
    /// values, so every column of every row paid for maps in cache misses.
    Map(Box<SqlMap>),
    Struct(Vec<Value>),
}

impl Value {
    /// A MAP value of `entries`.
    pub fn map(entries: SqlMap) -> Value {
        Value::Map(Box::new(entries))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(f64::from(*v)),
            Value::Bigint(v) => Some(*v as f64),
            Value::Double(v) => Some(*v),
            Value::Decimal(d) => Some(d.to_f64()),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(i64::from(*v)),
            Value::Bigint(v) | Value::Timestamp(v) | Value::Time(v) => Some(*v),
            Value::Date(v) => Some(i64::from(*v)),
            Value::Double(v) => Some(*v as i64),
            Value::Decimal(d) => d.rescale(0).map(|d| d.unscaled as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Int(v) => Some(Decimal { unscaled: i128::from(*v), scale: 0 }),
            Value::Bigint(v) => Some(Decimal { unscaled: i128::from(*v), scale: 0 }),
            Value::Decimal(d) => Some(*d),
            _ => None,
        }
    }

    /// SQL comparison: `None` when either side is null or the values are not comparable.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (Int(a), Int(b)) => Some(a.cmp(b)),
            (Int(_) | Bigint(_), Int(_) | Bigint(_)) => Some(self.as_i64()?.cmp(&other.as_i64()?)),
            (Double(_), _) | (_, Double(_)) => {
                let (a, b) = (self.as_f64()?, other.as_f64()?);
                a.partial_cmp(&b)
            }
            (Decimal(_), Int(_) | Bigint(_) | Decimal(_)) | (Int(_) | Bigint(_), Decimal(_)) => {
                Some(self.as_decimal()?.cmp_value(other.as_decimal()?))
            }
            (String(a), String(b)) => Some(a.cmp(b)),
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (Bytes(a), Bytes(b)) => Some(a.cmp(b)),
            (Timestamp(a), Timestamp(b)) | (Time(a), Time(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (Timestamp(a), Date(b)) => Some(a.cmp(&(i64::from(*b) * 86_400_000))),
            (Date(a), Timestamp(b)) => Some((i64::from(*a) * 86_400_000).cmp(b)),
            (Timestamp(_) | Date(_) | Time(_), String(s)) => {
                let parsed = crate::functions::parse_temporal_like(self, s)?;
                self.sql_cmp(&parsed)
            }
            (String(s), Timestamp(_) | Date(_) | Time(_)) => {
                let parsed = crate::functions::parse_temporal_like(other, s)?;
                parsed.sql_cmp(other)
            }
            (Array(a), Array(b)) => {
                if a.len() != b.len() {
                    return None;
                }
                for (x, y) in a.iter().zip(b) {
                    match x.sql_cmp(y)? {
                        Ordering::Equal => {}
                        o => return Some(o),
                    }
                }
                Some(Ordering::Equal)
            }
            (Map(a), Map(b)) => (a == b).then_some(Ordering::Equal),
            (Struct(a), Struct(b)) => (a == b).then_some(Ordering::Equal),
            _ => None,
        }
    }

    /// SQL equality: `None` when either side is null; collections and structs are equal element by
    /// element, where a null element equals only a null (Java's `equals`, as ksqlDB compares them).
    pub fn sql_eq(&self, other: &Value) -> Option<bool> {
        if self.is_null() || other.is_null() {
            return None;
        }
        match (self, other) {
            (Value::Array(_), _) | (Value::Map(_), _) | (Value::Struct(_), _) => Some(nested_eq(self, other)),
            _ => self.sql_cmp(other).map(|o| o == Ordering::Equal),
        }
    }

    /// A total order used for sorting and grouping (nulls first, numbers numerically).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            _ => self.sql_cmp(other).unwrap_or_else(|| format!("{self:?}").cmp(&format!("{other:?}"))),
        }
    }
}

fn nested_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Array(x), Value::Array(y)) | (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| nested_eq(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| nested_eq(p, q)))
        }
        _ => a.sql_cmp(b) == Some(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_value_is_at_most_48_bytes() {
        // Rows and aggregation state are arrays of values: every byte a value takes is taken by
        // every column of every row (a map held inline once made them 80 bytes).
        let size = std::mem::size_of::<Value>();
        assert!(size <= 48, "a Value takes {size} bytes");
    }

    use super::*;

    #[test]
    fn java_hash_order_follows_javas_hashmap_iteration() {
        let map = |keys: &[&str]| -> SqlMap { keys.iter().map(|k| (k.to_string(), Value::Null)).collect() };
        let order = |m: &SqlMap| -> Vec<String> { java_hash_order(m).into_iter().map(|(k, _)| k.clone()).collect() };
        // What `new HashMap<>(3)` filled in this order iterates in Java 8+ (table of 4: the hashes
        // 2669973796, 3387254 and 4000357372 spread to buckets 0, 1 and 0).
        let m = map(&["yes, thanks", "nope", "sure, yeah"]);
        assert_eq!(order(&m), ["yes, thanks", "sure, yeah", "nope"]);
        // Four keys need a table of 8 (four exceed three quarters of 4): "a".."d" hash to 97..100.
        assert_eq!(order(&map(&["d", "c", "b", "a"])), ["a", "b", "c", "d"]);
        // Thirteen keys exceed three quarters of 16: a table of 32, where "p" (112) is in bucket 16,
        // after "a" to "l" (97 to 108); in 16 it would come first (bucket 0).
        let mut keys = vec!["p"];
        keys.extend(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]);
        assert_eq!(order(&map(&keys)), ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "p"]);
        assert!(order(&SqlMap::new()).is_empty());
    }

    #[test]
    fn decimal_parse_display_rescale() {
        let d = Decimal::parse("-12.345").unwrap();
        assert_eq!(d.to_string(), "-12.345");
        assert_eq!(d.rescale(2).unwrap().to_string(), "-12.35");
        assert_eq!(d.rescale(5).unwrap().to_string(), "-12.34500");
        assert_eq!(Decimal::parse("0.05").unwrap().to_string(), "0.05");
        assert_eq!(Decimal::parse("1.5").unwrap().integer_digits(), 1);
        assert!(Decimal::parse("1.2.3").is_none());
        assert!(Decimal::parse("abc").is_none());
    }

    #[test]
    fn widening() {
        assert_eq!(SqlType::widen_numeric(&SqlType::Int, &SqlType::Bigint), Some(SqlType::Bigint));
        assert_eq!(SqlType::widen_numeric(&SqlType::Int, &SqlType::Double), Some(SqlType::Double));
        assert_eq!(
            SqlType::widen_numeric(&SqlType::Int, &SqlType::Decimal { precision: 3, scale: 2 }),
            Some(SqlType::Decimal { precision: 12, scale: 2 })
        );
        assert_eq!(SqlType::widen_numeric(&SqlType::String, &SqlType::Int), None);
    }

    #[test]
    fn comparisons_across_numeric_types() {
        assert_eq!(Value::Int(2).sql_cmp(&Value::Bigint(3)), Some(Ordering::Less));
        assert_eq!(Value::Int(2).sql_cmp(&Value::Double(2.0)), Some(Ordering::Equal));
        assert_eq!(Value::Decimal(Decimal::parse("3.9").unwrap()).sql_cmp(&Value::Int(4)), Some(Ordering::Less));
        assert_eq!(Value::Null.sql_cmp(&Value::Int(1)), None);
    }
}
