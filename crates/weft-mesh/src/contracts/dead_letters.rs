//! Dead letters: the records a port with the `dead-letter` policy did not take, kept in the product's
//! dead-letter topic with why, until someone replays them (after fixing the contract or the data) or
//! drops them with a reason.
//!
//! A dead letter is one record of `_weft_dlq.<product>` (one partition, so its offsets name it): its
//! key is the record's key as it would have been stored, its value the value as the producer sent it
//! (`weft.dlq.encoding: json`, the JSON text of a REST or CLI record) or as a writer encoded it
//! (`stored`, a SQL sink's bytes), its timestamp the record's, and its headers the record's own plus:
//!
//! | header | what |
//! |---|---|
//! | `weft.dlq.rule`, `weft.dlq.field`, `weft.dlq.reason` | the first rule it broke |
//! | `weft.dlq.violations` | every rule it broke, as a JSON array of `{rule, field, reason}` |
//! | `weft.dlq.topic`, `weft.dlq.partition` | where it was written to (the partition it would have had) |
//! | `weft.dlq.producer`, `weft.dlq.time` | who wrote it, and when it was refused (epoch ms) |
//! | `weft.dlq.encoding` | `json` or `stored` (see above) |
//!
//! Kafka consumers can read the topic as it is; Weft's own answers decode it ([`DeadLetterEntry`]).

use serde::Serialize;
use serde_json::Value;
use weft_log::{Header, StoredRecord};

use super::{Resolution, Violation};
use crate::records::Decoder;

/// The prefix of dead-letter topics; being `_weft*`, clients read them but never write them.
pub const DEAD_LETTER_PREFIX: &str = "_weft_dlq.";

const RULE: &str = "weft.dlq.rule";
const FIELD: &str = "weft.dlq.field";
const REASON: &str = "weft.dlq.reason";
const VIOLATIONS: &str = "weft.dlq.violations";
const TOPIC: &str = "weft.dlq.topic";
const PARTITION: &str = "weft.dlq.partition";
const PRODUCER: &str = "weft.dlq.producer";
const TIME: &str = "weft.dlq.time";
const ENCODING: &str = "weft.dlq.encoding";

/// The dead-letter topic of a data product.
pub fn dead_letter_topic(product: &str) -> String {
    format!("{DEAD_LETTER_PREFIX}{product}")
}

/// How a dead letter's value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeadLetterEncoding {
    /// The JSON the producer sent, as text.
    Json,
    /// The bytes a writer encoded (a SQL sink's Avro or JSON).
    Stored,
}

/// A record on its way to the dead-letter topic.
pub(crate) struct Refused {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub encoding: DeadLetterEncoding,
    pub headers: Vec<Header>,
    pub timestamp: i64,
    /// The partition it asked for, or its key's; a keyless record has none.
    pub partition: Option<u32>,
    pub violations: Vec<Violation>,
}

impl Refused {
    /// The dead letter as stored: the record's own headers, then the `weft.dlq.*` ones.
    pub(crate) fn into_record(self, topic: &str, producer: &str, now: i64) -> weft_log::Record {
        let mut headers = self.headers;
        let header = |key: &str, value: String| Header { key: key.to_string(), value: Some(value.into_bytes()) };
        if let Some(first) = self.violations.first() {
            headers.push(header(RULE, first.rule.clone()));
            if let Some(field) = &first.field {
                headers.push(header(FIELD, field.clone()));
            }
            headers.push(header(REASON, first.reason.clone()));
        }
        headers.push(header(VIOLATIONS, serde_json::to_string(&self.violations).unwrap_or_else(|_| "[]".into())));
        headers.push(header(TOPIC, topic.to_string()));
        if let Some(partition) = self.partition {
            headers.push(header(PARTITION, partition.to_string()));
        }
        headers.push(header(PRODUCER, producer.to_string()));
        headers.push(header(TIME, now.to_string()));
        let encoding = match self.encoding {
            DeadLetterEncoding::Json => "json",
            DeadLetterEncoding::Stored => "stored",
        };
        headers.push(header(ENCODING, encoding.to_string()));
        weft_log::Record { key: self.key, value: self.value, headers, timestamp: Some(self.timestamp) }
    }
}

/// A dead letter as Weft's answers show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetterEntry {
    /// Its offset in the dead-letter topic: what replay and drop name it by.
    pub offset: u64,
    /// The record's own timestamp (epoch ms).
    pub timestamp: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub key: Value,
    /// The value, decoded as a reader of the product would see it (Avro through its schema).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub value: Value,
    /// Every rule it broke.
    pub violations: Vec<Violation>,
    /// The topic and partition it was written to.
    pub topic: String,
    pub partition: Option<u32>,
    pub producer: Option<String>,
    /// When it was refused (epoch ms).
    pub refused_at: Option<i64>,
    pub encoding: DeadLetterEncoding,
    /// The record's own headers (without the `weft.dlq.*` ones).
    pub headers: std::collections::BTreeMap<String, Option<String>>,
    /// What was done with it since, if anything.
    pub resolution: Option<Resolution>,
}

impl DeadLetterEntry {
    /// Reads a dead-letter record; headers it lacks (a record some other tool wrote) stay empty.
    pub(crate) fn from_stored(
        record: &StoredRecord,
        decoder: &mut Decoder<'_>,
        resolution: Option<Resolution>,
    ) -> Self {
        let mut own = std::collections::BTreeMap::new();
        let mut dlq = std::collections::BTreeMap::new();
        for header in &record.headers {
            let value = header.value.as_deref().map(|bytes| String::from_utf8_lossy(bytes).into_owned());
            if header.key.starts_with("weft.dlq.") {
                dlq.insert(header.key.as_str(), value.unwrap_or_default());
            } else {
                own.insert(header.key.clone(), value);
            }
        }
        let violations: Vec<Violation> =
            dlq.get(VIOLATIONS).and_then(|text| serde_json::from_str(text).ok()).unwrap_or_else(|| {
                dlq.get(RULE)
                    .map(|rule| {
                        vec![Violation {
                            rule: rule.clone(),
                            field: dlq.get(FIELD).cloned(),
                            reason: dlq.get(REASON).cloned().unwrap_or_default(),
                        }]
                    })
                    .unwrap_or_default()
            });
        let encoding = match dlq.get(ENCODING).map(String::as_str) {
            Some("stored") => DeadLetterEncoding::Stored,
            _ => DeadLetterEncoding::Json,
        };
        DeadLetterEntry {
            offset: record.offset,
            timestamp: record.timestamp,
            key: decoder.key(record.key.as_deref()).json,
            value: decoder.value(record.value.as_deref()).json,
            violations,
            topic: dlq.get(TOPIC).cloned().unwrap_or_default(),
            partition: dlq.get(PARTITION).and_then(|p| p.parse().ok()),
            producer: dlq.get(PRODUCER).cloned(),
            refused_at: dlq.get(TIME).and_then(|t| t.parse().ok()),
            encoding,
            headers: own,
            resolution,
        }
    }

    /// Whether the entry broke `rule` (any of its violations).
    pub fn broke(&self, rule: &str) -> bool {
        self.violations.iter().any(|v| v.rule == rule)
    }
}
