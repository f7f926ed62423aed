// The Dashboard refreshes itself (htmx polls every 5 s; a poll while paused is
// cancelled here, not by an htmx filter expression, which would need eval and the
// Content-Security-Policy refuses it); the Pause button stops and resumes it.
(function () {
  "use strict";
  window.syncwebLive = true;
  const button = document.getElementById("refresh-toggle");
  const state = document.getElementById("refresh-state");
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (!window.syncwebLive) event.preventDefault();
  });
  button.addEventListener("click", () => {
    window.syncwebLive = !window.syncwebLive;
    button.textContent = window.syncwebLive ? "Pause" : "Resume";
    button.setAttribute("aria-pressed", String(!window.syncwebLive));
    state.textContent = window.syncwebLive ? "Refreshes every 5 s" : "Paused";
  });
})();
