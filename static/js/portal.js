// Small behaviours for the whole portal. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  // A <select class="autosubmit"> submits its form when changed (the language switcher). The switcher's
  // `next` was rendered with the page; htmx may have pushed a newer URL (a filter) since, so it is refreshed
  // from the address bar: switching language keeps the current URL and its query string.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select.autosubmit") && target.form) {
      var next = target.form.querySelector("input[name=next]");
      if (next) {
        next.value = window.location.pathname + window.location.search;
      }
      target.form.submit();
    }
  });

  // A button with data-copy copies that text (a long identifier shown short) and says so for a moment.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.className = "visually-hidden";
      area.setAttribute("readonly", "");
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (error) {
        ok = false;
      }
      document.body.removeChild(area);
      if (ok) {
        resolve();
      } else {
        reject(new Error("copy refused"));
      }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) {
      return;
    }
    var label = button.getAttribute("title");
    copyText(button.getAttribute("data-copy")).then(function () {
      button.classList.add("copied");
      button.setAttribute("title", button.getAttribute("data-copied") || label);
      window.setTimeout(function () {
        button.classList.remove("copied");
        button.setAttribute("title", label);
      }, 1500);
    }, function () {
      // No clipboard: select the full value so that the user can copy it by hand.
      var code = button.parentNode.querySelector("code");
      if (code) {
        code.textContent = button.getAttribute("data-copy");
        window.getSelection().selectAllChildren(code);
      }
    });
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

  // A button with data-print opens the browser's print dialog (print or save as PDF: the quote page).
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("button[data-print]")) {
      window.print();
    }
  });
})();
