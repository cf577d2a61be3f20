// Verification documents: drag and drop with progress (templates/customers/_document_slot.html). No inline
// scripts (the CSP forbids them).
// - Each `.dropzone[data-upload-url]` takes a file dropped on it, or chosen with its file input, and uploads it
//   at once (XMLHttpRequest, for its upload progress) with the slot's role; its <progress> shows how far.
// - The server answers with the slot's verdict as HTML (a thumbnail, "PDF, N pages", or why it refused the
//   file); an accepted file's key goes into the slot's hidden input and the file input is emptied, so the
//   form sends the key, not the file again.
// - Without JavaScript none of this runs: the file inputs post the files with the form.
(function () {
  "use strict";

  function csrfToken(zone) {
    var form = zone.closest("form");
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function show(zone, html) {
    // Only the verdict is taken from the answer (inert until placed): a sign-in page, say, is a failure.
    var template = document.createElement("template");
    template.innerHTML = html;
    var verdict = template.content.querySelector(".upload-result");
    if (!verdict) {
      failed(zone);
      return;
    }
    var slot = zone.querySelector(".upload-slot");
    slot.replaceChildren(verdict);
    var result = slot.querySelector("[data-upload-key]");
    var key = zone.querySelector("input[data-upload-key]");
    if (key) {
      key.value = result ? result.getAttribute("data-upload-key") : "";
    }
    zone.classList.toggle("has-error", !result);
    zone.setAttribute("data-state", result ? "done" : "refused");
  }

  function failed(zone) {
    var slot = zone.querySelector(".upload-slot");
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = zone.getAttribute("data-failed");
    slot.replaceChildren(p);
    var key = zone.querySelector("input[data-upload-key]");
    if (key) {
      key.value = "";
    }
    zone.classList.add("has-error");
    zone.setAttribute("data-state", "failed");
  }

  function upload(zone, file) {
    var progress = zone.querySelector("progress");
    var input = zone.querySelector("input[type=file]");
    var data = new FormData();
    data.append("role", zone.getAttribute("data-role"));
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", zone.getAttribute("data-upload-url"));
    xhr.setRequestHeader("X-CSRFToken", csrfToken(zone));
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    zone.setAttribute("data-state", "uploading");
    zone.querySelectorAll(".field-error").forEach(function (error) {
      error.remove();
    });
    progress.value = 0;
    progress.hidden = false;
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        progress.value = Math.round((event.loaded / event.total) * 100);
      }
    });
    xhr.addEventListener("load", function () {
      progress.value = 100;
      if (input) {
        input.value = ""; // the form sends the key of this upload instead
      }
      if (xhr.status === 200) {
        show(zone, xhr.responseText);
      } else {
        failed(zone);
      }
    });
    xhr.addEventListener("error", function () {
      progress.hidden = true;
      failed(zone);
    });
    xhr.send(data);
  }

  function zoneOf(target) {
    return target && target.closest ? target.closest(".dropzone[data-upload-url]") : null;
  }

  document.addEventListener("change", function (event) {
    var zone = zoneOf(event.target);
    if (zone && event.target.matches("input[type=file]") && event.target.files.length) {
      upload(zone, event.target.files[0]);
    }
  });

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = zoneOf(event.target);
      if (zone) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        zone.classList.add("dragging");
      }
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event.target);
    if (zone && !zone.contains(event.relatedTarget)) {
      zone.classList.remove("dragging");
    }
  });

  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event.target);
    if (!zone) {
      return;
    }
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) {
      upload(zone, event.dataTransfer.files[0]);
    }
  });
})();
