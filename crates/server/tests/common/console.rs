//! Console pages over real HTTP: a client that shows redirects, form posts, sign-in through the
//! login form, and dialog requests (the `X-Rebound-Fragment` header).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::{PASSWORD, TestApp};

/// A client that shows redirects instead of following them.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// A page: status, headers, body text.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn cookie(&self) -> Option<String> {
        let header = self.headers.get("set-cookie")?.to_str().ok()?;
        Some(header.strip_prefix("rebound_session=")?.split(';').next()?.to_string())
    }

    /// The `value` of the hidden CSRF field of the sign-out form.
    pub fn csrf(&self) -> String {
        let at = self.html.find(r#"name="csrf_token" value=""#).expect("a csrf_token field") + 25;
        self.html[at..].split('"').next().expect("a token").to_string()
    }

    /// How many times `needle` occurs.
    pub fn count(&self, needle: &str) -> usize {
        self.html.matches(needle).count()
    }
}

pub async fn page(response: reqwest::Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    let html = response.text().await.expect("body");
    assert!(status.as_u16() < 500, "server fault {status}: {html}");
    Page { status, headers, html }
}

pub async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let mut request = browser().get(format!("{}{path}", app.addr));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("rebound_session={cookie}"));
    }
    page(request.send().await.expect("request")).await
}

pub async fn post_form(app: &TestApp, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Page {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let mut request = browser()
        .post(format!("{}{path}", app.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("rebound_session={cookie}"));
    }
    page(request.send().await.expect("request")).await
}

/// Signs `username` in through the login form; the session cookie.
pub async fn sign_in(app: &TestApp, username: &str) -> String {
    sign_in_landing(app, username).await.0
}

/// Signs `username` in through the login form; the session cookie and the page it lands on.
pub async fn sign_in_landing(app: &TestApp, username: &str) -> (String, String) {
    let reply = post_form(app, "/login", None, &[("username", username), ("password", PASSWORD)]).await;
    assert_eq!(reply.status.as_u16(), 303, "{}", reply.html);
    (reply.cookie().expect("a session cookie"), reply.location().to_string())
}

/// `GET path` as a dialog asks for it: only the page's content.
pub async fn get_fragment(app: &TestApp, path: &str, cookie: &str) -> Page {
    let request = browser()
        .get(format!("{}{path}", app.addr))
        .header("cookie", format!("rebound_session={cookie}"))
        .header("x-rebound-fragment", "1");
    page(request.send().await.expect("request")).await
}

/// A form posted from a dialog: 204 + `x-rebound-location` when done.
pub async fn post_fragment(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Page {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let request = browser()
        .post(format!("{}{path}", app.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("rebound_session={cookie}"))
        .header("x-rebound-fragment", "1")
        .body(body);
    page(request.send().await.expect("request")).await
}
