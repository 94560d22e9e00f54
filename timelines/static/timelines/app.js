// The little JavaScript the pages use: copy buttons, confirm dialogs and the chat page's status
// updates (secrets are revealed with <details>, no script).
// Every page works without it; it only saves a click or asks "are you sure?".
(function () {
  "use strict";

  // <button data-copy="#element-id">: copies the element's value (or text).
  function copy(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var text = "value" in target ? target.value : target.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      // Plain-HTTP deployments have no Clipboard API: select and use the old command.
      if (target.select) target.select();
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    copy(button);
  });

  // <form data-confirm="Question?">: submits only when the user agrees.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // The chat page: messages still queued or sending get their new status without a reload, by
  // polling a small JSON view while any is pending (for a few minutes at most).
  var POLL_MS = 1500;
  var MAX_POLLS = 160;

  function pendingIds(thread) {
    var rows = thread.querySelectorAll('[data-status="queued"], [data-status="sending"]');
    return Array.prototype.map.call(rows, function (row) {
      return row.getAttribute("data-message-id");
    });
  }

  function showStatus(thread, m) {
    var row = thread.querySelector('[data-message-id="' + CSS.escape(m.message_id) + '"]');
    if (!row) return;
    row.setAttribute("data-status", m.status);
    row.classList.toggle("msg-failed", m.status === "failed");
    var badge = row.querySelector(".msg-status");
    if (badge) {
      badge.className = "badge badge-" + m.status + " msg-status";
      badge.textContent = (m.status === "failed" ? "\u26a0 " : "") + m.status_display;
    }
    var error = row.querySelector(".msg-error");
    if (error) {
      error.hidden = !m.error;
      error.textContent = "";
      if (m.status === "failed") {
        var strong = document.createElement("strong");
        strong.textContent = "Not sent: ";
        error.appendChild(strong);
      }
      error.appendChild(document.createTextNode(m.error));
    }
  }

  function pollStatuses(thread) {
    var url = thread.getAttribute("data-statuses-url");
    var polls = 0;
    function tick() {
      var ids = pendingIds(thread);
      if (!ids.length || polls++ >= MAX_POLLS) return;
      fetch(url + "?ids=" + encodeURIComponent(ids.join(",")), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { messages: [] }; })
        .then(function (data) {
          data.messages.forEach(function (m) { showStatus(thread, m); });
          setTimeout(tick, POLL_MS);
        })
        .catch(function () { setTimeout(tick, POLL_MS * 4); });
    }
    setTimeout(tick, POLL_MS);
  }

  var thread = document.querySelector("[data-statuses-url]");
  if (thread) pollStatuses(thread);
})();
