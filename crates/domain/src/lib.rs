//! Rebound's domain: the vocabulary of PRODUCT.md as types, and its rules as pure functions.
//!
//! Nothing here does I/O: no tokio, no SQL, no HTTP. Time comes in through [`clock::Clock`] or as an
//! argument, so every rule can be tested (and property-tested) with a controlled clock.
//!
//! - [`model`]: campaigns, lists, leads, queues, agents, wrap codes, callbacks, audit events.
//! - [`state`]: the callback lifecycle and the one transition function that refuses illegal moves.
//! - [`phone`]: E.164 normalisation with a campaign's region, premium-rate refusal, timezone inference.
//! - [`hours`]: weekly dialling hours, date exceptions, lead calling hours, the earliest dialable time.
//! - [`time`]: resolving local times (DST gap/fold), the desired-time window, horizon and retention.
//! - [`slots`]: time slots and their capacity.
//! - [`access`]: roles, principals and what each role may do.

pub mod access;
pub mod clock;
pub mod dispatch;
pub mod hours;
pub mod model;
pub mod phone;
pub mod slots;
pub mod state;
pub mod time;

pub use jiff::Timestamp;
