// Small behaviours for the whole portal. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  // A <select class="autosubmit"> submits its form when changed (the language switcher).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select.autosubmit") && target.form) {
      target.form.submit();
    }
  });

  // Close an open user menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.usermenu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });

  // Buttons and forms with data-confirm ask before going on.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
})();
