//! API tokens: the list (role, scope, created, expires, last used, revoked — never a secret), a
//! dialog to create one (name, role, scope, expiry date) and to revoke one.
//!
//! The secret exists in clear only in the answer to the creating post: that answer is a page (not
//! a redirect) showing it once with a copy button; the store keeps its hash, and no later page can
//! show it again. Console answers carry `Cache-Control: no-store`, so the browser keeps no copy.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use jiff::civil::Date;
use maud::{Markup, html};
use rebound_domain::access::Role;

use crate::AppState;
use crate::dto::{TokenCreate, TokenCreated, TokenInfo};
use crate::error::{ApiError, ApiResult};
use crate::service::access as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::super::time::{local, user_timezone};
use super::fields::{Draft, Kind, input, select};
use super::users::{role_of, role_options, scope_fields, scope_of, scope_text};
use super::{Answer, Catalog, Failure, Section, actions, admin_post, confirm, everything, new_link, page, parse_id};
use super::{refusable, require};

const FORM: &str = "token";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/tokens", get(list_page))
        .route("/config/tokens/new", get(new_page).post(create))
        .route("/config/tokens/{id}/revoke", get(revoke_page).post(revoke))
}

async fn tokens(state: &AppState) -> Result<Vec<TokenInfo>, Failure> {
    Ok(service::list_tokens(state, everything()).await?.items)
}

/// `GET /config/tokens`
async fn list_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Tokens)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let tokens = tokens(&state).await?;
    let tz = user_timezone(&user.session.user.timezone);
    let now = state.clock.now();
    let when = |at: Option<jiff::Timestamp>, none: &str| at.map_or_else(|| none.to_string(), |at| local(at, &tz));
    let content = html! {
        (new_link("/config/tokens/new", "new-token", "New token", true))
        p.hint { "Times in " (user.session.user.timezone) ". A token's secret is shown only once, when it is created." }
        div.table-wrap {
            table #tokens-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Role" }
                        th scope="col" { "Scope" }
                        th scope="col" { "Created" }
                        th scope="col" { "Expires" }
                        th scope="col" { "Last used" }
                        th scope="col" { "Status" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for t in &tokens {
                        @let expired = t.expires_at.is_some_and(|at| at <= now);
                        tr.revoked[t.revoked || expired] data-id=(t.id) {
                            td { (t.name) }
                            td { (t.role.as_str()) }
                            td { (scope_text(&catalog, t.scope.as_ref())) }
                            td { (local(t.created_at, &tz)) }
                            td { (when(t.expires_at, "never")) }
                            td { (when(t.last_used_at, "—")) }
                            td.status { @if t.revoked { "Revoked" } @else if expired { "Expired" } @else { "Active" } }
                            td.row-actions {
                                @if !t.revoked {
                                    a id=(format!("revoke-token-{}", t.id)) href=(format!("/config/tokens/{}/revoke", t.id)) data-dialog { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&user, &headers, Section::Tokens, StatusCode::OK, "API tokens", content))
}

fn form(user: &SignedIn, catalog: &Catalog, draft: &Draft, error: Option<&ApiError>) -> Markup {
    html! {
        (forms::form_error(error))
        form #token-form method="post" action="/config/tokens/new" {
            (forms::csrf_field(user))
            (input(draft, FORM, "name", "Name", Kind::Text, Some("Who uses it, e.g. ivr-main.")))
            (select(draft, FORM, "role", "Role", &role_options(), None))
            (scope_fields(draft, FORM, catalog))
            (input(draft, FORM, "expires_at", "Expires on", Kind::Date,
                Some("It stops working at the start of that day in your timezone. Empty: never.")))
            (actions("token-save", "Create token", "/config/tokens"))
        }
    }
}

/// `GET /config/tokens/new`
async fn new_page(State(state): State<AppState>, user: SignedIn, headers: HeaderMap) -> Answer {
    require(&user, Section::Tokens)?;
    let catalog = Catalog::load(&state, &user.principal).await?;
    let draft = Draft::new().with("role", Role::Supervisor.as_str());
    Ok(page(&user, &headers, Section::Tokens, StatusCode::OK, "New API token", form(&user, &catalog, &draft, None)))
}

/// The expiry date typed, as the instant its day starts in the admin's timezone (RFC 3339).
fn expiry_of(draft: &Draft, timezone: &str) -> ApiResult<Option<String>> {
    let Some(text) = draft.text("expires_at") else { return Ok(None) };
    let bad = || ApiError::invalid_field("expires_at", format!("'{text}' is not a date (YYYY-MM-DD)"));
    let date: Date = text.parse().map_err(|_| bad())?;
    let start = date.to_zoned(user_timezone(timezone)).map_err(|_| bad())?;
    Ok(Some(start.timestamp().to_string()))
}

fn create_of(draft: &Draft, timezone: &str) -> ApiResult<TokenCreate> {
    Ok(TokenCreate {
        name: draft.get("name").to_string(),
        role: role_of(draft)?,
        scope: scope_of(draft)?,
        expires_at: expiry_of(draft, timezone)?,
    })
}

/// The secret, once, with the means to copy it.
fn created(catalog: &Catalog, token: &TokenCreated) -> Markup {
    html! {
        p #token-created role="status" {
            "The token " strong { (token.name) } " (" (token.role.as_str()) ", scope: "
            (scope_text(catalog, token.scope.as_ref())) ") is ready."
        }
        p.warning { "Copy the secret now: it is shown only this once and cannot be recovered." }
        div.field.secret {
            label for="token-secret" { "Secret" }
            div.copy-row {
                input #token-secret type="text" readonly value=(token.token) spellcheck="false" autocomplete="off";
                button.secondary type="button" data-copy="token-secret" hidden { "Copy" }
            }
            small.hint { "Send it as " code { "Authorization: Bearer …" } "." }
        }
        div.actions {
            a.button #token-done href="/config/tokens" { "Done" }
        }
    }
}

/// `POST /config/tokens/new`: answered with the secret (200), not a redirect.
async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Tokens).await?;
    let draft = Draft::posted(&posted.form);
    let result = match create_of(&draft, &posted.user.session.user.timezone) {
        Ok(input) => service::create_token(&state, input).await,
        Err(e) => Err(e),
    };
    let catalog = Catalog::load(&state, &posted.user.principal).await?;
    match refusable(result)? {
        Ok(token) => {
            let content = created(&catalog, &token);
            Ok(page(&posted.user, &posted.headers, Section::Tokens, StatusCode::OK, "Token created", content))
        }
        Err(e) => {
            let content = form(&posted.user, &catalog, &draft.refused(&e), Some(&e));
            Ok(page(&posted.user, &posted.headers, Section::Tokens, e.status(), "New API token", content))
        }
    }
}

async fn token(state: &AppState, id: &str) -> Result<TokenInfo, Failure> {
    let id = parse_id(id, "token")?;
    tokens(state).await?.into_iter().find(|t| t.id == id).ok_or_else(|| ApiError::not_found("token").into())
}

/// `GET /config/tokens/{id}/revoke`
async fn revoke_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Tokens)?;
    let token = token(&state, &id).await?;
    let question = html! {
        "Revoke the token " strong { (token.name) } "? Whatever uses it is refused from now on; this cannot be undone."
    };
    let action = format!("/config/tokens/{}/revoke", token.id);
    Ok(confirm(&user, &headers, Section::Tokens, "Revoke token", question, &action, "Revoke", None))
}

/// `POST /config/tokens/{id}/revoke`
async fn revoke(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Tokens).await?;
    let id = parse_id(&id, "token")?;
    service::revoke_token(&state, id).await?;
    Ok(forms::done(&posted.headers, "/config/tokens"))
}
