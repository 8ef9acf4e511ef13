// The message composer on a referral's page.
// - Its one-time token (referrals/composer.py) must come back with the typed text when the
//   browser restores the page on Back, so that Send again posts nothing new. Browsers keep a
//   field's value for Back only when it differs from the value the page was served with: the
//   token is set as the field's value and the served one cleared, so it is kept. A page the
//   browser restored already holds its own token, which is left alone.
// - A refused Send comes back with its errors focused (and so in view), not the top of the page.
(function () {
  "use strict";
  const form = document.getElementById("composer");
  if (!form) return;
  const token = form.querySelector('input[name="composer"]');
  if (token && token.value === token.defaultValue) {
    const served = token.value;
    token.value = served;
    token.defaultValue = "";
  }
  const errors = document.getElementById("composer-errors");
  if (errors) {
    errors.focus();
    errors.scrollIntoView({ block: "start" });
  }
})();
