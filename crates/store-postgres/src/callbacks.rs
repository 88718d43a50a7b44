//! Callbacks: create (one, or a batch with the duplicate and slot rules), read, list with filters and
//! keyset paging, search, idempotency keys, the audit history, single transitions, slot bookings,
//! edits and deletes.

#![allow(unused_imports, unused_variables)] // stubs until the section is written (issue 7)

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

use crate::{PgStore, not_yet};

pub async fn create_callback(store: &PgStore, new: NewCallback) -> StoreResult<CreateOutcome> {
    let _ = (store, new);
    Err(not_yet("create_callback"))
}

pub async fn create_callbacks(
    store: &PgStore,
    batch: Vec<NewCallback>,
) -> StoreResult<Vec<StoreResult<CreateOutcome>>> {
    let _ = (store, batch);
    Err(not_yet("create_callbacks"))
}

pub async fn get_callback(store: &PgStore, id: CallbackId) -> StoreResult<Option<Callback>> {
    let _ = (store, id);
    Err(not_yet("get_callback"))
}

pub async fn get_callbacks(store: &PgStore, ids: Vec<CallbackId>) -> StoreResult<Vec<Option<Callback>>> {
    let _ = (store, ids);
    Err(not_yet("get_callbacks"))
}

pub async fn list_callbacks(
    store: &PgStore,
    filter: &CallbackFilter,
    sort: Sort,
    page: PageRequest,
) -> StoreResult<Page<Callback>> {
    let _ = (store, filter, sort, page);
    Err(not_yet("list_callbacks"))
}

pub async fn search_callbacks(
    store: &PgStore,
    id: Option<CallbackId>,
    phones: &[String],
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    let _ = (store, id, phones, limit);
    Err(not_yet("search_callbacks"))
}

pub async fn find_idempotent(store: &PgStore, key: &str) -> StoreResult<Option<(String, Callback)>> {
    let _ = (store, key);
    Err(not_yet("find_idempotent"))
}

pub async fn callback_events(store: &PgStore, id: CallbackId) -> StoreResult<Vec<CallbackEvent>> {
    let _ = (store, id);
    Err(not_yet("callback_events"))
}

pub async fn transition_callback(store: &PgStore, request: TransitionRequest) -> StoreResult<Callback> {
    let _ = (store, request);
    Err(not_yet("transition_callback"))
}

pub async fn slot_bookings(
    store: &PgStore,
    queue_id: QueueId,
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<SlotBookings> {
    let _ = (store, queue_id, from, to);
    Err(not_yet("slot_bookings"))
}

pub async fn update_callback(store: &PgStore, request: UpdateRequest) -> StoreResult<Callback> {
    let _ = (store, request);
    Err(not_yet("update_callback"))
}

pub async fn delete_callback(store: &PgStore, id: CallbackId, actor: &str, at: Timestamp) -> StoreResult<Callback> {
    let _ = (store, id, actor, at);
    Err(not_yet("delete_callback"))
}
