//! The audit log: every change and every refused request, with who, what, on which object, the
//! outcome, when and the request id, in the internal topic `_weft_audit` (one partition, kept a year).
//!
//! The server records one entry per state-changing request and per refused request, whatever the
//! route, so a new route is audited without anyone remembering to; the mesh records what it decides
//! on its own (identities bootstrapped, tokens created). Queries read the topic newest first.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weft_log::{EventLog, LogError, ReadLimits, Record, TopicConfig};

use crate::error::{MeshError, Result};

/// The internal topic of the audit log.
pub const AUDIT_TOPIC: &str = "_weft_audit";

/// How long audit entries are kept.
pub const AUDIT_RETENTION_MS: i64 = 366 * 24 * 3600 * 1000;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// Done.
    Ok,
    /// Refused: not signed in, not allowed, not granted.
    Refused,
    /// Allowed, but failed (invalid input, a conflict, an internal error).
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Refused => "refused",
            AuditOutcome::Failed => "failed",
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Epoch milliseconds.
    pub at: i64,
    /// Who asked (`anonymous` when no credential was given or it was refused).
    pub principal: String,
    /// What was asked: the method and route (`POST /api/v1/products/{id}/publish`) or a mesh action.
    pub action: String,
    /// What it was asked of: the request's path (`/api/v1/products/orders.placed/publish`).
    pub object: String,
    pub outcome: AuditOutcome,
    /// The HTTP status of the answer, when the entry is a request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub request_id: String,
    /// Why it was refused or failed, or what a SQL statement said (at most 1,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Its place in the audit topic (filled when read).
    #[serde(default)]
    pub offset: u64,
}

/// Which entries a query returns; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub principal: Option<String>,
    /// Substring of the object.
    pub object: Option<String>,
    /// Substring of the action.
    pub action: Option<String>,
    pub outcome: Option<AuditOutcome>,
    /// Entries at or after (epoch ms).
    pub since: Option<i64>,
    /// Entries before (epoch ms).
    pub until: Option<i64>,
    /// Entries older than this offset (paging backwards).
    pub before: Option<u64>,
    pub limit: usize,
}

/// A page of entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; none when this page reached the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// The most entries one query returns.
pub const MAX_AUDIT_PAGE: usize = 1000;
const MAX_DETAIL_CHARS: usize = 1000;

/// Appends and queries the audit topic.
pub struct AuditLog {
    log: Arc<dyn EventLog>,
}

impl AuditLog {
    /// Opens the audit log, creating its topic on first start.
    pub fn open(log: Arc<dyn EventLog>) -> Result<AuditLog> {
        let config = TopicConfig { retention_ms: Some(AUDIT_RETENTION_MS), ..TopicConfig::default() };
        match log.create_topic(AUDIT_TOPIC, config) {
            Ok(_) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(AuditLog { log })
    }

    /// Appends one entry (its detail cut to 1,000 characters).
    pub fn record(&self, mut entry: AuditEntry) -> Result<()> {
        if let Some(detail) = entry.detail.as_mut() {
            if detail.chars().count() > MAX_DETAIL_CHARS {
                *detail = detail.chars().take(MAX_DETAIL_CHARS).chain("…".chars()).collect();
            }
        }
        let value = serde_json::to_vec(&entry).map_err(|e| MeshError::Internal(format!("audit entry: {e}")))?;
        let record = Record {
            key: Some(entry.principal.into_bytes()),
            value: Some(value),
            headers: Vec::new(),
            timestamp: Some(entry.at),
        };
        self.log.append(AUDIT_TOPIC, 0, vec![record])?;
        Ok(())
    }

    /// The entries matching `query`, newest first.
    pub fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        let limit = query.limit.clamp(1, MAX_AUDIT_PAGE);
        let description = self.log.describe_topic(AUDIT_TOPIC)?;
        let (start, high) = description.partitions.first().map_or((0, 0), |p| (p.earliest_offset, p.latest_offset));
        let mut end = query.before.map_or(high, |before| before.min(high));
        let mut entries = Vec::new();
        const CHUNK: u64 = 500;
        while end > start && entries.len() < limit {
            let from = end.saturating_sub(CHUNK).max(start);
            let mut chunk = Vec::new();
            let mut offset = from;
            while offset < end {
                let read = self.log.read(
                    AUDIT_TOPIC,
                    0,
                    offset,
                    ReadLimits { max_records: (end - offset) as usize, ..ReadLimits::default() },
                )?;
                if read.records.is_empty() {
                    break;
                }
                for record in read.records.into_iter().filter(|r| r.offset < end) {
                    if let Ok(mut entry) =
                        serde_json::from_slice::<AuditEntry>(record.value.as_deref().unwrap_or_default())
                    {
                        entry.offset = record.offset;
                        chunk.push(entry);
                    }
                }
                offset = read.next_offset;
            }
            let mut older_than_since = false;
            for entry in chunk.into_iter().rev() {
                if query.since.is_some_and(|since| entry.at < since) {
                    older_than_since = true;
                    continue;
                }
                if matches(query, &entry) && entries.len() < limit {
                    entries.push(entry);
                }
            }
            end = from;
            if older_than_since {
                // Entries are appended in time order: everything before is older still.
                end = start;
            }
        }
        let next_before = if entries.len() == limit {
            entries.last().map(|e| e.offset).filter(|offset| *offset > start)
        } else {
            None
        };
        Ok(AuditPage { entries, next_before })
    }

    /// The audit topic's next offset (where a live feed starts).
    pub fn end_offset(&self) -> Result<u64> {
        let description = self.log.describe_topic(AUDIT_TOPIC)?;
        Ok(description.partitions.first().map_or(0, |p| p.latest_offset))
    }

    /// Entries from `offset` on (at most 500), and the offset after them.
    pub fn read_from(&self, offset: u64) -> Result<(Vec<AuditEntry>, u64)> {
        let read = self.log.read(AUDIT_TOPIC, 0, offset, ReadLimits::default())?;
        let mut entries = Vec::with_capacity(read.records.len());
        for record in &read.records {
            if let Ok(mut entry) = serde_json::from_slice::<AuditEntry>(record.value.as_deref().unwrap_or_default()) {
                entry.offset = record.offset;
                entries.push(entry);
            }
        }
        Ok((entries, read.next_offset.max(offset)))
    }

    /// Notified when entries are appended.
    pub fn subscribe(&self) -> Result<tokio::sync::watch::Receiver<u64>> {
        Ok(self.log.subscribe(AUDIT_TOPIC, 0)?)
    }
}

fn matches(query: &AuditQuery, entry: &AuditEntry) -> bool {
    query.principal.as_ref().is_none_or(|p| *p == entry.principal)
        && query.object.as_ref().is_none_or(|o| entry.object.contains(o.as_str()))
        && query.action.as_ref().is_none_or(|a| entry.action.contains(a.as_str()))
        && query.outcome.is_none_or(|o| o == entry.outcome)
        && query.until.is_none_or(|until| entry.at < until)
}
