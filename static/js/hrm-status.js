// Keeps each message's HRM icon current without reloading the page: while any report is on its
// way (or soon after a re-send), ask the server for the statuses every few seconds and swap in
// the changed ones, keeping open details open and announcing changes to screen readers. The
// server does not count these requests as activity: the idle sign-out still happens.
(function () {
  "use strict";
  const thread = document.querySelector("[data-hrm-status-url]");
  if (!thread) return;
  const url = thread.dataset.hrmStatusUrl;
  const announcer = document.getElementById("hrm-announcer");
  const LABELS = { sent: "Sent to EMR via HRM", failed: "HRM delivery failed", pending: "Sending to EMR via HRM" };
  let idleRounds = 0;

  function pending() {
    return thread.querySelector('[data-hrm-icon="pending"]') !== null;
  }

  async function refresh() {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      // Signed out (the poll never renews the session, so idleness ends it): show the sign-in
      // page instead of leaving patient information on screen.
      if (response.redirected || response.status === 401 || response.status === 403) {
        window.location.reload();
        return;
      }
      if (!response.ok) return;
      data = await response.json();
    } catch (error) {
      return; // offline for a moment: try again on the next round
    }
    for (const [id, status] of Object.entries(data.messages)) {
      const current = document.getElementById("hrm-status-" + id);
      if (!current || current.dataset.hrmIcon === status.icon && status.icon !== "pending") continue;
      const wasOpen = current.querySelector("details[open]") !== null;
      const template = document.createElement("template");
      template.innerHTML = status.html.trim();
      const replacement = template.content.firstElementChild;
      if (wasOpen) replacement.querySelector("details")?.setAttribute("open", "");
      const changed = current.dataset.hrmIcon !== status.icon;
      current.replaceWith(replacement);
      if (changed && announcer && LABELS[status.icon]) {
        const label = replacement.querySelector(".hrm-label");
        announcer.textContent = "Message " + id + ": " + (label ? label.textContent.trim() : LABELS[status.icon]);
      }
    }
  }

  async function loop() {
    await refresh();
    // Poll while something is pending, and for a while after, in case a re-drive picks it up.
    idleRounds = pending() ? 0 : idleRounds + 1;
    if (idleRounds < 10) setTimeout(loop, 2000);
  }
  if (pending()) setTimeout(loop, 1500);
})();
