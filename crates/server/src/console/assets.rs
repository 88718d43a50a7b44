//! The console's stylesheet and script, embedded in the binary (no build step, no CDN). Served with
//! `Cache-Control: no-cache`: a browser may keep them but revalidates, so a new release's assets are
//! picked up at once.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub const CSS_PATH: &str = "/assets/console.css";
pub const JS_PATH: &str = "/assets/console.js";

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `GET /assets/console.css`
pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET /assets/console.js`
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}
