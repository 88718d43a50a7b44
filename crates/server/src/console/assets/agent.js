// The agent view (console/agent.rs): follows the agent's offer stream and redraws the offer panel
// when an offer arrives, is withdrawn or moves on; counts down the seconds left to answer an offer.
// Without this script the page's Refresh link does the same by hand.
//
// The stream is the API's own `GET /api/v1/agents/{id}/events` (the session cookie authenticates a
// same-origin EventSource): `event: offer` carries the current offer (a callback, or null) on
// connect and after every change concerning the agent.

function panel() {
  return document.getElementById("offer");
}

// What the panel shows now: "id:state", ":" for no offer.
function shown() {
  const offer = panel();
  return offer ? `${offer.dataset.offerId || ""}:${offer.dataset.offerState || ""}` : null;
}

function setLive(text) {
  const status = document.getElementById("live-status");
  if (status) status.textContent = text;
}

// Fetches the page again and swaps in the fresh offer and presence panels (the outcome form being
// typed into is never replaced: the panel is redrawn only when the offer itself changed).
let redrawing = null;
async function redraw() {
  if (redrawing) return redrawing;
  redrawing = (async () => {
    try {
      const response = await fetch("/agent", { credentials: "same-origin" });
      if (response.redirected && new URL(response.url).pathname === "/login") {
        window.location.assign("/login");
        return;
      }
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ["offer", "presence-panel"]) {
        const next = fresh.getElementById(id);
        const current = document.getElementById(id);
        if (next && current) current.replaceWith(document.importNode(next, true));
      }
      startCountdown();
      setLive(source && source.readyState === EventSource.OPEN ? "· live" : "");
    } finally {
      redrawing = null;
    }
  })();
  return redrawing;
}

// Seconds left to answer, counted from when the panel was drawn (the browser's clock may differ
// from the server's; the server's count is the starting point).
let countdown = null;
function startCountdown() {
  if (countdown) clearInterval(countdown);
  countdown = null;
  const seconds = document.getElementById("offer-seconds");
  if (!seconds) return;
  const deadline = Date.now() + Number(seconds.dataset.secondsLeft || 0) * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    seconds.textContent = left > 0 ? `${left} s` : "expired";
    if (left === 0 && countdown) {
      clearInterval(countdown);
      countdown = null;
    }
  };
  tick();
  countdown = setInterval(tick, 1000);
}

let source = null;
function follow(agentId) {
  source = new EventSource(`/api/v1/agents/${encodeURIComponent(agentId)}/events`);
  source.addEventListener("open", () => setLive("· live"));
  source.addEventListener("error", () => setLive("· reconnecting…"));
  source.addEventListener("offer", (event) => {
    let offer = null;
    try {
      offer = JSON.parse(event.data);
    } catch {
      offer = null;
    }
    const now = offer ? `${offer.id}:${offer.state}` : ":";
    if (now !== shown()) redraw();
  });
}

const offer = panel();
if (offer && offer.dataset.agentId && "EventSource" in window) {
  follow(offer.dataset.agentId);
  startCountdown();
  window.addEventListener("pagehide", () => source && source.close());
}
