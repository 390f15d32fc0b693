//! Keeps a server's copy of the platform's state current when other servers share its log (several
//! Weft servers on one Kafka cluster): a thread watches the internal topics of the stores that live
//! in memory (registry, catalog, governance, identities, webhooks) and has each store apply what
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

/// A store that keeps its events in `topic` and applies new ones on `refresh`.
pub(crate) struct Followed {
    pub topic: &'static str,
    pub refresh: Box<dyn Fn() -> Result<()> + Send>,
}

/// The follower thread; stopped by `stop` or when dropped.
pub(crate) type Follower = crate::background::Ticking;

/// Starts following `stores`, in the order given (the registry before the catalog, whose index
/// reads schemas).
pub(crate) fn start(log: &Arc<dyn EventLog>, stores: Vec<Followed>) -> Result<Follower> {
    let mut watched = Vec::with_capacity(stores.len());
    for store in stores {
        let watch = log.subscribe(store.topic, 0)?;
        watched.push((watch, store));
    }
    crate::background::Ticking::start("weft-follow", TICK, move || {
        for (watch, store) in &mut watched {
            match watch.has_changed() {
                Ok(false) => continue,
                Ok(true) => {}
                // The log shut down.
                Err(_) => return false,
            }
            watch.mark_unchanged();
            if let Err(e) = (store.refresh)() {
                // The next growth (or the next write, which catches up first) retries.
                tracing::warn!(topic = store.topic, error = %e, "cannot apply what other servers wrote");
            }
        }
        true
    })
    .map_err(|e| crate::MeshError::Internal(format!("cannot start the follower thread: {e}")))
}
