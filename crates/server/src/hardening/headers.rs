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

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use futures::FutureExt;
use tower::{Layer, Service};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of the console and the API.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of the Swagger UI (`/api/docs`): the console's, plus inline styles and `data:` images.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The Swagger UI's routes (its page, its files and the OpenAPI document it reads) with their own
/// policy and `Cache-Control: no-cache` (its static files may be kept but are revalidated), set
/// before the outer headers, which then leave them alone.
pub fn docs_routes<S: Clone + Send + Sync + 'static>(docs: Router<S>) -> Router<S> {
    docs.layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}

/// Sets the headers above on every response of `app`, in one layer whose future is the inner
/// future plus a function call: no boxed future, no service clone per request (a `from_fn`
/// middleware cost both, measurably, on the hot create path), and one layer rather than six.
pub fn on_every_answer<S: Clone + Send + Sync + 'static>(app: Router<S>) -> Router<S> {
    app.layer(SecurityHeadersLayer)
}

/// See [`on_every_answer`].
#[derive(Debug, Clone, Copy)]
pub struct SecurityHeadersLayer;

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> SecurityHeaders<S> {
        SecurityHeaders { inner }
    }
}

/// See [`on_every_answer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
}

type Answer = Result<Response, Infallible>;

impl<S> Service<Request> for SecurityHeaders<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures::future::Map<S::Future, fn(Answer) -> Answer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.inner.call(request).map(add_headers as fn(Answer) -> Answer)
    }
}

/// The headers of the module docs; a policy or cache rule already set (the Swagger UI's) is kept.
fn add_headers(answer: Answer) -> Answer {
    let Ok(mut response) = answer;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONSOLE_CSP));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    Ok(response)
}
