//! Products derived by streaming queries, described in the catalog's terms (topics and column names),
//! so the catalog needs nothing from the SQL layer: the server translates a query's lineage into a
//! [`DerivedLineage`] and calls [`crate::Catalog::create_derived_product`].

use serde::{Deserialize, Serialize};

/// What a streaming query reads and how each of its output columns is computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivedLineage {
    /// The topics the query reads, in order.
    pub input_topics: Vec<String>,
    /// One entry per output column.
    pub fields: Vec<DerivedField>,
}

/// An output column and the input columns it is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivedField {
    pub field: String,
    pub from: Vec<TopicColumn>,
}

/// A column of the records of a topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicColumn {
    pub topic: String,
    pub column: String,
}

/// The name of `column` in `known` (schema field names), compared without case: SQL upper-cases
/// unquoted names (`ORDERID` for the Avro field `orderId`). `None` when the schema lacks it; the
/// column itself when the schema is unknown.
pub(crate) fn schema_field(known: Option<&std::collections::BTreeSet<String>>, column: &str) -> Option<String> {
    match known {
        None => Some(column.to_string()),
        Some(fields) => fields.get(column).or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(column))).cloned(),
    }
}
