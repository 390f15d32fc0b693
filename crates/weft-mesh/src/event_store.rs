//! The protocol the mesh's own stores share (governance, identities, webhooks): state in memory,
//! events in one partition of an internal topic, rebuilt by replaying them on start.
//!
//! A change is planned against the state under the writer lock, its events are appended (the commit
//! point), then applied by reading them back, exactly as a restart will, so a crash leaves either all
//! of a change or none of it, and the state is always what the log says.

use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;
use weft_log::{EventLog, LogError, ReadLimits, Record, TopicConfig};

use crate::error::{MeshError, Result};

/// A state rebuilt from events.
pub(crate) trait Replayed: Default + Send + Sync {
    type Event: Serialize + DeserializeOwned;

    fn apply(&mut self, event: Self::Event);

    /// The record key an event is stored under (none by default).
    fn key(_event: &Self::Event) -> Option<Vec<u8>> {
        None
    }
}

/// What to do with a record that does not read as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Refuse to open: the store's history is broken.
    Fail,
    /// Skip it (a store whose old entries may be dropped by retention, e.g. delivery logs).
    Skip,
}

/// A store of events in `topic`, and the state they make.
pub(crate) struct EventStore<S: Replayed> {
    log: Arc<dyn EventLog>,
    topic: &'static str,
    unreadable: Unreadable,
    state: RwLock<S>,
    /// The next offset to apply; held while a change is planned and appended.
    writer: Mutex<u64>,
}

impl<S: Replayed> EventStore<S> {
    /// Opens the store, creating its topic on first start, and applies every stored event.
    pub(crate) fn open(
        log: Arc<dyn EventLog>,
        topic: &'static str,
        config: TopicConfig,
        unreadable: Unreadable,
    ) -> Result<Self> {
        match log.create_topic(topic, config) {
            Ok(_) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let store = EventStore { log, topic, unreadable, state: RwLock::new(S::default()), writer: Mutex::new(0) };
        {
            let mut next = store.writer.lock().unwrap_or_else(|e| e.into_inner());
            store.catch_up(&mut next)?;
        }
        Ok(store)
    }

    /// Read access to the state; drop the guard before calling a method that writes.
    pub(crate) fn state(&self) -> RwLockReadGuard<'_, S> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies what other servers on the same log appended since this one last read it.
    pub(crate) fn refresh(&self) -> Result<()> {
        let mut next = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // Usually nothing is new: the watermark says so without a fetch (which on Kafka waits).
        if *next >= self.log.offsets(self.topic, 0)?.1 {
            return Ok(());
        }
        self.catch_up(&mut next)
    }

    fn catch_up(&self, next: &mut u64) -> Result<()> {
        loop {
            let read = self.log.read(self.topic, 0, *next, ReadLimits::default())?;
            if !read.records.is_empty() {
                let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
                for record in &read.records {
                    match serde_json::from_slice::<S::Event>(record.value.as_deref().unwrap_or_default()) {
                        Ok(event) => state.apply(event),
                        Err(_) if self.unreadable == Unreadable::Skip => {}
                        Err(e) => {
                            return Err(MeshError::Internal(format!(
                                "{} offset {} is unreadable: {e}",
                                self.topic, record.offset
                            )))
                        }
                    }
                }
            }
            let done = read.records.is_empty() || read.next_offset >= read.high_watermark;
            *next = read.next_offset.max(*next);
            if done {
                return Ok(());
            }
        }
    }

    /// Plans a change against the current state, appends its events, then applies them.
    pub(crate) fn write<T>(&self, plan: impl FnOnce(&S) -> Result<(T, Vec<S::Event>)>) -> Result<T> {
        let mut next = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up(&mut next)?;
        let (output, events) = plan(&self.state())?;
        if events.is_empty() {
            return Ok(output);
        }
        let records = events
            .iter()
            .map(|event| {
                let value =
                    serde_json::to_vec(event).map_err(|e| MeshError::Internal(format!("{} event: {e}", self.topic)))?;
                Ok(Record { key: S::key(event), value: Some(value), headers: Vec::new(), timestamp: None })
            })
            .collect::<Result<Vec<_>>>()?;
        self.log.append(self.topic, 0, records)?;
        // Applied by reading back what was appended, exactly as a restart will.
        self.catch_up(&mut next)?;
        Ok(output)
    }
}
