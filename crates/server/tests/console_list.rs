//! The callbacks list's searching and display options through the real router: column search,
//! advanced filters, sorting, the per-user options (24-hour clock, UTC, hidden columns, visible
//! states and services) saved and applied, saved date ranges, Tools › Callback search, and CSRF on
//! every form that changes something.

mod common;

use common::TestApp;
use common::console::{Page, get, get_fragment, post_form, post_fragment, sign_in};
use rebound_domain::access::Role;
use rebound_domain::state::Action;
use serde_json::{Value, json};

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("a numeric id")
}

fn cb_id(v: &Value) -> String {
    v["id"].as_str().expect("a callback id").to_string()
}

/// The callback ids of a page's rows, in order.
fn rows(page: &Page) -> Vec<String> {
    page.html.split(r#"<tr data-id=""#).skip(1).map(|rest| rest.split('"').next().unwrap().to_string()).collect()
}

/// The opening tag of the element with `id`.
fn tag<'a>(page: &'a Page, id: &str) -> &'a str {
    let needle = format!(r#"id="{id}""#);
    let at = page.html.find(&needle).unwrap_or_else(|| panic!("no #{id} in {}", page.html));
    let start = page.html[..at].rfind('<').unwrap();
    let end = at + page.html[at..].find('>').unwrap();
    &page.html[start..=end]
}

/// The `href` of the link with `id`, unescaped.
fn href(page: &Page, id: &str) -> String {
    let tag = tag(page, id);
    tag.split(r#"href=""#).nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&")
}

/// What the supervisor looks at: two campaigns, an agent, a list, a wrap code and five callbacks.
struct Fixture {
    app: TestApp,
    sydney: i64,
    sydney_queue: i64,
    agent: i64,
    list: i64,
    /// London queue, 15:30 UTC on Tuesday 3 March, notes "vip", lead of `list`.
    afternoon: String,
    /// London queue, 10:00 UTC, then cancelled.
    cancelled: String,
    /// Sydney queue, 23:00 UTC (10:00 on the 4th in Sydney).
    sydney_cb: String,
    /// Agent callback for Ann, 09:30 UTC.
    for_ann: String,
    /// London queue, 16:00 UTC, then promoted to QUEUED.
    queued: String,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let sydney = app.create_campaign("Sydney", "Australia/Sydney", "AU").await;
    let sydney_queue = app.create_queue(id_of(&sydney), json!({"name": "Harbour"})).await;
    let agent = app.create_agent("ann", json!({"name": "Ann Agent"})).await;
    let list = app.post("/lists", json!({"name": "Spring leads", "fields": []})).await.expect(201);
    let lead = app.post("/leads", json!({"list_id": id_of(&list), "phones": ["+442079460001"]})).await.expect(201);
    app.post("/wrap-codes", json!({"campaign_id": app.campaign_id(), "code": "CB1H", "label": "Call back in an hour"}))
        .await
        .expect(201);
    let create = |body: Value| {
        let app = &app;
        async move { cb_id(&app.post("/callbacks", body).await.expect(201)) }
    };
    let afternoon = create(app.queue_callback(
        "+442079460001",
        json!({"desired_time": "2026-03-03T15:30:00Z", "notes": "vip", "lead_id": id_of(&lead)}),
    ))
    .await;
    let cancelled = create(app.queue_callback("020 7946 0002", json!({"desired_time": "2026-03-03T10:00:00Z"}))).await;
    app.post(&format!("/callbacks/{cancelled}/cancel"), json!({})).await.expect(200);
    let sydney_cb = create(json!({"type": "queue", "campaign_id": id_of(&sydney), "queue_id": id_of(&sydney_queue),
                                  "phone": "0262160100", "desired_time": "2026-03-04T10:00:00+11:00"}))
    .await;
    let for_ann = create(json!({"type": "agent", "campaign_id": app.campaign_id(), "agent_id": id_of(&agent),
                                "phone": "+442079460004", "desired_time": "2026-03-03T09:30:00Z"}))
    .await;
    let queued = create(app.queue_callback("+442079460005", json!({"desired_time": "2026-03-03T16:00:00Z"}))).await;
    app.drive(&queued, &[Action::Promote]).await;
    Fixture {
        sydney: id_of(&sydney),
        sydney_queue: id_of(&sydney_queue),
        agent: id_of(&agent),
        list: id_of(&list),
        afternoon,
        cancelled,
        sydney_cb,
        for_ann,
        queued,
        app,
    }
}

/// A supervisor in New York (UTC-5 in early March) signed in; the session cookie.
async fn supervisor(app: &TestApp, username: &str) -> String {
    app.create_user(username, Role::Supervisor, json!({"timezone": "America/New_York"})).await;
    sign_in(app, username).await
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_has_its_filter_row_advanced_search_refresh_and_details_buttons_under_the_policy() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    let list = get(&f.app, "/callbacks", Some(&cookie)).await;
    assert_eq!(list.status.as_u16(), 200, "{}", list.html);
    assert_eq!(rows(&list).len(), 5);
    for id in [
        "refresh",
        "advanced-search",
        "quick-search",
        "phone",
        "adv-from",
        "adv-to",
        "adv-campaigns",
        "adv-lists",
        "adv-queues",
        "adv-type",
        "adv-agents",
        "adv-wrap-code",
        "adv-states",
        "preset-today",
        "preset-tomorrow",
        "preset-yesterday",
        "preset-this-week",
        "preset-next-7-days",
        "preset-last-14-days",
        "all-dates",
    ] {
        tag(&list, id);
    }
    // Every filter input has its label, and belongs to the search form.
    for column in ["state", "phone", "campaign", "list", "queue", "agent", "lead", "wrap_code"] {
        assert!(list.html.contains(&format!(r#"<label class="visually-hidden" for="filter-{column}">"#)), "{column}");
        let input = tag(&list, &format!("filter-{column}"));
        assert!(input.contains(r#"form="quick-search""#) && input.contains(r#"type="search""#), "{input}");
    }
    assert_eq!(list.count(r#"<button class="expand" type="button" aria-expanded="false""#), 5);
    assert!(list.html.contains(r#"<tbody data-events-after=""#));
    // The advanced search offers what the API filters by (outbound campaigns, lists, queues, agents,
    // wrap codes), folded while none of it is in use.
    assert!(!tag(&list, "advanced-search").contains("open"));
    for needle in [
        "Sydney</option>",
        "Spring leads</option>",
        "Harbour</option>",
        "Ann Agent</option>",
        "CB1H — Call back in an hour",
    ] {
        assert!(list.html.contains(needle), "{needle}");
    }
    // Only this origin's module scripts, no inline styles.
    assert_eq!(list.count("<script"), list.count(r#"<script type="module" src="#));
    assert_eq!((list.count("<style"), list.count("style=")), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_filter_searches_that_column_one_at_a_time() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;

    let sydney = get(&f.app, "/callbacks?q.campaign=SYDN", Some(&cookie)).await;
    assert_eq!(rows(&sydney), vec![f.sydney_cb.clone()]);
    assert!(tag(&sydney, "filter-campaign").contains(r#"value="SYDN""#));
    assert!(tag(&sydney, "filter-phone").contains(r#"value="""#), "the other filters are empty");
    // Links carry the API's own parameters.
    assert!(href(&sydney, "sort-phone").contains("q=SYDN&q_field=campaign"), "{}", href(&sydney, "sort-phone"));

    // The API's spelling reads the same.
    let same = get(&f.app, "/callbacks?q=sydn&q_field=campaign", Some(&cookie)).await;
    assert_eq!(rows(&same), vec![f.sydney_cb.clone()]);
    assert!(tag(&same, "filter-campaign").contains(r#"value="sydn""#));

    let by_phone = get(&f.app, "/callbacks?q.phone=9460001", Some(&cookie)).await;
    assert_eq!(rows(&by_phone), vec![f.afternoon.clone()]);
    let by_agent = get(&f.app, "/callbacks?q.agent=ann", Some(&cookie)).await;
    assert_eq!(rows(&by_agent), vec![f.for_ann.clone()]);
    let by_state = get(&f.app, "/callbacks?q.state=queu", Some(&cookie)).await;
    assert_eq!(rows(&by_state), vec![f.queued.clone()]);
    let by_list = get(&f.app, "/callbacks?q.list=spring", Some(&cookie)).await;
    assert_eq!(rows(&by_list), vec![f.afternoon.clone()]);
    // Empty filters (a form sends them all) are no filter.
    let empty = get(&f.app, "/callbacks?q.campaign=&q.phone=&phone=", Some(&cookie)).await;
    assert_eq!(rows(&empty).len(), 5);

    // The API searches one column at a time: two filled filters are refused on the page.
    let two = get(&f.app, "/callbacks?q.campaign=syd&q.phone=0262", Some(&cookie)).await;
    assert_eq!(two.status.as_u16(), 422);
    assert!(two.html.contains("one column at a time"), "{}", two.html);
    assert!(tag(&two, "page-error").contains(r#"role="alert""#));
    assert!(rows(&two).is_empty() && two.html.contains(r#"<tr class="filters">"#), "the filters stay to fix it");

    // A text search in a column the table does not show says so, with a way to clear it.
    let notes = get(&f.app, "/callbacks?q=VIP&q_field=notes", Some(&cookie)).await;
    assert_eq!(rows(&notes), vec![f.afternoon.clone()]);
    assert!(notes.html.contains("Searching “VIP” in notes"), "{}", notes.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advanced_search_applies_every_filter_of_the_api() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    let app = &f.app;
    let campaign = app.campaign_id();
    let check = |query: String, expected: Vec<&String>| {
        let cookie = cookie.clone();
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        async move {
            let page = get(app, &format!("/callbacks?{query}"), Some(&cookie)).await;
            assert_eq!(page.status.as_u16(), 200, "{query}: {}", page.html);
            assert_eq!(sorted(rows(&page)), sorted(expected), "{query}");
            page
        }
    };
    let by_campaign = check(format!("campaign_id={}", f.sydney), vec![&f.sydney_cb]).await;
    assert!(tag(&by_campaign, "advanced-search").contains("open"), "in use, it opens");
    assert!(by_campaign.html.contains(&format!(r#"<option value="{}" selected>Sydney</option>"#, f.sydney)));
    check(
        format!("campaign_id={}&campaign_id={campaign}", f.sydney),
        vec![&f.afternoon, &f.cancelled, &f.sydney_cb, &f.for_ann, &f.queued],
    )
    .await;
    check(format!("list_id={}", f.list), vec![&f.afternoon]).await;
    check(format!("queue_id={}", f.sydney_queue), vec![&f.sydney_cb]).await;
    check("type=agent".into(), vec![&f.for_ann]).await;
    let by_agent = check(format!("type=agent&agent_id={}", f.agent), vec![&f.for_ann]).await;
    assert!(by_agent.html.contains(r#"<option value="agent" selected>"#));
    check("state=QUEUED&state=COMPLETED".into(), vec![&f.queued, &f.cancelled]).await;
    let completed = check("state=COMPLETED".into(), vec![&f.cancelled]).await;
    assert!(tag(&completed, "adv-state-COMPLETED").contains("checked"));
    assert!(!tag(&completed, "adv-state-QUEUED").contains("checked"));
    check("wrap_code=CB1H".into(), vec![]).await;
    // From and to as the form sends them: local times in the user's zone (New York, UTC-5).
    // 10:00–11:00 in New York is 15:00–16:00 UTC: only the 15:30 callback.
    let ranged =
        check("from=2026-03-03T10:00&to=2026-03-03T11:00&timezone=America/New_York".into(), vec![&f.afternoon]).await;
    assert!(tag(&ranged, "adv-from").contains(r#"value="2026-03-03T10:00""#), "{}", tag(&ranged, "adv-from"));
    assert!(tag(&ranged, "adv-to").contains(r#"value="2026-03-03T11:00""#));
    // A range the presets gave (UTC) shows in the user's zone too, and can be saved.
    let preset = check(
        "from=2026-03-03T05:00:00Z&to=2026-03-04T05:00:00Z".into(),
        vec![&f.afternoon, &f.cancelled, &f.sydney_cb, &f.for_ann, &f.queued],
    )
    .await;
    assert!(tag(&preset, "adv-from").contains(r#"value="2026-03-03T00:00""#));
    assert!(href(&preset, "save-range").starts_with("/options/ranges/new?from=2026-03-03T05%3A00%3A00Z"));
    // The API's refusals show on the page.
    let refused = get(app, "/callbacks?from=2026-03-04T00:00&to=2026-03-03T00:00&timezone=UTC", Some(&cookie)).await;
    assert_eq!(refused.status.as_u16(), 422);
    assert!(refused.html.contains("to must be after from"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_by_a_column_orders_the_rows_and_marks_its_header() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    // Default: desired time, earliest first, marked on its header.
    let default = get(&f.app, "/callbacks", Some(&cookie)).await;
    let by_time =
        vec![f.for_ann.clone(), f.cancelled.clone(), f.afternoon.clone(), f.queued.clone(), f.sydney_cb.clone()];
    assert_eq!(rows(&default), by_time);
    assert!(default.html.contains(r#"<th scope="col" data-column="desired_time" aria-sort="ascending">"#));
    assert_eq!(href(&default, "sort-desired_time"), "/callbacks?sort=-desired_time");
    assert_eq!(href(&default, "sort-phone"), "/callbacks?sort=phone");

    let phone = get(&f.app, &href(&default, "sort-phone"), Some(&cookie)).await;
    let by_phone =
        vec![f.afternoon.clone(), f.cancelled.clone(), f.for_ann.clone(), f.queued.clone(), f.sydney_cb.clone()];
    assert_eq!(rows(&phone), by_phone);
    assert!(phone.html.contains(r#"data-column="phone" aria-sort="ascending""#));
    assert!(!phone.html.contains(r#"data-column="desired_time" aria-sort"#));
    let descending = get(&f.app, &href(&phone, "sort-phone"), Some(&cookie)).await;
    assert_eq!(rows(&descending), by_phone.into_iter().rev().collect::<Vec<_>>());
    assert!(descending.html.contains(r#"data-column="phone" aria-sort="descending""#));
    // The search form keeps the sort; paging and filters keep it too.
    assert!(descending.html.contains(r#"<input type="hidden" name="sort" value="-phone">"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_are_saved_per_user_and_change_how_the_list_shows_times_and_columns() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    let other = supervisor(&f.app, "tess").await;

    let options = get(&f.app, "/options", Some(&cookie)).await;
    assert_eq!(options.status.as_u16(), 200, "{}", options.html);
    assert!(options.html.contains(r#"<form id="options" method="post" action="/options">"#));
    assert!(tag(&options, "clock-24h").contains("checked"), "24-hour by default");
    assert!(!tag(&options, "times-utc").contains("checked"));
    assert!(tag(&options, "column-campaign").contains("checked") && !tag(&options, "column-notes").contains("checked"));
    for id in ["clock-24h", "times-utc", "column-phone", "visible-state-QUEUED"] {
        assert!(options.html.contains(&format!(r#"<label for="{id}">"#)), "{id}");
    }
    let csrf = options.csrf();

    // Before: New York time, 24-hour clock, every default column.
    let before = get(&f.app, "/callbacks", Some(&cookie)).await;
    assert!(before.html.contains("2026-03-03 10:30"), "{}", before.html);
    assert!(before.html.contains(r#"data-column="campaign""#));

    let fields = [
        ("column", "state"),
        ("column", "phone"),
        ("column", "desired_time"),
        ("column", "notes"),
        ("times_utc", "on"),
    ];
    let forged = post_form(&f.app, "/options", Some(&cookie), &fields).await;
    assert_eq!(forged.status.as_u16(), 403, "no CSRF token, no change");
    let mut with_token = fields.to_vec();
    with_token.push(("csrf_token", &csrf));
    let saved = post_form(&f.app, "/options", Some(&cookie), &with_token).await;
    assert_eq!((saved.status.as_u16(), saved.location()), (303, "/options?saved=1"), "{}", saved.html);
    let after_save = get(&f.app, saved.location(), Some(&cookie)).await;
    assert!(tag(&after_save, "options-saved").contains(r#"role="status""#));
    assert!(!tag(&after_save, "clock-24h").contains("checked") && tag(&after_save, "times-utc").contains("checked"));

    // After: UTC on a 12-hour clock, only the chosen columns (headers, filters and cells).
    let list = get(&f.app, "/callbacks", Some(&cookie)).await;
    assert!(list.html.contains("2026-03-03 3:30 PM"), "{}", list.html);
    assert!(!list.html.contains("2026-03-03 10:30"));
    assert!(list.html.contains("Times in UTC"));
    let headers: Vec<&str> =
        list.html.split(r#"data-column=""#).skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(headers, ["state", "phone", "desired_time", "notes"]);
    assert!(!list.html.contains(r#"id="filter-campaign""#) && list.html.contains(r#"id="filter-notes""#));
    assert!(list.html.contains(">vip</td>"), "the notes column shows");
    // The search page uses them too.
    let search = get(&f.app, &format!("/search?q={}", f.afternoon), Some(&cookie)).await;
    assert!(search.html.contains("2026-03-03 3:30 PM"), "{}", search.html);

    // Another user's list is as it was.
    let theirs = get(&f.app, "/callbacks", Some(&other)).await;
    assert!(theirs.html.contains("2026-03-03 10:30") && theirs.html.contains(r#"data-column="campaign""#));

    // A 12-hour clock in the user's own zone.
    let local = [("column", "desired_time"), ("csrf_token", csrf.as_str())];
    assert_eq!(post_form(&f.app, "/options", Some(&cookie), &local).await.status.as_u16(), 303);
    let twelve = get(&f.app, "/callbacks", Some(&cookie)).await;
    assert!(twelve.html.contains("2026-03-03 10:30 AM") && twelve.html.contains("Times in America/New_York"));

    // At least one column must show.
    let none =
        post_form(&f.app, "/options", Some(&cookie), &[("csrf_token", csrf.as_str()), ("clock_24h", "on")]).await;
    assert_eq!(none.status.as_u16(), 422);
    assert!(none.html.contains("choose at least one column"), "{}", none.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visible_states_and_services_narrow_the_list_unless_the_query_names_its_own() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    let csrf = get(&f.app, "/options", Some(&cookie)).await.csrf();
    let queue = f.app.queue_id().to_string();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("column", "state"),
        ("column", "phone"),
        ("clock_24h", "on"),
        ("state", "SCHEDULED"),
        ("state", "QUEUED"),
        ("queue", queue.as_str()),
    ];
    assert_eq!(post_form(&f.app, "/options", Some(&cookie), &fields).await.status.as_u16(), 303);
    let options = get(&f.app, "/options", Some(&cookie)).await;
    assert!(tag(&options, "visible-state-QUEUED").contains("checked"));
    assert!(!tag(&options, "visible-state-COMPLETED").contains("checked"));
    assert!(tag(&options, &format!("visible-queue-{queue}")).contains("checked"));

    // Scheduled or queued, in the London queue: not the cancelled one, not Sydney's, not Ann's.
    let list = get(&f.app, "/callbacks", Some(&cookie)).await;
    assert_eq!(sorted(rows(&list)), sorted(vec![f.afternoon.clone(), f.queued.clone()]));
    let note = tag(&list, "options-filter");
    assert!(note.contains("note"), "{note}");
    assert!(list.html.contains("the states SCHEDULED, QUEUED"), "{}", list.html);
    // The links do not carry the options' filters: they are applied afresh on each page.
    assert_eq!(href(&list, "sort-phone"), "/callbacks?sort=phone");
    // A query that names states or queues of its own shows those.
    let completed = get(&f.app, "/callbacks?state=COMPLETED", Some(&cookie)).await;
    assert_eq!(rows(&completed), vec![f.cancelled.clone()]);
    let harbour = get(&f.app, &format!("/callbacks?queue_id={}", f.sydney_queue), Some(&cookie)).await;
    assert_eq!(rows(&harbour), vec![f.sydney_cb.clone()]);
    assert!(!harbour.html.contains("the queues"), "no queue default when the query names one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_date_ranges_appear_beside_the_presets_until_deleted() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    let csrf = get(&f.app, "/options", Some(&cookie)).await.csrf();
    let relative = [("name", "Next 3 days"), ("kind", "relative"), ("direction", "next"), ("days", "3")];
    let no_token = post_form(&f.app, "/options/ranges", Some(&cookie), &relative).await;
    assert_eq!(no_token.status.as_u16(), 403);
    let mut fields = relative.to_vec();
    fields.push(("csrf_token", &csrf));
    let added = post_form(&f.app, "/options/ranges", Some(&cookie), &fields).await;
    assert_eq!((added.status.as_u16(), added.location()), (303, "/options"), "{}", added.html);
    // A fixed range, in the user's zone (New York): 3 March 00:00 to 4 March 00:00 there.
    let fixed = [
        ("csrf_token", csrf.as_str()),
        ("name", "Tuesday <b>3rd</b>"),
        ("kind", "fixed"),
        ("from", "2026-03-03T00:00"),
        ("to", "2026-03-04T00:00"),
    ];
    assert_eq!(post_form(&f.app, "/options/ranges", Some(&cookie), &fixed).await.status.as_u16(), 303);

    let list = get(&f.app, "/callbacks", Some(&cookie)).await;
    // Now is Monday 2 March 05:00 in New York: the next 3 days run from its midnight (05:00 UTC).
    assert_eq!(href(&list, "range-1"), "/callbacks?from=2026-03-02T05%3A00%3A00Z&to=2026-03-05T05%3A00%3A00Z");
    assert!(list.html.contains(">Next 3 days</a>"));
    assert_eq!(href(&list, "range-2"), "/callbacks?from=2026-03-03T05%3A00%3A00Z&to=2026-03-04T05%3A00%3A00Z");
    assert!(list.html.contains("Tuesday &lt;b&gt;3rd&lt;/b&gt;"), "names are text");
    let tuesday = get(&f.app, &href(&list, "range-2"), Some(&cookie)).await;
    assert!(tag(&tuesday, "range-2").contains(r#"aria-current="true""#));
    // 3 March in New York: everything but Sydney's (04:00 UTC on the 4th is 23:00 on the 3rd there).
    assert_eq!(rows(&tuesday).len(), 5, "{}", tuesday.html);

    // The options page lists them, and refuses a range that does not read.
    let options = get(&f.app, "/options", Some(&cookie)).await;
    assert!(options.html.contains("the next 3 days, today included"), "{}", options.html);
    assert!(options.html.contains("2026-03-03 00:00 to 2026-03-04 00:00 (America/New_York)"));
    for (bad, message) in [
        (vec![("name", "x"), ("kind", "relative"), ("days", "0")], "between 1 and 366"),
        (vec![("name", " "), ("kind", "relative"), ("days", "3")], "give the range a name"),
        (vec![("name", "x"), ("kind", "fixed"), ("from", "2026-03-04T00:00"), ("to", "2026-03-03T00:00")], "end after"),
    ] {
        let mut bad = bad;
        bad.push(("csrf_token", &csrf));
        let refused = post_form(&f.app, "/options/ranges", Some(&cookie), &bad).await;
        assert_eq!(refused.status.as_u16(), 422, "{bad:?}");
        assert!(refused.html.contains(message) && refused.html.contains(r#"class="form-error""#), "{}", refused.html);
    }

    // Deleting one (with the token) leaves the other.
    assert_eq!(post_form(&f.app, "/options/ranges/1/delete", Some(&cookie), &[]).await.status.as_u16(), 403);
    let deleted = post_form(&f.app, "/options/ranges/1/delete", Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!((deleted.status.as_u16(), deleted.location()), (303, "/options"));
    let list = get(&f.app, "/callbacks", Some(&cookie)).await;
    assert!(!list.html.contains(r#"id="range-1""#) && list.html.contains(r#"id="range-2""#));
    let again = post_form(&f.app, "/options/ranges/1/delete", Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(again.status.as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_range_is_saved_from_the_list_in_a_dialog() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    let list =
        get(&f.app, "/callbacks?from=2026-03-03T05:00:00Z&to=2026-03-04T05:00:00Z&state=SCHEDULED", Some(&cookie))
            .await;
    let save = href(&list, "save-range");
    assert!(tag(&list, "save-range").contains("data-dialog"));
    let dialog = get_fragment(&f.app, &save, &cookie).await;
    assert_eq!(dialog.status.as_u16(), 200);
    assert!(!dialog.html.contains("<html"), "only the dialog's content");
    assert!(tag(&dialog, "range-kind-fixed").contains("checked"));
    assert!(tag(&dialog, "range-from").contains(r#"value="2026-03-03T00:00""#), "{}", dialog.html);
    assert!(tag(&dialog, "range-to").contains(r#"value="2026-03-04T00:00""#));
    let return_to = "/callbacks?from=2026-03-03T05%3A00%3A00Z&to=2026-03-04T05%3A00%3A00Z&state=SCHEDULED";
    assert!(dialog.html.contains(&format!(r#"name="return_to" value="{}""#, return_to.replace('&', "&amp;"))));

    let csrf = list.csrf();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("return_to", return_to),
        ("name", "Promo day"),
        ("kind", "fixed"),
        ("from", "2026-03-03T00:00"),
        ("to", "2026-03-04T00:00"),
    ];
    let done = post_fragment(&f.app, "/options/ranges", &cookie, &fields).await;
    assert_eq!(done.status.as_u16(), 204, "{}", done.html);
    assert_eq!(done.headers["x-rebound-location"], return_to);
    let refused = post_fragment(&f.app, "/options/ranges", &cookie, &fields[..3]).await;
    assert_eq!(refused.status.as_u16(), 422);
    assert!(!refused.html.contains("<html") && refused.html.contains(r#"id="new-range""#));
    let back = get(&f.app, return_to, Some(&cookie)).await;
    assert!(tag(&back, "range-1").contains(r#"aria-current="true""#), "the saved range is the current one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_search_finds_by_id_or_any_phone_format_across_all_time() {
    let f = fixture().await;
    let cookie = supervisor(&f.app, "sam").await;
    let empty = get(&f.app, "/search", Some(&cookie)).await;
    assert_eq!(empty.status.as_u16(), 200);
    assert!(empty.html.contains(r#"<form id="callback-search" method="get" action="/search" role="search">"#));
    assert!(empty.html.contains(r#"<label for="search-q">"#));
    assert!(!empty.html.contains("search-results"));
    assert!(empty.html.contains(r#"<a href="/search" aria-current="page">Search</a>"#), "the section is marked");

    let by_id = get(&f.app, &format!("/search?q={}", f.cancelled), Some(&cookie)).await;
    assert_eq!(rows(&by_id), vec![f.cancelled.clone()]);
    assert!(by_id.html.contains(r#"<table id="search-results">"#));
    assert!(by_id.html.contains(&format!(r#"href="/callbacks/{}" data-dialog"#, f.cancelled)));
    assert!(by_id.html.contains("CANCELLED_BY_ADMIN"), "completed ones too");

    // A national number, whatever range the list shows (today's has none of the fixture's).
    let today = get(&f.app, "/callbacks", Some(&cookie)).await;
    assert!(rows(&get(&f.app, &href(&today, "preset-today"), Some(&cookie)).await).is_empty());
    let national = get(&f.app, "/search?q=020+7946+0001", Some(&cookie)).await;
    assert_eq!(rows(&national), vec![f.afternoon.clone()], "{}", national.html);
    assert!(national.html.contains("1 callback found for “020 7946 0001”"), "{}", national.html);
    let e164 = get(&f.app, "/search?q=%2B61262160100", Some(&cookie)).await;
    assert_eq!(rows(&e164), vec![f.sydney_cb.clone()]);
    let none = get(&f.app, "/search?q=%2B442070000000", Some(&cookie)).await;
    assert!(rows(&none).is_empty() && none.html.contains("0 callbacks found"));

    // A scoped user finds only what their scope shows.
    let scope = json!({"campaigns": [f.sydney], "queues": []});
    f.app.create_user("sid", Role::Supervisor, json!({"scope": scope})).await;
    let scoped = sign_in(&f.app, "sid").await;
    assert!(rows(&get(&f.app, "/search?q=020+7946+0001", Some(&scoped)).await).is_empty());
    assert_eq!(rows(&get(&f.app, "/search?q=0262160100", Some(&scoped)).await), vec![f.sydney_cb.clone()]);
}
