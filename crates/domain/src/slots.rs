//! Time slots and capacity. A queue divides its campaign's dialling hours into slots of
//! [`SLOT_LENGTHS`] minutes, aligned to local midnight in the campaign's timezone. Each slot has a
//! capacity: the queue's `slot_capacity`, or the entry of its weekly [`CapacityGrid`] for that local
//! weekday and start time. Scheduled callbacks booked into a slot count against it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::hours::DialPlan;

/// The slot lengths a queue may use, in minutes.
pub const SLOT_LENGTHS: [u32; 7] = [5, 10, 15, 20, 30, 60, 120];
pub const DEFAULT_SLOT_MINUTES: u32 = 15;
pub const DEFAULT_SLOT_CAPACITY: u32 = 10;

/// Capacity per weekday and local slot start, e.g. `{"mon": {"09:00": 4, "09:15": 6}}`. Slots not
/// named fall back to the queue's `slot_capacity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CapacityGrid {
    #[serde(default)]
    pub mon: BTreeMap<String, u32>,
    #[serde(default)]
    pub tue: BTreeMap<String, u32>,
    #[serde(default)]
    pub wed: BTreeMap<String, u32>,
    #[serde(default)]
    pub thu: BTreeMap<String, u32>,
    #[serde(default)]
    pub fri: BTreeMap<String, u32>,
    #[serde(default)]
    pub sat: BTreeMap<String, u32>,
    #[serde(default)]
    pub sun: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("slot length {0} is not one of 5, 10, 15, 20, 30, 60, 120 minutes")]
    BadLength(u32),
    #[error("capacity grid entry '{0}' is not a slot start (HH:MM on the slot grid)")]
    BadGridEntry(String),
}

/// How a queue sizes its slots.
#[derive(Debug, Clone, Copy)]
pub struct SlotRules<'a> {
    pub slot_minutes: u32,
    pub slot_capacity: u32,
    pub grid: Option<&'a CapacityGrid>,
    /// The campaign's timezone: slots align to its local midnight.
    pub tz: &'a TimeZone,
}

/// One slot of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub start: Timestamp,
    pub capacity: u32,
}

/// Checks a slot length and that every grid key is `HH:MM` on the slot grid.
pub fn validate(slot_minutes: u32, grid: Option<&CapacityGrid>) -> Result<(), SlotError> {
    imp::validate(slot_minutes, grid)
}

/// The start of the slot containing `t`.
pub fn slot_start(rules: &SlotRules<'_>, t: Timestamp) -> Timestamp {
    imp::slot_start(rules, t)
}

/// The capacity of the slot starting at `start`.
pub fn capacity_of(rules: &SlotRules<'_>, start: Timestamp) -> u32 {
    imp::capacity_of(rules, start)
}

/// Every slot starting in `[from, to)` inside the campaign's dialling hours (a slot counts when its
/// start instant is open), in order.
pub fn slots_between(rules: &SlotRules<'_>, plan: &DialPlan<'_>, from: Timestamp, to: Timestamp) -> Vec<Slot> {
    imp::slots_between(rules, plan, from, to)
}

/// Up to `n` slots with room (`booked < capacity`), nearest to `desired` first (ties: earlier first),
/// never before `not_before`. `booked` gives the bookings of a slot start.
pub fn propose_free_slots(
    slots: &[Slot],
    booked: &dyn Fn(Timestamp) -> u32,
    desired: Timestamp,
    not_before: Timestamp,
    n: usize,
) -> Vec<Slot> {
    imp::propose_free_slots(slots, booked, desired, not_before, n)
}

mod imp {
    use super::*;

    pub(super) fn validate(_slot_minutes: u32, _grid: Option<&CapacityGrid>) -> Result<(), SlotError> {
        unimplemented!("domain helper")
    }

    pub(super) fn slot_start(_rules: &SlotRules<'_>, _t: Timestamp) -> Timestamp {
        unimplemented!("domain helper")
    }

    pub(super) fn capacity_of(_rules: &SlotRules<'_>, _start: Timestamp) -> u32 {
        unimplemented!("domain helper")
    }

    pub(super) fn slots_between(
        _rules: &SlotRules<'_>,
        _plan: &DialPlan<'_>,
        _from: Timestamp,
        _to: Timestamp,
    ) -> Vec<Slot> {
        unimplemented!("domain helper")
    }

    pub(super) fn propose_free_slots(
        _slots: &[Slot],
        _booked: &dyn Fn(Timestamp) -> u32,
        _desired: Timestamp,
        _not_before: Timestamp,
        _n: usize,
    ) -> Vec<Slot> {
        unimplemented!("domain helper")
    }
}
