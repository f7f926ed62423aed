// The colour theme (Bootstrap 5.3's data-bs-theme). The server writes the user's
// choice on <html>: light or dark as it is; for "auto" this follows the system's
// preference, now and whenever it changes. Loaded in <head>, before the page is
// drawn, so a dark page never flashes light.
(function () {
  "use strict";
  const root = document.documentElement;
  const query = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    if (root.dataset.themePreference !== "auto") return;
    root.setAttribute("data-bs-theme", query.matches ? "dark" : "light");
    document.dispatchEvent(new CustomEvent("syncweb:theme"));
  }
  apply();
  query.addEventListener("change", apply);
})();
