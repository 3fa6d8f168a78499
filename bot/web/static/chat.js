// The web chat without reloads: every form is sent in the background and the page's new
// content replaces the old one. Without this script the same forms reload the page.
(function () {
  "use strict";
  function enhance(root) {
    root.querySelectorAll("form[data-chat]").forEach(function (form) {
      form.addEventListener("submit", send);
    });
  }
  function send(event) {
    var form = event.target;
    if (typeof fetch !== "function" || typeof DOMParser !== "function") return;
    event.preventDefault();
    var data = new FormData(form, event.submitter || undefined);
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fetch(form.action, {
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
      form.submit();  // the network hiccupped: the plain form still works
    });
  }
  enhance(document);
})();
