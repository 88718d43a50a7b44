//! The security headers every answer carries, whatever produced it (a handler, a fallback, an
//! error, a caught panic).
//!
//! - `Content-Security-Policy`: the console's policy — scripts, styles, images and connections from
//!   this origin only, no plugins, no `<base>` rewriting, never framed. The Swagger UI at
//!   `/api/docs` gets its own: it loads only same-origin files too, but its React components set
//!   inline `style` attributes and its stylesheet draws icons from `data:` SVGs. Its bundle needs no
//!   `eval` (it reaches `globalThis` first), so `'unsafe-eval'` is not granted even there.
//! - `X-Frame-Options: DENY` (for browsers without `frame-ancestors`), `X-Content-Type-Options:
//!   nosniff` (a JSON or CSV answer is never run as a script), `Referrer-Policy: no-referrer` (URLs
//!   carry phone numbers in filters; they must not leak to other sites).
//! - `Cache-Control: no-store` on everything but the Swagger UI's static files: answers carry
//!   personal data and must not sit in shared or browser caches.
//!
//! `Strict-Transport-Security` belongs to the TLS-terminating proxy (see `docs/SECURITY.md`).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::api::DOCS_PATH;

/// The policy of the console and the API.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of the Swagger UI (`/api/docs`): the console's, plus inline styles and `data:` images.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Middleware: sets the headers above on every response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let is_docs = request.uri().path().starts_with(DOCS_PATH);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let policy = if is_docs { DOCS_CSP } else { CONSOLE_CSP };
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if !is_docs {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
