// config.js — the configuration pages (console/config). Every form there works without this
// script; it adds: intervals added and removed in place in the hours editors (and the "next day"
// mark of an overnight interval as it is typed), the wrap code form's Add-to-Queue part switched
// by its box, and the copy button of a new token's secret.

// ---- hours editors: div.ranges > div.range rows of `{prefix}.start` / `{prefix}.end` inputs ----

const MINUTES_PER_DAY = 24 * 60;

function minutes(text) {
  const match = /^\s*(\d{1,2}):(\d{2})\s*$/.exec(text || "");
  if (!match) return null;
  const value = Number(match[1]) * 60 + Number(match[2]);
  return Number(match[2]) < 60 && value <= MINUTES_PER_DAY ? value : null;
}

// As the domain reads a range: an end not after its start runs into the next day ("24:00" ends the day).
function markOvernight(row) {
  const [start, end] = row.querySelectorAll("input");
  const mark = row.querySelector(".overnight");
  if (!start || !end || !mark) return;
  const s = minutes(start.value);
  const e = minutes(end.value);
  mark.hidden = !(s !== null && e !== null && e !== MINUTES_PER_DAY && e <= s);
}

// Ids and labels follow the row's position: `{container id}-{n}-start`, "Thursday, interval n, from".
function renumber(container) {
  const label = container.dataset.label || "";
  container.querySelectorAll(".range").forEach((row, index) => {
    const n = index + 1;
    const inputs = row.querySelectorAll("input");
    const labels = row.querySelectorAll("label");
    ["start", "end"].forEach((part, i) => {
      const id = `${container.id}-${n}-${part}`;
      if (inputs[i]) inputs[i].id = id;
      if (labels[i]) {
        labels[i].htmlFor = id;
        labels[i].textContent = `${label}, interval ${n}, ${part === "start" ? "from" : "to"}`;
      }
    });
  });
}

function addRange(container) {
  const template = container.querySelector(".range");
  if (!template) return null;
  const row = template.cloneNode(true);
  row.querySelectorAll("input").forEach((input) => (input.value = ""));
  container.append(row);
  renumber(container);
  markOvernight(row);
  return row;
}

function removeRange(row) {
  const container = row.closest(".ranges");
  if (!container) return;
  if (container.querySelectorAll(".range").length === 1) {
    // The last row stays, emptied: a day without intervals is closed.
    row.querySelectorAll("input").forEach((input) => (input.value = ""));
    markOvernight(row);
    return;
  }
  const next = row.nextElementSibling || row.previousElementSibling;
  row.remove();
  renumber(container);
  const focus = next && next.querySelector("input");
  if (focus) focus.focus();
}

// The buttons are rendered hidden: without the script they could do nothing.
function reveal(root) {
  root.querySelectorAll("[data-add-range], [data-remove-range], [data-copy]").forEach((button) => (button.hidden = false));
  root.querySelectorAll(".range").forEach(markOvernight);
  root.querySelectorAll("#wrap-form").forEach(syncAddToQueue);
}

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  const add = target.closest("[data-add-range]");
  if (add) {
    const container = document.getElementById(add.dataset.addRange);
    const row = container && addRange(container);
    const first = row && row.querySelector("input");
    if (first) first.focus();
    return;
  }
  const remove = target.closest("[data-remove-range]");
  if (remove) {
    const row = remove.closest(".range");
    if (row) removeRange(row);
    return;
  }
  const copy = target.closest("[data-copy]");
  if (copy) copySecret(copy);
});

document.addEventListener("input", (event) => {
  const row = event.target instanceof Element ? event.target.closest(".range") : null;
  if (row) markOvernight(row);
});

// ---- wrap codes: the Add-to-Queue fields count only with their box ticked ----

function syncAddToQueue(form) {
  const box = form.querySelector("#wrap-add-to-queue");
  const part = form.querySelector("#wrap-atq");
  if (box && part) part.disabled = !box.checked;
}

document.addEventListener("change", (event) => {
  const form = event.target instanceof Element ? event.target.closest("#wrap-form") : null;
  if (form) syncAddToQueue(form);
});

// ---- a new token's secret ----

async function copySecret(button) {
  const input = document.getElementById(button.dataset.copy);
  if (!input) return;
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // Without the clipboard API (a page not served over a secure origin) the selection stays for Ctrl+C.
    document.execCommand && document.execCommand("copy");
  }
  button.textContent = "Copied";
}

reveal(document);
document.addEventListener("rebound:dialog-shown", (event) => {
  if (event.target instanceof Element) reveal(event.target);
});
