//! How console pages take changes: plain HTML forms posted to the console's own routes, checked for
//! the session's CSRF token, turned into the API services' inputs, and answered with a redirect
//! (303, post/redirect/get) or the form again with the refusal.
//!
//! The same pages are the console's dialogs. `dialogs.js` fetches a page with the
//! [`FRAGMENT_HEADER`] and shows only its content in a `<dialog>`; a form posted from a dialog gets
//! `204` with [`LOCATION_HEADER`] (where to go next) instead of a redirect, or the refused form's
//! content again. Without the script every page and form still works on its own.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use crate::AppState;
use crate::auth::same_secret;
use crate::error::ApiError;

use super::layout::{error_page, html_response, signed_in_page};
use super::session::SignedIn;

/// Sent by `dialogs.js`: answer with the page's content only (no header, no shell).
pub const FRAGMENT_HEADER: &str = "x-rebound-fragment";
/// Answered to a dialog's successful post: where the browser goes next.
pub const LOCATION_HEADER: &str = "x-rebound-location";

/// Whether a request came from a dialog.
pub fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.contains_key(FRAGMENT_HEADER)
}

/// A page for `user`: the whole document, or only `main`'s content for a dialog. The content is
/// wrapped in `div.dialog-content` with the title as its `h2` either way, so pages and dialogs read
/// the same.
pub fn show(user: &SignedIn, headers: &HeaderMap, status: StatusCode, title: &str, content: Markup) -> Response {
    let body = html! {
        div.dialog-content {
            h2 { (title) }
            (content)
        }
    };
    if wants_fragment(headers) {
        html_response(status, body)
    } else {
        html_response(status, signed_in_page(user, title, body))
    }
}

/// A change went through: 303 to `location`, or, for a dialog, 204 naming it.
pub fn done(headers: &HeaderMap, location: &str) -> Response {
    if wants_fragment(headers) {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(value) = HeaderValue::from_str(location) {
            response.headers_mut().insert(LOCATION_HEADER, value);
        }
        response
    } else {
        Redirect::to(location).into_response()
    }
}

/// `value` if it is a path on this site (`/…`, not `//…` or a scheme), else `fallback`: a form's
/// `return_to` never sends the user elsewhere.
pub fn local_path<'a>(value: Option<&'a str>, fallback: &'a str) -> &'a str {
    match value {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => fallback,
    }
}

/// A posted form's fields, in order (a multi-select repeats its name).
#[derive(Debug, Clone, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form { pairs: form_urlencoded::parse(body).into_owned().collect() }
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.trim()).filter(|value| !value.is_empty())
    }

    /// Every non-blank value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
            .collect()
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.pairs.iter().any(|(key, value)| key == name && !value.is_empty() && value != "false")
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// A form posted by a signed-in user with this session's CSRF token.
pub struct Posted {
    pub user: SignedIn,
    pub form: Form,
    pub headers: HeaderMap,
}

/// Reads a posted form (at most [`super::MAX_FORM_BYTES`]): the signed-in user (else a redirect to
/// `/login`), and the `csrf_token` field checked against the session (else 403 `csrf`).
pub async fn posted(state: &AppState, request: Request) -> Result<Posted, Response> {
    let (mut parts, body) = read_body(request).await?;
    let user = SignedIn::from_request_parts(&mut parts, state).await?;
    let form = Form::parse(&body);
    if !same_secret(form.get("csrf_token").unwrap_or(""), &user.session.csrf_token) {
        return Err(error_page(&ApiError::Forbidden {
            code: "csrf",
            message: "the form did not carry this session's CSRF token; reload the page and try again".into(),
        }));
    }
    Ok(Posted { user, form, headers: parts.headers })
}

/// Reads a request's form body (at most [`super::MAX_FORM_BYTES`]).
pub async fn read_body(request: Request) -> Result<(Parts, axum::body::Bytes), Response> {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, super::MAX_FORM_BYTES).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(_) => Err(error_page(&ApiError::PayloadTooLarge { message: "the form is too large".into() })),
    }
}

/// The hidden CSRF field every console form carries.
pub fn csrf_field(user: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(user.session.csrf_token); }
}

/// A refusal shown above a form (`role="alert"`, so screen readers announce it).
pub fn form_error(error: Option<&ApiError>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.form-error role="alert" { (error.to_object().message) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(local_path(Some("/callbacks?page=2"), "/"), "/callbacks?page=2");
        assert_eq!(local_path(Some("//evil.example/x"), "/"), "/");
        assert_eq!(local_path(Some("https://evil.example/"), "/"), "/");
        assert_eq!(local_path(Some("/\\evil.example"), "/"), "/");
        assert_eq!(local_path(None, "/callbacks"), "/callbacks");
    }

    #[test]
    fn forms_read_blank_fields_as_absent_and_repeat_multi_selects() {
        let form = Form::parse(b"a=+1+&b=&c=x&c=y&c=&box=on");
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.get("b"), None);
        assert_eq!(form.all("c"), vec!["x", "y"]);
        assert!(form.checked("box"));
        assert!(!form.checked("missing"));
    }
}
