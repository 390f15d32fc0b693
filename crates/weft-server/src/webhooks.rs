//! The webhook sender: takes the mesh's events ([`weft_mesh::webhooks`]), POSTs each to the
//! subscriptions that may hear of it, signed, retrying with exponential backoff, and records every
//! attempt in the delivery log.
//!
//! A delivery is `POST <url>` with the event as JSON (`{"id", "type", "at", "data"}`) and the headers
//! `Weft-Event` (the type), `Weft-Delivery` (the event id, the same for every attempt) and
//! `Weft-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the subscription's
//! secret>`. A 2xx answer is a success; anything else (or no answer within 10 s) is retried after
//! `base`, 2·`base`, 4·`base`... up to [`MAX_ATTEMPTS`] attempts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use weft_mesh::webhooks::{Delivery, Webhook, WebhookEvent};
use weft_mesh::Mesh;

/// Attempts per event and subscription.
pub const MAX_ATTEMPTS: u32 = 6;

/// Runs the sender until `stop` is set: one thread takes events, each delivery runs on its own
/// thread so that a slow receiver delays nobody else. The threads hold the platform weakly, so that
/// shutting it down never waits for a receiver; join the returned handle before closing the log.
pub fn start(
    mesh: &Arc<Mesh>,
    retry_base: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let mesh = Arc::downgrade(mesh);
    std::thread::Builder::new().name("weft-webhooks".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Some(platform) = mesh.upgrade() else { return };
            let Some(event) = platform.webhooks().next_event(Duration::from_millis(100)) else { continue };
            for (webhook, secret) in platform.webhooks().recipients(&event) {
                if !platform.may_hear(&webhook.owner, &event) {
                    continue;
                }
                let (mesh, event, stop) = (mesh.clone(), event.clone(), stop.clone());
                let spawned = std::thread::Builder::new()
                    .name("weft-webhook-delivery".into())
                    .spawn(move || deliver(&mesh, &webhook, &secret, &event, retry_base, &stop));
                if let Err(error) = spawned {
                    tracing::error!(%error, "cannot start a webhook delivery");
                }
            }
        }
    })
}

fn deliver(
    mesh: &Weak<Mesh>,
    webhook: &Webhook,
    secret: &str,
    event: &WebhookEvent,
    retry_base: Duration,
    stop: &AtomicBool,
) {
    let body = serde_json::json!({"id": event.id, "type": event.event, "at": event.at, "data": event.data}).to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    for attempt in 1..=MAX_ATTEMPTS {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let now = weft_mesh::now_ms();
        let signature = weft_mesh::auth::signature::sign(secret.as_bytes(), now / 1000, body.as_bytes());
        let answer = agent
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header("weft-event", &event.event)
            .header("weft-delivery", &event.id)
            .header("weft-signature", &signature)
            .send(body.as_bytes());
        let (status, error) = match answer {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let wait = retry_base.saturating_mul(1 << (attempt - 1));
        let again = !ok && attempt < MAX_ATTEMPTS;
        let delivery = Delivery {
            webhook: webhook.id.clone(),
            event_id: event.id.clone(),
            event: event.event.clone(),
            attempt,
            at: now,
            status,
            error: error.or_else(|| (!ok).then(|| format!("the receiver answered {}", status.unwrap_or_default()))),
            ok,
            next_attempt_at: again.then(|| now + wait.as_millis() as i64),
        };
        let Some(platform) = mesh.upgrade() else { return };
        if let Err(error) = platform.webhooks().record_delivery(delivery) {
            tracing::error!(%error, "cannot record a webhook delivery");
        }
        drop(platform);
        if !again {
            return;
        }
        // Short naps, so that a shutdown ends the wait.
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
        }
    }
}
