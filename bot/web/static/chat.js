// The web chat without reloads: every form is sent in the background and the page's new
// content replaces the old one. Without this script the same forms reload the page.
(function () {
  "use strict";
  function enhance(root) {
    root.querySelectorAll("form[data-chat]").forEach(function (form) {
      form.addEventListener("submit", send);
    });
    root.querySelectorAll("fieldset[data-limit]").forEach(function (fieldset) {
      fieldset.addEventListener("change", function () { count(fieldset); });
    });
  }
  // "Weiter · 1 von 3 gewählt" counts along as topics are ticked (the server checks the limit).
  function count(fieldset) {
    var chosen = fieldset.querySelectorAll("input:checked").length;
    var button = fieldset.form && fieldset.form.querySelector("button.primary");
    if (button) button.textContent = button.textContent.replace(/\d+/, String(chosen));
  }
  function send(event) {
    var form = event.target;
    if (typeof fetch !== "function" || typeof DOMParser !== "function") return;
    event.preventDefault();
    var submitter = event.submitter || null;
    var data = new FormData(form, submitter || undefined);
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    // Not form.action: the buttons are named "action", and a form's named controls shadow it.
    fetch(form.getAttribute("action") || "/", {
      method: "POST",
      body: new URLSearchParams(data),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      if (!page.body || !page.querySelector("main")) { window.location.assign("/"); return; }
      document.documentElement.lang = page.documentElement.lang;
      document.title = page.title;
      document.body.replaceWith(document.adoptNode(page.body));
      enhance(document.body);
      var now = document.getElementById("now");
      if (now) { now.focus({ preventScroll: true }); now.scrollIntoView({ block: "start" }); }
    }).catch(function () {
      // The network hiccupped: the plain form still works (with the pressed button's value).
      if (submitter && submitter.name) {
        var chosen = document.createElement("input");
        chosen.type = "hidden";
        chosen.name = submitter.name;
        chosen.value = submitter.value;
        form.appendChild(chosen);
      }
      HTMLFormElement.prototype.submit.call(form);
    });
  }
  enhance(document);
})();
