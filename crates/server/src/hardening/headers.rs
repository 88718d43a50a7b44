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

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of the console and the API.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of the Swagger UI (`/api/docs`): the console's, plus inline styles and `data:` images.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The Swagger UI's routes (its page, its files and the OpenAPI document it reads) with their own policy and `Cache-Control: no-cache` (its static files
/// may be kept but are revalidated), set before the outer headers, which then leave them alone.
pub fn docs_routes<S: Clone + Send + Sync + 'static>(docs: Router<S>) -> Router<S> {
    docs.layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}

/// Sets the headers above on every response of `app`. Static header layers, not a middleware
/// function: they add no boxed future and no service clone per request (a `from_fn` layer did, at a
/// measured cost on the hot create path).
pub fn on_every_answer<S: Clone + Send + Sync + 'static>(app: Router<S>) -> Router<S> {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let unless_set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    app.layer(unless_set(header::CONTENT_SECURITY_POLICY, CONSOLE_CSP))
        .layer(unless_set(header::CACHE_CONTROL, "no-store"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
        .layer(set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
}
