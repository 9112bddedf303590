// The screens' two small behaviours. Every form works without them; they are a
// file of the bank's own origin so that the Content-Security-Policy can forbid
// inline script (simulator/web/security.py).
(function () {
  // The エラー dialog (R-ERR-INPUT-1, ⑤'s wrong PIN): the server draws it open, in
  // the page, so that it shows without script; here it is opened again as a modal,
  // as the manual's figures show it: the screen behind is inert under a backdrop.
  // 「OK」 (its form's method="dialog") closes it, script or not; then the focus
  // goes to the field it names (the first empty one, or the PIN).
  var dialog = document.getElementById("dialog");
  if (dialog && typeof dialog.showModal === "function") {
    dialog.addEventListener("close", function () {
      // close() below queues a close event that arrives once the modal is open.
      if (dialog.open) { return; }
      var field = document.getElementById(dialog.getAttribute("data-focus") || "");
      if (field) { field.focus(); }
    });
    dialog.close();
    dialog.showModal();
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
