//! Small value types of the catalog: semantic versions, dates, freshness objectives and the tiers.
//! Each parses from and prints to one canonical string, which is also its serde form.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::CatalogError;

fn invalid(field: &str, reason: impl Into<String>) -> CatalogError {
    CatalogError::invalid(field, reason)
}

/// A semantic version `MAJOR.MINOR.PATCH[-PRERELEASE]` (semver.org). A leading `v` is accepted on input
/// (ODPS examples write `v2.0.0`) and dropped on output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SemVer {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Option<String>,
}

impl SemVer {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        SemVer { major, minor, patch, pre: None }
    }

    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        let bad =
            |why: &str| invalid("version", format!("'{value}' is not a semantic version MAJOR.MINOR.PATCH: {why}"));
        let text = value.trim().strip_prefix('v').unwrap_or(value.trim());
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err(bad("expected three numbers separated by dots"));
        }
        let mut numbers = [0u64; 3];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || (part.len() > 1 && part.starts_with('0'))
            {
                return Err(bad(&format!("'{part}' is not a number without leading zeros")));
            }
            *slot = part.parse().map_err(|_| bad(&format!("'{part}' is too large")))?;
        }
        if let Some(pre) = pre {
            if pre.is_empty() || !pre.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
                return Err(bad("the pre-release part must be letters, digits, '.' and '-'"));
            }
        }
        Ok(SemVer { major: numbers[0], minor: numbers[1], patch: numbers[2], pre: pre.map(str::to_string) })
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch)).then_with(|| {
            // semver.org: a pre-release sorts before its release.
            match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            }
        })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Default for SemVer {
    fn default() -> Self {
        SemVer::new(1, 0, 0)
    }
}

/// A calendar date `YYYY-MM-DD` (ISO 8601), in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IsoDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl IsoDate {
    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        let bad = |why: &str| invalid("date", format!("'{value}' is not a date YYYY-MM-DD: {why}"));
        let b = value.as_bytes();
        if !value.is_ascii() || b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad("expected the form 2030-12-31"));
        }
        let num = |s: &str| s.parse::<u16>().ok().filter(|_| s.bytes().all(|c| c.is_ascii_digit()));
        let (Some(year), Some(month), Some(day)) = (num(&value[0..4]), num(&value[5..7]), num(&value[8..10])) else {
            return Err(bad("expected digits"));
        };
        if !(1..=12).contains(&month) {
            return Err(bad("the month must be 01 to 12"));
        }
        let month = month as u8;
        if day == 0 || day > u16::from(days_in_month(year, month)) {
            return Err(bad(&format!("month {month:02} of {year} has {} days", days_in_month(year, month))));
        }
        Ok(IsoDate { year, month, day: day as u8 })
    }

    /// The UTC date of an epoch-milliseconds timestamp.
    pub fn from_epoch_ms(ms: i64) -> Self {
        // Howard Hinnant's civil_from_days.
        let z = ms.div_euclid(86_400_000) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)).clamp(0, 9999) as u16;
        IsoDate { year, month, day }
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 31,
    }
}

/// How stale a product's data may be at most: `30s`, `15m`, `1h`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Freshness {
    pub seconds: u64,
}

impl Freshness {
    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        let bad = || {
            invalid(
                "freshnessObjective",
                format!("'{value}' is not a duration: use a positive number and a unit s, m, h or d, such as 15m"),
            )
        };
        let value = value.trim();
        let unit = value.chars().last().ok_or_else(bad)?;
        let factor = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let number = &value[..value.len() - 1];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        let seconds = n.checked_mul(factor).filter(|s| *s > 0).ok_or_else(bad)?;
        Ok(Freshness { seconds })
    }
}

/// How much a product can be trusted (federated governance decides what each tier demands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum QualityTier {
    /// As produced by the source; no guarantees.
    Raw,
    /// Cleaned, validated against a contract.
    Curated,
    /// The reference source for its data in the organisation.
    Authoritative,
}

/// The service level a product's owner commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SlaTier {
    Bronze,
    Silver,
    Gold,
}

/// The serialization format of an output port's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Format {
    Avro,
    Json,
    Protobuf,
}

macro_rules! keyword_enum {
    ($t:ty, $field:literal, [$($variant:ident => $text:literal),+]) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$variant => $text),+ }
            }
        }
        impl FromStr for $t {
            type Err = CatalogError;
            fn from_str(s: &str) -> Result<Self, CatalogError> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok(<$t>::$variant),)+
                    _ => Err(invalid($field, format!("'{s}' is not one of {}", [$($text),+].join(", ")))),
                }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum!(QualityTier, "qualityTier", [Raw => "raw", Curated => "curated", Authoritative => "authoritative"]);
keyword_enum!(SlaTier, "slaTier", [Bronze => "bronze", Silver => "silver", Gold => "gold"]);
keyword_enum!(Format, "format", [Avro => "avro", Json => "json", Protobuf => "protobuf"]);

macro_rules! string_serde {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = CatalogError;
            fn try_from(value: String) -> Result<Self, CatalogError> {
                <$t>::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.to_string()
            }
        }
        impl FromStr for $t {
            type Err = CatalogError;
            fn from_str(s: &str) -> Result<Self, CatalogError> {
                <$t>::parse(s)
            }
        }
    };
}

string_serde!(SemVer);
string_serde!(IsoDate);
string_serde!(Freshness);

impl fmt::Display for SemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Freshness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        match s {
            _ if s.is_multiple_of(86_400) => write!(f, "{}d", s / 86_400),
            _ if s.is_multiple_of(3600) => write!(f, "{}h", s / 3600),
            _ if s.is_multiple_of(60) => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_parses_orders_and_prints() {
        let v = SemVer::parse("v2.10.0").unwrap();
        assert_eq!(v, SemVer::new(2, 10, 0));
        assert_eq!(v.to_string(), "2.10.0");
        assert!(SemVer::parse("1.0.0-rc.1").unwrap() < SemVer::new(1, 0, 0));
        assert!(SemVer::new(1, 9, 0) < SemVer::new(1, 10, 0));
        for bad in ["1.0", "1.0.0.0", "01.0.0", "a.b.c", "1.0.0-", "", "é.1.1"] {
            assert!(SemVer::parse(bad).is_err(), "{bad}");
        }
        assert!(SemVer::parse("99999999999999999999.0.0").unwrap_err().to_string().contains("too large"));
    }

    #[test]
    fn dates() {
        assert_eq!(IsoDate::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert!(IsoDate::parse("2023-02-29").unwrap_err().to_string().contains("has 28 days"));
        assert!(IsoDate::parse("2023-13-01").is_err());
        assert!(IsoDate::parse("2023-1-01").is_err());
        assert!(IsoDate::parse("+023-01-01").is_err());
        assert!(IsoDate::parse("20é-01-01").is_err());
        assert_eq!(IsoDate::from_epoch_ms(0).to_string(), "1970-01-01");
        assert_eq!(IsoDate::from_epoch_ms(1_709_164_800_000).to_string(), "2024-02-29");
        assert_eq!(IsoDate::from_epoch_ms(-1).to_string(), "1969-12-31");
    }

    #[test]
    fn freshness() {
        assert_eq!(Freshness::parse("90m").unwrap().to_string(), "90m");
        assert_eq!(Freshness::parse("120m").unwrap().to_string(), "2h");
        assert_eq!(Freshness::parse("1d").unwrap().seconds, 86_400);
        for bad in ["", "m", "0s", "5w", "-5m", "1.5h", "99999999999999999999d"] {
            assert!(Freshness::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keywords() {
        assert_eq!("Curated".parse::<QualityTier>().unwrap(), QualityTier::Curated);
        let err = "gold-plated".parse::<QualityTier>().unwrap_err().to_string();
        assert!(err.contains("raw, curated, authoritative"), "{err}");
        assert_eq!(serde_json::to_string(&SlaTier::Gold).unwrap(), "\"gold\"");
    }
}
