//! The "when" of a form: a date and a time read in a chosen timezone, or one of a queue's
//! available slots (`service::callbacks::availability`) shown for a day with the capacity left.
//!
//! Which timezone a typed time is read in is the services' business (`timezone` on a create,
//! `timezone_source` on a reschedule); this module only shows the choices, which zone each one is,
//! and reads the fields back. A chosen slot wins over the typed date and time: its value is the
//! slot's start as an instant, so it means the same whatever the timezone choice.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use rebound_domain::access::Principal;
use rebound_domain::model::{Callback, CallbackType, QueueId};
use rebound_domain::time::Disambiguation;

use crate::AppState;
use crate::dto::{SlotView, TimezoneSource};
use crate::error::ApiError;
use crate::extract::Params;
use crate::service::{ConfigSnapshot, callbacks};

use super::super::forms::Form;
use super::super::session::SignedIn;
use super::super::time::user_timezone;

/// The four timezones the Edit and Reschedule forms read a time in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ZoneChoice {
    Lead,
    Campaign,
    Mine,
    Agent,
}

impl ZoneChoice {
    const ALL: [ZoneChoice; 4] = [ZoneChoice::Lead, ZoneChoice::Campaign, ZoneChoice::Mine, ZoneChoice::Agent];

    fn as_str(self) -> &'static str {
        match self {
            ZoneChoice::Lead => "lead",
            ZoneChoice::Campaign => "campaign",
            ZoneChoice::Mine => "mine",
            ZoneChoice::Agent => "agent",
        }
    }

    /// The posted choice; "mine" when absent or unknown.
    pub(super) fn from_form(form: &Form) -> ZoneChoice {
        let posted = form.get("timezone_choice").unwrap_or("mine");
        ZoneChoice::ALL.into_iter().find(|c| c.as_str() == posted).unwrap_or(ZoneChoice::Mine)
    }

    fn label(self) -> &'static str {
        match self {
            ZoneChoice::Lead => "Lead timezone",
            ZoneChoice::Campaign => "Campaign timezone",
            ZoneChoice::Mine => "Your timezone",
            ZoneChoice::Agent => "Agent timezone",
        }
    }

    /// How a reschedule names this choice (`Mine` is the caller's own, given as `timezone`).
    pub(super) fn source(self) -> TimezoneSource {
        match self {
            ZoneChoice::Lead => TimezoneSource::Lead,
            ZoneChoice::Campaign => TimezoneSource::Campaign,
            ZoneChoice::Mine => TimezoneSource::Caller,
            ZoneChoice::Agent => TimezoneSource::Agent,
        }
    }
}

/// The signed-in user's timezone name ("UTC" when the stored one is unknown, as pages show it).
pub(super) fn my_zone(user: &SignedIn) -> String {
    let name = &user.session.user.timezone;
    if TimeZone::get(name).is_ok() { name.clone() } else { "UTC".to_string() }
}

/// Which IANA zone each choice is for one callback (`None`: no such zone for it).
pub(super) struct Zones {
    lead: Option<String>,
    campaign: String,
    mine: String,
    agent: Option<String>,
}

impl Zones {
    pub(super) fn of(callback: &Callback, config: &ConfigSnapshot, mine: String) -> Zones {
        let campaign =
            config.campaigns.get(&callback.campaign_id).map_or_else(|| "UTC".to_string(), |c| c.timezone.clone());
        let agent = callback
            .agent_id
            .filter(|_| callback.kind == CallbackType::Agent)
            .and_then(|id| config.agents.get(&id))
            .map(|a| a.timezone.clone());
        Zones { lead: callback.lead_timezone.clone(), campaign, mine, agent }
    }

    pub(super) fn name(&self, choice: ZoneChoice) -> Option<&str> {
        match choice {
            ZoneChoice::Lead => self.lead.as_deref(),
            ZoneChoice::Campaign => Some(&self.campaign),
            ZoneChoice::Mine => Some(&self.mine),
            ZoneChoice::Agent => self.agent.as_deref(),
        }
    }

    /// The zone of `choice`, else the user's own (to show times and slots in).
    pub(super) fn shown_in(&self, choice: ZoneChoice) -> &str {
        self.name(choice).unwrap_or(&self.mine)
    }
}

/// What a form says about when: the typed date and time, a chosen slot, and how to read a local time
/// at a clock change.
#[derive(Debug, Clone, Default)]
pub(super) struct When {
    pub date: String,
    pub time: String,
    pub slot: Option<String>,
    pub disambiguation: Option<String>,
}

impl When {
    pub(super) fn from_form(form: &Form) -> When {
        When {
            date: form.get("desired_date").unwrap_or("").to_string(),
            time: form.get("desired_time").unwrap_or("").to_string(),
            slot: form.get("slot").map(str::to_string),
            disambiguation: form.get("disambiguation").map(str::to_string),
        }
    }

    /// `at` as the fields show it in `tz`.
    pub(super) fn shown(at: Timestamp, tz: &TimeZone) -> When {
        let (date, time) = local_parts(at, tz);
        When { date, time, ..When::default() }
    }

    /// The typed local date-time (`YYYY-MM-DDTHH:MM:SS`); `None` when both fields are blank, a 422
    /// naming the missing one when only one is given.
    pub(super) fn local(&self) -> Result<Option<String>, ApiError> {
        match (self.date.is_empty(), self.time.is_empty()) {
            (true, true) => Ok(None),
            (true, false) => Err(ApiError::invalid_field("desired_date", "give the date as well as the time")),
            (false, true) => Err(ApiError::invalid_field("desired_time", "give the time as well as the date")),
            (false, false) => {
                let seconds = if self.time.len() == 5 { ":00" } else { "" };
                Ok(Some(format!("{}T{}{seconds}", self.date, self.time)))
            }
        }
    }

    /// What the form asks for: the slot's instant, else the typed local time.
    pub(super) fn requested(&self) -> Result<Option<String>, ApiError> {
        match &self.slot {
            Some(slot) => Ok(Some(slot.clone())),
            None => self.local(),
        }
    }

    pub(super) fn disambiguation(&self) -> Option<Disambiguation> {
        match self.disambiguation.as_deref() {
            Some("earlier") => Some(Disambiguation::Earlier),
            Some("later") => Some(Disambiguation::Later),
            _ => None,
        }
    }
}

/// `at` in `tz` as the date and time inputs hold it (`2026-03-05`, `14:30`).
pub(super) fn local_parts(at: Timestamp, tz: &TimeZone) -> (String, String) {
    let zoned = at.to_zoned(tz.clone());
    (zoned.strftime("%Y-%m-%d").to_string(), zoned.strftime("%H:%M").to_string())
}

/// Whether a refusal is about a local time at a clock change (the form then offers to resolve it).
pub(super) fn asks_disambiguation(error: Option<&ApiError>) -> bool {
    error.is_some_and(|e| matches!(e.to_object().code.as_str(), "nonexistent_local_time" | "ambiguous_local_time"))
}

/// The date and time inputs (and, after a clock-change refusal, how to resolve it).
pub(super) fn date_time_fields(when: &When, show_disambiguation: bool) -> Markup {
    html! {
        div.row {
            div.field {
                label for="cb-date" { "Date" }
                input id="cb-date" type="date" name="desired_date" value=(when.date);
            }
            div.field {
                label for="cb-time" { "Time" }
                input id="cb-time" type="time" name="desired_time" value=(when.time);
            }
        }
        @if show_disambiguation || when.disambiguation.is_some() {
            div.field {
                label for="cb-disambiguation" { "If the clocks change at that time" }
                select id="cb-disambiguation" name="disambiguation" {
                    option value="" { "Refuse the time" }
                    option value="earlier" selected[when.disambiguation.as_deref() == Some("earlier")] { "Take the earlier instant" }
                    option value="later" selected[when.disambiguation.as_deref() == Some("later")] { "Take the later instant" }
                }
            }
        }
    }
}

/// `select#timezone-choice`: Lead / Campaign / Mine / Agent, each naming its zone; each option
/// carries `desired` as it reads in that zone, so the script can keep the time the same instant
/// when the choice changes and the fields were not touched.
pub(super) fn zone_choice_select(zones: &Zones, chosen: ZoneChoice, desired: Timestamp) -> Markup {
    html! {
        div.field {
            label for="timezone-choice" { "Timezone of the date and time" }
            select #timezone-choice name="timezone_choice" data-zone-choice {
                @for choice in ZoneChoice::ALL {
                    @let zone = zones.name(choice);
                    @let parts = zone.map(|z| local_parts(desired, &user_timezone(z)));
                    option value=(choice.as_str()) selected[choice == chosen] disabled[zone.is_none()]
                        data-zone=[zone] data-date=[parts.as_ref().map(|p| &p.0)] data-time=[parts.as_ref().map(|p| &p.1)] {
                        (choice.label()) " — "
                        @match (zone, choice) {
                            (Some(zone), _) => { (zone) }
                            (None, ZoneChoice::Agent) => { "agent callbacks only" }
                            (None, _) => { "unknown" }
                        }
                    }
                }
            }
        }
    }
}

/// The zones a create or recreate form offers: the user's, each campaign's, and UTC, each once,
/// noting whose it is.
pub(super) fn zone_options<'a>(
    mine: &str,
    campaigns: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = vec![(mine.to_string(), "yours".to_string())];
    for (zone, campaign) in campaigns {
        match options.iter_mut().find(|(z, _)| z == zone) {
            Some((_, note)) => {
                note.push_str(", campaign ");
                note.push_str(campaign);
            }
            None => options.push((zone.to_string(), format!("campaign {campaign}"))),
        }
    }
    if !options.iter().any(|(z, _)| z == "UTC") {
        options.push(("UTC".to_string(), String::new()));
    }
    options
}

/// `select#cb-timezone`: the zone a create or recreate reads its date and time in.
pub(super) fn timezone_select(options: &[(String, String)], chosen: &str) -> Markup {
    html! {
        div.field {
            label for="cb-timezone" { "Timezone of the date and time" }
            select id="cb-timezone" name="timezone" {
                @for (zone, note) in options {
                    option value=(zone) selected[zone == chosen] {
                        (zone) @if !note.is_empty() { " (" (note) ")" }
                    }
                }
            }
        }
    }
}

/// Slots shown under a form: a queue's day, or the free slots a full one's refusal proposes.
pub(super) struct SlotsShown {
    pub heading: String,
    pub zone: String,
    pub found: Result<Vec<SlotView>, ApiError>,
    /// Proposals may be on several days: each slot then shows its date.
    pub with_dates: bool,
}

/// The slots of `queue_id` on `date` (today when blank) in `zone`, with capacity and bookings.
pub(super) async fn available(
    state: &AppState,
    principal: &Principal,
    queue_id: Option<QueueId>,
    date: &str,
    zone: &str,
) -> SlotsShown {
    let tz = user_timezone(zone);
    let day = if date.is_empty() {
        Ok(state.clock.now().to_zoned(tz).date())
    } else {
        date.parse::<Date>().map_err(|_| ApiError::invalid_field("desired_date", "the date is YYYY-MM-DD"))
    };
    let found = async {
        let queue_id =
            queue_id.ok_or_else(|| ApiError::invalid_field("queue_id", "choose a queue to see its slots"))?;
        let day = day.clone()?;
        let next = day.tomorrow().map_err(|_| ApiError::invalid_field("desired_date", "the date is out of range"))?;
        let params = Params::from_pairs(vec![
            ("from".to_string(), day.to_string()),
            ("to".to_string(), next.to_string()),
            ("timezone".to_string(), zone.to_string()),
        ]);
        Ok(callbacks::availability(state, principal, queue_id, &params).await?.slots)
    }
    .await;
    let date = day.map_or_else(|_| date.to_string(), |d| d.to_string());
    SlotsShown {
        heading: format!("Available slots on {date} ({zone})"),
        zone: zone.to_string(),
        found,
        with_dates: false,
    }
}

/// The nearest free slots a 409 `slot_full` proposes (`details.proposed_slots`), to choose from.
pub(super) fn proposed(error: Option<&ApiError>, zone: &str) -> Option<SlotsShown> {
    let object = error?.to_object();
    if object.code != "slot_full" {
        return None;
    }
    let read = |slot: &serde_json::Value| {
        Some(SlotView {
            start: slot.get("start")?.as_str()?.parse().ok()?,
            local_start: slot.get("local_start")?.as_str()?.to_string(),
            capacity: u32::try_from(slot.get("capacity")?.as_u64()?).ok()?,
            booked: u32::try_from(slot.get("booked")?.as_u64()?).ok()?,
        })
    };
    let slots = object.details.get("proposed_slots")?.as_array()?.iter().filter_map(read).collect();
    Some(SlotsShown {
        heading: format!("That slot is full; the nearest free ones ({zone})"),
        zone: zone.to_string(),
        found: Ok(slots),
        with_dates: true,
    })
}

/// The "Show slots" button and, once asked, the day's slots as radio buttons (`input[name=slot]`)
/// with the capacity left; full and past slots cannot be chosen.
pub(super) fn slot_picker(shown: Option<&SlotsShown>, chosen: Option<&str>, now: Timestamp) -> Markup {
    html! {
        div #slots .slots {
            button #show-slots type="submit" name="step" value="slots" class="secondary" {
                "Show available slots for the date"
            }
            @if let Some(shown) = shown {
                @match &shown.found {
                    Err(error) => {
                        p.form-error role="alert" { (error.to_object().message) }
                    }
                    Ok(slots) if slots.is_empty() => {
                        p.empty { (shown.heading) ": none (the campaign does not dial then)." }
                    }
                    Ok(slots) => {
                        fieldset.slot-list {
                            legend { (shown.heading) }
                            div.slot.slot-none {
                                input #slot-none type="radio" name="slot" value="" checked[chosen.is_none()];
                                label for="slot-none" { "None: use the date and time" }
                            }
                            div.slot-grid { (slot_radios(slots, shown, chosen, now)) }
                        }
                    }
                }
            }
        }
    }
}

fn slot_radios(slots: &[SlotView], shown: &SlotsShown, chosen: Option<&str>, now: Timestamp) -> Markup {
    let tz = user_timezone(&shown.zone);
    html! {
        @for (index, slot) in slots.iter().enumerate() {
            @let id = format!("slot-{index}");
            @let (date, time) = local_parts(slot.start, &tz);
            @let left = slot.capacity.saturating_sub(slot.booked);
            @let past = slot.start < now;
            @let value = slot.start.to_string();
            div.slot.full[left == 0] {
                input id=(id) type="radio" name="slot" value=(value) disabled[left == 0 || past]
                    checked[chosen == Some(value.as_str())] data-date=(date) data-time=(time);
                label for=(id) {
                    span.slot-time { @if shown.with_dates { (date) " " } (time) }
                    " "
                    span.slot-left {
                        @if past { "past" } @else if left == 0 { "full" } @else { (left) " of " (slot.capacity) " left" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_time_needs_both_fields_and_gains_seconds() {
        let when = |date: &str, time: &str| When { date: date.into(), time: time.into(), ..When::default() };
        assert_eq!(when("2026-03-05", "10:30").local().unwrap().as_deref(), Some("2026-03-05T10:30:00"));
        assert_eq!(when("2026-03-05", "10:30:15").local().unwrap().as_deref(), Some("2026-03-05T10:30:15"));
        assert_eq!(when("", "").local().unwrap(), None);
        let missing = when("", "10:30").local().unwrap_err();
        assert_eq!(missing.to_object().details["field"], "desired_date");
        let slot = When { slot: Some("2026-03-05T10:00:00Z".into()), ..when("2026-03-06", "09:00") };
        assert_eq!(slot.requested().unwrap().as_deref(), Some("2026-03-05T10:00:00Z"), "a chosen slot wins");
    }

    #[test]
    fn each_zone_is_offered_once_with_whose_it_is() {
        let options = zone_options("Europe/London", [("Europe/London", "UK"), ("Asia/Singapore", "SG")].into_iter());
        assert_eq!(
            options,
            vec![
                ("Europe/London".to_string(), "yours, campaign UK".to_string()),
                ("Asia/Singapore".to_string(), "campaign SG".to_string()),
                ("UTC".to_string(), String::new()),
            ]
        );
    }
}
