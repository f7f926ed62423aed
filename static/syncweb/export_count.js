// The Logs tab's Export button: asks how many entries it will export (a bounded
// count, ?export=count) after the page shows, and says it ("Export 842 entries",
// "Export more than 10000 entries").
(function () {
  "use strict";
  document.querySelectorAll("[data-count-url]").forEach(async (button) => {
    const response = await fetch(button.dataset.countUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const answer = await response.json();
    button.querySelector("[data-export-count]").textContent = (answer.more ? "more than " : "") + answer.count;
    button.querySelector("[data-export-plural]").textContent = answer.count === 1 && !answer.more ? "y" : "ies";
  });
})();
