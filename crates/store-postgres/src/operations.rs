//! Large operations: bulk cancel with its Cancellation Summary Report, export, retention.

#![allow(unused_imports, unused_variables)] // stubs until the section is written (issue 7)

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

use crate::{PgStore, not_yet};

pub async fn bulk_cancel(store: &PgStore, request: BulkCancelRequest) -> StoreResult<BulkCancelSummary> {
    let _ = (store, request);
    Err(not_yet("bulk_cancel"))
}

pub async fn cancellation_report(store: &PgStore, report_id: &str) -> StoreResult<Option<CancellationReport>> {
    let _ = (store, report_id);
    Err(not_yet("cancellation_report"))
}

pub async fn export_callbacks(
    store: &PgStore,
    filter: &CallbackFilter,
    descending: bool,
    after: Option<ExportCursor>,
    limit: u32,
) -> StoreResult<Vec<Callback>> {
    let _ = (store, filter, descending, after, limit);
    Err(not_yet("export_callbacks"))
}

pub async fn purge_expired(store: &PgStore, now: Timestamp, limit: u32) -> StoreResult<PurgeOutcome> {
    let _ = (store, now, limit);
    Err(not_yet("purge_expired"))
}
