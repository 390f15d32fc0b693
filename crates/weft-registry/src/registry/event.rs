//! Registry events and their records in the `_weft_schemas` topic.
//!
//! The topic is compacted, so every record carries the whole state of its key and the latest record per
//! key is all a rebuild needs:
//!
//! | key (JSON)                                        | value (JSON event)                     |
//! |---------------------------------------------------|----------------------------------------|
//! | `{"kind":"schema","id":7}`                        | `SchemaCreated` (never tombstoned)     |
//! | `{"kind":"version","subject":"s","version":2}`    | `VersionWritten`; null = hard deleted  |
//! | `{"kind":"config","subject":"s"}` (null = global) | `ConfigSet`; null = config deleted     |
//! | `{"kind":"mode","subject":"s"}` (null = global)   | `ModeSet`; null = mode deleted         |
//!
//! Schema records are never tombstoned, so the highest id ever assigned survives compaction and hard
//! deletes: ids are never reused.

use serde::{Deserialize, Serialize};
use weft_log::Record;

use super::Mode;
use crate::compat::CompatibilityLevel;
use crate::schema::SchemaDefinition;
use crate::SchemaId;

/// One change of registry state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RegistryEvent {
    /// A new global id for a schema (type, canonical text and references), and the text it is read
    /// back as (Confluent's: as Avro's Java library writes the registered schema, or the canonical
    /// text when registered with `normalize`). Events written before Weft kept that text have none:
    /// the canonical text is read back.
    SchemaCreated {
        id: SchemaId,
        schema: SchemaDefinition,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// A version of a subject was registered (`deleted: false`) or soft-deleted (`deleted: true`).
    VersionWritten {
        subject: String,
        version: u32,
        id: SchemaId,
        deleted: bool,
    },
    /// A soft-deleted version was permanently deleted (a tombstone in the log).
    VersionPurged {
        subject: String,
        version: u32,
    },
    /// The compatibility level of a subject, or the global one when `subject` is `None`.
    ConfigSet {
        subject: Option<String>,
        compatibility: CompatibilityLevel,
    },
    ConfigDeleted {
        subject: Option<String>,
    },
    ModeSet {
        subject: Option<String>,
        mode: Mode,
    },
    ModeDeleted {
        subject: Option<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum EventKey {
    Schema { id: SchemaId },
    Version { subject: String, version: u32 },
    Config { subject: Option<String> },
    Mode { subject: Option<String> },
}

impl RegistryEvent {
    fn key(&self) -> EventKey {
        match self {
            RegistryEvent::SchemaCreated { id, .. } => EventKey::Schema { id: *id },
            RegistryEvent::VersionWritten { subject, version, .. }
            | RegistryEvent::VersionPurged { subject, version } => {
                EventKey::Version { subject: subject.clone(), version: *version }
            }
            RegistryEvent::ConfigSet { subject, .. } | RegistryEvent::ConfigDeleted { subject } => {
                EventKey::Config { subject: subject.clone() }
            }
            RegistryEvent::ModeSet { subject, .. } | RegistryEvent::ModeDeleted { subject } => {
                EventKey::Mode { subject: subject.clone() }
            }
        }
    }

    fn is_tombstone(&self) -> bool {
        matches!(
            self,
            RegistryEvent::VersionPurged { .. }
                | RegistryEvent::ConfigDeleted { .. }
                | RegistryEvent::ModeDeleted { .. }
        )
    }

    /// The log record of this event: keyed for compaction, a null value for deletions.
    pub fn to_record(&self) -> Record {
        // Serializing these plain enums cannot fail; an empty key would only make the record uncompactable.
        let key = serde_json::to_vec(&self.key()).unwrap_or_default();
        let value = if self.is_tombstone() { None } else { serde_json::to_vec(self).ok() };
        Record { key: Some(key), value, headers: Vec::new(), timestamp: None }
    }

    /// Reads an event back from a record's key and value.
    pub fn from_record(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<RegistryEvent, String> {
        if let Some(value) = value {
            return serde_json::from_slice(value).map_err(|e| format!("undecodable registry event: {e}"));
        }
        let key = key.ok_or("a registry record without key or value")?;
        let key: EventKey = serde_json::from_slice(key).map_err(|e| format!("undecodable registry key: {e}"))?;
        Ok(match key {
            EventKey::Version { subject, version } => RegistryEvent::VersionPurged { subject, version },
            EventKey::Config { subject } => RegistryEvent::ConfigDeleted { subject },
            EventKey::Mode { subject } => RegistryEvent::ModeDeleted { subject },
            EventKey::Schema { id } => {
                return Err(format!("schema {id} has a tombstone, but schema records are never deleted"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaType;

    #[test]
    fn events_round_trip_through_records() {
        let events = vec![
            RegistryEvent::SchemaCreated { id: 3, schema: SchemaDefinition::new(SchemaType::Json, "{}"), text: None },
            RegistryEvent::SchemaCreated {
                id: 4,
                schema: SchemaDefinition::new(SchemaType::Json, "{}"),
                text: Some("{ }".into()),
            },
            RegistryEvent::VersionWritten { subject: "orders-value".into(), version: 2, id: 3, deleted: true },
            RegistryEvent::VersionPurged { subject: "orders-value".into(), version: 2 },
            RegistryEvent::ConfigSet { subject: None, compatibility: CompatibilityLevel::FullTransitive },
            RegistryEvent::ConfigDeleted { subject: Some("s".into()) },
            RegistryEvent::ModeSet { subject: Some("s".into()), mode: Mode::Import },
            RegistryEvent::ModeDeleted { subject: None },
        ];
        for event in events {
            let record = event.to_record();
            assert_eq!(record.value.is_none(), event.is_tombstone());
            let back = RegistryEvent::from_record(record.key.as_deref(), record.value.as_deref()).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn versions_of_one_subject_share_a_compaction_key_per_version() {
        let written = RegistryEvent::VersionWritten { subject: "s".into(), version: 1, id: 1, deleted: false };
        let purged = RegistryEvent::VersionPurged { subject: "s".into(), version: 1 };
        let other = RegistryEvent::VersionWritten { subject: "s".into(), version: 2, id: 1, deleted: false };
        assert_eq!(written.to_record().key, purged.to_record().key);
        assert_ne!(written.to_record().key, other.to_record().key);
    }

    #[test]
    fn schema_events_written_before_the_read_back_text_still_read() {
        let old = br#"{"event":"schema_created","id":1,"schema":{"schemaType":"AVRO","schema":"\"int\""}}"#;
        let event = RegistryEvent::from_record(Some(br#"{"kind":"schema","id":1}"#), Some(old)).unwrap();
        assert_eq!(
            event,
            RegistryEvent::SchemaCreated { id: 1, schema: SchemaDefinition::avro("\"int\""), text: None }
        );
    }

    #[test]
    fn garbage_records_are_refused() {
        assert!(RegistryEvent::from_record(Some(b"{"), None).is_err());
        assert!(RegistryEvent::from_record(None, Some(b"[1]")).is_err());
        assert!(RegistryEvent::from_record(None, None).is_err());
        assert!(RegistryEvent::from_record(Some(br#"{"kind":"schema","id":1}"#), None).is_err());
    }
}
