//! The console's stylesheets and scripts, embedded in the binary (no build step, no CDN). Served with
//! `Cache-Control: no-cache`: a browser may keep them but revalidates, so a new release's assets are
//! picked up at once.
//!
//! Each part of the console keeps its own stylesheet and script module; every page links all the
//! stylesheets and loads `console.js`, which imports the modules (each one looks for its own elements
//! and does nothing on pages without them).

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `(file name, content type, content)`, served at `/assets/{file name}`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("console.css", CSS, include_str!("assets/console.css")),
    ("dialogs.css", CSS, include_str!("assets/dialogs.css")),
    ("list.css", CSS, include_str!("assets/list.css")),
    ("config.css", CSS, include_str!("assets/config.css")),
    ("agent.css", CSS, include_str!("assets/agent.css")),
    ("dashboard.css", CSS, include_str!("assets/dashboard.css")),
    ("bulk.css", CSS, include_str!("assets/bulk.css")),
    ("console.js", JS, include_str!("assets/console.js")),
    ("dialogs.js", JS, include_str!("assets/dialogs.js")),
    ("list.js", JS, include_str!("assets/list.js")),
    ("config.js", JS, include_str!("assets/config.js")),
    ("agent.js", JS, include_str!("assets/agent.js")),
    ("bulk.js", JS, include_str!("assets/bulk.js")),
];

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The script every page loads.
pub const JS_PATH: &str = "/assets/console.js";

/// The stylesheets every page links, in order.
pub fn stylesheets() -> impl Iterator<Item = String> {
    ASSETS.iter().filter(|(_, kind, _)| *kind == CSS).map(|(name, _, _)| format!("/assets/{name}"))
}

/// `GET /assets/{name}`
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *body).into_response()
        }
        None => super::layout::error_page(&crate::error::ApiError::not_found("asset")),
    }
}
