// Live journal: new entries appear on every open page of the ticket without
// a reload. The server sends each entry already rendered (and filtered for
// the viewer); this only appends it. Without JavaScript the page still
// works; it just needs a reload.
(function () {
  "use strict";
  var journal = document.getElementById("journal");
  if (!journal || !window.EventSource) { return; }
  var source = new EventSource(journal.getAttribute("data-events"));
  source.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
  source.addEventListener("error", function () { document.body.setAttribute("data-live", "reconnecting"); });
  source.addEventListener("entry", function (event) {
    if (document.getElementById("entry-" + event.lastEventId)) { return; }
    journal.insertAdjacentHTML("beforeend", event.data);
    var empty = document.getElementById("journal-empty");
    if (empty) { empty.remove(); }
  });
})();
