//! Where the validator finds the schemas a `$ref` names outside the schema itself: the schema's
//! Confluent references, given by the caller (the registry resolves them by subject and version), and
//! the official metaschemas, which the validator holds built in. Nothing is ever fetched from the
//! network or read from files.

use std::error::Error;
use std::fmt;

use jsonschema::{Retrieve, Uri};
use serde_json::Value;

/// The referenced schemas, by the name the referring schema uses for each (Confluent's reference
/// `name`, e.g. `address.json` or `https://example.com/address.json`).
#[derive(Clone)]
pub(super) struct References {
    docs: Vec<(String, Value)>,
}

impl References {
    pub(super) fn new(docs: Vec<(String, Value)>) -> References {
        References { docs }
    }

    pub(super) fn into_docs(self) -> Vec<(String, Value)> {
        self.docs
    }

    /// The referenced schema a URI (fragment removed) names: a reference named by that URI, or by a
    /// relative name that the URI resolves to from the referring schema's base (`address.json` from
    /// `https://example.com/schemas/customer.json`, or from the default base when the schema has no
    /// `$id`), or one whose own `$id` is that URI.
    pub(super) fn find(&self, uri: &str) -> Option<&Value> {
        let uri = uri.split('#').next().unwrap_or(uri);
        let named = |name: &str| {
            let name = name.split('#').next().unwrap_or(name);
            let relative = name.strip_prefix("./").unwrap_or(name);
            name == uri || (!name.contains(':') && uri.strip_suffix(relative).is_some_and(|base| base.ends_with('/')))
        };
        self.docs.iter().find(|(name, _)| named(name)).map(|(_, doc)| doc).or_else(|| {
            self.docs
                .iter()
                .find(|(_, doc)| {
                    doc.get("$id").and_then(Value::as_str).is_some_and(|id| id.trim_end_matches('#') == uri)
                })
                .map(|(_, doc)| doc)
        })
    }
}

#[derive(Debug)]
struct NotReferenced(String);

impl fmt::Display for NotReferenced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is neither a schema reference of this schema nor an official metaschema", self.0)
    }
}

impl Error for NotReferenced {}

impl Retrieve for References {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn Error + Send + Sync>> {
        self.find(uri.as_str()).cloned().ok_or_else(|| Box::new(NotReferenced(uri.as_str().to_string())) as _)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_resolve_absolutely_relatively_and_by_id() {
        let refs = References::new(vec![
            ("address.json".into(), json!({"title": "address"})),
            ("https://example.com/money.json".into(), json!({"title": "money"})),
            ("customer".into(), json!({"$id": "https://example.com/people/customer.json", "title": "customer"})),
        ]);
        let title = |uri: &str| refs.find(uri).and_then(|d| d["title"].as_str());
        assert_eq!(title("json-schema:///address.json"), Some("address"));
        assert_eq!(title("https://example.com/schemas/address.json#/x"), Some("address"));
        assert_eq!(title("https://example.com/money.json"), Some("money"));
        assert_eq!(title("https://example.com/people/customer.json"), Some("customer"));
        assert_eq!(title("https://example.com/myaddress.json"), None);
        assert_eq!(title("https://example.com/other/money.json"), None);
    }
}
