//! A campaign's weekly dialling hours and its date exceptions.
//!
//! The weekly editor shows, per weekday, one row of `from`/`to` inputs per interval plus a blank
//! one (the script adds more rows and removes them; without it, saving gives a fresh blank row).
//! An interval whose end is not after its start runs past midnight into the next day, as the
//! domain reads it (`thu 22:00–02:00` is Thursday night into Friday); the page marks such rows
//! "next day" and the week's chart draws their tail on the following day.
//!
//! Exceptions replace a date's weekly hours: some intervals, or none for a date closed all day.
//! Adding one for a date that already has one replaces it. The posted hours go to the API's
//! service as the API's JSON (`{"thu": [["22:00","02:00"]]}`), so times, overlaps and dates are
//! checked by the domain's rules alone.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::civil::Time;
use maud::{Markup, html};
use rebound_domain::hours::{DateException, DiallingHours, TimeRange};
use rebound_domain::model::Campaign;
use serde_json::{Value, json};

use crate::AppState;
use crate::dto::CampaignPatch;
use crate::error::{ApiError, ApiResult};
use crate::service::config as service;

use super::super::forms;
use super::super::session::SignedIn;
use super::super::time::user_timezone;
use super::campaigns::{Tab, tabs};
use super::fields::{Draft, Kind, input};
use super::{Answer, Failure, Section, admin_post, page, parse_id, refusable, require};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/campaigns/{id}/hours", get(hours_page).post(save_hours))
        .route("/config/campaigns/{id}/exceptions", get(exceptions_page).post(add_exception))
        .route("/config/campaigns/{id}/exceptions/remove", post(remove_exception))
}

/// The weekdays as the API names them, with their names on the page.
const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

const MINUTES_PER_DAY: u32 = 24 * 60;

/// A range as the API writes it: `("22:00", "02:00")`, `("00:00", "24:00")`.
pub fn hhmm(range: &TimeRange) -> (String, String) {
    let text = |t: Time| format!("{:02}:{:02}", t.hour(), t.minute());
    let end = if range.end_of_day { "24:00".to_string() } else { text(range.end) };
    (text(range.start), end)
}

/// Minutes after midnight of `HH:MM` (`24:00` = 1440), for marking rows; `None` if unreadable.
fn minutes(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= MINUTES_PER_DAY).then_some(h * 60 + m)
}

/// Whether `start`–`end` runs past midnight (its end is not after its start).
fn overnight(start: &str, end: &str) -> bool {
    match (minutes(start), minutes(end)) {
        (Some(s), Some(e)) => e != MINUTES_PER_DAY && e <= s,
        _ => false,
    }
}

fn ranges_of(hours: &DiallingHours, day: &str) -> Vec<TimeRange> {
    let ranges = match day {
        "mon" => &hours.mon,
        "tue" => &hours.tue,
        "wed" => &hours.wed,
        "thu" => &hours.thu,
        "fri" => &hours.fri,
        "sat" => &hours.sat,
        _ => &hours.sun,
    };
    ranges.clone()
}

/// The intervals posted as `{prefix}.start` / `{prefix}.end` pairs, blank pairs left out.
fn posted_pairs(draft: &Draft, prefix: &str) -> Vec<(String, String)> {
    let starts = draft.raw_all(&format!("{prefix}.start"));
    let ends = draft.raw_all(&format!("{prefix}.end"));
    (0..starts.len().max(ends.len()))
        .map(|i| (starts.get(i).copied().unwrap_or(""), ends.get(i).copied().unwrap_or("")))
        .filter(|(start, end)| !start.is_empty() || !end.is_empty())
        .map(|(start, end)| (start.to_string(), end.to_string()))
        .collect()
}

/// The posted intervals as the API's `[["HH:MM","HH:MM"], …]`; half an interval is refused.
fn ranges_json(draft: &Draft, prefix: &str, day: &str, field: &str) -> ApiResult<Value> {
    let mut ranges = Vec::new();
    for (start, end) in posted_pairs(draft, prefix) {
        if start.is_empty() || end.is_empty() {
            return Err(ApiError::invalid_field(field, format!("{day}: an interval needs both a start and an end")));
        }
        ranges.push(json!([start, end]));
    }
    Ok(Value::Array(ranges))
}

// ---- the weekly editor ---------------------------------------------------------------------

fn week_draft(hours: &DiallingHours) -> Draft {
    let mut draft = Draft::new();
    for (day, _) in DAYS {
        for range in ranges_of(hours, day) {
            let (start, end) = hhmm(&range);
            draft = draft.with(&format!("{day}.start"), start).with(&format!("{day}.end"), end);
        }
    }
    draft
}

/// The week as the API takes it.
fn week_json(draft: &Draft) -> ApiResult<Value> {
    let mut week = serde_json::Map::new();
    for (day, name) in DAYS {
        week.insert(day.to_string(), ranges_json(draft, day, name, "dialling_hours")?);
    }
    Ok(Value::Object(week))
}

/// One interval's inputs: `{prefix}.start` and `{prefix}.end`, numbered `n` in ids and labels.
fn range_row(form: &str, prefix: &str, label: &str, n: usize, start: &str, end: &str) -> Markup {
    let id = format!("{form}-{prefix}-{n}");
    html! {
        div.range {
            label.visually-hidden for=(format!("{id}-start")) { (label) ", interval " (n) ", from" }
            input id=(format!("{id}-start")) name=(format!("{prefix}.start")) type="text" value=(start)
                inputmode="numeric" placeholder="HH:MM" pattern="([01]?[0-9]|2[0-4]):[0-5][0-9]" size="5";
            span.dash aria-hidden="true" { "–" }
            label.visually-hidden for=(format!("{id}-end")) { (label) ", interval " (n) ", to" }
            input id=(format!("{id}-end")) name=(format!("{prefix}.end")) type="text" value=(end)
                inputmode="numeric" placeholder="HH:MM" pattern="([01]?[0-9]|2[0-4]):[0-5][0-9]" size="5";
            span.overnight hidden[!overnight(start, end)] { "→ next day" }
            button.small.secondary type="button" data-remove-range hidden { "Remove" }
        }
    }
}

/// A day's intervals and one blank row to add another.
fn ranges_cell(form: &str, prefix: &str, label: &str, pairs: &[(String, String)]) -> Markup {
    html! {
        div.ranges id=(format!("{form}-{prefix}")) data-prefix=(prefix) data-label=(label) {
            @for (i, (start, end)) in pairs.iter().enumerate() {
                (range_row(form, prefix, label, i + 1, start, end))
            }
            (range_row(form, prefix, label, pairs.len() + 1, "", ""))
        }
        button.small.secondary type="button" data-add-range=(format!("{form}-{prefix}")) hidden { "Add interval" }
    }
}

fn hours_content(user: &SignedIn, campaign: &Campaign, draft: &Draft, error: Option<&ApiError>) -> Markup {
    html! {
        (tabs(campaign, Tab::Hours))
        p.hint {
            "Times are in the campaign's timezone, " strong { (campaign.timezone) } ". "
            "An interval that ends at or before its start runs past midnight into the next day "
            "(Thursday 22:00–02:00 dials from Thursday night until 02:00 on Friday); 24:00 ends a day. "
            "Leave a day empty to close it."
        }
        (forms::form_error(error))
        form #hours-form method="post" action=(format!("/config/campaigns/{}/hours", campaign.id)) {
            (forms::csrf_field(user))
            table.hours {
                tbody {
                    @for (day, name) in DAYS {
                        tr data-day=(day) {
                            th scope="row" { (name) }
                            td { (ranges_cell("hours", day, name, &posted_pairs(draft, day))) }
                        }
                    }
                }
            }
            (super::actions("hours-save", "Save hours", "/config/campaigns"))
        }
        h2 { "The week at a glance" }
        (week_chart(&campaign.dialling_hours))
    }
}

/// The stored week as bars per day, an overnight interval's tail drawn on the next day.
fn week_chart(hours: &DiallingHours) -> Markup {
    const LEFT: u32 = 40;
    const WIDTH: u32 = 960;
    const ROW: u32 = 20;
    let x = |minute: u32| LEFT + minute * WIDTH / MINUTES_PER_DAY;
    let mut bars: Vec<(usize, u32, u32, bool)> = Vec::new();
    for (i, (day, _)) in DAYS.iter().enumerate() {
        for range in ranges_of(hours, day) {
            let (start, end) = hhmm(&range);
            let (s, e) = (minutes(&start).unwrap_or(0), minutes(&end).unwrap_or(0));
            if range.crosses_midnight() {
                bars.push((i, s, MINUTES_PER_DAY, false));
                bars.push(((i + 1) % 7, 0, e, true));
            } else {
                bars.push((i, s, e, false));
            }
        }
    }
    html! {
        svg #week-chart .week viewBox=(format!("0 0 {} {}", LEFT + WIDTH + 20, ROW * 7 + 16)) role="img"
            aria-label="Dialling hours per weekday; overnight intervals continue on the next day" {
            @for hour in (0..=24).step_by(6) {
                line.grid x1=(x(hour * 60)) x2=(x(hour * 60)) y1="0" y2=(ROW * 7) {}
                text.axis x=(x(hour * 60)) y=(ROW * 7 + 13) { (format!("{hour:02}:00")) }
            }
            @for (i, (_, name)) in DAYS.iter().enumerate() {
                text.day x="0" y=(ROW * i as u32 + 14) { (&name[..3]) }
            }
            @for (row, start, end, tail) in bars {
                rect.open.tail[tail] x=(x(start)) y=(ROW * row as u32 + 3) width=(x(end) - x(start)) height=(ROW - 6) rx="2" {}
            }
        }
    }
}

async fn campaign(state: &AppState, id: &str) -> Result<Campaign, Failure> {
    let id = parse_id(id, "campaign")?;
    service::get_campaign(state, id).await.map_err(Failure::from)
}

fn title(campaign: &Campaign, what: &str) -> String {
    format!("{} · {what}", campaign.name)
}

/// `GET /config/campaigns/{id}/hours`
async fn hours_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Campaigns)?;
    let campaign = campaign(&state, &id).await?;
    let content = hours_content(&user, &campaign, &week_draft(&campaign.dialling_hours), None);
    Ok(page(&user, &headers, Section::Campaigns, StatusCode::OK, &title(&campaign, "dialling hours"), content))
}

/// `POST /config/campaigns/{id}/hours`: the whole week replaces the stored one.
async fn save_hours(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Campaigns).await?;
    let campaign = campaign(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let result = match week_json(&draft) {
        Ok(week) => {
            let patch = CampaignPatch { dialling_hours: Some(week), ..CampaignPatch::default() };
            service::update_campaign(&state, campaign.id, patch).await
        }
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(saved) => Ok(forms::done(&posted.headers, &format!("/config/campaigns/{}/hours", saved.id))),
        Err(e) => {
            let content = hours_content(&posted.user, &campaign, &draft.refused(&e), Some(&e));
            Ok(page(
                &posted.user,
                &posted.headers,
                Section::Campaigns,
                e.status(),
                &title(&campaign, "dialling hours"),
                content,
            ))
        }
    }
}

// ---- exceptions ----------------------------------------------------------------------------

/// A date's hours as the page says them.
fn describe(exception: &DateException) -> String {
    if exception.hours.is_empty() {
        return "Closed all day".to_string();
    }
    let ranges: Vec<String> = exception
        .hours
        .iter()
        .map(|range| {
            let (start, end) = hhmm(range);
            if range.crosses_midnight() { format!("{start}–{end} (next day)") } else { format!("{start}–{end}") }
        })
        .collect();
    ranges.join(", ")
}

fn exceptions_content(
    user: &SignedIn,
    campaign: &Campaign,
    now: Timestamp,
    draft: &Draft,
    error: Option<&ApiError>,
) -> Markup {
    let base = format!("/config/campaigns/{}/exceptions", campaign.id);
    let mut exceptions = campaign.exceptions.clone();
    exceptions.sort_by_key(|e| e.date);
    // Past dates are shown muted: they no longer matter, but removing them is the admin's call.
    let today = now.to_zoned(user_timezone(&campaign.timezone)).date();
    html! {
        (tabs(campaign, Tab::Exceptions))
        p.hint { "Dates whose hours replace the weekly hours, in " strong { (campaign.timezone) } "." }
        div.table-wrap {
            table #exceptions-table .config-table {
                thead {
                    tr {
                        th scope="col" { "Date" }
                        th scope="col" { "Hours" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    }
                }
                tbody {
                    @for exception in &exceptions {
                        tr.past[exception.date < today] data-date=(exception.date) {
                            td { (exception.date) " " span.muted { (exception.date.strftime("%a")) } }
                            td { (describe(exception)) }
                            td {
                                form.inline method="post" action=(format!("{base}/remove")) {
                                    (forms::csrf_field(user))
                                    input type="hidden" name="date" value=(exception.date);
                                    button.small.secondary id=(format!("remove-exception-{}", exception.date)) type="submit" {
                                        "Remove" span.visually-hidden { " the exception of " (exception.date) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if exceptions.is_empty() {
            p.empty { "No exceptions: every date follows the weekly hours." }
        }
        h2 { "Add an exception" }
        (forms::form_error(error))
        form #exception-form method="post" action=(base) {
            (forms::csrf_field(user))
            (input(draft, "exception", "date", "Date", Kind::Date, None))
            fieldset {
                legend { "Hours that day" }
                p.hint { "Leave them empty for a date closed all day. A date that has an exception already gets these hours instead." }
                (ranges_cell("exception", "hours", "Hours that day", &posted_pairs(draft, "hours")))
            }
            (super::actions("exception-add", "Add exception", "/config/campaigns"))
        }
    }
}

/// `GET /config/campaigns/{id}/exceptions`
async fn exceptions_page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    require(&user, Section::Campaigns)?;
    let campaign = campaign(&state, &id).await?;
    let content = exceptions_content(&user, &campaign, state.clock.now(), &Draft::new(), None);
    Ok(page(&user, &headers, Section::Campaigns, StatusCode::OK, &title(&campaign, "exceptions"), content))
}

/// The stored exceptions as the API's JSON, leaving out `date`.
fn exceptions_without(campaign: &Campaign, date: &str) -> Vec<Value> {
    campaign
        .exceptions
        .iter()
        .filter(|e| e.date.to_string() != date)
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect()
}

async fn save_exceptions(state: &AppState, campaign: &Campaign, exceptions: Vec<Value>) -> ApiResult<Campaign> {
    let patch = CampaignPatch { exceptions: Some(Value::Array(exceptions)), ..CampaignPatch::default() };
    service::update_campaign(state, campaign.id, patch).await
}

/// The stored exceptions with the posted one in place of any for its date.
fn with_posted(campaign: &Campaign, draft: &Draft) -> ApiResult<Vec<Value>> {
    let date = draft.get("date");
    if date.is_empty() {
        return Err(ApiError::invalid_field("date", "choose the date of the exception"));
    }
    let hours = ranges_json(draft, "hours", date, "exceptions")?;
    let mut exceptions = exceptions_without(campaign, date);
    exceptions.push(json!({"date": date, "hours": hours}));
    exceptions.sort_by(|a, b| a["date"].as_str().cmp(&b["date"].as_str()));
    Ok(exceptions)
}

/// `POST /config/campaigns/{id}/exceptions`: add (or replace) one date's hours.
async fn add_exception(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Campaigns).await?;
    let campaign = campaign(&state, &id).await?;
    let draft = Draft::posted(&posted.form);
    let result = match with_posted(&campaign, &draft) {
        Ok(exceptions) => save_exceptions(&state, &campaign, exceptions).await,
        Err(e) => Err(e),
    };
    match refusable(result)? {
        Ok(saved) => Ok(forms::done(&posted.headers, &format!("/config/campaigns/{}/exceptions", saved.id))),
        Err(e) => {
            let content = exceptions_content(&posted.user, &campaign, state.clock.now(), &draft.refused(&e), Some(&e));
            Ok(page(
                &posted.user,
                &posted.headers,
                Section::Campaigns,
                e.status(),
                &title(&campaign, "exceptions"),
                content,
            ))
        }
    }
}

/// `POST /config/campaigns/{id}/exceptions/remove` (`date=YYYY-MM-DD`): that date follows the
/// weekly hours again. Removing a date without an exception changes nothing.
async fn remove_exception(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let posted = admin_post(&state, request, Section::Campaigns).await?;
    let campaign = campaign(&state, &id).await?;
    let date = posted.form.get("date").unwrap_or("");
    let kept = exceptions_without(&campaign, date);
    if kept.len() != campaign.exceptions.len() {
        save_exceptions(&state, &campaign, kept).await?;
    }
    Ok(forms::done(&posted.headers, &format!("/config/campaigns/{}/exceptions", campaign.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::forms::Form;

    #[test]
    fn posted_intervals_pair_up_and_skip_blank_rows() {
        let form = Form::parse(b"thu.start=08:30&thu.end=19:00&thu.start=22:00&thu.end=02:00&thu.start=&thu.end=");
        let week = week_json(&Draft::posted(&form)).unwrap();
        assert_eq!(week["thu"], json!([["08:30", "19:00"], ["22:00", "02:00"]]));
        assert_eq!(week["mon"], json!([]));
        let half = Form::parse(b"fri.start=09:00&fri.end=");
        let refused = week_json(&Draft::posted(&half)).unwrap_err();
        assert!(refused.to_object().message.starts_with("Friday:"), "{refused:?}");
    }

    #[test]
    fn intervals_ending_at_or_before_their_start_are_overnight() {
        assert!(overnight("22:00", "02:00"));
        assert!(overnight("22:00", "22:00"));
        assert!(!overnight("09:00", "17:00"));
        assert!(!overnight("00:00", "24:00"));
        assert!(!overnight("22:00", ""));
        let range = TimeRange::parse("22:00", "24:00").unwrap();
        assert_eq!(hhmm(&range), ("22:00".to_string(), "24:00".to_string()));
    }
}
