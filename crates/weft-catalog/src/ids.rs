//! Domain names and product ids: validated slugs.
//!
//! A domain name is a *slug*: 1 to 63 characters of lowercase ASCII letters, digits, `-` and `_`,
//! starting with a letter and ending with a letter or digit. A product id is `DOMAIN.NAME`, two slugs
//! joined by one dot, so the id alone tells which domain owns the product (and ids are valid Kafka
//! topic-name prefixes).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CatalogError;

const MAX_SLUG: usize = 63;

fn slug_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("it is empty".into());
    }
    if value.len() > MAX_SLUG {
        return Some(format!("it is {} characters long; the limit is {MAX_SLUG}", value.len()));
    }
    if let Some((i, c)) = value.char_indices().find(|(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '_')) {
        let hint = if c.is_ascii_uppercase() { " (use lowercase)" } else { "" };
        return Some(format!(
            "character {c:?} at position {i} is not allowed{hint}; use lowercase letters, digits, '-' and '_'"
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("it must start with a lowercase letter".into());
    }
    if value.ends_with(['-', '_']) {
        return Some("it must end with a letter or digit".into());
    }
    None
}

/// The name of a domain (a slug).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        match slug_problem(value) {
            None => Ok(DomainName(value.to_string())),
            Some(reason) => Err(CatalogError::InvalidId { kind: "domain name", value: value.to_string(), reason }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a data product: `DOMAIN.NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        let invalid = |reason: String| CatalogError::InvalidId { kind: "product id", value: value.to_string(), reason };
        let Some((domain, name)) = value.split_once('.') else {
            return Err(invalid("expected DOMAIN.NAME, for example 'orders.order-events'".into()));
        };
        if let Some(problem) = slug_problem(domain) {
            return Err(invalid(format!("the domain part '{domain}' is not valid: {problem}")));
        }
        if name.contains('.') {
            return Err(invalid("expected exactly one '.' between the domain and the product name".into()));
        }
        if let Some(problem) = slug_problem(name) {
            return Err(invalid(format!("the name part '{name}' is not valid: {problem}")));
        }
        Ok(ProductId(value.to_string()))
    }

    /// The product id `domain.name`.
    pub fn new(domain: &DomainName, name: &str) -> Result<Self, CatalogError> {
        Self::parse(&format!("{}.{name}", domain.as_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owning domain's name (the part before the dot).
    pub fn domain(&self) -> DomainName {
        DomainName(self.0.split_once('.').map_or(self.0.as_str(), |(d, _)| d).to_string())
    }

    /// The product's name within its domain (the part after the dot).
    pub fn local_name(&self) -> &str {
        self.0.split_once('.').map_or(self.0.as_str(), |(_, n)| n)
    }
}

macro_rules! string_newtype_impls {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = CatalogError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                <$t>::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        // Derived Eq, Ord and Hash are the inner string's, so borrowing as `str` is consistent.
        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $t {
            type Err = CatalogError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }
    };
}

string_newtype_impls!(DomainName);
string_newtype_impls!(ProductId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids() {
        let id = ProductId::parse("orders.order-events_v2").unwrap();
        assert_eq!(id.domain().as_str(), "orders");
        assert_eq!(id.local_name(), "order-events_v2");
        assert!(DomainName::parse("a1").is_ok());
    }

    #[test]
    fn invalid_ids_say_why() {
        let cases = [
            ("", "expected DOMAIN.NAME"),
            ("orders", "expected DOMAIN.NAME"),
            ("Orders.x", "(use lowercase)"),
            ("orders.", "the name part '' is not valid: it is empty"),
            ("orders.a.b", "exactly one '.'"),
            ("1orders.x", "must start with a lowercase letter"),
            ("orders.x-", "must end with a letter or digit"),
            ("orders.a b", "character ' ' at position 1"),
        ];
        for (value, expected) in cases {
            let err = ProductId::parse(value).unwrap_err().to_string();
            assert!(err.contains(expected), "{value:?}: {err}");
        }
        let long = "a".repeat(64);
        assert!(DomainName::parse(&long).unwrap_err().to_string().contains("64 characters long"));
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<ProductId>("\"orders.ok\"").is_ok());
        assert!(serde_json::from_str::<ProductId>("\"nope\"").is_err());
    }
}
