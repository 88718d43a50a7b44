//! Request extractors that fail with [`ApiError`] instead of axum's plain-text rejections, so every
//! unreadable request still gets the contract's error body.
//!
//! - [`Json`]: the JSON response wrapper (and an eager body extractor). Bodies are read with the
//!   content type checked, the size limit mapped to 413, serde errors classified into
//!   `malformed_json` / `unknown_field` / `invalid_request`, and then the input limits of
//!   `hardening::limits` checked (422 naming the field).
//! - [`Body`]: a JSON body whose parse result is only answered when the handler asks (after its
//!   permission check), with the raw bytes kept for idempotency fingerprints; an optional body
//!   reads as its default when absent ([`Body::value_or_default`]).
//! - [`ImportBody`]: the import's body, a [`Body`] whose items stay JSON text until the service
//!   reads each one (same answers as `Value` items, without building them).
//! - [`SizedJson`]: a JSON response written into a buffer sized up front (the import's results).
//! - [`Path`]: a path parameter; one that cannot be read names no resource, so it is a 404.
//! - [`Params`]: the query string as ordered pairs, for repeatable filters (`state=A&state=B`),
//!   with typed getters that reject unknown and repeated parameters; a query string over the input
//!   limits is refused before a handler sees it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::dto::{ImportItem, ImportRequest};
use crate::error::ApiError;
use crate::hardening::limits;

/// A JSON response (and a JSON body where no permission check must come first).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// A JSON request body, read but not yet judged: [`Body::value`] answers the parse result, so a
/// handler checks the caller's permission first (403 before 400). Keeps the raw bytes, which
/// idempotency fingerprints hash.
#[derive(Debug, Clone)]
pub struct Body<T> {
    pub raw: Bytes,
    parsed: Result<T, ApiError>,
}

impl<T> Body<T> {
    /// The parsed body, or the 400 explaining why it could not be read (or the 422 naming a value
    /// over the input limits).
    pub fn value(self) -> Result<T, ApiError> {
        self.parsed
    }
}

impl<T: Default> Body<T> {
    /// For endpoints whose body is optional: no body at all reads as `T::default()`; a body that is
    /// there must still be valid JSON of the right shape.
    pub fn value_or_default(self) -> Result<T, ApiError> {
        if self.raw.is_empty() { Ok(T::default()) } else { self.parsed }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON response whose size is roughly known: written into a buffer of that size from the
/// start. [`Json`] starts at 128 bytes and doubles, which for an import's per-item results
/// (~0.5 MB) means a dozen reallocations, each copying everything so far into fresh memory.
#[derive(Debug, Clone)]
pub struct SizedJson<T> {
    pub value: T,
    /// The expected length in bytes (a guess: the buffer still grows if it is short).
    pub capacity: usize,
}

impl<T: Serialize> IntoResponse for SizedJson<T> {
    fn into_response(self) -> Response {
        let mut buffer = Vec::with_capacity(self.capacity);
        // As `axum::Json` answers: the JSON with its content type, or a 500 if it cannot be written.
        match serde_json::to_writer(&mut buffer, &self.value) {
            Ok(()) => ([(header::CONTENT_TYPE, "application/json")], Bytes::from(buffer)).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                e.to_string(),
            )
                .into_response(),
        }
    }
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Body::from_request(req, state).await?.value().map(Json)
    }
}

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    /// Only a body too large (413) or unreadable is refused here; everything else waits.
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Shape first (400 for an unknown field), then the input limits (422 naming the field).
        Body::read_with(req, state, |raw| parse_json(raw).and_then(|value| limits::check_json(raw).map(|()| value)))
            .await
    }
}

impl<T> Body<T> {
    /// Reads a JSON body as every [`Body`] is read (content type, size limit), judging the bytes
    /// with `parse`: the typed parse then the input limits, or an equivalent of both.
    pub(crate) async fn read_with<S: Send + Sync>(
        req: Request,
        state: &S,
        parse: impl FnOnce(&[u8]) -> Result<T, ApiError>,
    ) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        let raw = read_bytes(req, state).await?;
        let parsed = if is_json {
            parse(&raw)
        } else {
            Err(ApiError::bad_request(
                "invalid_request",
                "the body must be JSON, sent with Content-Type: application/json",
            ))
        };
        Ok(Body { raw, parsed })
    }
}

/// The body of `POST /callbacks/import`, read as a [`Body`] of [`ImportRequest`] with `Value`
/// items would be, but keeping each item as its JSON text: building ~1 MB of items into `Value`
/// trees (once for the typed parse, once more for the limits) and then copying each into a
/// `CallbackCreate` was most of an import's parsing cost.
///
/// The answer is the one `Value` items give. When [`limits::is_clean`] vouches for the body —
/// JSON that reads as a `Value`, nothing near a limit — the typed parse with text items fails
/// exactly where the one with `Value` items fails (same reader, same positions; an item is only
/// skipped, and its bytes are known to read as a `Value`), and the limits pass. Any other body
/// is read the old way, its items kept as values.
#[derive(Debug)]
pub struct ImportBody(pub Body<Vec<ImportItem>>);

impl<S: Send + Sync> FromRequest<S> for ImportBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Body::read_with(req, state, parse_import).await.map(ImportBody)
    }
}

/// See [`ImportBody`].
fn parse_import(raw: &[u8]) -> Result<Vec<ImportItem>, ApiError> {
    if limits::is_clean(raw) {
        let request: ImportRequest = parse_json(raw)?;
        return Ok(request.items.into_iter().map(ImportItem::Text).collect());
    }
    /// The request with `Value` items, named as [`ImportRequest`] is for the same error texts.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename = "ImportRequest")]
    struct ValueItems {
        items: Vec<serde_json::Value>,
    }
    let request: ValueItems = parse_json(raw)?;
    limits::check_json(raw)?;
    Ok(request.items.into_iter().map(ImportItem::Value).collect())
}

/// Reads a whole body within the limit a `DefaultBodyLimit` layer set (413 beyond it).
async fn read_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(inner) if inner.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { message: "the request body is larger than this endpoint accepts".into() }
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { message: "the request body is larger than this endpoint accepts".into() }
        }
        _ => ApiError::bad_request("invalid_request", "the request body could not be read"),
    })
}

/// Reads a whole body as [`Body`] does, for middleware that must see it before the handler.
pub(crate) async fn body_bytes(req: Request) -> Result<Bytes, ApiError> {
    read_bytes(req, &()).await
}

/// Parses JSON text into `T`, classifying failures into the contract's 400 codes.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| {
        // serde_json reports some shape errors (a number where an enum belongs) as syntax errors;
        // JSON that parses as *something* is well-formed, so those are 400 `invalid_request`.
        if e.is_syntax() && serde_json::from_slice::<serde::de::IgnoredAny>(raw).is_ok() {
            let text = e.to_string();
            let message = text.split(" at line ").next().unwrap_or(&text);
            return ApiError::bad_request(
                "invalid_request",
                format!("the body does not have the expected shape: {message}"),
            )
            .with_details(json!({"line": e.line(), "column": e.column()}));
        }
        json_error(&e)
    })
}

/// Classifies a serde_json error: syntax → `malformed_json`, unknown field → `unknown_field`,
/// anything else (missing field, wrong type, bad enum value) → `invalid_request`.
pub fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let position = json!({"line": e.line(), "column": e.column()});
    let text = e.to_string();
    // serde_json appends " at line L column C"; the details carry the position instead.
    let message = text.split(" at line ").next().unwrap_or(&text).to_string();
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {message}"))
                .with_details(position)
        }
        Category::Data if message.starts_with("unknown field") => {
            let field = message.split('`').nth(1).unwrap_or_default().to_string();
            ApiError::bad_request("unknown_field", message).with_details(json!({"field": field}))
        }
        Category::Data => ApiError::bad_request("invalid_request", message).with_details(position),
    }
}

/// A path parameter. Anything that cannot be read as `T` (a non-numeric id, a malformed UUID)
/// cannot name a resource, so it answers 404.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_| ApiError::not_found("resource"))
    }
}

/// The query string as decoded `(name, value)` pairs in order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    /// Refuses a query string over the input limits (`hardening::limits`).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        if raw.len() > limits::MAX_QUERY_LEN {
            // Not even decoded: the check below refuses it by its length.
            limits::check_query(raw, &[])?;
        }
        let params = Params::parse(raw);
        limits::check_query(raw, &params.pairs)?;
        Ok(params)
    }
}

impl Params {
    pub fn parse(query: &str) -> Params {
        Params { pairs: form_urlencoded::parse(query.as_bytes()).into_owned().collect() }
    }

    /// Parameters given some other way than a query string (e.g. a JSON object of filters), read
    /// by the same getters.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// Refuses any parameter not in `allowed` (a typo must not silently widen a filter).
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::bad_request("unknown_field", format!("unknown query parameter '{k}'"))
                .with_details(json!({"field": k, "allowed": allowed}))),
            None => Ok(()),
        }
    }

    /// The single value of `name` (empty values count as absent); repeated → 400.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("query parameter '{name}' may be given once"),
            )
            .with_details(json!({"field": name})));
        }
        Ok(first)
    }

    /// Every value of a repeatable parameter, also splitting comma-separated lists.
    pub fn many(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Every value of a repeatable numeric id parameter; a non-number is a 400.
    pub fn ids(&self, name: &str) -> Result<Vec<i64>, ApiError> {
        self.many(name).into_iter().map(|v| number(name, v)).collect()
    }

    pub fn number<N: std::str::FromStr>(&self, name: &str) -> Result<Option<N>, ApiError> {
        self.one(name)?.map(|v| number(name, v)).transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(
                "invalid_request",
                format!("'{other}' is not a boolean for '{name}' (true or false)"),
            )
            .with_details(json!({"field": name}))),
        }
    }
}

fn number<N: std::str::FromStr>(name: &str, value: &str) -> Result<N, ApiError> {
    value.trim().parse().map_err(|_| {
        ApiError::bad_request("invalid_request", format!("'{value}' is not a number for '{name}'"))
            .with_details(json!({"field": name}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        n: u32,
    }

    fn code(e: ApiError) -> String {
        e.to_object().code
    }

    #[test]
    fn serde_failures_map_to_the_contract_codes() {
        assert_eq!(code(parse_json::<Body>(b"{\"name\": ").unwrap_err()), "malformed_json");
        assert_eq!(code(parse_json::<Body>(b"{\"name\":\"a\",\"n\":1,\"x\":2}").unwrap_err()), "unknown_field");
        assert_eq!(code(parse_json::<Body>(b"{\"name\":\"a\"}").unwrap_err()), "invalid_request");
        assert_eq!(code(parse_json::<Body>(b"{\"name\":\"a\",\"n\":\"x\"}").unwrap_err()), "invalid_request");
    }

    #[test]
    fn repeated_and_comma_separated_values_are_both_read() {
        let p = Params::parse("state=SCHEDULED,QUEUED&state=ROUTING&page=2");
        assert_eq!(p.many("state"), vec!["SCHEDULED", "QUEUED", "ROUTING"]);
        assert_eq!(p.number::<u32>("page").unwrap(), Some(2));
        assert!(p.only(&["state"]).is_err());
    }
}
