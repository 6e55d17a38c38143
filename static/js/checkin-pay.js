// The check-in page while a Swish payment is open (rules 3.5c): asks our server every
// two seconds (which reads the status back from Swish) and reloads the page when the
// payment has an outcome, so the patient coming back from the Swish app sees it.
(function () {
  "use strict";
  var box = document.getElementById("pay");
  var url = box && box.getAttribute("data-poll");
  if (!url) return;
  var state = box.getAttribute("data-pay");
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.state !== state || data.final) { window.location.reload(); return; }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 2000);
  document.addEventListener("visibilitychange", function () {
    // Back from the Swish app: show the outcome at once.
    if (document.visibilityState === "visible") window.location.reload();
  });
})();
