//! The web console: server-rendered HTML pages for people signed in with a console session.
//!
//! Pages are `maud` templates (compiled, auto-escaped: whatever a callback's notes or a campaign's
//! name holds is shown as text, never run). The console keeps no rules of its own: signing in and
//! out goes through `service::sessions` (the same lockout, throttle and answers as
//! `POST /api/v1/session`), lists through the API's services with the signed-in user's principal,
//! so role, scope and agent rules apply exactly as in the API.
//!
//! - [`session`]: the signed-in user of a page request (or a redirect to `/login`).
//! - [`login`]: `/`, `/login`, `/logout`.
//! - [`layout`]: the page shell and the signed-in header.
//! - [`forms`]: how pages take changes (forms, CSRF, redirects) and are shown as dialogs.
//! - [`callbacks`]: `/callbacks`, the callbacks list.
//! - [`callback_forms`]: one callback's details, history and changes (`/callbacks/new`, `/callbacks/{id}/…`, `/leads/{id}`).
//! - [`bulk`]: bulk cancel and delete, CSV export of the current view.
//! - [`options`]: `/options`, per-user display options and saved ranges.
//! - [`search`]: `/search`, callback search across all time.
//! - [`config`]: `/config/…`, the configuration pages.
//! - [`agent`]: `/agent`, an agent's own callbacks and offer.
//! - [`dashboard`]: `/dashboard`, the day's load against capacity.
//! - [`assets`]: the embedded stylesheets and scripts.
//!
//! The security headers (a same-origin CSP: no inline scripts or styles), `Cache-Control: no-store`
//! and the trace span come from the application's outer layers; the API's JSON error rewriting does
//! not apply here, since a page answers refusals with HTML.

pub mod agent;
pub mod assets;
pub mod bulk;
pub mod callback_forms;
pub mod callbacks;
pub mod config;
pub mod dashboard;
pub mod forms;
pub mod layout;
pub mod login;
pub mod options;
pub mod search;
pub mod session;
pub mod time;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;

use crate::AppState;

/// The largest form a console page posts (a sign-in, a callback edit, a bulk selection of 250 ids).
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// The console's routes, to be merged into the application inside its outer layers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::login_page).post(login::sign_in))
        .route("/logout", axum::routing::post(login::sign_out))
        .route("/callbacks", get(callbacks::list_page))
        .route("/assets/{name}", get(assets::asset))
        .merge(callback_forms::routes())
        .merge(bulk::routes())
        .merge(options::routes())
        .merge(search::routes())
        .merge(config::routes())
        .merge(agent::routes())
        .merge(dashboard::routes())
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(CatchPanicLayer::new())
}
