//! Time slots and capacity. A queue divides its campaign's dialling hours into slots of
//! [`SLOT_LENGTHS`] minutes, aligned to local midnight in the campaign's timezone. Each slot has a
//! capacity: the queue's `slot_capacity`, or the entry of its weekly [`CapacityGrid`] for that local
//! weekday and start time. Scheduled callbacks booked into a slot count against it.
//!
//! Slot starts are local grid times turned into instants the way [`crate::hours`] turns range
//! boundaries into instants: a grid time inside a DST gap starts when the gap ends, one inside a
//! fold at its first occurrence (so the repeated hour belongs to the slots that began first).

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
    use jiff::civil::{Time, Weekday};

    use super::*;
    use crate::hours::{campaign_open_intervals, local_boundary_instant};

    const MINUTES_PER_DAY: i32 = 24 * 60;

    /// Reads a grid key: exactly `HH:MM`, a time of day, as minutes after midnight.
    fn grid_minutes(key: &str) -> Option<i32> {
        let bytes = key.as_bytes();
        if bytes.len() != 5 || bytes[2] != b':' {
            return None;
        }
        let two =
            |a: u8, b: u8| (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i32::from((a - b'0') * 10 + (b - b'0')));
        let (hour, minute) = (two(bytes[0], bytes[1])?, two(bytes[3], bytes[4])?);
        (hour < 24 && minute < 60).then_some(hour * 60 + minute)
    }

    fn day_of(grid: &CapacityGrid, weekday: Weekday) -> &BTreeMap<String, u32> {
        match weekday {
            Weekday::Monday => &grid.mon,
            Weekday::Tuesday => &grid.tue,
            Weekday::Wednesday => &grid.wed,
            Weekday::Thursday => &grid.thu,
            Weekday::Friday => &grid.fri,
            Weekday::Saturday => &grid.sat,
            Weekday::Sunday => &grid.sun,
        }
    }

    const WEEKDAYS: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub(super) fn validate(slot_minutes: u32, grid: Option<&CapacityGrid>) -> Result<(), SlotError> {
        if !SLOT_LENGTHS.contains(&slot_minutes) {
            return Err(SlotError::BadLength(slot_minutes));
        }
        let Some(grid) = grid else { return Ok(()) };
        let length = slot_length(slot_minutes);
        for weekday in WEEKDAYS {
            for key in day_of(grid, weekday).keys() {
                match grid_minutes(key) {
                    Some(minutes) if minutes % length == 0 => {}
                    _ => return Err(SlotError::BadGridEntry(key.clone())),
                }
            }
        }
        Ok(())
    }

    /// The slot length in minutes; rules are validated before use, but a zero or absurd length
    /// must still not divide by zero or overflow.
    fn slot_length(slot_minutes: u32) -> i32 {
        i32::try_from(slot_minutes).unwrap_or(MINUTES_PER_DAY).clamp(1, MINUTES_PER_DAY)
    }

    fn local_time(minutes: i32) -> Time {
        let minutes = minutes.clamp(0, MINUTES_PER_DAY - 1);
        // In range by the clamp above.
        Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).unwrap_or(Time::midnight())
    }

    /// Slot starts are local grid times (midnight + k × length) turned into instants like hours
    /// boundaries: a grid time inside a DST gap starts at the end of the gap, one inside a fold at
    /// its first occurrence (the repeated hour then belongs to the slots that started first).
    pub(super) fn slot_start(rules: &SlotRules<'_>, t: Timestamp) -> Timestamp {
        let length = slot_length(rules.slot_minutes);
        let local = rules.tz.to_datetime(t);
        let minutes = i32::from(local.hour()) * 60 + i32::from(local.minute());
        let floored = minutes - minutes % length;
        match local_boundary_instant(rules.tz, local.date().to_datetime(local_time(floored))) {
            Some(start) if start <= t => start,
            // Only at the very edges of time; never start a slot after the instant it contains.
            _ => t,
        }
    }

    pub(super) fn capacity_of(rules: &SlotRules<'_>, start: Timestamp) -> u32 {
        let Some(grid) = rules.grid else { return rules.slot_capacity };
        let local = rules.tz.to_datetime(start);
        let key = format!("{:02}:{:02}", local.hour(), local.minute());
        day_of(grid, local.weekday()).get(&key).copied().unwrap_or(rules.slot_capacity)
    }

    pub(super) fn slots_between(
        rules: &SlotRules<'_>,
        plan: &DialPlan<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<Slot> {
        if from >= to {
            return Vec::new();
        }
        let open = campaign_open_intervals(plan, from, to);
        if open.is_empty() {
            return Vec::new();
        }
        let is_open = |t: Timestamp| {
            let i = open.partition_point(|(_, end)| *end <= t);
            open.get(i).is_some_and(|(start, _)| *start <= t)
        };
        let length = slot_length(rules.slot_minutes);
        let first_date = rules.tz.to_datetime(from).date();
        // A day's grid may start before its own local midnight in instants (DST), so begin a day early.
        let mut day = first_date.yesterday().unwrap_or(first_date);
        let last_date = rules.tz.to_datetime(to).date();
        let mut starts: Vec<Timestamp> = Vec::new();
        while day <= last_date {
            for minutes in (0..MINUTES_PER_DAY).step_by(length as usize) {
                if let Some(start) = local_boundary_instant(rules.tz, day.to_datetime(local_time(minutes)))
                    && from <= start
                    && start < to
                    && is_open(start)
                {
                    starts.push(start);
                }
            }
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        // Grid times inside a gap all map to its end: keep one.
        starts.sort_unstable();
        starts.dedup();
        starts.into_iter().map(|start| Slot { start, capacity: capacity_of(rules, start) }).collect()
    }

    pub(super) fn propose_free_slots(
        slots: &[Slot],
        booked: &dyn Fn(Timestamp) -> u32,
        desired: Timestamp,
        not_before: Timestamp,
        n: usize,
    ) -> Vec<Slot> {
        let mut free: Vec<&Slot> =
            slots.iter().filter(|slot| slot.start >= not_before && booked(slot.start) < slot.capacity).collect();
        free.sort_by_key(|slot| (slot.start.duration_since(desired).abs(), slot.start));
        free.dedup_by_key(|slot| slot.start);
        free.into_iter().take(n).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::{CallingHours, DateException, DiallingHours, TimeRange};
    use jiff::SignedDuration;
    use proptest::prelude::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).expect("known zone")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    fn rules(tz: &TimeZone, slot_minutes: u32) -> SlotRules<'_> {
        SlotRules { slot_minutes, slot_capacity: 3, grid: None, tz }
    }

    fn office_hours() -> DiallingHours {
        let day = vec![TimeRange::parse("09:00", "17:00").expect("valid")];
        DiallingHours {
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day,
            ..DiallingHours::default()
        }
    }

    #[test]
    fn slot_lengths_and_grid_entries_are_validated() {
        for length in SLOT_LENGTHS {
            assert_eq!(validate(length, None), Ok(()));
        }
        assert_eq!(validate(7, None), Err(SlotError::BadLength(7)));
        assert_eq!(validate(0, None), Err(SlotError::BadLength(0)));
        let mut grid = CapacityGrid::default();
        grid.mon.insert("09:00".into(), 4);
        grid.mon.insert("09:15".into(), 6);
        assert_eq!(validate(15, Some(&grid)), Ok(()));
        assert_eq!(validate(30, Some(&grid)), Err(SlotError::BadGridEntry("09:15".into())));
        for bad in ["9:00", "24:00", "09:60", "0900", "09:00:00", "xx:yy"] {
            let mut grid = CapacityGrid::default();
            grid.sun.insert(bad.into(), 1);
            assert_eq!(validate(15, Some(&grid)), Err(SlotError::BadGridEntry(bad.into())), "{bad}");
        }
    }

    #[test]
    fn slots_align_to_local_midnight() {
        let london = tz("Europe/London");
        // 10:07 BST -> 10:00 BST with 15-minute slots; 13:59 BST -> 12:00 BST with two-hour slots.
        assert_eq!(slot_start(&rules(&london, 15), ts("2026-06-10T09:07:31Z")), ts("2026-06-10T09:00:00Z"));
        assert_eq!(slot_start(&rules(&london, 120), ts("2026-06-10T12:59:00Z")), ts("2026-06-10T11:00:00Z"));
        let kolkata = tz("Asia/Kolkata");
        // 10:39 IST (+05:30) -> 10:20 IST with 20-minute slots.
        assert_eq!(slot_start(&rules(&kolkata, 20), ts("2026-06-10T05:09:00Z")), ts("2026-06-10T04:50:00Z"));
    }

    #[test]
    fn slots_on_dst_days_stay_at_or_before_the_instant() {
        let london = tz("Europe/London");
        // Spring (01:00 GMT -> 02:00 BST): two-hour slots start at 00:00 and 02:00 local.
        assert_eq!(slot_start(&rules(&london, 120), ts("2026-03-29T01:30:00Z")), ts("2026-03-29T01:00:00Z"));
        assert_eq!(slot_start(&rules(&london, 120), ts("2026-03-29T00:59:00Z")), ts("2026-03-29T00:00:00Z"));
        // Autumn: the second 01:20 (GMT) belongs to the slot that first started at 01:15 BST.
        assert_eq!(slot_start(&rules(&london, 15), ts("2026-10-25T01:20:00Z")), ts("2026-10-25T00:15:00Z"));
        // Lord Howe skips 02:00-02:30: an hourly slot containing 02:40 starts when the gap ends.
        let lord_howe = tz("Australia/Lord_Howe");
        let after_gap = ts("2026-10-03T15:30:00Z"); // 02:30 +11:00
        assert_eq!(slot_start(&rules(&lord_howe, 60), ts("2026-10-03T15:40:00Z")), after_gap);
    }

    #[test]
    fn capacity_comes_from_the_grid_or_the_default() {
        let london = tz("Europe/London");
        let mut grid = CapacityGrid::default();
        grid.wed.insert("09:00".into(), 7);
        let rules = SlotRules { slot_minutes: 15, slot_capacity: 3, grid: Some(&grid), tz: &london };
        assert_eq!(capacity_of(&rules, ts("2026-06-10T08:00:00Z")), 7); // Wednesday 09:00 BST
        assert_eq!(capacity_of(&rules, ts("2026-06-10T08:15:00Z")), 3);
        assert_eq!(capacity_of(&rules, ts("2026-06-11T08:00:00Z")), 3); // Thursday
    }

    #[test]
    fn slots_cover_open_hours_only() {
        let london = tz("Europe/London");
        let hours = office_hours();
        let lead = CallingHours::default();
        let closed = [DateException { date: jiff::civil::date(2026, 6, 15), hours: vec![] }];
        let plan = DialPlan {
            campaign_tz: &london,
            running: false, // ignored for slots
            hours: &hours,
            exceptions: &closed,
            lead_tz: None,
            lead_hours: &lead,
        };
        let rules = rules(&london, 60);
        // Friday 12 June 2026 to Wednesday 17 June; Monday 15 is closed.
        let slots = slots_between(&rules, &plan, ts("2026-06-12T00:00:00Z"), ts("2026-06-17T00:00:00Z"));
        assert_eq!(slots.len(), 16);
        assert_eq!(slots[0], Slot { start: ts("2026-06-12T08:00:00Z"), capacity: 3 });
        assert_eq!(slots[7].start, ts("2026-06-12T15:00:00Z"));
        assert_eq!(slots[8].start, ts("2026-06-16T08:00:00Z"));
        assert!(slots.windows(2).all(|w| w[0].start < w[1].start));
        // The window is half-open and cuts through a day.
        let slots = slots_between(&rules, &plan, ts("2026-06-12T10:00:00Z"), ts("2026-06-12T12:00:00Z"));
        let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![ts("2026-06-12T10:00:00Z"), ts("2026-06-12T11:00:00Z")]);
    }

    #[test]
    fn slots_on_a_spring_gap_day_do_not_repeat() {
        let london = tz("Europe/London");
        let hours = DiallingHours::always_open();
        let lead = CallingHours::default();
        let plan = DialPlan {
            campaign_tz: &london,
            running: true,
            hours: &hours,
            exceptions: &[],
            lead_tz: None,
            lead_hours: &lead,
        };
        let rules = rules(&london, 30);
        let slots = slots_between(&rules, &plan, ts("2026-03-29T00:00:00Z"), ts("2026-03-29T02:00:00Z"));
        let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
        // 00:00, 00:30 GMT, then 02:00, 02:30 BST (01:00 and 01:30 local never happen).
        assert_eq!(
            starts,
            vec![
                ts("2026-03-29T00:00:00Z"),
                ts("2026-03-29T00:30:00Z"),
                ts("2026-03-29T01:00:00Z"),
                ts("2026-03-29T01:30:00Z")
            ]
        );
    }

    #[test]
    fn proposals_are_the_nearest_free_slots() {
        let base = ts("2026-06-10T08:00:00Z");
        let at = |mins: i64| base.checked_add(SignedDuration::from_mins(mins)).expect("in range");
        let slots: Vec<Slot> = (0..8).map(|i| Slot { start: at(i * 15), capacity: 2 }).collect();
        // Full: 08:30 and 08:45. Desired 08:40: 09:00 is 20 minutes away, 08:15 25, 09:15 35.
        let booked = |t: Timestamp| if t == at(30) || t == at(45) { 2 } else { 0 };
        let got = propose_free_slots(&slots, &booked, at(40), at(0), 3);
        assert_eq!(got.iter().map(|s| s.start).collect::<Vec<_>>(), vec![at(60), at(15), at(75)]);
        // Desired 08:37:30: 08:15 and 09:00 are both 22.5 minutes away, the earlier first.
        let desired = at(37).checked_add(SignedDuration::from_secs(30)).expect("in range");
        let got = propose_free_slots(&slots, &booked, desired, at(0), 3);
        assert_eq!(got.iter().map(|s| s.start).collect::<Vec<_>>(), vec![at(15), at(60), at(0)]);
        // Nothing before not_before.
        let got = propose_free_slots(&slots, &booked, at(40), at(20), 2);
        assert_eq!(got.iter().map(|s| s.start).collect::<Vec<_>>(), vec![at(60), at(75)]);
        assert!(propose_free_slots(&slots, &|_| 2, at(40), at(0), 3).is_empty());
        assert!(propose_free_slots(&slots, &booked, at(40), at(0), 0).is_empty());
    }

    proptest! {
        #[test]
        fn slot_start_is_idempotent_and_never_after_the_instant(
            secs in 1_735_689_600i64..1_830_297_600i64,
            length in proptest::sample::select(SLOT_LENGTHS.to_vec()),
            zone in proptest::sample::select(vec!["Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]),
        ) {
            let zone = tz(zone);
            let rules = rules(&zone, length);
            let t = Timestamp::from_second(secs).expect("in range");
            let start = slot_start(&rules, t);
            prop_assert!(start <= t);
            prop_assert_eq!(slot_start(&rules, start), start);
            // A slot never reaches back further than its length plus one repeated DST hour.
            let reach = SignedDuration::from_mins(i64::from(length) + 60);
            prop_assert!(t.duration_since(start) < reach);
        }

        #[test]
        fn proposals_are_free_sorted_by_distance_and_nearest(
            capacities in proptest::collection::vec(0u32..3, 0..40),
            bookings in proptest::collection::vec(0u32..3, 40),
            desired_mins in -60i64..700,
            not_before_mins in -60i64..700,
            n in 0usize..6,
        ) {
            let base = ts("2026-06-10T08:00:00Z");
            let at = |mins: i64| base.checked_add(SignedDuration::from_mins(mins)).expect("in range");
            let slots: Vec<Slot> =
                capacities.iter().enumerate().map(|(i, c)| Slot { start: at(i as i64 * 15), capacity: *c }).collect();
            let booked = |t: Timestamp| {
                let i = t.duration_since(base).as_mins() / 15;
                bookings.get(i as usize).copied().unwrap_or(0)
            };
            let (desired, not_before) = (at(desired_mins), at(not_before_mins));
            let got = propose_free_slots(&slots, &booked, desired, not_before, n);
            let distance = |s: &Slot| s.start.duration_since(desired).abs();
            prop_assert!(got.len() <= n);
            for slot in &got {
                prop_assert!(slot.start >= not_before && booked(slot.start) < slot.capacity);
            }
            prop_assert!(got.windows(2).all(|w| (distance(&w[0]), w[0].start) < (distance(&w[1]), w[1].start)));
            // No free slot left out is nearer than one proposed, and none is left out while room remains.
            let free: Vec<&Slot> = slots.iter().filter(|s| s.start >= not_before && booked(s.start) < s.capacity).collect();
            prop_assert_eq!(got.len(), free.len().min(n));
            if let Some(last) = got.last() {
                for slot in free.iter().filter(|s| !got.contains(s)) {
                    prop_assert!((distance(slot), slot.start) > (distance(last), last.start));
                }
            }
        }
    }
}
