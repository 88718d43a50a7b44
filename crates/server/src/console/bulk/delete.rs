//! `/callbacks/bulk-delete` (admins): the confirmation listing the selected callbacks (`GET`) and
//! the deletes (`POST`), one `service::operations::delete` per id — the API's rule and audit
//! tombstone for each, at most a page of them.

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use rebound_domain::access::Permission;
use rebound_domain::model::CallbackId;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::service::operations;

use super::super::forms::{self, Posted, csrf_field};
use super::super::session::SignedIn;
use super::DELETE_PATH;
use super::selection::{Line, Selection, Shown, Target, leave, lines_table, list_href, lookup, refusal};

const TITLE: &str = "Delete selected callbacks";
const TITLE_DONE: &str = "Bulk delete done";

/// The selected ids, or why there are none to delete (a range is not for deleting).
fn selected(pairs: &[(String, String)]) -> ApiResult<(Selection, Vec<CallbackId>)> {
    let selection = Selection::read(pairs)?;
    match &selection.target {
        Target::Ids(ids) => {
            let ids = ids.clone();
            Ok((selection, ids))
        }
        Target::Range => Err(ApiError::invalid_field("range", "bulk delete acts on selected callbacks only")),
    }
}

/// `GET /callbacks/bulk-delete?ids=…`: the selected callbacks, to be deleted.
pub async fn preview(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    checked: Result<Params, ApiError>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    let back = list_href(&Selection::view_of(&pairs));
    if let Err(e) = checked {
        return refusal(&user, &headers, TITLE, &e, &back);
    }
    if !user.principal.may(Permission::DeleteCallbacks) {
        return refusal(&user, &headers, TITLE, &ApiError::forbidden(), &back);
    }
    let content = match selected(&pairs) {
        Ok((selection, ids)) => preview_content(&state, &user, &headers, &selection, &ids).await,
        Err(e) => Err(e),
    };
    match content {
        Ok(content) => forms::show(&user, &headers, StatusCode::OK, TITLE, content),
        Err(e) => refusal(&user, &headers, TITLE, &e, &back),
    }
}

async fn preview_content(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    selection: &Selection,
    ids: &[CallbackId],
) -> ApiResult<Markup> {
    let shown = Shown::load(state, user).await?;
    let found = lookup(state, &user.principal, ids).await?;
    let lines: Vec<Line<'_>> = found
        .iter()
        .map(|(id, callback)| Line {
            id: *id,
            callback: callback.as_ref(),
            note: callback.is_none().then(|| "not found: nothing to delete".into()),
        })
        .collect();
    let will_delete = found.iter().filter(|(_, c)| c.is_some()).count();
    Ok(html! {
        p #bulk-delete-summary .bulk-summary {
            strong #will-delete { (will_delete) } " will be deleted for good. Their history keeps a tombstone; "
            "an agent handling one is set free."
        }
        (lines_table("bulk-delete-list", "To be deleted", &lines, &shown, Some("Note")))
        form #bulk-delete-form method="post" action=(DELETE_PATH) {
            (csrf_field(user))
            (selection.hidden_fields())
            div.actions {
                (leave(headers, &selection.back(), "Keep them"))
                button #confirm-bulk-delete .danger type="submit" disabled[will_delete == 0] {
                    "Delete " (will_delete) @if will_delete == 1 { " callback" } @else { " callbacks" }
                }
            }
        }
    })
}

/// `POST /callbacks/bulk-delete`: deletes each selected callback, and says what happened.
pub async fn confirm(State(state): State<AppState>, request: Request) -> Response {
    let Posted { user, form, headers } = match forms::posted(&state, request).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let (selection, ids) = match selected(form.pairs()) {
        Ok(selected) => selected,
        Err(e) => return refusal(&user, &headers, TITLE, &e, "/callbacks"),
    };
    if !user.principal.may(Permission::DeleteCallbacks) {
        return refusal(&user, &headers, TITLE, &ApiError::forbidden(), &selection.back());
    }
    let mut deleted = 0u64;
    let mut failed: Vec<(CallbackId, String)> = Vec::new();
    for id in ids {
        match operations::delete(&state, &user.principal, id).await {
            Ok(()) => deleted += 1,
            Err(e) => {
                if let ApiError::Internal(detail) = &e {
                    tracing::error!(error.cause = %detail, callback.id = %id, "bulk delete: one delete failed");
                }
                failed.push((id, e.to_object().message));
            }
        }
    }
    let content = html! {
        div #bulk-delete-result data-reload-on-close {
            p.bulk-summary {
                strong #deleted-count { (deleted) } " deleted; "
                strong #not-deleted-count { (failed.len()) } " not deleted."
            }
            @if !failed.is_empty() {
                div.bulk-table {
                    table #bulk-delete-failed .bulk-rows {
                        caption { "Not deleted" }
                        thead { tr { th scope="col" { "Callback" } th scope="col" { "Why" } } }
                        tbody {
                            @for (id, why) in &failed {
                                tr data-id=(id) { td { code { (id) } } td { (why) } }
                            }
                        }
                    }
                }
            }
            div.actions { (leave(&headers, &selection.back(), "Close")) }
        }
    };
    forms::show(&user, &headers, StatusCode::OK, TITLE_DONE, content)
}
