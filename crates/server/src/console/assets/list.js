// The callbacks list (console/callbacks.rs), enhanced. Without this script every control still
// works: the column filters and the advanced search submit the search form, Refresh is a link.
// - Filtering as you type: a column filter reloads the rows in place (debounced) and keeps the
//   address up to date (history.replaceState); the filter row itself is never replaced, so focus
//   and caret stay where the user is typing.
// - Refresh reloads the rows in place.
// - Row details: the arrow of a row shows /callbacks/{id} (its details page, as a fragment) in a
//   row under it.
// - Live states: an EventSource on /api/v1/events for the callbacks on the page updates their
//   state cells as events arrive; the full cells (result, warnings) follow from one quiet reload of
//   the page a moment later.
// - The advanced search shows the lists, queues and wrap codes of the chosen campaigns, and the
//   agents only for agent callbacks.

const FRAGMENT = { "X-Rebound-Fragment": "1" };
const TYPING_DELAY_MS = 300;
const STATE_REFRESH_DELAY_MS = 800;
const CHANGED_MARK_MS = 4000;

const table = () => document.getElementById("callbacks");
const searchForm = () => document.getElementById("quick-search");

// ---- reloading the rows in place ---------------------------------------------------------------

let typingTimer = null;
let inFlight = null;

function onInput(event) {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.closest("#callbacks tr.filters")) return;
  // The list searches one column at a time: typing in one filter clears the others.
  for (const other of table().querySelectorAll("tr.filters input")) {
    if (other !== input && other.value) other.value = "";
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => reload(searchUrl()), TYPING_DELAY_MS);
}

// The search form's address (its fields, the column filters included), without empty fields.
function searchUrl() {
  const form = searchForm();
  const data = new FormData(form);
  const ranged = Boolean(data.get("from") || data.get("to"));
  const params = new URLSearchParams();
  for (const [key, value] of data) {
    if (typeof value !== "string" || value.trim() === "") continue;
    if (key === "timezone" && !ranged) continue;
    params.append(key, value);
  }
  const url = new URL(form.getAttribute("action") || window.location.pathname, window.location.href);
  url.search = params.toString();
  return url;
}

async function fetchPage(url, signal) {
  const response = await fetch(url, { credentials: "same-origin", signal });
  if (response.redirected && new URL(response.url).pathname === "/login") {
    window.location.assign("/login");
    return null;
  }
  return new DOMParser().parseFromString(await response.text(), "text/html");
}

// Loads `url` and shows its rows; the newest request wins.
async function reload(url) {
  if (inFlight) inFlight.abort();
  const mine = new AbortController();
  inFlight = mine;
  table().setAttribute("aria-busy", "true");
  try {
    const doc = await fetchPage(url, mine.signal);
    if (!doc || inFlight !== mine) return;
    if (!swap(doc)) {
      window.location.assign(url);
      return;
    }
    window.history.replaceState(null, "", url.pathname + url.search);
    announce(doc);
  } catch (error) {
    if (error.name !== "AbortError") setStatus("The list could not be reloaded", "offline");
  } finally {
    if (inFlight === mine) {
      inFlight = null;
      table().removeAttribute("aria-busy");
    }
  }
}

// Puts the fresh page's rows, headings, pager and notes in place of the current ones. The filter
// row stays (the user may be typing in it).
function swap(doc) {
  const live = table();
  const fresh = doc.getElementById("callbacks");
  if (!live || !fresh || !fresh.tBodies[0] || !live.tBodies[0]) return false;
  for (const id of ["list-above", "list-below", "refresh"]) {
    const now = document.getElementById(id);
    const next = doc.getElementById(id);
    if (now && next) now.replaceWith(next);
  }
  const nav = document.querySelector(".toolbar nav.presets");
  const freshNav = doc.querySelector(".toolbar nav.presets");
  if (nav && freshNav) nav.replaceWith(freshNav);
  const headings = live.querySelector("tr.headings");
  const freshHeadings = fresh.querySelector("tr.headings");
  if (headings && freshHeadings) headings.replaceWith(freshHeadings);
  live.tBodies[0].replaceWith(fresh.tBodies[0]);
  document.dispatchEvent(new CustomEvent("rebound:list-updated", { bubbles: true }));
  followNewRows();
  return true;
}

function announce(doc) {
  const region = document.getElementById("list-announce");
  const total = doc.getElementById("total");
  if (region) region.textContent = total ? `${total.textContent} callbacks` : "No callbacks listed";
}

// ---- clicks: refresh, row details --------------------------------------------------------------

function onClick(event) {
  if (!(event.target instanceof Element)) return;
  const refresh = event.target.closest("#refresh");
  if (refresh && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    reload(new URL(window.location.href));
    return;
  }
  const expand = event.target.closest("#callbacks button.expand");
  if (expand) {
    event.preventDefault();
    toggleDetails(expand);
  }
}

async function toggleDetails(button) {
  const row = button.closest("tr[data-id]");
  const id = row.dataset.id;
  const open = row.nextElementSibling;
  if (open && open.classList.contains("details") && open.dataset.for === id) {
    open.remove();
    button.setAttribute("aria-expanded", "false");
    button.textContent = "▸";
    return;
  }
  const details = document.createElement("tr");
  details.className = "details";
  details.id = `details-${id}`;
  details.dataset.for = id;
  const cell = document.createElement("td");
  cell.colSpan = row.cells.length;
  cell.textContent = "Loading…";
  details.append(cell);
  row.after(details);
  button.setAttribute("aria-expanded", "true");
  button.setAttribute("aria-controls", details.id);
  button.textContent = "▾";
  try {
    const response = await fetch(`/callbacks/${encodeURIComponent(id)}`, { headers: FRAGMENT, credentials: "same-origin" });
    const text = await response.text();
    if (response.ok) {
      cell.innerHTML = text;
    } else {
      cell.replaceChildren(failure(`Details are not available: ${refusal(response, text)}`));
    }
  } catch (error) {
    cell.replaceChildren(failure(`Details are not available: ${error}`));
  }
}

// The message of a refused request: the contract's JSON error, or an error page's alert.
function refusal(response, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) {
    const doc = new DOMParser().parseFromString(text, "text/html");
    const alert = doc.querySelector("#page-error, .form-error, [role=alert]");
    if (alert && alert.textContent.trim()) return alert.textContent.trim();
  }
  return `${response.status} ${response.statusText}`.trim();
}

function failure(message) {
  const p = document.createElement("p");
  p.className = "form-error";
  p.setAttribute("role", "alert");
  p.textContent = message;
  return p;
}

// ---- live states -------------------------------------------------------------------------------

let source = null;
let stateTimer = null;
// The newest event this page has seen (or the newest before its rows were read).
let lastEventId = "";

function setStatus(text, kind) {
  const status = document.getElementById("live-status");
  if (!status) return;
  status.textContent = text;
  status.dataset.kind = kind || "";
}

function closeStream() {
  if (source) source.close();
  source = null;
}

// (Re)subscribes for the callbacks on the page, after `lastEventId`. A browser keeps only a few
// connections per site (six over HTTP/1.1) and each stream holds one, so a page holds its stream
// only while it is shown: hidden tabs and pages left behind give theirs back, and pick up what
// they missed when they come back.
function subscribe() {
  closeStream();
  const body = table().tBodies[0];
  const rows = body ? body.querySelectorAll("tr[data-id]") : [];
  if (!rows.length || !("EventSource" in window) || document.visibilityState === "hidden") {
    setStatus("", "");
    return;
  }
  const params = new URLSearchParams();
  for (const row of rows) params.append("callback_id", row.dataset.id);
  if (lastEventId) params.set("after", lastEventId);
  const stream = new EventSource(`/api/v1/events?${params}`);
  source = stream;
  stream.addEventListener("open", () => setStatus("● Live", "live"));
  stream.addEventListener("error", () => {
    setStatus(stream.readyState === EventSource.CLOSED ? "Offline" : "Reconnecting…", "offline");
  });
  stream.addEventListener("callback", onEvent);
  stream.addEventListener("resync", scheduleStateRefresh);
}

// New rows: follow their events from when they were read.
function followNewRows() {
  const body = table().tBodies[0];
  lastEventId = (body && body.dataset.eventsAfter) || lastEventId;
  subscribe();
}

function onEvent(event) {
  if (event.lastEventId) lastEventId = event.lastEventId;
  let data;
  try {
    data = JSON.parse(event.data);
  } catch (_) {
    return;
  }
  const row = table() && table().querySelector(`tbody tr[data-id="${CSS.escape(String(data.callback_id))}"]`);
  if (!row) return;
  if (data.to_state && data.to_state !== row.dataset.state) {
    row.dataset.state = data.to_state;
    const state = row.querySelector("td.col-state .state");
    if (state) state.textContent = data.to_state;
    const result = row.querySelector("td.col-state .result");
    if (result) result.remove();
  }
  if (data.action === "deleted") row.classList.add("deleted");
  mark(row);
  scheduleStateRefresh();
}

function mark(row) {
  row.classList.remove("changed");
  void row.offsetWidth; // restart the highlight
  row.classList.add("changed");
  clearTimeout(row.changedTimer);
  row.changedTimer = setTimeout(() => row.classList.remove("changed"), CHANGED_MARK_MS);
}

// A moment after events stop, one quiet read of this page fills the state cells (result, overdue
// warning) of the rows still listed.
function scheduleStateRefresh() {
  clearTimeout(stateTimer);
  stateTimer = setTimeout(refreshStates, STATE_REFRESH_DELAY_MS);
}

async function refreshStates() {
  try {
    const doc = await fetchPage(window.location.href);
    if (!doc) return;
    for (const fresh of doc.querySelectorAll("#callbacks tbody tr[data-id]")) {
      const row = table().querySelector(`tbody tr[data-id="${CSS.escape(fresh.dataset.id)}"]`);
      const cell = row && row.querySelector("td.col-state");
      const freshCell = fresh.querySelector("td.col-state");
      if (!cell || !freshCell) continue;
      row.dataset.state = fresh.dataset.state;
      cell.replaceWith(freshCell);
    }
  } catch (_) {
    // The state text from the event stays; the next event or refresh tries again.
  }
}

// ---- advanced search choices -------------------------------------------------------------------

function onChange(event) {
  if (event.target instanceof Element && event.target.closest("#advanced-search")) advancedSearchChoices();
}

function advancedSearchChoices() {
  const campaigns = document.getElementById("adv-campaigns");
  if (!campaigns) return;
  const chosen = new Set(Array.from(campaigns.selectedOptions, (o) => o.value));
  const fits = (ids) => chosen.size === 0 || ids.split(" ").some((id) => chosen.has(id));
  const filter = (select, attribute) => {
    if (!select) return;
    for (const option of select.options) {
      if (!(attribute in option.dataset)) continue;
      const hidden = !fits(option.dataset[attribute]);
      option.hidden = hidden;
      if (hidden) option.selected = false;
    }
  };
  filter(document.getElementById("adv-lists"), "campaigns");
  filter(document.getElementById("adv-queues"), "campaign");
  filter(document.getElementById("adv-wrap-code"), "campaign");
  const type = document.getElementById("adv-type");
  const agents = document.getElementById("adv-agents");
  const agentField = document.querySelector("#advanced-search .agent-filter");
  if (type && agents && agentField) {
    agentField.hidden = type.value !== "agent" && agents.selectedOptions.length === 0;
  }
}

// ---- start (last: the module's state above is initialised by now) ---------------------------------

if (table()) {
  document.documentElement.classList.add("list-js");
  document.addEventListener("input", onInput);
  document.addEventListener("click", onClick);
  document.addEventListener("change", onChange);
  advancedSearchChoices();
  followNewRows();
  window.addEventListener("pagehide", closeStream);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) subscribe();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") closeStream();
    else if (!source) subscribe();
  });
}
