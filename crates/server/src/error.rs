//! The error policy of the REST API, and [`ApiError`], the one type every handler fails with.
//!
//! Every failure answers with the contract's body
//! `{"error": {"code": "snake_case", "message": "human sentence", "details": {…}}}` — `details` is
//! always an object (empty when there is nothing to add). The status says what the client should do:
//!
//! | status | when | codes |
//! |---|---|---|
//! | 400 | the request cannot be read: malformed JSON, wrong content type, unknown or missing field, a value of the wrong JSON type, an unreadable query string | `malformed_json`, `unknown_field`, `invalid_request` |
//! | 401 | no, unknown, expired or revoked bearer token (with `WWW-Authenticate: Bearer`) | `unauthorized` |
//! | 403 | the caller's role may not do this; the object is outside the caller's campaign scope; a cookie-authenticated change without its CSRF token | `forbidden`, `out_of_scope`, `csrf` |
//! | 404 | no such resource, or no such route | `not_found` |
//! | 405 | the route exists but not with this method | `method_not_allowed` |
//! | 409 | the request conflicts with stored state | `duplicate_callback` (`details.existing_id`), `slot_full` (`details.proposed_slots`), `illegal_transition` (`details.state`), `incompatible_fields` (`details.missing`, `details.extra`), `already_recreated` (`details.recreated_as`), `not_offered` (the callback is not offered to / held by the caller), `no_outbound_campaign`, `no_queue`, `conflict`, `idempotency_key_reused` |
//! | 413 | the body is larger than the configured limit | `payload_too_large` |
//! | 422 | the request was read but a value is not acceptable (a text or list over its input limit is `validation_failed` with `details.field` and `details.max`, see `hardening::limits`) | `invalid_phone`, `premium_rate_number`, `invalid_region`, `invalid_timezone`, `invalid_time`, `nonexistent_local_time`, `ambiguous_local_time`, `time_in_past`, `beyond_horizon`, `invalid_hours`, `campaign_not_outbound`, `agent_not_in_campaign`, `queue_not_in_campaign`, `campaign_not_inbound`, `no_auto_callback_list`, `unknown_reference`, `validation_failed` |
//! | 429 | too many requests: sign-in attempts, or intake (`POST /callbacks`, `/callbacks/import`, `/campaigns/{id}/auto-callbacks`) per client or per phone number (`hardening::rate`); with `Retry-After` and `details.retry_after_secs` | `rate_limited` |
//! | 500 | a server fault (`StoreError::Backend`, a caught panic) — logged once with `tracing`, answered with a generic message so internals never leak | `internal_error` |
//! | 503 | `/readyz` when the store is unreachable | `unavailable` |
//!
//! Nothing a client sends may produce a 5xx: input is parsed into validated types before any rule
//! runs, and every domain and store error has a 4xx mapping here except a backend failure.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rebound_domain::hours::HoursError;
use rebound_domain::phone::PhoneError;
use rebound_domain::slots::SlotError;
use rebound_domain::time::TimeError;
use rebound_engine::EngineError;
use rebound_store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// The one error type of the API, named by the HTTP status it answers with.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400: the request could not be read.
    BadRequest { code: &'static str, message: String, details: Value },
    /// 401: missing or unusable credentials.
    Unauthorized { message: String },
    /// 403: authenticated, but the role (`forbidden`) or the scope (`out_of_scope`) does not allow this,
    /// or a session's CSRF token is missing (`csrf`).
    Forbidden { code: &'static str, message: String },
    /// 404: no such resource or route.
    NotFound { message: String },
    /// 405: the route exists but not for this method.
    MethodNotAllowed,
    /// 409: conflicts with stored state.
    Conflict { code: &'static str, message: String, details: Value },
    /// 413: the body is too large.
    PayloadTooLarge { message: String },
    /// 429: slow down; try again after `retry_after_secs`.
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// 422: a value is not acceptable.
    Unprocessable { code: &'static str, message: String, details: Value },
    /// 500: a server fault. The text is logged, never sent.
    Internal(String),
    /// 503: not ready (the store is unreachable).
    Unavailable { message: String },
}

/// The error body of the contract.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

/// The `error` member of [`ErrorBody`]; also used per item in import results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Machine-readable, `snake_case`.
    #[schema(example = "invalid_phone")]
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// Extra facts about the error (e.g. `existing_id`, `proposed_slots`, `field`); `{}` if none.
    #[schema(value_type = Object)]
    pub details: Value,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into(), details: json!({}) }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable { code, message: message.into(), details: json!({}) }
    }

    /// 422 `validation_failed` naming the offending field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable { code: "validation_failed", message: message.into(), details: json!({"field": field}) }
    }

    /// 422 `unknown_reference`: a body field names an object that does not exist.
    pub fn unknown_reference(field: &str, what: &str, id: impl std::fmt::Display) -> Self {
        ApiError::Unprocessable {
            code: "unknown_reference",
            message: format!("{what} {id} does not exist"),
            details: json!({"field": field, "id": id.to_string()}),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict { code, message: message.into(), details: json!({}) }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound { message: format!("{what} not found") }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized { message: message.into() }
    }

    pub fn forbidden() -> Self {
        ApiError::Forbidden { code: "forbidden", message: "your role may not do this".into() }
    }

    /// 403 `out_of_scope`: the object exists but lies outside the caller's campaigns and queues.
    pub fn out_of_scope(message: impl Into<String>) -> Self {
        ApiError::Forbidden { code: "out_of_scope", message: message.into() }
    }

    /// Adds (or replaces) `details` on the variants that carry them; a field name on a 422 is
    /// merged with what is there.
    pub fn with_details(mut self, extra: Value) -> Self {
        if let ApiError::BadRequest { details, .. }
        | ApiError::Conflict { details, .. }
        | ApiError::Unprocessable { details, .. } = &mut self
        {
            match (details.as_object_mut(), extra) {
                (Some(obj), Value::Object(more)) => obj.extend(more),
                (_, extra) => *details = extra,
            }
        }
        self
    }

    /// Names the body field a value error is about (for 422s raised by domain parsers).
    pub fn for_field(self, field: &str) -> Self {
        match self {
            ApiError::Unprocessable { .. } => self.with_details(json!({"field": field})),
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The body object; for 500 the generic text only.
    pub fn to_object(&self) -> ErrorObject {
        let (code, message, details) = match self {
            ApiError::BadRequest { code, message, details }
            | ApiError::Conflict { code, message, details }
            | ApiError::Unprocessable { code, message, details } => (*code, message.clone(), details.clone()),
            ApiError::Unauthorized { message } => ("unauthorized", message.clone(), json!({})),
            ApiError::Forbidden { code, message } => (*code, message.clone(), json!({})),
            ApiError::NotFound { message } => ("not_found", message.clone(), json!({})),
            ApiError::MethodNotAllowed => {
                ("method_not_allowed", "this resource does not support that method".to_string(), json!({}))
            }
            ApiError::PayloadTooLarge { message } => ("payload_too_large", message.clone(), json!({})),
            ApiError::TooManyRequests { message, retry_after_secs } => {
                ("rate_limited", message.clone(), json!({"retry_after_secs": retry_after_secs}))
            }
            ApiError::Internal(_) => (
                "internal_error",
                "the server failed to handle this request; it has been logged".to_string(),
                json!({}),
            ),
            ApiError::Unavailable { message } => ("unavailable", message.clone(), json!({})),
        };
        ErrorObject { code: code.to_string(), message, details }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let object = self.to_object();
        write!(f, "{} {}: {}", self.status().as_u16(), object.code, object.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // Logged once, here; the client only sees the generic sentence.
            tracing::error!(error.cause = %cause, "request failed with a server fault");
        }
        let status = self.status();
        let mut response = (status, Json(ErrorBody { error: self.to_object() })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::TooManyRequests { retry_after_secs, .. } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { what } => ApiError::NotFound { message: format!("{what} not found") },
            StoreError::Duplicate { existing_id } => ApiError::Conflict {
                code: "duplicate_callback",
                message: "an active callback for this number already exists in this queue".into(),
                details: json!({"existing_id": existing_id}),
            },
            StoreError::SlotFull { slot_start, capacity } => ApiError::Conflict {
                code: "slot_full",
                message: format!("the slot starting {slot_start} is full ({capacity} booked)"),
                details: json!({"slot_start": slot_start, "capacity": capacity, "proposed_slots": []}),
            },
            StoreError::IdempotencyMismatch => ApiError::conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request body",
            ),
            StoreError::IllegalTransition(e) => ApiError::conflict("illegal_transition", e.to_string()),
            StoreError::Conflict(message) => ApiError::conflict("conflict", message),
            StoreError::Backend(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            // A refused lifecycle step says which state the callback is in, as cancel does.
            EngineError::Store(StoreError::IllegalTransition(e)) => {
                ApiError::conflict("illegal_transition", e.to_string())
                    .with_details(json!({"state": e.from.state, "result": e.from.result}))
            }
            // The store refuses a holder mismatch with `Conflict`: the caller does not hold it.
            EngineError::Store(StoreError::Conflict(message)) | EngineError::Conflict(message) => {
                ApiError::conflict("not_offered", message)
            }
            EngineError::Store(e) => e.into(),
            EngineError::Invalid { field, message } => ApiError::invalid_field(field, message),
        }
    }
}

impl From<TimeError> for ApiError {
    fn from(err: TimeError) -> Self {
        let code = match &err {
            TimeError::UnknownTimezone(_) => "invalid_timezone",
            TimeError::Unparseable(_) | TimeError::MissingTimezone(_) => "invalid_time",
            TimeError::Nonexistent { .. } => "nonexistent_local_time",
            TimeError::Ambiguous { .. } => "ambiguous_local_time",
            TimeError::InPast(_) => "time_in_past",
            TimeError::BeyondHorizon { .. } => "beyond_horizon",
        };
        ApiError::unprocessable(code, err.to_string())
    }
}

impl From<PhoneError> for ApiError {
    fn from(err: PhoneError) -> Self {
        let code = match &err {
            PhoneError::Empty | PhoneError::Unparseable(_) | PhoneError::Impossible(_) => "invalid_phone",
            PhoneError::PremiumRate(_) => "premium_rate_number",
            PhoneError::UnknownRegion(_) => "invalid_region",
        };
        ApiError::unprocessable(code, err.to_string())
    }
}

impl From<HoursError> for ApiError {
    fn from(err: HoursError) -> Self {
        ApiError::unprocessable("invalid_hours", err.to_string())
    }
}

impl From<SlotError> for ApiError {
    fn from(err: SlotError) -> Self {
        ApiError::unprocessable("validation_failed", err.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_never_leak_their_cause() {
        let err: ApiError = StoreError::Backend("disk I/O error at /var/secret.db".into()).into();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.to_object().message.contains("secret"));
    }

    #[test]
    fn details_are_merged_not_replaced() {
        let err = ApiError::invalid_field("phone", "bad").with_details(json!({"index": 3}));
        assert_eq!(err.to_object().details, json!({"field": "phone", "index": 3}));
    }

    #[test]
    fn phone_and_time_errors_are_unprocessable_with_specific_codes() {
        let e: ApiError = PhoneError::PremiumRate("09".into()).into();
        assert_eq!(
            (e.status(), e.to_object().code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "premium_rate_number")
        );
        let e: ApiError = TimeError::Ambiguous { local: "x".into(), timezone: "y".into() }.into();
        assert_eq!(e.to_object().code, "ambiguous_local_time");
    }
}
