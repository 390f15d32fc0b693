//! Subscriptions: one watch channel per subscribed partition, raised at once by this process's
//! appends and by a poller for appends made elsewhere (other servers, plain Kafka producers).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::Shared;

#[derive(Default)]
pub(crate) struct Watches {
    senders: Mutex<HashMap<(String, u32), watch::Sender<u64>>>,
}

impl Watches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), watch::Sender<u64>>> {
        self.senders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver of the partition's high watermark, which is at least `latest` now.
    pub fn subscribe(&self, topic: &str, partition: u32, latest: u64) -> watch::Receiver<u64> {
        let mut senders = self.lock();
        let sender = senders.entry((topic.to_string(), partition)).or_insert_with(|| watch::channel(latest).0);
        raise(sender, latest);
        sender.subscribe()
    }

    /// Records that the partition's high watermark is at least `high_watermark`.
    pub fn raise(&self, topic: &str, partition: u32, high_watermark: u64) {
        if let Some(sender) = self.lock().get(&(topic.to_string(), partition)) {
            raise(sender, high_watermark);
        }
    }

    /// Ends every subscription to `topic` (their receivers see the sender closed).
    pub fn end_topic(&self, topic: &str) {
        self.lock().retain(|(t, _), _| t != topic);
    }

    pub fn end_all(&self) {
        self.lock().clear();
    }

    /// The partitions someone still watches; forgets the others.
    fn watched(&self) -> Vec<(String, u32)> {
        let mut senders = self.lock();
        senders.retain(|_, sender| sender.receiver_count() > 0);
        senders.keys().cloned().collect()
    }
}

/// Raises, never lowers: receivers are woken only by a new high watermark.
fn raise(sender: &watch::Sender<u64>, high_watermark: u64) {
    sender.send_if_modified(|current| {
        let higher = high_watermark > *current;
        if higher {
            *current = high_watermark;
        }
        higher
    });
}

/// The poller's loop: every `watch_interval`, the latest offsets of all watched partitions in one
/// request, until the log stops.
pub(crate) fn poll(shared: &Shared) {
    let interval = shared.options.watch_interval.max(Duration::from_millis(10));
    loop {
        let wake = Instant::now() + interval;
        while Instant::now() < wake {
            if shared.stopping.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10).min(interval));
        }
        let watched = shared.watches.watched();
        if watched.is_empty() {
            continue;
        }
        match shared.readers.latest(&watched) {
            Ok(latest) => {
                for ((topic, partition), high_watermark) in latest {
                    shared.watches.raise(&topic, partition, high_watermark);
                }
            }
            Err(error) => tracing::debug!(%error, "polling high watermarks"),
        }
    }
}
