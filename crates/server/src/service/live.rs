//! The live event stream: one hub per process that tails the store's audit events and fans them
//! out to every SSE subscriber (`GET /events`, `GET /agents/{id}/events`).
//!
//! - ONE background tail task reads `Store::events_after` whenever `Store::commit_signal` moves
//!   (plus a slow fallback poll, for commits another process made), and broadcasts each event over a
//!   `tokio::sync::broadcast` channel. It starts with the first subscriber and stops when the last
//!   one has gone, so an idle server does no work for it.
//! - A [`Subscription`] starts at a cursor (an event id): it first replays what the store holds
//!   after the cursor, then follows the broadcast, skipping what it already delivered. Subscribing
//!   before replaying means no event falls between the two.
//! - A subscriber too slow for the channel's buffer is told so ([`LiveItem::Resync`]) and continues
//!   with the newest events; it can re-read what it missed with `?after=` or `/callbacks/{id}/events`.

use std::sync::Arc;
use std::time::Duration;

use rebound_domain::model::CallbackEvent;
use rebound_store::Store;
use tokio::sync::{Mutex, broadcast, watch};

use crate::error::ApiResult;

/// Events buffered per subscriber before it counts as lagging.
pub const CHANNEL_CAPACITY: usize = 8_192;
/// Events read from the store per call.
const PAGE: u32 = 1_000;
/// How often the tail looks for commits it was not signalled about (another process's).
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// How long the tail waits after a failed read before trying again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// The per-process hub (see the module docs).
pub struct LiveHub {
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Arc<CallbackEvent>>,
    /// Whether the tail task runs. Checked and changed under this lock by subscribers (to start it)
    /// and by the task (to stop when nobody listens), so one never misses the other.
    running: Arc<Mutex<bool>>,
    /// Set on shutdown: every subscription ends, so open streams do not hold the server up.
    closed: watch::Sender<bool>,
}

/// What a subscriber receives next.
#[derive(Debug, Clone)]
pub enum LiveItem {
    Event(Arc<CallbackEvent>),
    /// The subscriber fell behind and `missed` events were dropped for it.
    Resync {
        missed: u64,
    },
}

impl LiveHub {
    pub fn new(store: Arc<dyn Store>) -> LiveHub {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        LiveHub { store, sender, running: Arc::new(Mutex::new(false)), closed: watch::Sender::new(false) }
    }

    /// Ends every subscription (now and later): the server is shutting down.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// A subscription that delivers every event with an id greater than `after` (`None`: from now
    /// on), starting the tail task if it is not running.
    pub async fn subscribe(&self, after: Option<i64>) -> ApiResult<Subscription> {
        let receiver = self.subscribe_and_start().await?;
        // Read the cursor after subscribing: anything committed since is replayed or broadcast.
        let cursor = match after {
            Some(after) => after.max(0),
            None => self.store.last_event_id().await?,
        };
        Ok(Subscription {
            store: self.store.clone(),
            receiver,
            closed: self.closed.subscribe(),
            cursor,
            replaying: true,
            pending: Vec::new(),
        })
    }

    /// Subscribes; starts the tail if needed. The tail's starting point is read before this
    /// subscriber reads its own cursor, so the subscriber's replay always reaches it (no gap).
    async fn subscribe_and_start(&self) -> ApiResult<broadcast::Receiver<Arc<CallbackEvent>>> {
        let mut running = self.running.lock().await;
        let receiver = self.sender.subscribe();
        if !*running {
            let start = self.store.last_event_id().await?;
            *running = true;
            tokio::spawn(tail(self.store.clone(), self.sender.clone(), self.running.clone(), start));
        }
        Ok(receiver)
    }
}

/// The tail task: broadcasts every event after `last` until nobody subscribes.
async fn tail(
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Arc<CallbackEvent>>,
    running: Arc<Mutex<bool>>,
    mut last: i64,
) {
    let mut signal = store.commit_signal();
    loop {
        {
            let mut running = running.lock().await;
            if sender.receiver_count() == 0 {
                *running = false;
                return;
            }
        }
        // Mark the signal seen before reading, so a commit during the read wakes us again.
        signal.borrow_and_update();
        match store.events_after(last, PAGE).await {
            Ok(events) => {
                let full = events.len() as u32 == PAGE;
                for event in events {
                    last = event.id;
                    // No receivers is not an error here: the check above stops the task.
                    let _ = sender.send(Arc::new(event));
                }
                if full {
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(error.cause = %e, "live events: reading new events failed; retrying");
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
                continue;
            }
        }
        tokio::select! {
            changed = signal.changed() => {
                if changed.is_err() {
                    // The store is gone (shutting down): poll slowly until subscribers leave.
                    tokio::time::sleep(FALLBACK_POLL).await;
                }
            }
            _ = tokio::time::sleep(FALLBACK_POLL) => {}
        }
    }
}

/// One subscriber's view of the stream (see the module docs).
pub struct Subscription {
    store: Arc<dyn Store>,
    receiver: broadcast::Receiver<Arc<CallbackEvent>>,
    closed: watch::Receiver<bool>,
    /// The id of the last event delivered (or the starting point).
    cursor: i64,
    /// Still reading the store before following the broadcast.
    replaying: bool,
    /// Replayed events not yet handed out, newest last.
    pending: Vec<CallbackEvent>,
}

impl Subscription {
    /// The next event (or resync notice); `Ok(None)` once the hub is closed.
    pub async fn next(&mut self) -> ApiResult<Option<LiveItem>> {
        loop {
            if *self.closed.borrow() {
                return Ok(None);
            }
            if self.replaying {
                if self.pending.is_empty() {
                    let mut page = self.store.events_after(self.cursor, PAGE).await?;
                    if page.is_empty() {
                        self.replaying = false;
                        continue;
                    }
                    page.reverse();
                    self.pending = page;
                }
                if let Some(event) = self.pending.pop() {
                    self.cursor = event.id;
                    return Ok(Some(LiveItem::Event(Arc::new(event))));
                }
                continue;
            }
            let received = tokio::select! {
                biased;
                _ = self.closed.wait_for(|closed| *closed) => return Ok(None),
                received = self.receiver.recv() => received,
            };
            match received {
                Ok(event) if event.id <= self.cursor => continue,
                Ok(event) => {
                    self.cursor = event.id;
                    return Ok(Some(LiveItem::Event(event)));
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => return Ok(Some(LiveItem::Resync { missed })),
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// The id of the last event delivered.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }
}

/// A subscription as a stream of the events `keep` accepts (and resync notices). A store failure
/// while replaying ends the stream (logged); the client reconnects with `Last-Event-ID`.
pub fn filtered(
    subscription: Subscription,
    keep: impl Fn(&CallbackEvent) -> bool + Send + 'static,
) -> impl futures::Stream<Item = LiveItem> + Send + 'static {
    futures::stream::unfold((subscription, keep), |(mut subscription, keep)| async move {
        loop {
            match subscription.next().await {
                Ok(Some(LiveItem::Event(event))) if !keep(&event) => continue,
                Ok(Some(item)) => return Some((item, (subscription, keep))),
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "live events: a subscription failed; closing its stream");
                    return None;
                }
            }
        }
    })
}

/// Callbacks whose scope has been looked up for one stream, kept at most this many.
const SCOPE_CACHE_MAX: usize = 10_000;

/// `items` as a caller with `principal`'s scope may see them: an unscoped caller sees everything;
/// a scoped one only events of callbacks in its scope (each callback's campaign and queue read
/// once per stream, again after it is moved or transferred; a callback already deleted when its
/// events are read is not shown).
pub fn within_scope(
    store: Arc<dyn Store>,
    principal: rebound_domain::access::Principal,
    items: impl futures::Stream<Item = LiveItem> + Send + 'static,
) -> futures::stream::BoxStream<'static, LiveItem> {
    use futures::StreamExt;
    use rebound_domain::model::{CallbackId, CampaignId, QueueId};
    use std::collections::HashMap;

    if principal.scope.is_none() {
        return items.boxed();
    }
    type Place = Option<(CampaignId, Option<QueueId>)>;
    let cache: Arc<Mutex<HashMap<CallbackId, Place>>> = Arc::default();
    items
        .filter_map(move |item| {
            let (store, principal, cache) = (store.clone(), principal.clone(), cache.clone());
            async move {
                let LiveItem::Event(event) = &item else { return Some(item) };
                let mut places = cache.lock().await;
                if matches!(event.action.as_str(), "moved" | "transferred") {
                    places.remove(&event.callback_id);
                }
                let place = match places.get(&event.callback_id) {
                    Some(place) => *place,
                    None => {
                        let place = match store.get_callback(event.callback_id).await {
                            Ok(found) => found.map(|c| (c.campaign_id, c.queue_id)),
                            Err(e) => {
                                // Not shown, and not remembered: the next event asks again.
                                tracing::warn!(error = %e, "live events: reading a callback's scope failed");
                                return None;
                            }
                        };
                        if places.len() >= SCOPE_CACHE_MAX {
                            places.clear();
                        }
                        places.insert(event.callback_id, place);
                        place
                    }
                };
                let seen = place.is_some_and(|(campaign, queue)| principal.sees_callback(campaign, queue));
                seen.then_some(item)
            }
        })
        .boxed()
}
