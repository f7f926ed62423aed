// Progress bars take their width from data-progress (a percent), set here rather
// than in an inline style, which the Content-Security-Policy refuses; again after
// each htmx swap of the operation's progress.
(function () {
  "use strict";
  function size(root) {
    root.querySelectorAll("[data-progress]").forEach(function (bar) {
      bar.style.width = Math.max(0, Math.min(100, Number(bar.dataset.progress) || 0)) + "%";
    });
  }
  size(document);
  document.body.addEventListener("htmx:load", function (event) { size(event.detail.elt); });
})();
