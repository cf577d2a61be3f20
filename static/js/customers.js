// Customer pages. No inline scripts (the CSP forbids them).
// - A "select all" checkbox ticks every row checkbox with the same name in its form.
// - "Select all N matching" (every page, handled server-side) ticks this page's rows too, so that what is
//   shown matches what will be handled; unticking a row unticks it. The count is confirmed on the next page.
(function () {
  "use strict";

  function rows(box) {
    return box.form.querySelectorAll('input[type=checkbox][name="' + box.getAttribute("data-select") + '"]');
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.form) {
      return;
    }
    if (box.matches("input.select-all[data-select], input.select-matching[data-select]")) {
      rows(box).forEach(function (row) {
        row.checked = box.checked;
      });
      return;
    }
    if (box.matches('input[type=checkbox][name="warnings"]') && !box.checked) {
      box.form.querySelectorAll("input.select-matching").forEach(function (matching) {
        matching.checked = false;
      });
    }
  });
})();
