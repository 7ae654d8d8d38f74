// The ticket page's conveniences, all optional (every form works without
// JavaScript):
// - after a refused action the page was rendered at the form's POST
//   address; put the ticket's address back, so a reload or a shared link
//   shows the ticket;
// - the composer sends with Ctrl+Enter (Cmd+Enter), posts without leaving
//   the page, appends the entry at once (the live stream skips entries
//   already shown), and refuses an entry over the size limit before
//   sending it, keeping the text.
(function () {
  "use strict";
  var script = document.getElementById("ticket-script");
  var ticketUrl = script && script.getAttribute("data-ticket-url");
  if (ticketUrl && window.history && window.location.pathname !== ticketUrl) {
    window.history.replaceState(null, "", ticketUrl + window.location.hash);
  }

  // Keyboard shortcuts, listed in the `?` overlay.
  var overlay = document.getElementById("shortcuts");
  function toggleShortcuts(show) {
    if (!overlay) { return; }
    overlay.hidden = !show;
    if (show) { document.getElementById("shortcuts-close").focus(); }
  }
  var openButton = document.getElementById("shortcuts-open");
  if (openButton) { openButton.addEventListener("click", function () { toggleShortcuts(true); }); }
  var closeButton = document.getElementById("shortcuts-close");
  if (closeButton) { closeButton.addEventListener("click", function () { toggleShortcuts(false); }); }
  var keys = { r: "body", s: "status-to", a: "assignee", l: "model", e: "to_user",
               d: "duplicate_of", c: "title" };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape") { toggleShortcuts(false); return; }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
    if (event.key === "?") { event.preventDefault(); toggleShortcuts(overlay && overlay.hidden); return; }
    var field = keys[event.key] && document.getElementById(keys[event.key]);
    if (!field) { return; }
    event.preventDefault();
    toggleShortcuts(false);
    var details = field.closest("details");
    if (details) { details.open = true; }
    field.scrollIntoView({ block: "center" });
    field.focus();
  });

  var form = document.getElementById("composer");
  if (!form || !window.fetch || !window.URLSearchParams) { return; }
  var body = form.querySelector("textarea[name=body]");
  var button = form.querySelector("button[type=submit]");
  var message = document.getElementById("composer-error");
  var journal = document.getElementById("journal");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;

  function showError(text) {
    message.textContent = text;
    message.hidden = !text;
    var old = document.getElementById("body-error");
    if (old) { old.remove(); }
  }

  function bytes(text) {
    return window.TextEncoder ? new TextEncoder().encode(text).length : text.length;
  }

  body.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(); } else { button.click(); }
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = body.value;
    if (!text.trim()) { showError("Write something first."); return; }
    if (maxBytes && bytes(text.trim()) > maxBytes) {
      showError("This entry is " + bytes(text.trim()) + " bytes; an entry may have at most " +
        maxBytes + " bytes. Shorten it or attach the rest elsewhere — your text is still here.");
      return;
    }
    button.disabled = true;
    form.setAttribute("data-sending", "true");
    fetch(form.action, {
      method: "POST",
      headers: { "Accept": "application/json",
                 "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString(),
      credentials: "same-origin"
    }).then(function (res) {
      if (res.status === 413) {
        throw new Error("This entry is larger than the server accepts. Your text is still here.");
      }
      return res.json().catch(function () {
        throw new Error("The entry was not saved (the server answered " + res.status + "). Your text is still here.");
      }).then(function (data) {
        if (!res.ok) { throw new Error(data.message || ("The entry was not saved (" + res.status + ").")); }
        return data;
      });
    }).then(function (data) {
      if (!document.getElementById("entry-" + data.id)) {
        journal.insertAdjacentHTML("beforeend", data.html);
      }
      var empty = document.getElementById("journal-empty");
      if (empty) { empty.remove(); }
      body.value = "";
      showError("");
      body.focus();
    }).catch(function (err) {
      showError(err.message || "The entry was not saved. Your text is still here.");
    }).then(function () {
      button.disabled = false;
      form.removeAttribute("data-sending");
    });
  });
})();
