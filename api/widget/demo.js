/* What a product's own front end does for proactive help (docs/proactive.md): report the errors
 * it shows and the setup steps a customer starts and finishes. The widget sends page views. */
(function () {
  "use strict";
  var SC = window.SupportCopilot;
  if (!SC || !SC.track) return;
  document.querySelectorAll("[data-error-code]").forEach(function (banner) {
    SC.track("error_shown", { code: banner.dataset.errorCode, message: banner.textContent.trim() });
  });
  document.querySelectorAll("[data-flow]").forEach(function (button) {
    button.addEventListener("click", function () {
      SC.track(button.dataset.signal, { flow: button.dataset.flow, step: button.dataset.step });
      var note = document.getElementById("flow-note");
      if (note) note.textContent = button.dataset.signal === "step_started"
        ? "Setup started: leave it unfinished for 15 minutes and the widget offers help."
        : "Setup finished.";
    });
  });
})();
