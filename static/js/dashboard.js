// The dashboard refreshes itself every 60 s (hx-trigger on #dashboard) only while the tab is visible:
// a poll that comes due while the tab is hidden is cancelled, and showing the tab again refreshes at once
// when a poll was missed. No inline script and no eval (the CSP forbids both; htmx's allowEval is off).
(function () {
  "use strict";

  var missed = false;

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll-visible") && document.visibilityState !== "visible") {
      missed = true;
      event.preventDefault();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && missed && window.htmx) {
      missed = false;
      var board = document.querySelector("[data-poll-visible]");
      if (board) {
        window.htmx.trigger(board, "dashboard-refresh");
      }
    }
  });
})();
