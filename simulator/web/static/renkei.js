// The screens' two small behaviours. Every form works without them; they are a
// file of the bank's own origin so that the Content-Security-Policy can forbid
// inline script (simulator/web/security.py).
(function () {
  // R-ERR-INPUT-1: 「OK」 closes the エラー dialog.
  var dialog = document.getElementById("dialog");
  var ok = dialog && dialog.querySelector("[data-dismiss]");
  if (ok) {
    ok.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.hidden = true;
    });
  }
  // Screen ④ (SOA209): counts down the seconds left to call (R-FLOW-4).
  var left = document.getElementById("seconds-left");
  if (left) {
    var seconds = parseInt(left.textContent, 10);
    var timer = setInterval(function () {
      seconds = Math.max(0, seconds - 1);
      left.textContent = seconds;
      if (!seconds) { clearInterval(timer); }
    }, 1000);
  }
})();
