// bulk.js — selecting rows of the callbacks list for a bulk cancel or delete (console/bulk).
// The row checkboxes belong to the toolbar's GET form (form="bulk-selection"), so without this
// script the buttons open the confirmation page with ?ids=…; with it they open it in a dialog.
// A result page marked data-reload-on-close reloads the list when its dialog closes, so the list
// shows what the bulk action did.

import { openDialog } from "./dialogs.js";

const form = document.getElementById("bulk-selection");

function rows() {
  return Array.from(document.querySelectorAll("input.select-row"));
}

// The count, the buttons (nothing to act on without a selection) and the select-all box.
function refresh() {
  const boxes = rows();
  const selected = boxes.filter((box) => box.checked).length;
  const count = document.getElementById("selected-count");
  if (count) count.textContent = selected === 0 ? "Select rows to act on them" : `${selected} selected`;
  for (const id of ["bulk-cancel", "bulk-delete"]) {
    const button = document.getElementById(id);
    if (button) button.disabled = selected === 0;
  }
  const all = document.getElementById("select-all");
  if (all) {
    all.checked = boxes.length > 0 && selected === boxes.length;
    all.indeterminate = selected > 0 && selected < boxes.length;
  }
}

if (form) {
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.id === "select-all") {
      rows().forEach((box) => (box.checked = target.checked));
      refresh();
    } else if (target.classList.contains("select-row")) {
      refresh();
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const submitter = event.submitter;
    const action = (submitter && submitter.getAttribute("formaction")) || form.getAttribute("action");
    const url = new URL(action, window.location.href);
    url.search = new URLSearchParams(new FormData(form, submitter)).toString();
    openDialog(url.pathname + url.search, submitter);
  });

  // Back/forward may restore ticked boxes: show them as they are.
  window.addEventListener("pageshow", refresh);
  refresh();
}

document.addEventListener("rebound:dialog-shown", (event) => {
  const dialog = event.target;
  if (dialog instanceof HTMLDialogElement && dialog.querySelector("[data-reload-on-close]")) {
    dialog.addEventListener("close", () => window.location.reload(), { once: true });
  }
});
