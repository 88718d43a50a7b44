//! The console's bulk actions through the real router: the select cells and toolbar by role, the
//! bulk cancel confirmation (selected rows, and all in a time range with PROCESSING excluded), the
//! cancel through the bulk service and its Cancellation Summary Report, bulk delete for admins, the
//! CSV export of the current view, scope, and CSRF on every change.

mod common;

use common::console::{Page, get, get_fragment, post_form, post_fragment, sign_in};
use common::{TestApp, parse_csv};
use rebound_domain::access::Role;
use rebound_domain::state::Action;
use serde_json::{Value, json};

const DAY: &str = "from=2026-03-03T00%3A00%3A00Z&to=2026-03-04T00%3A00%3A00Z";

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("callback id").to_string()
}

/// A scheduled callback in the fixture's queue, desired at `desired`.
async fn scheduled(app: &TestApp, n: u32, desired: &str) -> String {
    let body = app.queue_callback(&format!("+44207946{n:04}"), json!({"desired_time": desired}));
    id_of(&app.post("/callbacks", body).await.expect(201))
}

/// The opening tag of the element with `id`.
fn tag<'a>(page: &'a Page, id: &str) -> &'a str {
    let at = page.html.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no #{id} in {}", page.html));
    let start = page.html[..at].rfind('<').unwrap();
    let end = at + page.html[at..].find('>').unwrap();
    &page.html[start..=end]
}

/// An attribute of the element with `id`, unescaped.
fn attr(page: &Page, id: &str, name: &str) -> String {
    let tag = tag(page, id);
    let at = tag.find(&format!(r#" {name}=""#)).unwrap_or_else(|| panic!("no {name} in {tag}")) + name.len() + 3;
    tag[at..].split('"').next().unwrap().replace("&amp;", "&")
}

/// The text right inside the element with `id` (up to the next tag).
fn text(page: &Page, id: &str) -> String {
    let at = page.html.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no #{id} in {}", page.html));
    let rest = &page.html[at..];
    let open = rest.find('>').unwrap() + 1;
    rest[open..].split('<').next().unwrap().to_string()
}

/// The markup of the table with `id`.
fn table<'a>(page: &'a Page, id: &str) -> &'a str {
    let at = page.html.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no #{id} in {}", page.html));
    let end = at + page.html[at..].find("</table>").unwrap();
    &page.html[at..end]
}

/// The callback ids a table lists.
fn listed(page: &Page, id: &str) -> Vec<String> {
    table(page, id).split(r#"data-id=""#).skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

/// `path?ids=…` for these ids (and the extra query).
fn with_ids(path: &str, ids: &[&String], extra: &str) -> String {
    let ids: Vec<String> = ids.iter().map(|id| format!("ids={id}")).collect();
    let extra = if extra.is_empty() { String::new() } else { format!("&{extra}") };
    format!("{path}?{}{extra}", ids.join("&"))
}

/// GETs a CSV file with the session cookie, as the browser does when a link is followed.
async fn csv_with_cookie(app: &TestApp, href: &str, cookie: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let response = app
        .client
        .get(format!("{}{href}", app.addr))
        .header("cookie", format!("rebound_session={cookie}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200, "{href}");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment;"), "the browser downloads it: {disposition}");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    parse_csv(&response.text().await.expect("body"))
}

async fn state_of(app: &TestApp, id: &str) -> (String, String) {
    let now = app.get(&format!("/callbacks/{id}")).await.expect(200);
    (now["state"].as_str().unwrap().to_string(), now["result"].as_str().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_rows_are_previewed_with_processing_excluded_then_cancelled_with_a_report() {
    let app = TestApp::spawn().await;
    app.create_user("sam", Role::Supervisor, json!({"timezone": "Europe/London"})).await;
    let a = scheduled(&app, 1, "2026-03-03T10:00:00Z").await;
    let b = scheduled(&app, 2, "2026-03-03T11:00:00Z").await;
    let busy = scheduled(&app, 3, "2026-03-03T12:00:00Z").await;
    let done = scheduled(&app, 4, "2026-03-03T13:00:00Z").await;
    app.drive(&busy, &[Action::Promote, Action::Reserve, Action::Accept]).await;
    app.post(&format!("/callbacks/{done}/cancel"), json!({})).await.expect(200);
    let cookie = sign_in(&app, "sam").await;

    let list = get(&app, "/callbacks", Some(&cookie)).await;
    assert!(tag(&list, "select-all").contains(r#"type="checkbox""#));
    assert_eq!(list.count(r#"class="select-row""#), 4, "a checkbox per row");
    assert!(list.html.contains(&format!(r#"form="bulk-selection" name="ids" value="{a}""#)), "{}", list.html);
    assert!(list.html.contains(r#"aria-label="Select callback +442079460001"#), "named for screen readers");
    assert!(tag(&list, "bulk-cancel").contains(r#"formaction="/callbacks/bulk-cancel""#));
    assert!(!list.html.contains(r#"id="bulk-delete""#), "deleting is for admins");
    assert!(tag(&list, "bulk-cancel-range").contains("disabled"), "no time range chosen yet");
    let csrf = list.csrf();

    // The confirmation, as the dialog asks for it: two to cancel, two excluded with the reason.
    let preview = get_fragment(&app, &with_ids("/callbacks/bulk-cancel", &[&a, &b, &busy, &done], ""), &cookie).await;
    assert_eq!(preview.status.as_u16(), 200, "{}", preview.html);
    assert!(!preview.html.contains("<header"), "only the content, for the dialog");
    assert_eq!((text(&preview, "will-cancel"), text(&preview, "excluded-count")), ("2".into(), "2".into()));
    assert_eq!(listed(&preview, "bulk-included"), [a.clone(), b.clone()]);
    assert_eq!(listed(&preview, "bulk-excluded"), [busy.clone(), done.clone()]);
    let excluded = table(&preview, "bulk-excluded");
    assert!(excluded.contains("in PROCESSING: an agent is handling it") && excluded.contains("already COMPLETED"));
    assert!(tag(&preview, "confirm-bulk-cancel").contains(r#"type="submit""#));
    assert!(preview.html.contains(r#"<label for="bulk-reason">"#));
    assert_eq!(preview.count(r#"type="hidden" name="ids""#), 4, "the selection goes to the form");
    assert_eq!((state_of(&app, &a).await.0, state_of(&app, &b).await.0), ("SCHEDULED".into(), "SCHEDULED".into()));

    // Confirming runs the bulk service: the rest is cancelled, the result stays in the dialog.
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("ids", &a),
        ("ids", &b),
        ("ids", &busy),
        ("ids", &done),
        ("reason", "storm warning"),
    ];
    let result = post_fragment(&app, "/callbacks/bulk-cancel", &cookie, &fields).await;
    assert_eq!(result.status.as_u16(), 200, "{}", result.html);
    assert!(tag(&result, "bulk-result").contains("data-reload-on-close"));
    assert_eq!((text(&result, "cancelled-count"), text(&result, "skipped-count")), ("2".into(), "2".into()));
    assert_eq!(listed(&result, "bulk-cancelled"), [a.clone(), b.clone()]);
    assert!(table(&result, "bulk-cancelled").contains("CANCELLED_BY_ADMIN"), "shown as they are now");
    assert_eq!(listed(&result, "bulk-skipped"), [busy.clone(), done.clone()]);
    for (id, state) in [(&a, "COMPLETED"), (&b, "COMPLETED"), (&busy, "PROCESSING")] {
        assert_eq!(state_of(&app, id).await.0, state, "{id}");
    }
    assert_eq!(state_of(&app, &a).await.1, "CANCELLED_BY_ADMIN");

    // The report link downloads the Cancellation Summary Report with the session cookie.
    let href = attr(&result, "download-report", "href");
    assert!(href.starts_with("/api/v1/reports/cancellations/") && href.ends_with(".csv"), "{href}");
    let (header, rows) = csv_with_cookie(&app, &href, &cookie).await;
    assert_eq!(header[..8], ["id", "phone", "campaign", "queue", "desired_time", "state_before", "outcome", "reason"]);
    let outcomes: Vec<(&str, &str, &str)> =
        rows.iter().map(|r| (r[0].as_str(), r[6].as_str(), r[8].as_str())).collect();
    assert_eq!(
        outcomes,
        [
            (a.as_str(), "cancelled", "user:sam"),
            (b.as_str(), "cancelled", "user:sam"),
            (busy.as_str(), "skipped", "user:sam"),
            (done.as_str(), "skipped", "user:sam")
        ]
    );
    assert_eq!(rows[0][7], "storm warning");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_in_the_time_range_is_counted_per_state_and_cancelled_except_processing() {
    let app = TestApp::spawn().await;
    app.create_user("sam", Role::Supervisor, json!({})).await;
    let mut in_range = Vec::new();
    for (n, hour) in (1..).zip(["09", "10", "11", "12", "13"]) {
        in_range.push(scheduled(&app, n, &format!("2026-03-03T{hour}:00:00Z")).await);
    }
    let busy = in_range[2].clone();
    app.drive(&busy, &[Action::Promote, Action::Reserve, Action::Accept]).await;
    let next_day = scheduled(&app, 9, "2026-03-04T10:00:00Z").await;
    let cookie = sign_in(&app, "sam").await;

    // The list with a range offers "all in time range", carrying the list's filters.
    let list = get(&app, &format!("/callbacks?{DAY}&page=1"), Some(&cookie)).await;
    let href = attr(&list, "bulk-cancel-range", "href");
    assert_eq!(href, format!("/callbacks/bulk-cancel?range=1&{DAY}&page=1"));
    assert!(tag(&list, "bulk-cancel-range").contains("data-dialog"));
    assert!(text(&list, "export-csv").contains("(5)"), "the export names how many rows it holds");

    let preview = get_fragment(&app, &href, &cookie).await;
    assert_eq!(preview.status.as_u16(), 200, "{}", preview.html);
    let counts = table(&preview, "bulk-counts");
    assert!(!counts.contains(r#"data-state="QUEUED""#), "states with none are left out");
    assert!(counts.contains(r#"<tr data-state="SCHEDULED"><td><span class="state">SCHEDULED</span></td><td class="count">4</td><td>Cancelled</td>"#), "{counts}");
    assert!(
        counts.contains(r#"<td class="count">1</td><td>Excluded: in PROCESSING: an agent is handling it</td>"#),
        "{counts}"
    );
    assert_eq!((text(&preview, "will-cancel"), text(&preview, "excluded-count")), ("4".into(), "1".into()));
    assert_eq!(listed(&preview, "bulk-excluded"), [busy.as_str()]);
    let first: Vec<String> = in_range.iter().filter(|id| **id != busy).cloned().collect();
    assert_eq!(listed(&preview, "bulk-included"), first);
    assert!(preview.html.contains(r#"<input type="hidden" name="range" value="1">"#));

    let csrf = list.csrf();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("range", "1"),
        ("from", "2026-03-03T00:00:00Z"),
        ("to", "2026-03-04T00:00:00Z"),
        ("page", "1"),
    ];
    // Without a dialog: the same result as a page, with the way back to the list as it was.
    let result = post_form(&app, "/callbacks/bulk-cancel", Some(&cookie), &fields).await;
    assert_eq!(result.status.as_u16(), 200, "{}", result.html);
    assert!(result.html.contains(r#"id="whoami""#), "a whole page");
    assert_eq!((text(&result, "cancelled-count"), text(&result, "skipped-count")), ("4".into(), "1".into()));
    assert_eq!(listed(&result, "bulk-skipped"), [busy.as_str()]);
    assert!(result.html.contains(&format!(r#"href="/callbacks?{}&amp;page=1""#, DAY.replace('&', "&amp;"))));
    for id in &first {
        assert_eq!(state_of(&app, id).await, ("COMPLETED".into(), "CANCELLED_BY_ADMIN".into()));
    }
    assert_eq!(state_of(&app, &busy).await.0, "PROCESSING");
    assert_eq!(state_of(&app, &next_day).await.0, "SCHEDULED", "outside the range");
    let (_, rows) = csv_with_cookie(&app, &attr(&result, "download-report", "href"), &cookie).await;
    assert_eq!(rows.len(), 5);

    // A range needs both bounds.
    let unbounded = get_fragment(&app, "/callbacks/bulk-cancel?range=1&from=2026-03-03T00:00:00Z", &cookie).await;
    assert_eq!(unbounded.status.as_u16(), 422);
    assert!(unbounded.html.contains(r#"class="form-error" role="alert""#), "{}", unbounded.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_has_no_select_cells_or_bulk_buttons_and_is_refused() {
    let app = TestApp::spawn().await;
    app.create_user("molly", Role::Monitor, json!({})).await;
    let a = scheduled(&app, 1, "2026-03-03T10:00:00Z").await;
    let cookie = sign_in(&app, "molly").await;

    let list = get(&app, &format!("/callbacks?{DAY}"), Some(&cookie)).await;
    assert_eq!(list.count("<tr data-id="), 1);
    for absent in ["select-all", "select-row", "bulk-toolbar", "bulk-cancel", "bulk-delete", "export-csv"] {
        assert!(!list.html.contains(absent), "a monitor sees no {absent}");
    }
    let csrf = list.csrf();
    for path in [with_ids("/callbacks/bulk-cancel", &[&a], ""), format!("/callbacks/bulk-cancel?range=1&{DAY}")] {
        let refused = get(&app, &path, Some(&cookie)).await;
        assert_eq!(refused.status.as_u16(), 403, "{path}");
        assert!(refused.html.contains(r#"role="alert""#));
    }
    assert_eq!(get(&app, &with_ids("/callbacks/bulk-delete", &[&a], ""), Some(&cookie)).await.status.as_u16(), 403);
    let post = post_form(&app, "/callbacks/bulk-cancel", Some(&cookie), &[("csrf_token", &csrf), ("ids", &a)]).await;
    assert_eq!(post.status.as_u16(), 403);
    let post = post_form(&app, "/callbacks/bulk-delete", Some(&cookie), &[("csrf_token", &csrf), ("ids", &a)]).await;
    assert_eq!(post.status.as_u16(), 403);
    assert_eq!(state_of(&app, &a).await.0, "SCHEDULED");
    // Nor may a monitor export through the API with the cookie.
    let export = app
        .client
        .get(format!("{}/api/v1/callbacks.csv", app.addr))
        .header("cookie", format!("rebound_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_delete_is_for_admins_and_deletes_each_selected_callback() {
    let app = TestApp::spawn().await;
    app.create_user("sam", Role::Supervisor, json!({})).await;
    app.create_user("ada", Role::Admin, json!({})).await;
    let a = scheduled(&app, 1, "2026-03-03T10:00:00Z").await;
    let b = scheduled(&app, 2, "2026-03-03T11:00:00Z").await;
    let kept = scheduled(&app, 3, "2026-03-03T12:00:00Z").await;

    let sam = sign_in(&app, "sam").await;
    let sam_csrf = get(&app, "/callbacks", Some(&sam)).await.csrf();
    assert_eq!(get(&app, &with_ids("/callbacks/bulk-delete", &[&a], ""), Some(&sam)).await.status.as_u16(), 403);
    let refused =
        post_form(&app, "/callbacks/bulk-delete", Some(&sam), &[("csrf_token", &sam_csrf), ("ids", &a)]).await;
    assert_eq!(refused.status.as_u16(), 403);
    assert_eq!(state_of(&app, &a).await.0, "SCHEDULED");

    let ada = sign_in(&app, "ada").await;
    let list = get(&app, "/callbacks", Some(&ada)).await;
    assert!(tag(&list, "bulk-delete").contains(r#"formaction="/callbacks/bulk-delete""#));
    let unknown = "0190a0e4-0000-7000-8000-000000000000".to_string();
    let preview = get_fragment(&app, &with_ids("/callbacks/bulk-delete", &[&a, &b, &unknown], ""), &ada).await;
    assert_eq!(preview.status.as_u16(), 200, "{}", preview.html);
    assert_eq!(listed(&preview, "bulk-delete-list"), [a.clone(), b.clone(), unknown.clone()]);
    assert_eq!(text(&preview, "will-delete"), "2");
    assert!(table(&preview, "bulk-delete-list").contains("not found"));

    let fields = [("csrf_token", list.csrf()), ("ids", a.clone()), ("ids", b.clone()), ("ids", unknown.clone())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let result = post_fragment(&app, "/callbacks/bulk-delete", &ada, &fields).await;
    assert_eq!(result.status.as_u16(), 200, "{}", result.html);
    assert!(tag(&result, "bulk-delete-result").contains("data-reload-on-close"));
    assert_eq!((text(&result, "deleted-count"), text(&result, "not-deleted-count")), ("2".into(), "1".into()));
    assert_eq!(listed(&result, "bulk-delete-failed"), [unknown]);
    for gone in [&a, &b] {
        app.get(&format!("/callbacks/{gone}")).await.expect_error(404, "not_found");
    }
    assert_eq!(state_of(&app, &kept).await.0, "SCHEDULED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_link_downloads_exactly_the_rows_of_the_current_filters() {
    let app = TestApp::spawn().await;
    app.create_user("sam", Role::Supervisor, json!({})).await;
    let other_queue = app.create_queue(app.campaign_id(), json!({})).await["id"].as_i64().unwrap();
    let mut expected = Vec::new();
    for (n, hour) in (1..).zip(["15", "09", "12"]) {
        expected.push(scheduled(&app, n, &format!("2026-03-03T{hour}:00:00Z")).await);
    }
    let busy = scheduled(&app, 4, "2026-03-03T10:00:00Z").await;
    app.drive(&busy, &[Action::Promote, Action::Reserve, Action::Accept]).await;
    scheduled(&app, 5, "2026-03-04T10:00:00Z").await;
    let elsewhere = json!({"type": "queue", "campaign_id": app.campaign_id(), "queue_id": other_queue,
                          "phone": "+442079460006", "desired_time": "2026-03-03T10:30:00Z"});
    app.post("/callbacks", elsewhere).await.expect(201);
    let cookie = sign_in(&app, "sam").await;

    let view = format!("/callbacks?{DAY}&state=SCHEDULED&queue_id={}&sort=-desired_time&page=1", app.queue_id());
    let list = get(&app, &view, Some(&cookie)).await;
    assert_eq!(list.count("<tr data-id="), 3, "{}", list.html);
    let href = attr(&list, "export-csv", "href");
    assert!(tag(&list, "export-csv").contains(" download"), "{}", tag(&list, "export-csv"));
    assert!(!href.contains("page="), "the file holds every matching row: {href}");
    let (header, rows) = csv_with_cookie(&app, &href, &cookie).await;
    assert_eq!(header[..4], ["id", "type", "origin", "state"]);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    // Exactly the filtered rows, in the list's order (latest first).
    assert_eq!(ids, [expected[0].as_str(), expected[2].as_str(), expected[1].as_str()]);

    // A sort the export cannot keep is dropped, not refused.
    let by_phone = get(&app, &format!("/callbacks?{DAY}&sort=phone"), Some(&cookie)).await;
    let (_, rows) = csv_with_cookie(&app, &attr(&by_phone, "export-csv", "href"), &cookie).await;
    assert_eq!(rows.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_scoped_to_one_campaign_cancels_only_in_it() {
    let app = TestApp::spawn().await;
    let other = app.create_campaign("Leeds", "Europe/London", "GB").await;
    let other_queue = app.create_queue(other["id"].as_i64().unwrap(), json!({})).await;
    app.create_user("sam", Role::Supervisor, json!({"scope": {"campaigns": [app.campaign_id()]}})).await;
    let mine = scheduled(&app, 1, "2026-03-03T10:00:00Z").await;
    let body = json!({"type": "queue", "campaign_id": other["id"], "queue_id": other_queue["id"],
                      "phone": "+442079460002", "desired_time": "2026-03-03T10:00:00Z"});
    let theirs = id_of(&app.post("/callbacks", body).await.expect(201));
    let cookie = sign_in(&app, "sam").await;
    let list = get(&app, &format!("/callbacks?{DAY}"), Some(&cookie)).await;
    assert_eq!(list.count(r#"class="select-row""#), 1, "only the scope's rows");

    // An id from elsewhere reads as unknown, with nothing about it shown.
    let preview = get_fragment(&app, &with_ids("/callbacks/bulk-cancel", &[&mine, &theirs], ""), &cookie).await;
    assert_eq!(listed(&preview, "bulk-excluded"), [theirs.as_str()]);
    assert!(!table(&preview, "bulk-excluded").contains("+442079460002"));
    let fields = [("csrf_token", list.csrf()), ("ids", mine.clone()), ("ids", theirs.clone())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let result = post_fragment(&app, "/callbacks/bulk-cancel", &cookie, &fields).await;
    assert_eq!(text(&result, "cancelled-count"), "1");

    // The range, too, cancels only in the scope.
    let range = get_fragment(&app, &format!("/callbacks/bulk-cancel?range=1&{DAY}"), &cookie).await;
    assert_eq!(text(&range, "will-cancel"), "0", "{}", range.html);
    assert!(tag(&range, "confirm-bulk-cancel").contains("disabled"));
    assert_eq!(state_of(&app, &mine).await.0, "COMPLETED");
    assert_eq!(state_of(&app, &theirs).await.0, "SCHEDULED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_changes_need_the_forms_csrf_token() {
    let app = TestApp::spawn().await;
    app.create_user("ada", Role::Admin, json!({})).await;
    let a = scheduled(&app, 1, "2026-03-03T10:00:00Z").await;
    let cookie = sign_in(&app, "ada").await;
    let forged = "0".repeat(64);
    for path in ["/callbacks/bulk-cancel", "/callbacks/bulk-delete"] {
        for fields in [vec![("ids", a.as_str())], vec![("csrf_token", forged.as_str()), ("ids", a.as_str())]] {
            let refused = post_fragment(&app, path, &cookie, &fields).await;
            assert_eq!(refused.status.as_u16(), 403, "{path} {fields:?}");
            assert!(refused.html.contains("CSRF"), "{}", refused.html);
        }
    }
    let range = [
        ("csrf_token", forged.as_str()),
        ("range", "1"),
        ("from", "2026-03-03T00:00:00Z"),
        ("to", "2026-03-04T00:00:00Z"),
    ];
    assert_eq!(post_form(&app, "/callbacks/bulk-cancel", Some(&cookie), &range).await.status.as_u16(), 403);
    assert_eq!(state_of(&app, &a).await.0, "SCHEDULED");
    // Junk selections are refused on the page, not answered with a fault.
    let junk = get_fragment(&app, "/callbacks/bulk-cancel?ids=nope", &cookie).await;
    assert_eq!(junk.status.as_u16(), 422);
    let none = get_fragment(&app, "/callbacks/bulk-cancel", &cookie).await;
    assert_eq!(none.status.as_u16(), 422);
    assert!(none.html.contains("select at least one callback"));
}
