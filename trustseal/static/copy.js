/* Copy buttons: <button class="copy" data-copy="text">. A static file, so the pages keep
   working under the Content-Security-Policy "script-src 'self'" (no inline script). */
"use strict";
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    if (navigator.clipboard) {
      navigator.clipboard.writeText(button.dataset.copy).catch(function () {});
    }
    button.textContent = "\u2713";
  });
});
