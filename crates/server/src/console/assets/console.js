// Rebound console: small progressive enhancements. Every page works without this script.

// "/" focuses the quick phone search (unless the user is typing somewhere already).
document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
    const phone = document.getElementById("phone");
    if (phone) {
      event.preventDefault();
      phone.focus();
    }
  }
});

// The session's CSRF token, for scripts that will send changes with X-CSRF-Token.
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : null;
}

// Each part of the console in its own module; each acts only on pages that have its elements.
import "./dialogs.js";
import "./list.js";
import "./config.js";
import "./agent.js";
import "./bulk.js";
