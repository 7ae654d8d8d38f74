// Ticket lists that move: the server says "changed" (no data) whenever
// tickets may have changed, and the list reloads its rows through the same
// address, so what a person sees is always what the list query gives them.
// Closed while the page is hidden in the back/forward cache.
(function () {
  "use strict";
  var list = document.getElementById("ticket-list");
  if (!list || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var source = null;
  var loading = false;
  var again = false;

  function reload() {
    if (loading) { again = true; return; }
    loading = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("ticket-list");
        if (fresh) {
          list.innerHTML = fresh.innerHTML;
          list.setAttribute("data-reloaded", String(Date.now()));
        }
      })
      .catch(function () {})
      .then(function () {
        loading = false;
        if (again) { again = false; reload(); }
      });
  }

  function open() {
    if (source) { return; }
    source = new EventSource(list.getAttribute("data-changes"));
    source.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
    source.addEventListener("error", function () { document.body.setAttribute("data-live", "reconnecting"); });
    source.addEventListener("changed", reload);
  }

  function close() {
    if (!source) { return; }
    source.close();
    source = null;
    document.body.setAttribute("data-live", "closed");
  }

  window.addEventListener("pagehide", close);
  window.addEventListener("pageshow", open);
  open();
})();
