// The Dashboard refreshes itself (htmx polls while window.syncwebLive is true);
// the Pause button stops and resumes it.
(function () {
  "use strict";
  window.syncwebLive = true;
  const button = document.getElementById("refresh-toggle");
  const state = document.getElementById("refresh-state");
  button.addEventListener("click", () => {
    window.syncwebLive = !window.syncwebLive;
    button.textContent = window.syncwebLive ? "Pause" : "Resume";
    button.setAttribute("aria-pressed", String(!window.syncwebLive));
    state.textContent = window.syncwebLive ? "Refreshes every 5 s" : "Paused";
  });
})();
