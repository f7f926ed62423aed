// The Logs tab's Export button: asks how many entries it will export (a bounded
// count, ?export=count) after the page shows, and says it ("Export 842 entries",
// "Export more than 10,000 entries"), or disables the button when there is nothing to export.
(function () {
  "use strict";
  document.querySelectorAll("[data-count-url]").forEach(async (button) => {
    const response = await fetch(button.dataset.countUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const answer = await response.json();
    button.querySelector("[data-export-count]").textContent =
      (answer.more ? "more than " : "") + answer.count.toLocaleString("en-US");
    button.querySelector("[data-export-plural]").textContent = answer.count === 1 && !answer.more ? "y" : "ies";
    if (answer.count === 0) {
      button.classList.add("disabled");
      button.setAttribute("aria-disabled", "true");
      button.removeAttribute("href");
    }
  });
})();
