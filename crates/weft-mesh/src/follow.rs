//! Keeps a server's copy of the platform's state current when other servers share its log (several
//! Weft servers on one Kafka cluster): a thread watches the internal topics of the stores that live
//! in memory (registry, catalog, governance, identities, webhooks, the SQL engine's commands) and has
//! each store apply what
//! others appended as soon as the log reports the topic grew.
//!
//! On the embedded log this server is the only writer, so a wake-up finds nothing new and costs one
//! read of an offset. Writes do not depend on the follower: every store also catches up before it
//! decides a change, so the follower only bounds how stale reads are (the log's watch interval, 200 ms
//! on Kafka by default, plus one tick here).

use std::sync::Arc;
use std::time::Duration;

use weft_log::EventLog;

use crate::error::Result;

/// How often the watches are looked at. A watch only says "grown since you last looked", so a
/// longer tick batches several appends into one catch-up.
const TICK: Duration = Duration::from_millis(50);

/// The stores kept in memory whose events other servers may append, refreshed by topic.
pub(crate) struct Stores {
    pub registry: Arc<weft_registry::Registry>,
    pub catalog: Arc<weft_catalog::Catalog>,
    pub governance: Arc<crate::contracts::Governance>,
    pub identities: Arc<crate::security::identities::IdentityStore>,
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    pub sql: Arc<weft_sql::Engine>,
}

impl Stores {
    /// Their topics, in the order they are refreshed: the registry before the catalog, whose index
    /// reads schemas.
    /// The SQL engine comes last: its statements name the products and schemas before it.
    const TOPICS: [&'static str; 6] = [
        weft_registry::SCHEMAS_TOPIC,
        weft_catalog::CATALOG_TOPIC,
        crate::contracts::CONTRACTS_TOPIC,
        crate::security::identities::IDENTITIES_TOPIC,
        crate::webhooks::WEBHOOKS_TOPIC,
        weft_sql::engine::COMMAND_TOPIC,
    ];

    /// Has the store of `topic` apply what other servers appended to it.
    fn refresh(&self, topic: &str) -> Result<()> {
        match topic {
            weft_registry::SCHEMAS_TOPIC => Ok(self.registry.refresh()?),
            weft_catalog::CATALOG_TOPIC => Ok(self.catalog.refresh()?),
            crate::contracts::CONTRACTS_TOPIC => self.governance.store().refresh(),
            crate::security::identities::IDENTITIES_TOPIC => self.identities.refresh(),
            crate::webhooks::WEBHOOKS_TOPIC => self.webhooks.refresh(),
            weft_sql::engine::COMMAND_TOPIC => self.sql.refresh().map(|_| ()).map_err(Into::into),
            _ => Ok(()),
        }
    }

    /// Has every store apply what other servers appended, now.
    pub(crate) fn refresh_all(&self) -> Result<()> {
        Self::TOPICS.iter().try_for_each(|topic| self.refresh(topic))
    }
}

/// The follower thread; stopped by `stop` or when dropped.
pub(crate) type Follower = crate::background::Ticking;

/// Starts following the stores' topics.
pub(crate) fn start(log: &Arc<dyn EventLog>, stores: Arc<Stores>) -> Result<Follower> {
    let mut watched = Vec::with_capacity(Stores::TOPICS.len());
    for topic in Stores::TOPICS {
        watched.push((log.subscribe(topic, 0)?, topic));
    }
    crate::background::Ticking::start("weft-follow", TICK, move || {
        for (watch, topic) in &mut watched {
            match watch.has_changed() {
                Ok(false) => continue,
                Ok(true) => {}
                // The log shut down.
                Err(_) => return false,
            }
            watch.mark_unchanged();
            if let Err(e) = stores.refresh(topic) {
                // The next growth (or the next write, which catches up first) retries.
                tracing::warn!(topic = *topic, error = %e, "cannot apply what other servers wrote");
            }
        }
        true
    })
    .map_err(|e| crate::MeshError::Internal(format!("cannot start the follower thread: {e}")))
}
