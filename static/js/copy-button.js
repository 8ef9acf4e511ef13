// "Copy" beside a Transaction ID: one click puts the whole ID on the clipboard (selecting a long
// ID by hand misses characters), and the button says so for a moment, for screen readers too.
(function () {
  "use strict";
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      // No clipboard permission (an old browser, an insecure origin): select it for Ctrl+C.
      const code = button.parentElement.querySelector("code");
      if (code) window.getSelection().selectAllChildren(code);
    }
    const label = button.textContent;
    button.textContent = "Copied";
    button.setAttribute("aria-live", "polite");
    setTimeout(function () { button.textContent = label; }, 2000);
  });
})();
