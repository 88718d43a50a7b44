//! The page shell every console page shares (stylesheet, script, the CSRF token for scripts) and the
//! header of signed-in pages (who, which role, sign out).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use rebound_domain::access::{Permission, Principal, Role};

use crate::error::ApiError;

use super::assets::{JS_PATH, stylesheets};
use super::session::SignedIn;

/// An HTML answer with `status`.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// A whole document: `title`, the assets, and `body`. `csrf_token` goes into a `<meta>` for scripts.
pub fn document(title: &str, csrf_token: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(token) = csrf_token {
                    meta name="csrf-token" content=(token);
                }
                title { (title) " · Rebound" }
                @for href in stylesheets() {
                    link rel="stylesheet" href=(href);
                }
                script type="module" src=(JS_PATH) {}
            }
            body { (body) }
        }
    }
}

/// The sections of the console `principal` may open, as (path, label); a page's title is its
/// section's label, which marks it current in the header.
pub fn sections(principal: &Principal) -> Vec<(&'static str, &'static str)> {
    let mut sections = Vec::new();
    if principal.may(Permission::ReadCallbacks) && principal.role != Role::Agent {
        sections.extend([("/callbacks", "Callbacks"), ("/search", "Search"), ("/dashboard", "Dashboard")]);
    }
    if principal.may(Permission::AgentActions) && principal.agent_id.is_some() {
        sections.push(("/agent", "My callbacks"));
    }
    if principal.may(Permission::ReadConfig) && principal.role == Role::Admin {
        sections.push(("/config", "Configuration"));
    }
    sections.push(("/options", "Options"));
    sections
}

/// A signed-in page: the header (user, role, sign-out form) above `main`.
pub fn signed_in_page(user: &SignedIn, title: &str, main: Markup) -> Markup {
    let csrf = user.session.csrf_token.as_str();
    let body = html! {
        header.top {
            a.brand href="/callbacks" { "Rebound" }
            nav aria-label="Main" {
                @for (href, label) in sections(&user.principal) {
                    a href=(href) aria-current=[(title == label).then_some("page")] { (label) }
                }
            }
            div.user {
                span #whoami { (user.display_name()) }
                span #role { (user.principal.role.as_str()) }
                form #logout method="post" action="/logout" {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" { "Sign out" }
                }
            }
        }
        main { (main) }
    };
    document(title, Some(csrf), body)
}

/// A page for an error the console cannot recover from on the page itself (the message is the
/// contract's: a 500 says only that it was logged).
pub fn error_page(error: &ApiError) -> Response {
    if let ApiError::Internal(detail) = error {
        tracing::error!(error.cause = %detail, "console page failed");
    }
    let status = error.status();
    let message = error.to_object().message;
    let body = html! {
        main.narrow {
            h1 { (status.canonical_reason().unwrap_or("Error")) }
            p #page-error role="alert" { (message) }
            p { a href="/callbacks" { "Back to the callbacks" } }
        }
    };
    html_response(status, document("Error", None, body))
}
