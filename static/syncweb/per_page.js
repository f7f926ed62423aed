// Rows per page (templates/syncweb/_per_page.html): choosing a size shows it at once.
(function () {
  "use strict";
  document.querySelectorAll(".per-page-form select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
})();
