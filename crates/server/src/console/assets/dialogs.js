// Dialogs: any link or button with `data-dialog` opens its page (href, or data-href on a button) in
// a modal <dialog> instead of navigating (see console/forms.rs for the protocol). Forms inside the
// dialog post in place: 204 + X-Rebound-Location means done (go there, or reload when it is this
// page); any other answer is the form again, with the refusal, shown in the dialog.
// The native <dialog> gives the keyboard behaviour: focus moves in, Tab stays in, Escape closes,
// and focus returns to what opened it.

const FRAGMENT = { "X-Rebound-Fragment": "1" };
let opener = null;

function dialog() {
  let element = document.getElementById("console-dialog");
  if (!element) {
    element = document.createElement("dialog");
    element.id = "console-dialog";
    element.addEventListener("close", () => {
      element.replaceChildren();
      if (opener && document.contains(opener)) opener.focus();
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
  if (!element.open) element.showModal();
  const first = element.querySelector("[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button:not(.dialog-close)");
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
    await answer(await fetch(href, { headers: FRAGMENT, credentials: "same-origin" }));
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
      await answer(await fetch(action, { method: "POST", body: data, headers: FRAGMENT, credentials: "same-origin" }));
    } else {
      const url = new URL(action, window.location.href);
      url.search = data.toString();
      await answer(await fetch(url, { headers: FRAGMENT, credentials: "same-origin" }));
    }
  } finally {
    busy.forEach((button) => (button.disabled = false));
  }
});
