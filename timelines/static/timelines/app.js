// The little JavaScript the pages use: copy buttons and confirm dialogs (secrets are revealed
// with <details>, no script).
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
})();
