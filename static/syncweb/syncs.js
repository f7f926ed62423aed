// The Syncs tab's selection: keeps the Actions menu to what the selection allows
// (the clear actions only when every selected sync is in error), and offers
// "Select all N matching" once the whole page is selected. The server enforces
// the same rules; this only spares the operator a refusal.
(function () {
  "use strict";
  const form = document.getElementById("sync-actions-form");
  if (!form) return;
  const pageBox = document.getElementById("select-page");
  const rows = () => Array.from(form.querySelectorAll("input.row-select"));
  const allMatching = document.getElementById("select-all-matching");
  const banner = document.getElementById("select-all-banner");
  const bannerText = document.getElementById("select-all-text");
  const selectAllButton = document.getElementById("select-all-button");
  const clearButton = document.getElementById("clear-selection-button");
  const matching = Number(form.dataset.matching || 0);
  const statusFilter = form.dataset.statusFilter;
  const menuItems = document.querySelectorAll(".actions-menu [data-action]");
  const clearItems = document.querySelectorAll(".actions-menu [data-needs-errors]");

  function statusOf(box) {
    return box.closest("tr").dataset.status;
  }

  function update() {
    const boxes = rows();
    const selected = boxes.filter((box) => box.checked);
    const everything = allMatching.value === "1";
    const allInError = everything
      ? statusFilter === "error"
      : selected.length > 0 && selected.every((box) => statusOf(box) === "error");
    clearItems.forEach((item) => { item.hidden = !allInError; });
    menuItems.forEach((item) => { item.disabled = !everything && selected.length === 0; });
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && selected.length === boxes.length;
      pageBox.indeterminate = selected.length > 0 && selected.length < boxes.length;
    }
    const wholePage = boxes.length > 0 && selected.length === boxes.length && matching > boxes.length;
    banner.classList.toggle("d-none", !wholePage && !everything);
    if (everything) {
      bannerText.textContent = `All ${matching} matching syncs are selected.`;
    } else if (wholePage) {
      bannerText.textContent = `All ${boxes.length} syncs on this page are selected.`;
    }
    selectAllButton.classList.toggle("d-none", everything);
    clearButton.classList.toggle("d-none", !everything);
  }

  form.addEventListener("change", (event) => {
    if (event.target === pageBox) {
      rows().forEach((box) => { box.checked = pageBox.checked; });
    }
    if (!pageBox || !pageBox.checked) allMatching.value = "0";
    update();
  });
  selectAllButton.addEventListener("click", () => { allMatching.value = "1"; update(); });
  clearButton.addEventListener("click", () => {
    allMatching.value = "0";
    rows().forEach((box) => { box.checked = false; });
    update();
  });
  update();
})();
