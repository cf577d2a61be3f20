// Customer pages: a "select all" checkbox ticks every row checkbox with the same name in its form.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input.select-all[data-select]") || !box.form) {
      return;
    }
    box.form.querySelectorAll('input[type=checkbox][name="' + box.getAttribute("data-select") + '"]').forEach(
      function (row) {
        row.checked = box.checked;
      }
    );
  });
})();
