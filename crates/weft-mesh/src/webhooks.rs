//! Webhooks: subscriptions to the mesh's events (a product published, deprecated or retired; a schema
//! changed; access requested, granted or revoked; a contract violated), the queue of events to send,
//! and the delivery log, kept as events of the internal topic `_weft_webhooks`.
//!
//! The mesh decides what happened and who may hear of it; the server sends (it knows HTTP): it takes
//! events from [`Webhooks::next_event`], signs each delivery with the subscription's secret
//! (HMAC-SHA256 with a timestamp, [`weft_auth::signature`]), retries with exponential backoff, and
//! records every attempt through [`Webhooks::record_delivery`].
//!
//! Who hears what: product lifecycle and schema events are metadata, for every subscriber; access
//! and contract events are for the product's domain (and platform admins), and an access event also
//! for the requester.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_log::{EventLog, TopicConfig};

use crate::error::{MeshError, Result};
use crate::event_store::{EventStore, Unreadable};
use crate::{Mesh, RequestContext};

/// The internal topic of subscriptions and deliveries.
pub const WEBHOOKS_TOPIC: &str = "_weft_webhooks";

/// The event types one may subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "product.published",
    "product.deprecated",
    "product.retired",
    "schema.changed",
    "access.requested",
    "access.granted",
    "access.revoked",
    "contract.violated",
];

/// Events waiting for the sender; past this the oldest are dropped (and counted).
const MAX_QUEUED: usize = 10_000;
/// Deliveries kept per subscription in the log answered by the API.
const MAX_DELIVERIES_KEPT: usize = 200;

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// `wh-N`.
    pub id: String,
    /// Where deliveries are POSTed (http or https).
    pub url: String,
    /// The event types delivered.
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Who subscribed: what they may see is what is delivered.
    pub owner: String,
    pub created_at: i64,
}

/// What a caller sends to subscribe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// A subscription just made, with its signing secret (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The HMAC-SHA256 key of the `Weft-Signature` header; shown once.
    pub secret: String,
}

/// One attempt to deliver one event to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub webhook: String,
    /// The event's id (the same for every attempt).
    pub event_id: String,
    pub event: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A 2xx answer.
    pub ok: bool,
    /// When the next attempt is due, if one will be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
}

/// Something that happened, to be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event: String,
    pub at: i64,
    pub data: Value,
    /// The product it is about, deciding who may hear of it.
    #[serde(skip)]
    pub product: Option<String>,
    /// The principal an access event is about (the requester).
    #[serde(skip)]
    pub subject: Option<String>,
    /// Only for this subscription (a test delivery).
    #[serde(skip)]
    pub only: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum StoreEvent {
    Subscribed { webhook: Webhook, secret: String },
    Unsubscribed { id: String, principal: String, at: i64 },
    Delivered { delivery: Delivery },
}

#[derive(Default)]
pub(crate) struct State {
    webhooks: BTreeMap<String, (Webhook, String)>,
    deliveries: BTreeMap<String, VecDeque<Delivery>>,
    next: u64,
}

impl crate::event_store::Replayed for State {
    type Event = StoreEvent;

    fn apply(&mut self, event: StoreEvent) {
        match event {
            StoreEvent::Subscribed { webhook, secret } => {
                if let Some(n) = webhook.id.strip_prefix("wh-").and_then(|n| n.parse::<u64>().ok()) {
                    self.next = self.next.max(n);
                }
                self.webhooks.insert(webhook.id.clone(), (webhook, secret));
            }
            StoreEvent::Unsubscribed { id, .. } => {
                self.webhooks.remove(&id);
            }
            StoreEvent::Delivered { delivery } => {
                let log = self.deliveries.entry(delivery.webhook.clone()).or_default();
                log.push_back(delivery);
                while log.len() > MAX_DELIVERIES_KEPT {
                    log.pop_front();
                }
            }
        }
    }
}

/// The subscriptions, the queue of events, the delivery log.
pub struct Webhooks {
    store: EventStore<State>,
    queue: Mutex<VecDeque<WebhookEvent>>,
    ready: Condvar,
    dropped: std::sync::atomic::AtomicU64,
    /// When an event of a type about a product was last queued (throttled events).
    throttle: Mutex<std::collections::HashMap<(String, String), std::time::Instant>>,
}

impl Webhooks {
    /// Applies what other servers on the same log appended since this one last read it.
    pub(crate) fn refresh(&self) -> Result<()> {
        self.store.refresh()
    }

    pub(crate) fn open(log: Arc<dyn EventLog>) -> Result<Webhooks> {
        let config = TopicConfig { retention_ms: Some(90 * 24 * 3600 * 1000), ..TopicConfig::default() };
        Ok(Webhooks {
            // Records past retention may have left a subscription's first events: skip what no longer reads.
            store: EventStore::open(log, WEBHOOKS_TOPIC, config, Unreadable::Skip)?,
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            dropped: std::sync::atomic::AtomicU64::new(0),
            throttle: Mutex::new(std::collections::HashMap::new()),
        })
    }

    fn append(&self, events: Vec<StoreEvent>) -> Result<()> {
        self.store.write(|_| Ok(((), events)))
    }

    fn write<T>(&self, plan: impl FnOnce(&State) -> Result<(T, Vec<StoreEvent>)>) -> Result<T> {
        self.store.write(plan)
    }

    /// Queues an event for delivery (when anyone subscribes to its type).
    pub(crate) fn emit(&self, event: WebhookEvent) {
        let wanted = {
            let state = self.store.state();
            state
                .webhooks
                .values()
                .any(|(w, _)| w.events.contains(&event.event) || event.only.as_deref() == Some(&w.id))
        };
        if !wanted {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= MAX_QUEUED {
            queue.pop_front();
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        queue.push_back(event);
        self.ready.notify_one();
    }

    /// Queues an event about `product` unless one of the same type about it was queued within `every`.
    pub(crate) fn emit_throttled(&self, product: &str, event: &str, data: Value, every: Duration) {
        {
            let mut last = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
            let key = (product.to_string(), event.to_string());
            if last.get(&key).is_some_and(|at| at.elapsed() < every) {
                return;
            }
            if last.len() > 100_000 {
                last.clear();
            }
            last.insert(key, std::time::Instant::now());
        }
        self.emit(WebhookEvent {
            id: next_event_id(),
            event: event.to_string(),
            at: crate::now_ms(),
            data,
            product: Some(product.to_string()),
            subject: None,
            only: None,
        });
    }

    /// The next event to deliver, waiting at most `wait`.
    pub fn next_event(&self, wait: Duration) -> Option<WebhookEvent> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.is_empty() {
            queue = self.ready.wait_timeout(queue, wait).map(|(q, _)| q).unwrap_or_else(|e| e.into_inner().0);
        }
        queue.pop_front()
    }

    /// The subscriptions an event goes to, with their secrets.
    pub fn recipients(&self, event: &WebhookEvent) -> Vec<(Webhook, String)> {
        let state = self.store.state();
        state
            .webhooks
            .values()
            .filter(|(w, _)| match &event.only {
                Some(only) => *only == w.id,
                None => w.events.contains(&event.event),
            })
            .cloned()
            .collect()
    }

    /// Records one delivery attempt in the log.
    pub fn record_delivery(&self, delivery: Delivery) -> Result<()> {
        self.append(vec![StoreEvent::Delivered { delivery }])
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn check_spec(spec: &WebhookSpec) -> Result<()> {
    let url = spec.url.trim();
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok || url.len() > 2000 || url.contains(char::is_whitespace) {
        return Err(MeshError::InvalidRequest(format!("url: '{url}' is not an http or https URL")));
    }
    if spec.events.is_empty() {
        return Err(MeshError::InvalidRequest(format!("events: name at least one of {}", EVENT_TYPES.join(", "))));
    }
    for (i, event) in spec.events.iter().enumerate() {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(MeshError::InvalidRequest(format!(
                "events[{i}]: '{event}' is not an event type ({})",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    if spec.description.chars().count() > 200 {
        return Err(MeshError::InvalidRequest("description: at most 200 characters".into()));
    }
    Ok(())
}

impl Mesh {
    /// The webhook queue and store (the server's sender reads it).
    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// Subscribes `ctx`'s principal to event types; the secret is in the answer only.
    pub fn create_webhook(&self, ctx: &RequestContext, spec: WebhookSpec) -> Result<CreatedWebhook> {
        check_spec(&spec)?;
        let secret = weft_auth::random_url_safe(32).map_err(|e| MeshError::Internal(e.to_string()))?;
        let mut events = spec.events.clone();
        events.sort();
        events.dedup();
        let webhook = self.webhooks.write(|state| {
            let webhook = Webhook {
                id: format!("wh-{}", state.next + 1),
                url: spec.url.trim().to_string(),
                events,
                description: spec.description,
                owner: ctx.principal().to_string(),
                created_at: ctx.at(),
            };
            Ok((webhook.clone(), vec![StoreEvent::Subscribed { webhook, secret: secret.clone() }]))
        })?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// The caller's subscriptions (a platform admin's: everyone's).
    pub fn list_webhooks(&self, ctx: &RequestContext) -> Vec<Webhook> {
        let admin = self.authorizer().is_admin(ctx.principal());
        let state = self.webhooks.store.state();
        state.webhooks.values().map(|(w, _)| w).filter(|w| admin || w.owner == ctx.principal()).cloned().collect()
    }

    fn own_webhook(&self, ctx: &RequestContext, id: &str) -> Result<Webhook> {
        let state = self.webhooks.store.state();
        let (webhook, _) = state.webhooks.get(id).ok_or_else(|| MeshError::WebhookNotFound(id.to_string()))?;
        if webhook.owner != ctx.principal() && !self.authorizer().is_admin(ctx.principal()) {
            return Err(MeshError::WebhookNotFound(id.to_string()));
        }
        Ok(webhook.clone())
    }

    /// Ends a subscription (its owner or a platform admin).
    pub fn delete_webhook(&self, ctx: &RequestContext, id: &str) -> Result<Webhook> {
        let webhook = self.own_webhook(ctx, id)?;
        self.webhooks.append(vec![StoreEvent::Unsubscribed {
            id: id.to_string(),
            principal: ctx.principal().to_string(),
            at: ctx.at(),
        }])?;
        Ok(webhook)
    }

    /// A subscription's latest deliveries, newest last.
    pub fn webhook_deliveries(&self, ctx: &RequestContext, id: &str) -> Result<Vec<Delivery>> {
        self.own_webhook(ctx, id)?;
        let state = self.webhooks.store.state();
        Ok(state.deliveries.get(id).map(|d| d.iter().cloned().collect()).unwrap_or_default())
    }

    /// Queues a `ping` for one subscription; the answer is the event's id (find its deliveries by it).
    pub fn test_webhook(&self, ctx: &RequestContext, id: &str) -> Result<String> {
        let webhook = self.own_webhook(ctx, id)?;
        let event = WebhookEvent {
            id: next_event_id(),
            event: "ping".to_string(),
            at: ctx.at(),
            data: serde_json::json!({"webhook": webhook.id, "by": ctx.principal()}),
            product: None,
            subject: None,
            only: Some(webhook.id.clone()),
        };
        let event_id = event.id.clone();
        let mut queue = self.webhooks.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.push_back(event);
        self.webhooks.ready.notify_one();
        Ok(event_id)
    }

    /// Whether a subscription's owner may hear of `event`.
    pub fn may_hear(&self, owner: &str, event: &WebhookEvent) -> bool {
        let private = event.event.starts_with("access.") || event.event.starts_with("contract.");
        if !private || event.only.is_some() {
            return true;
        }
        if event.subject.as_deref() == Some(owner) {
            return true;
        }
        match &event.product {
            Some(product) => self.authorizer().require_product_change(owner, product, "hear of it").is_ok(),
            None => self.authorizer().is_admin(owner),
        }
    }

    /// Queues an event about `product` (and, for access events, its requester).
    pub(crate) fn notify(&self, event: &str, product: Option<&str>, subject: Option<&str>, data: Value) {
        self.webhooks.emit(WebhookEvent {
            id: next_event_id(),
            event: event.to_string(),
            at: crate::now_ms(),
            data,
            product: product.map(str::to_string),
            subject: subject.map(str::to_string),
            only: None,
        });
    }
}

/// `ev-<time>-<n>`: unique within the process and ordered.
fn next_event_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("ev-{}-{}", crate::now_ms(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}
