// Dialogs: any link or button with `data-dialog` opens its page (href, or data-href on a button) in
// a modal <dialog> instead of navigating (see console/forms.rs for the protocol). Forms inside the
// dialog post in place: 204 + X-Rebound-Location means done (go there, or reload when it is this
// page); any other answer is the form again, with the refusal, shown in the dialog. A dialog's requests
// also say which page it was opened on (X-Rebound-Return), the default place its forms return to.
// The native <dialog> gives the keyboard behaviour: focus moves in, Tab stays in, Escape closes,
// and focus returns to what opened it.

const FRAGMENT = { "X-Rebound-Fragment": "1" };
// Also sent with a dialog's requests: the page it was opened on, where its forms return to.
function dialogHeaders() {
  return { ...FRAGMENT, "X-Rebound-Return": window.location.pathname + window.location.search };
}
let opener = null;

function dialog() {
  let element = document.getElementById("console-dialog");
  if (!element) {
    element = document.createElement("dialog");
    element.id = "console-dialog";
    element.addEventListener("close", () => {
      element.replaceChildren();
      if (opener && document.contains(opener)) {
        // A menu item's job is done once its dialog closes: the menu closes too and focus goes
        // back to the menu's button, as in any menu.
        const menu = opener.closest("details");
        if (menu) menu.open = false;
        (menu ? menu.querySelector("summary") : opener).focus();
      }
      opener = null;
    });
    document.body.append(element);
  }
  return element;
}

function show(html) {
  const element = dialog();
  element.innerHTML = html;
  const title = element.querySelector("h2");
  if (title) {
    title.id = title.id || "console-dialog-title";
    element.setAttribute("aria-labelledby", title.id);
  }
  if (!element.querySelector("[data-close]")) {
    const close = document.createElement("button");
    close.type = "button";
    close.className = "dialog-close";
    close.dataset.close = "";
    close.setAttribute("aria-label", "Close");
    close.textContent = "×";
    element.prepend(close);
  }
  enhance(element);
  if (!element.open) element.showModal();
  revealSlots(element);
  // The first control that can take focus (not one a fieldset disables, not a hidden default button).
  const first = element.querySelector(
    "[autofocus], input:not([type=hidden]):enabled, select:enabled, textarea:enabled, button:enabled:not(.dialog-close):not([tabindex='-1'])",
  );
  if (first) first.focus();
  element.dispatchEvent(new CustomEvent("rebound:dialog-shown", { bubbles: true }));
}

function samePage(location) {
  const target = new URL(location, window.location.href);
  return target.pathname === window.location.pathname && target.search === window.location.search;
}

async function answer(response) {
  if (response.redirected && new URL(response.url).pathname === "/login") {
    window.location.assign("/login");
    return;
  }
  if (response.status === 204) {
    const location = response.headers.get("X-Rebound-Location");
    dialog().close();
    if (!location || samePage(location)) window.location.reload();
    else window.location.assign(location);
    return;
  }
  show(await response.text());
}

export async function openDialog(href, from) {
  opener = from || document.activeElement;
  try {
    await answer(await fetch(href, { headers: dialogHeaders(), credentials: "same-origin" }));
  } catch (error) {
    show(`<div class="dialog-content"><h2>Not available</h2><p class="form-error" role="alert"></p></div>`);
    dialog().querySelector(".form-error").textContent = String(error);
  }
}

document.addEventListener("click", (event) => {
  const trigger = event.target instanceof Element ? event.target.closest("[data-dialog]") : null;
  if (trigger) {
    const href = trigger.getAttribute("href") || trigger.dataset.href;
    if (href) {
      event.preventDefault();
      openDialog(href, trigger);
    }
    return;
  }
  const close = event.target instanceof Element ? event.target.closest("#console-dialog [data-close]") : null;
  if (close) {
    event.preventDefault();
    dialog().close();
  }
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.closest("#console-dialog") || form.hasAttribute("data-native")) return;
  event.preventDefault();
  const data = new URLSearchParams(new FormData(form, event.submitter));
  const action = form.getAttribute("action") || window.location.pathname;
  const busy = form.querySelectorAll("button");
  busy.forEach((button) => (button.disabled = true));
  try {
    if ((form.getAttribute("method") || "get").toLowerCase() === "post") {
      await answer(await fetch(action, { method: "POST", body: data, headers: dialogHeaders(), credentials: "same-origin" }));
    } else {
      const url = new URL(action, window.location.href);
      url.search = data.toString();
      await answer(await fetch(url, { headers: dialogHeaders(), credentials: "same-origin" }));
    }
  } finally {
    busy.forEach((button) => (button.disabled = false));
  }
});

// ---- form behaviour (callback forms: console/callback_forms) ---------------------------------------
// Each rule is driven by data attributes, so it works the same in a dialog and on a full page, and
// the forms still work without it.

// `data-override` checkbox: the fieldset it controls (aria-controls) is disabled until it is ticked.
function syncOverride(box) {
  const fields = document.getElementById(box.getAttribute("aria-controls"));
  if (fields) fields.disabled = !box.checked;
}

// `data-shown-if="name=value"`: shown only while the form's field `name` has that value.
function syncShown(form) {
  form.querySelectorAll("[data-shown-if]").forEach((element) => {
    const [name, value] = element.dataset.shownIf.split("=");
    const field = form.elements.namedItem(name);
    const current = field instanceof RadioNodeList || field instanceof HTMLElement ? field.value : "";
    element.hidden = current !== value;
  });
}

// `select[data-follows=id]`: only the option groups whose `data-parent` is that select's value.
function syncFollowers(form) {
  form.querySelectorAll("select[data-follows]").forEach((select) => {
    const parent = form.elements.namedItem(select.dataset.follows);
    if (!(parent instanceof HTMLSelectElement)) return;
    select.querySelectorAll("optgroup[data-parent]").forEach((group) => {
      group.hidden = group.dataset.parent !== parent.value;
    });
    const chosen = select.selectedOptions[0];
    if (chosen && chosen.parentElement instanceof HTMLOptGroupElement && chosen.parentElement.hidden) {
      const first = select.querySelector(`optgroup[data-parent="${CSS.escape(parent.value)}"] option`);
      select.value = first ? first.value : "";
    }
  });
}

function enhance(root) {
  root.querySelectorAll("input[data-override]").forEach(syncOverride);
  root.querySelectorAll("form").forEach((form) => {
    syncShown(form);
    syncFollowers(form);
  });
  root.querySelectorAll("select[data-zone-choice]").forEach((select) => (select.dataset.previous = select.value));
}

// A day's slots start at midnight: scroll the list to the chosen slot, else the first free one at
// or after the typed time.
function revealSlots(root) {
  root.querySelectorAll(".slot-grid").forEach((grid) => {
    const time = grid.closest("form")?.elements.namedItem("desired_time");
    const typed = time instanceof HTMLInputElement ? time.value : "";
    const free = [...grid.querySelectorAll("input[name=slot]:enabled")];
    const target = grid.querySelector("input:checked") || free.find((slot) => slot.dataset.time >= typed) || free[0];
    if (target) grid.scrollTop = target.parentElement.offsetTop;
  });
}

// The timezone choice: when the date and time still show the callback's time as the previous zone
// read it, show it as the new zone reads it (the same instant); typed values are kept as typed.
function zoneChanged(select) {
  const form = select.form;
  const date = form && form.elements.namedItem("desired_date");
  const time = form && form.elements.namedItem("desired_time");
  const previous = select.querySelector(`option[value="${CSS.escape(select.dataset.previous || "")}"]`);
  const next = select.selectedOptions[0];
  select.dataset.previous = select.value;
  if (!date || !time || !previous || !next || !next.dataset.date) return;
  if (date.value === previous.dataset.date && time.value === previous.dataset.time) {
    date.value = next.dataset.date;
    time.value = next.dataset.time;
  }
}

document.addEventListener("change", (event) => {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return;
  if (target.matches("input[data-override]")) syncOverride(target);
  if (target.matches("select[data-zone-choice]")) zoneChanged(target);
  // A slot sets the date and time it stands for.
  if (target.matches('input[type=radio][name="slot"]') && target.dataset.date && target.form) {
    const { desired_date: date, desired_time: time } = target.form.elements;
    if (date && time) {
      date.value = target.dataset.date;
      time.value = target.dataset.time;
    }
  }
  if (target.form) {
    syncShown(target.form);
    syncFollowers(target.form);
  }
});

// Typing a date or time yourself un-chooses the slot.
document.addEventListener("input", (event) => {
  const target = event.target;
  if (target instanceof HTMLInputElement && target.form && /^desired_(date|time)$/.test(target.name)) {
    const none = target.form.querySelector('input[name="slot"][value=""]');
    if (none) none.checked = true;
  }
});

// Row menus (`details.row-menu`): one open at a time; a click elsewhere or Escape closes it.
document.addEventListener("click", (event) => {
  // Clicks in a dialog leave the menu that opened it alone (focus goes back there on close).
  if (event.target instanceof Element && event.target.closest("dialog")) return;
  const inside = event.target instanceof Element ? event.target.closest("details.row-menu") : null;
  document.querySelectorAll("details.row-menu[open]").forEach((menu) => {
    if (menu !== inside) menu.open = false;
  });
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !(event.target instanceof Element)) return;
  const menu = event.target.closest("details.row-menu[open]");
  if (menu && !menu.closest("dialog")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});

enhance(document);
revealSlots(document);
