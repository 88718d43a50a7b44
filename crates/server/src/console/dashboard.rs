//! `GET /dashboard`: today's load in the signed-in user's timezone — callbacks due per slot against
//! slot capacity and ready agents as a server-rendered SVG chart (with a table of the same numbers),
//! the overdue count and the dispatch lag. For supervisors, monitors and admins (the roles that read
//! callbacks); `?queue_id=` picks one queue, else every queue in the user's scope hour by hour.
//!
//! The figures are `service::dashboard`'s, read with the user's principal; this module only draws
//! them. The chart is plain SVG elements with geometry attributes and CSS classes (the policy
//! forbids `style=""`): bars are `rect.due` (`rect.due.over` above capacity) with a `<title>`
//! tooltip and `data-` attributes naming their numbers, capacity is a step `path.capacity`, ready
//! agents a `line.ready`, now a `line.now`.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};
use rebound_domain::access::Role;

use crate::AppState;
use crate::error::ApiError;
use crate::service::ConfigSnapshot;
use crate::service::dashboard::{Bar, DayLoad, DayQuery, DispatchLag, day_load};

use super::layout::{error_page, html_response, signed_in_page};
use super::session::SignedIn;
use super::time::{relative_range, user_timezone};

/// This part's routes (merged by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new().route("/dashboard", get(dashboard_page))
}

/// `?queue_id=N` (blank or absent: all queues).
fn queue_param(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let value = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(key, _)| key == "queue_id")
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty());
    value
        .map(|v| v.parse::<i64>().map_err(|_| ApiError::invalid_field("queue_id", "queue_id is a queue's numeric id")))
        .transpose()
}

pub async fn dashboard_page(State(state): State<AppState>, user: SignedIn, RawQuery(raw): RawQuery) -> Response {
    // Agents have their own view; the dashboard reads callbacks across queues.
    if user.principal.role == Role::Agent {
        return error_page(&ApiError::Forbidden {
            code: "forbidden",
            message: "the dashboard is for supervisors, monitors and administrators; agents use My callbacks".into(),
        });
    }
    let queue_id = match queue_param(raw.as_deref()) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let tz = user_timezone(&user.session.user.timezone);
    let now = state.clock().now();
    let Some((from, to)) = relative_range(now, &tz, 0, 1) else {
        return error_page(&ApiError::Internal("today has no bounds in the user's timezone".into()));
    };
    let query = DayQuery { queue_id, from, to, tz: tz.clone() };
    let load = match day_load(&state, &user.principal, query).await {
        Ok(load) => load,
        Err(e) => return error_page(&e),
    };
    let snapshot = match state.config_cache.snapshot(state.store().as_ref()).await {
        Ok(snapshot) => snapshot,
        Err(e) => return error_page(&e),
    };
    let view = View { load: &load, snapshot: &snapshot, tz: &tz, now, day: from };
    let main = html! { div.dashboard { (view.page(&user)) } };
    html_response(StatusCode::OK, signed_in_page(&user, "Dashboard", main))
}

/// What the page draws.
struct View<'a> {
    load: &'a DayLoad,
    snapshot: &'a ConfigSnapshot,
    tz: &'a TimeZone,
    now: Timestamp,
    day: Timestamp,
}

impl View<'_> {
    fn page(&self, user: &SignedIn) -> Markup {
        let load = self.load;
        let due: u64 = load.bars.iter().map(|b| u64::from(b.due)).sum::<u64>() + u64::from(load.outside_slots);
        let capacity: u64 = load.bars.iter().map(|b| u64::from(b.capacity)).sum();
        let overdue_link = match &load.queue {
            Some(q) => format!("/callbacks?overdue=true&queue_id={}", q.id),
            None => "/callbacks?overdue=true".to_string(),
        };
        html! {
            h1 { "Dashboard" }
            p.dashboard-day {
                "Today, " (self.day.to_zoned(self.tz.clone()).strftime("%A %-d %B %Y"))
                " · times in " (user.session.user.timezone)
            }
            (self.filter())
            div.dashboard-top {
                div.figures {
                    div.figure {
                        span.figure-label { "Overdue now" }
                        a #overdue-count href=(overdue_link) { (load.overdue) }
                    }
                    div.figure {
                        span.figure-label { "Ready agents" }
                        strong #ready-agents { (load.ready_agents) }
                    }
                    div.figure {
                        span.figure-label { "Due today" }
                        strong #due-today { (due) }
                    }
                    div.figure {
                        span.figure-label { "Capacity today" }
                        strong #capacity-today { (capacity) }
                    }
                }
                (dispatch_lag(&load.lag))
            }
            section.chart aria-labelledby="chart-title" {
                h2 #chart-title {
                    "Callbacks due per " (if load.queue.is_some() { "slot" } else { "hour" })
                    " against capacity and ready agents"
                }
                @if load.bars.is_empty() {
                    p #no-slots .empty { "No open slots and nothing due today." }
                } @else {
                    (self.chart())
                    (legend())
                    (self.table())
                }
                @if load.outside_slots > 0 {
                    p #outside-slots {
                        (load.outside_slots) " due today at times outside the queue's open slots."
                    }
                }
            }
        }
    }

    fn filter(&self) -> Markup {
        let selected = self.load.queue.as_ref().map(|q| q.id);
        html! {
            form #dashboard-filter method="get" action="/dashboard" {
                label for="dashboard-queue" { "Queue" }
                select #dashboard-queue name="queue_id" {
                    option value="" selected[selected.is_none()] { "All queues in scope" }
                    @for queue in &self.load.queues {
                        @let campaign = self.snapshot.campaigns.get(&queue.campaign_id).map(|c| c.name.as_str());
                        option value=(queue.id) selected[selected == Some(queue.id)] {
                            (queue.name)
                            @if let Some(campaign) = campaign { " — " (campaign) }
                            @if queue.paused { " (paused)" }
                        }
                    }
                }
                button type="submit" { "Show" }
            }
        }
    }

    /// "09:15" in the user's timezone.
    fn hm(&self, at: Timestamp) -> String {
        at.to_zoned(self.tz.clone()).strftime("%H:%M").to_string()
    }

    fn bar_label(&self, bar: &Bar) -> String {
        format!("{}–{}", self.hm(bar.start), self.hm(bar.end))
    }

    fn chart(&self) -> Markup {
        let load = self.load;
        let geometry = Geometry::new(&load.bars, load.ready_agents);
        let what = match &load.queue {
            Some(q) => format!("queue {}", q.name),
            None => "all queues in scope".to_string(),
        };
        let due: u32 = load.bars.iter().map(|b| b.due).sum();
        let capacity: u32 = load.bars.iter().map(|b| b.capacity).sum();
        let label = format!(
            "Callbacks due today for {what}: {due} due against a capacity of {capacity} over {} {}, {} agents ready now",
            load.bars.len(),
            if load.queue.is_some() { "slots" } else { "hours" },
            load.ready_agents
        );
        let label_every = load.bars.len().div_ceil(12).max(1);
        let now_x = geometry.x_of(&load.bars, self.now);
        html! {
            svg #due-per-slot role="img" aria-label=(label) viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
                preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" {
                g.axis {
                    @for tick in geometry.ticks() {
                        @let y = geometry.y(tick);
                        line.grid x1=(num(LEFT)) x2=(num(WIDTH - RIGHT)) y1=(num(y)) y2=(num(y)) {}
                        text.tick x=(num(LEFT - 6.0)) y=(num(y + 4.0)) text-anchor="end" { (tick) }
                    }
                    @for (i, bar) in load.bars.iter().enumerate() {
                        @if i % label_every == 0 {
                            text.tick x=(num(geometry.band_x(i))) y=(num(HEIGHT - BOTTOM + 16.0)) text-anchor="start" {
                                (self.hm(bar.start))
                            }
                        }
                    }
                    text.axis-title x=(num(LEFT)) y=(num(HEIGHT - 6.0)) {
                        "Time (" (self.tz.iana_name().unwrap_or("UTC")) ")"
                    }
                }
                g.bars {
                    @for (i, bar) in load.bars.iter().enumerate() {
                        @let (x, width) = geometry.bar(i);
                        @let top = geometry.y(bar.due);
                        rect class=(if bar.due > bar.capacity { "due over" } else { "due" })
                            x=(num(x)) y=(num(top)) width=(num(width)) height=(num(geometry.y(0) - top))
                            data-start=(self.hm(bar.start)) data-due=(bar.due) data-capacity=(bar.capacity) {
                            title { (self.bar_label(bar)) ": " (bar.due) " due, capacity " (bar.capacity) }
                        }
                    }
                }
                path.capacity d=(geometry.capacity_path(&load.bars)) {
                    title { "Slot capacity" }
                }
                @let ready_y = geometry.y(load.ready_agents);
                line.ready x1=(num(LEFT)) x2=(num(WIDTH - RIGHT)) y1=(num(ready_y)) y2=(num(ready_y)) {
                    title { (load.ready_agents) " agents ready now" }
                }
                text.ready-label x=(num(WIDTH - RIGHT)) y=(num(ready_y - 4.0)) text-anchor="end" {
                    (load.ready_agents) " ready"
                }
                @if let Some(x) = now_x {
                    line.now x1=(num(x)) x2=(num(x)) y1=(num(TOP)) y2=(num(geometry.y(0))) {
                        title { "Now, " (self.hm(self.now)) }
                    }
                }
            }
        }
    }

    fn table(&self) -> Markup {
        html! {
            details.chart-table {
                summary { "The numbers as a table" }
                div.table-scroll {
                    table #due-per-slot-table {
                        thead {
                            tr {
                                th scope="col" { (if self.load.queue.is_some() { "Slot" } else { "Hour" }) }
                                th scope="col" { "Due" }
                                th scope="col" { "Capacity" }
                            }
                        }
                        tbody {
                            @for bar in &self.load.bars {
                                tr data-start=(self.hm(bar.start)) {
                                    th scope="row" { (self.bar_label(bar)) }
                                    td.due { (bar.due) }
                                    td.capacity { (bar.capacity) }
                                }
                            }
                        }
                    }
                }
                p.note { (self.load.ready_agents) " agents ready now (one figure for the whole day: presence is now, not planned)." }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        ul.legend aria-label="Legend" {
            li { span.swatch.due-swatch {} "Due callbacks" }
            li { span.swatch.over-swatch {} "Due above capacity" }
            li { span.swatch.capacity-swatch {} "Slot capacity" }
            li { span.swatch.ready-swatch {} "Agents ready now" }
            li { span.swatch.now-swatch {} "Now" }
        }
    }
}

fn dispatch_lag(lag: &DispatchLag) -> Markup {
    html! {
        section #dispatch-lag aria-labelledby="dispatch-lag-title" {
            h2 #dispatch-lag-title { "Dispatch lag" }
            dl {
                dt { "Promotion (all campaigns)" }
                dd #promotion-lag {
                    @match lag.promotion_late {
                        Some(late) => { (duration(late)) " behind: the earliest due callback still waits to be queued" }
                        None => { "On time: nothing due is waiting to be queued" }
                    }
                }
                dt { "Queued, waiting for an agent" }
                dd #queued-lag {
                    @match lag.oldest_queued_for {
                        Some(wait) => { (lag.queued) " queued; the longest became due " (duration(wait)) " ago" }
                        None => { "None queued" }
                    }
                }
                dt { "Mean promotion lag (this server)" }
                dd #mean-lag {
                    @match lag.mean_promotion_lag {
                        Some((secs, count)) => {
                            (seconds(secs)) " over " (count) (if count == 1 { " promotion" } else { " promotions" })
                        }
                        None => { "No promotions since the server started" }
                    }
                }
            }
        }
    }
}

/// "45 s", "3 min 20 s", "2 h 5 min".
fn duration(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// A small duration in seconds: "12 ms", "1.4 s".
fn seconds(secs: f64) -> String {
    if secs < 1.0 { format!("{:.0} ms", secs * 1000.0) } else { format!("{secs:.1} s") }
}

/// An SVG coordinate: one decimal is finer than a pixel.
fn num(v: f64) -> String {
    format!("{v:.1}")
}

const WIDTH: f64 = 1200.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;

/// The chart's scales: bars side by side over the plot's width, counts from 0 to a maximum that is
/// a whole number of round tick steps.
struct Geometry {
    bars: usize,
    step: u32,
    max: u32,
}

impl Geometry {
    fn new(bars: &[Bar], ready: u32) -> Geometry {
        let highest = bars.iter().map(|b| b.due.max(b.capacity)).max().unwrap_or(0).max(ready).max(1);
        let step = round_up(highest.div_ceil(4));
        Geometry { bars: bars.len().max(1), step, max: highest.div_ceil(step).saturating_mul(step) }
    }

    fn band(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.bars as f64
    }

    fn band_x(&self, i: usize) -> f64 {
        LEFT + self.band() * i as f64
    }

    /// A bar's x and width: most of its band, a gap either side.
    fn bar(&self, i: usize) -> (f64, f64) {
        let gap = (self.band() * 0.15).min(6.0);
        (self.band_x(i) + gap, (self.band() - 2.0 * gap).max(1.0))
    }

    fn y(&self, value: u32) -> f64 {
        let plot = HEIGHT - TOP - BOTTOM;
        HEIGHT - BOTTOM - plot * f64::from(value.min(self.max)) / f64::from(self.max)
    }

    /// Up to five round ticks from 0 to the maximum.
    fn ticks(&self) -> Vec<u32> {
        (0..=self.max).step_by(self.step.max(1) as usize).collect()
    }

    /// The capacity as a step line over every band.
    fn capacity_path(&self, bars: &[Bar]) -> String {
        let mut d = String::new();
        for (i, bar) in bars.iter().enumerate() {
            let (x0, x1, y) = (self.band_x(i), self.band_x(i + 1), self.y(bar.capacity));
            let step = if i == 0 { format!("M{} {}", num(x0), num(y)) } else { format!(" V{}", num(y)) };
            d.push_str(&step);
            d.push_str(&format!(" H{}", num(x1)));
        }
        d
    }

    /// Where `at` falls on the time axis, if inside a bar.
    fn x_of(&self, bars: &[Bar], at: Timestamp) -> Option<f64> {
        let i = bars.iter().position(|b| b.start <= at && at < b.end)?;
        let bar = &bars[i];
        let fraction = at.duration_since(bar.start).as_secs_f64() / bar.end.duration_since(bar.start).as_secs_f64();
        Some(self.band_x(i) + self.band() * fraction)
    }
}

/// The next 1, 2 or 5 × 10ⁿ at or above `n`.
fn round_up(n: u32) -> u32 {
    let mut scale = 1u32;
    loop {
        for step in [1u32, 2, 5] {
            let candidate = step.saturating_mul(scale);
            if candidate >= n {
                return candidate;
            }
        }
        scale = scale.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_rounds_up_to_one_two_or_five() {
        assert_eq!([1, 2, 3, 7, 10, 11, 49, 120].map(round_up), [1, 2, 5, 10, 10, 20, 50, 200]);
        let bar = |due, capacity| Bar { start: Timestamp::UNIX_EPOCH, end: Timestamp::UNIX_EPOCH, due, capacity };
        let g = Geometry::new(&[bar(3, 20), bar(17, 20)], 2);
        assert_eq!(g.ticks(), vec![0, 5, 10, 15, 20]);
        // The top of the scale is a tick: capacity 5 is drawn against 0, 2, 4, 6.
        assert_eq!(Geometry::new(&[bar(3, 5)], 0).ticks(), vec![0, 2, 4, 6]);
        assert_eq!(Geometry::new(&[bar(0, 0)], 0).ticks(), vec![0, 1]);
        assert_eq!(g.y(0), HEIGHT - BOTTOM);
        assert_eq!(g.y(20), TOP);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(SignedDuration::from_secs(45)), "45 s");
        assert_eq!(duration(SignedDuration::from_secs(200)), "3 min 20 s");
        assert_eq!(duration(SignedDuration::from_secs(7500)), "2 h 5 min");
        assert_eq!(seconds(0.012), "12 ms");
        assert_eq!(seconds(1.44), "1.4 s");
    }
}
