//! Rate limits on public intake — `POST /callbacks`, `POST /callbacks/import` and
//! `POST /campaigns/{id}/auto-callbacks` — per client and per phone number, answered with 429
//! `rate_limited` and `Retry-After`.
//!
//! **Why**: these are the endpoints an IVR or a web form feeds, so they are what a misbehaving
//! integration or an abuser floods. Per number, because an auto-callback costs an outbound call:
//! a number must not be made to receive calls at someone else's will ("call pumping"). Per client,
//! so one integration cannot starve the others.
//!
//! **Defaults** (`RateLimits::default`): auto-callbacks 5 per number per 10 minutes; no per-client
//! limit and no per-number limit on creates, so a contact centre's own bulk traffic (the benchmark
//! creates 20,000 callbacks a second from one token) is never slowed. Both can be switched on.
//!
//! **How**: a keyed GCRA (the "generic cell rate algorithm", a token bucket stored as one instant
//! per key): `requests` per `per_secs` is a burst of `requests`, then one more every
//! `per_secs / requests`. It runs on the application's [`Clock`](rebound_domain::clock::Clock), so
//! tests step time instead of sleeping, and is kept in memory: limits are per process (a restart
//! forgets them; the multi-node release will need a shared store for them).
//!
//! **Keys**: a client is its credential (a hash of the `Authorization` header, else of the session
//! cookie), else its peer address (the binary serves with connect info; `X-Forwarded-For` is not
//! trusted), else one shared anonymous bucket. A number is its E.164 form, read with the campaign's region the same
//! way the create rules read it, so `020 7946 0000` and `+44 20 7946 0000` share a bucket. A
//! request without any credential never spends a number's allowance (it is refused with 401), and
//! one refused with 401 or 403 gives its unit back, so nobody can use up a number's allowance
//! without being allowed to create callbacks.
//!
//! Each limiter tracks at most `max_tracked_keys` keys; past that it forgets the keys whose bucket
//! is full again, and if that is not enough, all of them (failing open, logged), so memory stays
//! bounded whatever a client sends.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::{BoxFuture, Either};
use jiff::Timestamp;
use rebound_domain::model::CampaignId;
use rebound_domain::phone::PhoneNumber;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower::{Layer, Service, ServiceExt};

use crate::AppState;
use crate::api::API_BASE;
use crate::auth;
use crate::error::ApiError;
use crate::extract::body_bytes;
use crate::hardening::limits::MAX_PHONE_LEN;

/// `requests` per `per_secs` seconds: a burst of `requests`, then one more every
/// `per_secs / requests` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub per_secs: u32,
}

/// The intake rate limits (`AppConfig::rate_limits`); `None` switches one off.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// Intake requests (creates, imports, auto-callbacks together) per client. Default: off.
    pub per_client: Option<Rate>,
    /// Auto-callback requests per phone number. Default: 5 per 10 minutes.
    pub auto_callbacks_per_number: Option<Rate>,
    /// `POST /callbacks` requests per phone number. Default: off.
    pub creates_per_number: Option<Rate>,
    /// Most keys each limiter remembers (default 100,000).
    pub max_tracked_keys: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_client: None,
            auto_callbacks_per_number: Some(Rate { requests: 5, per_secs: 600 }),
            creates_per_number: None,
            max_tracked_keys: 100_000,
        }
    }
}

/// Nanoseconds since the Unix epoch: bucket arithmetic in plain integers cannot overflow a
/// timestamp type.
fn nanos(at: Timestamp) -> i128 {
    at.as_nanosecond()
}

/// One rate over many keys (GCRA): per key, the instant its bucket is full again.
#[derive(Debug)]
pub struct KeyedLimiter {
    /// Nanoseconds one request adds to a key's instant.
    interval: i128,
    /// Nanoseconds a key's instant may run ahead of now (the burst).
    window: i128,
    max_keys: usize,
    full_again_at: Mutex<HashMap<String, i128>>,
}

impl KeyedLimiter {
    pub fn new(rate: Rate, max_keys: usize) -> KeyedLimiter {
        let window = i128::from(rate.per_secs.max(1)) * 1_000_000_000;
        KeyedLimiter {
            interval: window / i128::from(rate.requests.max(1)),
            window,
            max_keys: max_keys.max(1),
            full_again_at: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one unit of `key`'s allowance at `now`, or answers how many whole seconds to wait.
    pub fn acquire(&self, key: &str, now: Timestamp) -> Result<(), u64> {
        let now = nanos(now);
        let mut buckets = self.full_again_at.lock().unwrap_or_else(|e| e.into_inner());
        let current = buckets.get(key).copied().unwrap_or(now).max(now);
        let next = current + self.interval;
        if next - now > self.window {
            let wait = next - self.window - now;
            return Err(u64::try_from((wait + 999_999_999) / 1_000_000_000).unwrap_or(u64::MAX).max(1));
        }
        if buckets.len() >= self.max_keys && !buckets.contains_key(key) {
            // A key whose instant has passed has a full bucket: forgetting it changes nothing.
            buckets.retain(|_, at| *at > now);
            if buckets.len() >= self.max_keys / 2 {
                tracing::warn!(keys = buckets.len(), "rate limiter full: forgetting every key");
                buckets.clear();
            }
        }
        buckets.insert(key.to_string(), next);
        Ok(())
    }

    /// Gives back the unit a refused request spent.
    pub fn refund(&self, key: &str) {
        let mut buckets = self.full_again_at.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = buckets.get_mut(key) {
            *at -= self.interval;
        }
    }

    /// How many keys are remembered now.
    pub fn tracked_keys(&self) -> usize {
        self.full_again_at.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The limiters of [`RateLimits`] (absent where switched off).
#[derive(Debug)]
pub struct IntakeLimiter {
    per_client: Option<KeyedLimiter>,
    auto_callbacks_per_number: Option<KeyedLimiter>,
    creates_per_number: Option<KeyedLimiter>,
}

impl IntakeLimiter {
    pub fn new(limits: &RateLimits) -> IntakeLimiter {
        let make = |rate: Option<Rate>| rate.map(|r| KeyedLimiter::new(r, limits.max_tracked_keys));
        IntakeLimiter {
            per_client: make(limits.per_client),
            auto_callbacks_per_number: make(limits.auto_callbacks_per_number),
            creates_per_number: make(limits.creates_per_number),
        }
    }
}

/// The rate-limited routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntakeRoute {
    Create,
    Import,
    AutoCallback(CampaignId),
}

impl IntakeRoute {
    fn of(method: &Method, path: &str) -> Option<IntakeRoute> {
        if method != Method::POST {
            return None;
        }
        match path.strip_prefix(API_BASE)? {
            "/callbacks" => Some(IntakeRoute::Create),
            "/callbacks/import" => Some(IntakeRoute::Import),
            rest => {
                let id = rest.strip_prefix("/campaigns/")?.strip_suffix("/auto-callbacks")?;
                id.parse().ok().map(IntakeRoute::AutoCallback)
            }
        }
    }
}

/// The credential a request carries, if any: its `Authorization` header, else its session cookie.
fn credential(headers: &HeaderMap) -> Option<Vec<u8>> {
    match headers.get(header::AUTHORIZATION) {
        Some(value) => Some(value.as_bytes().to_vec()),
        None => auth::session_cookie(headers).map(String::into_bytes),
    }
}

/// Who is asking: see the module docs.
fn client_key(request: &Request) -> String {
    if let Some(secret) = credential(request.headers()) {
        return format!("credential:{}", hex::encode(&Sha256::digest(secret)[..16]));
    }
    match auth::client_ip(request.extensions()) {
        Some(ip) => format!("peer:{ip}"),
        None => "anonymous".into(),
    }
}

fn rate_limited(retry_after_secs: u64, message: &str) -> Response {
    ApiError::TooManyRequests { message: format!("{message}; try again in {retry_after_secs} s"), retry_after_secs }
        .into_response()
}

/// The fields of a create or auto-callback body that name the number (other fields are ignored).
#[derive(Deserialize)]
struct NumberProbe {
    phone: Option<String>,
    campaign_id: Option<CampaignId>,
}

/// The E.164 number a create or auto-callback body asks for, read with the campaign's region; `None`
/// when the request will be refused anyway (no such campaign, no readable number).
async fn number_of(state: &AppState, route: IntakeRoute, raw: &Bytes) -> Option<String> {
    let probe: NumberProbe = serde_json::from_slice(raw).ok()?;
    let phone = probe.phone.filter(|p| p.len() <= MAX_PHONE_LEN)?;
    let campaign_id = match route {
        IntakeRoute::AutoCallback(id) => id,
        _ => probe.campaign_id?,
    };
    let snapshot = state.config_cache.snapshot(state.store.as_ref()).await.ok()?;
    let campaign = snapshot.campaigns.get(&campaign_id)?;
    PhoneNumber::parse(&phone, Some(&campaign.region)).ok().map(PhoneNumber::into_string)
}

impl IntakeLimiter {
    /// Whether any limit applies to `route` (else the request is passed on untouched).
    fn applies_to(&self, route: IntakeRoute) -> bool {
        self.per_client.is_some()
            || match route {
                IntakeRoute::Create => self.creates_per_number.is_some(),
                IntakeRoute::AutoCallback(_) => self.auto_callbacks_per_number.is_some(),
                IntakeRoute::Import => false,
            }
    }
}

/// The layer (outside routing) that applies the limits to the intake routes. A hand-written
/// service rather than an axum `from_fn` middleware: a request no limit applies to (every
/// non-intake request, and creates under the default limits) goes straight to the inner service,
/// without the per-request clone of the inner service and the boxed future a `from_fn` layer costs
/// (measured: two `from_fn` layers took 15% off durable single creates).
#[derive(Clone)]
pub struct IntakeLimitLayer {
    state: AppState,
}

impl IntakeLimitLayer {
    pub fn new(state: AppState) -> Self {
        IntakeLimitLayer { state }
    }
}

impl<S> Layer<S> for IntakeLimitLayer {
    type Service = IntakeLimit<S>;

    fn layer(&self, inner: S) -> IntakeLimit<S> {
        IntakeLimit { state: self.state.clone(), inner }
    }
}

/// See [`IntakeLimitLayer`].
#[derive(Clone)]
pub struct IntakeLimit<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for IntakeLimit<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = IntakeRoute::of(request.method(), request.uri().path());
        let Some(route) = route.filter(|r| self.state.limiter.applies_to(*r)) else {
            return Either::Left(self.inner.call(request));
        };
        // The ready service answers this request; a fresh clone waits for the next one.
        let fresh = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Either::Right(Box::pin(async move { Ok(limit_intake(state, route, request, inner).await) }))
    }
}

/// Passes `request` on to `inner`.
async fn pass<S>(inner: S, request: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    match inner.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Applies the limits of `route` to a request, then passes it on (or answers 429).
async fn limit_intake<S>(state: AppState, route: IntakeRoute, request: Request, next: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let limiter = &state.limiter;
    if let Some(per_client) = &limiter.per_client
        && let Err(wait) = per_client.acquire(&client_key(&request), state.clock.now())
    {
        return rate_limited(wait, "too many callback requests from this client");
    }
    let per_number = match route {
        IntakeRoute::Create => limiter.creates_per_number.as_ref(),
        IntakeRoute::AutoCallback(_) => limiter.auto_callbacks_per_number.as_ref(),
        IntakeRoute::Import => None,
    };
    let Some(per_number) = per_number.filter(|_| credential(request.headers()).is_some()) else {
        return pass(next, request).await;
    };

    // The number is in the body: read it (within the body limit the `DefaultBodyLimit` layer put in
    // the extensions), then hand the bytes on.
    let (parts, body) = request.into_parts();
    let mut reading = Request::new(body);
    *reading.extensions_mut() = parts.extensions.clone();
    let raw = match body_bytes(reading).await {
        Ok(raw) => raw,
        Err(e) => return e.into_response(),
    };
    let number = number_of(&state, route, &raw).await;
    if let Some(number) = &number
        && let Err(wait) = per_number.acquire(number, state.clock.now())
    {
        return rate_limited(wait, "too many callback requests for this number");
    }
    let response = pass(next, Request::from_parts(parts, Body::from(raw))).await;
    if let Some(number) = &number
        && matches!(response.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
    {
        per_number.refund(number);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_772_445_600 + secs).expect("a valid instant")
    }

    #[test]
    fn a_burst_of_the_rate_passes_then_one_more_per_interval() {
        let limiter = KeyedLimiter::new(Rate { requests: 5, per_secs: 600 }, 100);
        for _ in 0..5 {
            assert_eq!(limiter.acquire("+442079460000", at(0)), Ok(()));
        }
        // The sixth waits one interval (600 s / 5).
        assert_eq!(limiter.acquire("+442079460000", at(0)), Err(120));
        assert_eq!(limiter.acquire("+442079460000", at(60)), Err(60));
        // Other keys are not affected.
        assert_eq!(limiter.acquire("+442079460001", at(60)), Ok(()));
        assert_eq!(limiter.acquire("+442079460000", at(120)), Ok(()));
        assert_eq!(limiter.acquire("+442079460000", at(120)), Err(120));
        // After the whole window the full burst is back.
        for _ in 0..5 {
            assert_eq!(limiter.acquire("+442079460000", at(840)), Ok(()));
        }
    }

    #[test]
    fn a_refund_gives_the_unit_back() {
        let limiter = KeyedLimiter::new(Rate { requests: 1, per_secs: 60 }, 100);
        assert_eq!(limiter.acquire("k", at(0)), Ok(()));
        assert!(limiter.acquire("k", at(0)).is_err());
        limiter.refund("k");
        assert_eq!(limiter.acquire("k", at(0)), Ok(()));
    }

    #[test]
    fn memory_stays_bounded_whatever_the_keys() {
        let limiter = KeyedLimiter::new(Rate { requests: 5, per_secs: 600 }, 1_000);
        for i in 0..10_000 {
            assert_eq!(limiter.acquire(&format!("k{i}"), at(0)), Ok(()));
            assert!(limiter.tracked_keys() <= 1_000);
        }
        // Keys whose bucket is full again are forgotten first.
        let limiter = KeyedLimiter::new(Rate { requests: 5, per_secs: 600 }, 10);
        for _ in 0..5 {
            limiter.acquire("busy", at(0)).expect("within the burst");
        }
        for i in 0..9 {
            limiter.acquire(&format!("idle{i}"), at(0)).expect("first request");
        }
        limiter.acquire("new", at(10_000)).expect("first request");
        assert_eq!(limiter.tracked_keys(), 1, "every old key had a full bucket again");
    }

    #[test]
    fn only_the_intake_routes_are_limited() {
        let post = Method::POST;
        assert_eq!(IntakeRoute::of(&post, "/api/v1/callbacks"), Some(IntakeRoute::Create));
        assert_eq!(IntakeRoute::of(&post, "/api/v1/callbacks/import"), Some(IntakeRoute::Import));
        assert_eq!(IntakeRoute::of(&post, "/api/v1/campaigns/7/auto-callbacks"), Some(IntakeRoute::AutoCallback(7)));
        assert_eq!(IntakeRoute::of(&post, "/api/v1/campaigns/x/auto-callbacks"), None);
        assert_eq!(IntakeRoute::of(&Method::GET, "/api/v1/callbacks"), None);
        assert_eq!(IntakeRoute::of(&post, "/api/v1/callbacks/bulk-cancel"), None);
    }
}
