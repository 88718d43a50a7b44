//! Defences that apply to every request whatever its handler: what a client may send and how often,
//! and the headers every answer carries. `docs/SECURITY.md` describes them for operators.
//!
//! - [`limits`]: the input limits — every text length, list size and nesting depth the API accepts,
//!   defined once and checked on every JSON body and query string before a handler reads it.
//! - [`rate`]: rate limits on public intake (callback creates, imports, auto-callbacks) per client
//!   and per phone number: a keyed GCRA token bucket in memory, on the application's clock.
//! - [`headers`]: the security headers (`Content-Security-Policy`, `X-Frame-Options`, …) and
//!   `Cache-Control: no-store` on every answer.

pub mod headers;
pub mod limits;
pub mod rate;
