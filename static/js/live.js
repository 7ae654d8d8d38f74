// Live journal: new entries appear on every open page of the ticket without
// a reload. The server sends each entry already rendered (and filtered for
// the viewer); this only appends it. Without JavaScript the page still
// works; it just needs a reload.
//
// A page left for another (kept in the back/forward cache) closes its
// stream on `pagehide` and opens it again on `pageshow`, catching up after
// the last entry it shows: browsers allow six connections per host, and
// streams of pages nobody looks at must not use them up.
(function () {
  "use strict";
  var journal = document.getElementById("journal");
  if (!journal || !window.EventSource) { return; }
  var base = journal.getAttribute("data-events").split("?")[0];
  var source = null;
  var newMarker = null;

  function lastShown() {
    var entries = journal.querySelectorAll("[data-entry-id]");
    if (!entries.length) { return 0; }
    return entries[entries.length - 1].getAttribute("data-entry-id");
  }

  // A reader scrolled up in a long journal is told, not yanked down.
  function markNew() {
    var rect = journal.getBoundingClientRect();
    if (rect.bottom <= window.innerHeight + 80) { return; }
    if (!newMarker) {
      newMarker = document.createElement("button");
      newMarker.type = "button";
      newMarker.className = "new-entries";
      newMarker.textContent = "New entries below ↓";
      newMarker.addEventListener("click", function () {
        journal.lastElementChild.scrollIntoView({ block: "end" });
        newMarker.remove();
        newMarker = null;
      });
      document.body.appendChild(newMarker);
    }
  }

  function open() {
    if (source) { return; }
    source = new EventSource(base + "?after=" + lastShown());
    source.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
    source.addEventListener("error", function () { document.body.setAttribute("data-live", "reconnecting"); });
    source.addEventListener("entry", function (event) {
      if (document.getElementById("entry-" + event.lastEventId)) { return; }
      journal.insertAdjacentHTML("beforeend", event.data);
      var empty = document.getElementById("journal-empty");
      if (empty) { empty.remove(); }
      markNew();
    });
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
