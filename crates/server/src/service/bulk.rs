//! Bulk cancel: a selection of callbacks (ids, or everything in a desired-time range with the list
//! filters) cancelled in one request, with every outcome kept as the Cancellation Summary Report.
//!
//! The service reads the request into a `BulkSelection` — `all_in_range` goes through the very
//! parsing of `GET /callbacks`, so a range selects exactly what the list shows — and hands it to
//! `Store::bulk_cancel`, which works in batches (other writes interleave between them), applies
//! the transition table to each callback inside its transaction (a callback that reached
//! `PROCESSING` a moment before is skipped, never half-cancelled) and writes the report.
//!
//! A scoped caller cancels only what its scope covers ([`super::scope`]): named ids outside it are
//! answered as unknown ids are (skipped, `state: null`, "not found"; they are not in the report);
//! a range is narrowed like the list. A scope of campaigns *and* queues cannot be one store filter,
//! so its range is first read into ids (at most [`MAX_BULK_IDS`]).

use rebound_domain::access::Principal;
use rebound_domain::model::CallbackId;
use rebound_store::{BulkCancelRequest, BulkSelection, CallbackFilter, SkippedCallback};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::dto::{BulkCancelBody, BulkCancelResult, SkippedView};
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::service::callbacks::{FILTER_PARAMS, FilterQuery};
use crate::service::export::EXPORT_PAGE;
use crate::service::operations::clean_reason;
use crate::service::scope;

/// The most ids one request may name (a range has no limit: the store works in batches).
pub use crate::hardening::limits::MAX_BULK_IDS;

/// Reads `ids`: each a callback id, duplicates dropped (first occurrence kept).
fn parse_ids(ids: Vec<String>) -> ApiResult<Vec<CallbackId>> {
    if ids.is_empty() {
        return Err(ApiError::invalid_field("ids", "give at least one callback id"));
    }
    if ids.len() > MAX_BULK_IDS {
        return Err(ApiError::invalid_field("ids", format!("a bulk cancel names at most {MAX_BULK_IDS} ids")));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut parsed = Vec::with_capacity(ids.len());
    for (index, text) in ids.iter().enumerate() {
        let id = CallbackId::parse(text).ok_or_else(|| {
            ApiError::invalid_field(&format!("ids[{index}]"), format!("'{text}' is not a callback id"))
        })?;
        if seen.insert(id) {
            parsed.push(id);
        }
    }
    Ok(parsed)
}

/// Turns the `all_in_range` object into list parameters: strings, numbers and booleans as they
/// are, arrays as repeated parameters.
fn range_params(range: &Map<String, Value>) -> ApiResult<Params> {
    let mut pairs = Vec::new();
    for (name, value) in range {
        if !FILTER_PARAMS.contains(&name.as_str()) {
            return Err(ApiError::bad_request("unknown_field", format!("unknown filter 'all_in_range.{name}'"))
                .with_details(json!({"field": format!("all_in_range.{name}"), "allowed": FILTER_PARAMS})));
        }
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let shape_error = || {
            ApiError::bad_request(
                "invalid_request",
                format!("all_in_range.{name} must be a string, number or boolean, or an array of them"),
            )
            .with_details(json!({"field": format!("all_in_range.{name}")}))
        };
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    pairs.push((name.clone(), scalar(item).ok_or_else(shape_error)?));
                }
            }
            other => pairs.push((name.clone(), scalar(other).ok_or_else(shape_error)?)),
        }
    }
    Ok(Params::from_pairs(pairs))
}

async fn range_filter(state: &AppState, range: &Map<String, Value>) -> ApiResult<CallbackFilter> {
    let query = FilterQuery::parse(&range_params(range)?)?;
    for (bound, given) in [("from", query.filter.from.is_some()), ("to", query.filter.to.is_some())] {
        if !given {
            return Err(ApiError::invalid_field(
                &format!("all_in_range.{bound}"),
                "all_in_range needs both from and to (the desired-time range to cancel)",
            ));
        }
    }
    query.resolve(state, state.clock.now()).await
}

/// `POST /callbacks/bulk-cancel`.
pub async fn bulk_cancel(state: &AppState, principal: &Principal, body: BulkCancelBody) -> ApiResult<BulkCancelResult> {
    let reason = clean_reason(body.reason)?;
    let selection = match (body.ids, body.all_in_range) {
        (Some(ids), None) => BulkSelection::Ids(parse_ids(ids)?),
        (None, Some(range)) => BulkSelection::Filter(range_filter(state, &range).await?),
        _ => return Err(ApiError::invalid_field("ids", "give either ids or all_in_range (exactly one)")),
    };
    let (selection, hidden) = within_scope(state, principal, selection).await?;
    let request = BulkCancelRequest {
        report_id: uuid::Uuid::now_v7().to_string(),
        selection,
        by_customer: body.by_customer,
        reason,
        actor: principal.actor.clone(),
        at: state.clock.now(),
    };
    // The store cancels batch by batch; run it as its own task so a client that disconnects
    // mid-way cannot leave the selection half-cancelled with a report that stops in the middle.
    let store = state.store.clone();
    let summary = tokio::spawn(async move { store.bulk_cancel(request).await })
        .await
        .map_err(|e| ApiError::Internal(format!("bulk cancel task failed: {e}")))??;
    tracing::info!(
        report.id = %summary.report_id,
        bulk.cancelled = summary.cancelled,
        bulk.skipped = summary.skipped.len(),
        "bulk cancel done"
    );
    if summary.cancelled > 0 {
        // Some may have been offered to agents, who are free again.
        state.engine.notify_routing();
    }
    Ok(BulkCancelResult {
        report_id: summary.report_id,
        cancelled: summary.cancelled,
        skipped: summary
            .skipped
            .into_iter()
            .chain(hidden)
            .map(|s| SkippedView { id: s.id, state: s.state, reason: s.reason })
            .collect(),
    })
}

/// The selection narrowed to the caller's scope, and the named ids it hid (answered as unknown).
async fn within_scope(
    state: &AppState,
    principal: &Principal,
    selection: BulkSelection,
) -> ApiResult<(BulkSelection, Vec<SkippedCallback>)> {
    if principal.scope.is_none() {
        return Ok((selection, Vec::new()));
    }
    match selection {
        BulkSelection::Ids(ids) => {
            let found = state.store.get_callbacks(ids.clone()).await?;
            let (mut kept, mut hidden) = (Vec::with_capacity(ids.len()), Vec::new());
            for (id, callback) in ids.into_iter().zip(found) {
                match callback {
                    Some(cb) if !principal.sees_callback(cb.campaign_id, cb.queue_id) => {
                        hidden.push(SkippedCallback { id, state: None, reason: "not found".into() })
                    }
                    // Unknown ids stay: the store reports them.
                    _ => kept.push(id),
                }
            }
            Ok((ids_or_nothing(kept), hidden))
        }
        BulkSelection::Filter(filter) => {
            let snapshot = state.config_cache.snapshot(state.store.as_ref()).await?;
            let mut parts = scope::narrow(principal, filter, &snapshot);
            let selection = match parts.len() {
                // Nothing in scope: a filter that matches nothing still writes an (empty) report.
                0 => ids_or_nothing(Vec::new()),
                1 => BulkSelection::Filter(parts.remove(0)),
                _ => ids_or_nothing(ids_of(state, &parts).await?),
            };
            Ok((selection, Vec::new()))
        }
    }
}

/// `ids`, or (when there are none) a filter that matches nothing: the store still writes the
/// (empty) report, so the answer's `report_id` names one.
fn ids_or_nothing(ids: Vec<CallbackId>) -> BulkSelection {
    if ids.is_empty() {
        BulkSelection::Filter(CallbackFilter { phones: Some(Vec::new()), ..CallbackFilter::default() })
    } else {
        BulkSelection::Ids(ids)
    }
}

/// Every callback id the filters match (at most [`MAX_BULK_IDS`]), read page by page.
async fn ids_of(state: &AppState, parts: &[CallbackFilter]) -> ApiResult<Vec<CallbackId>> {
    let mut ids = Vec::new();
    for part in parts {
        let mut after = None;
        loop {
            let page = state.store.export_callbacks(part, false, after, EXPORT_PAGE).await?;
            ids.extend(page.iter().map(|c| c.id));
            if ids.len() > MAX_BULK_IDS {
                return Err(ApiError::invalid_field(
                    "all_in_range",
                    format!("the range selects more than {MAX_BULK_IDS} callbacks in your scope; narrow it"),
                ));
            }
            match page.last() {
                Some(last) if page.len() >= EXPORT_PAGE as usize => after = Some((last.desired_time, last.id)),
                _ => break,
            }
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deduplicated_in_order_and_junk_names_its_index() {
        let a = "0190a0e4-0000-7000-8000-000000000001".to_string();
        let b = "0190a0e4-0000-7000-8000-000000000002".to_string();
        let ids = parse_ids(vec![a.clone(), b.clone(), a.clone()]).unwrap();
        assert_eq!(ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(), [a.clone(), b]);
        let err = parse_ids(vec![a.clone(), "nope".into()]).unwrap_err();
        assert_eq!(err.to_object().details["field"], "ids[1]");
        assert!(parse_ids(Vec::new()).is_err());
        let too_many = vec!["0190a0e4-0000-7000-8000-000000000001".to_string(); MAX_BULK_IDS + 1];
        assert_eq!(parse_ids(too_many).unwrap_err().to_object().details["field"], "ids");
        assert_eq!(parse_ids(vec![a; MAX_BULK_IDS]).unwrap().len(), 1);
    }

    #[test]
    fn range_objects_become_the_list_parameters() {
        let range = json!({"from": "2026-03-03T00:00:00Z", "state": ["SCHEDULED", "QUEUED"], "campaign_id": 3,
                           "overdue": false, "phone": null});
        let params = range_params(range.as_object().unwrap()).unwrap();
        assert_eq!(params.many("state"), ["SCHEDULED", "QUEUED"]);
        assert_eq!(params.ids("campaign_id").unwrap(), [3]);
        assert_eq!(params.bool("overdue").unwrap(), Some(false));
        assert_eq!(params.one("phone").unwrap(), None);
        let unknown = range_params(json!({"page": 2}).as_object().unwrap()).unwrap_err();
        assert_eq!(unknown.to_object().code, "unknown_field");
        let nested = range_params(json!({"state": {"a": 1}}).as_object().unwrap()).unwrap_err();
        assert_eq!(nested.to_object().code, "invalid_request");
    }
}
