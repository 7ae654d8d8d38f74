// Live journal: new entries appear on every open page of the ticket without
// a reload. The server sends each entry already rendered (and filtered for
// the viewer); this only appends it. Without JavaScript the page still
// works; it just needs a reload.
//
// One connection per browser, not per page: HTTP/1.1 allows six
// connections per host, so ten ticket tabs each holding a stream would
// leave the next page hanging. The ticket pages of a browser elect one of
// them (a Web Lock: whoever holds "casebook-live" leads; when its page goes
// away the lock passes to another) to hold one stream of all their tickets
// (`GET /events?tickets=12:340,15:0`, filtered per ticket and viewer by the
// server) and pass each entry on through a BroadcastChannel. Where either
// is missing (an old browser, a page not served over https or localhost),
// each page holds its own stream as before.
//
// A page left for another (kept in the back/forward cache) lets go of the
// lead and its stream on `pagehide` and comes back on `pageshow`, catching
// up after the last entry it shows.
(function () {
  "use strict";
  var journal = document.getElementById("journal");
  if (!journal || !window.EventSource) { return; }
  var ticket = journal.getAttribute("data-ticket");
  var base = journal.getAttribute("data-events").split("?")[0];
  var newMarker = null;

  function lastShown() {
    var entries = journal.querySelectorAll("[data-entry-id]");
    if (!entries.length) { return 0; }
    return parseInt(entries[entries.length - 1].getAttribute("data-entry-id"), 10) || 0;
  }

  function setLive(state) { document.body.setAttribute("data-live", state); }

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

  function append(id, html) {
    if (document.getElementById("entry-" + id)) { return; }
    journal.insertAdjacentHTML("beforeend", html);
    var empty = document.getElementById("journal-empty");
    if (empty) { empty.remove(); }
    markNew();
  }

  if (!window.BroadcastChannel || !navigator.locks) {
    // One stream for this page.
    var source = null;
    var open = function () {
      if (source) { return; }
      source = new EventSource(base + "?after=" + lastShown());
      source.addEventListener("open", function () { setLive("open"); });
      source.addEventListener("error", function () { setLive("reconnecting"); });
      source.addEventListener("entry", function (event) { append(event.lastEventId, event.data); });
    };
    window.addEventListener("pagehide", function () {
      if (!source) { return; }
      source.close();
      source = null;
      setLive("closed");
    });
    window.addEventListener("pageshow", open);
    open();
    return;
  }

  var page = Math.random().toString(36).slice(2) + Date.now().toString(36);
  var channel = null;
  var shown = false;
  // While this page leads: the pages it streams for, and the stream.
  var lead = null;

  function say(message) { if (channel) { channel.postMessage(message); } }
  function want() { say({ type: "want", page: page, ticket: ticket, after: lastShown() }); }

  function Lead(release) {
    this.release = release;
    // page → { ticket, after }: what each open page shows.
    this.pages = {};
    this.pages[page] = { ticket: ticket, after: lastShown() };
    // ticket → the position the stream is at.
    this.at = {};
    this.source = null;
    this.timer = null;
  }
  // Each ticket from the oldest entry a page of it still needs.
  Lead.prototype.positions = function () {
    var positions = {};
    var self = this;
    Object.keys(this.pages).forEach(function (p) {
      var w = self.pages[p];
      positions[w.ticket] = w.ticket in positions ? Math.min(positions[w.ticket], w.after) : w.after;
    });
    return positions;
  };
  // Opens the stream again when a ticket joined or left, or a page needs
  // entries from before where the stream is (it came back from the cache);
  // a burst of pages saying what they show becomes one reconnect.
  Lead.prototype.refresh = function () {
    var self = this;
    if (this.timer) { return; }
    this.timer = setTimeout(function () {
      self.timer = null;
      var positions = self.positions();
      var names = Object.keys(positions).sort();
      var same = self.source && names.join(",") === Object.keys(self.at).sort().join(",") &&
        names.every(function (t) { return positions[t] >= self.at[t]; });
      if (same) { self.announce(); return; }
      if (self.source) { self.source.close(); }
      self.source = null;
      self.at = positions;
      if (!names.length) { return; }
      var query = names.map(function (t) { return t + ":" + positions[t]; }).join(",");
      var source = new EventSource("/events?tickets=" + encodeURIComponent(query));
      self.source = source;
      source.addEventListener("open", function () { self.announce(); });
      source.addEventListener("error", function () {
        setLive("reconnecting");
        say({ type: "state", state: "reconnecting", tickets: [] });
      });
      source.addEventListener("entry", function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        var t = String(data.ticket);
        self.at[t] = Math.max(self.at[t] || 0, data.id);
        Object.keys(self.pages).forEach(function (p) {
          var w = self.pages[p];
          if (w.ticket === t) { w.after = Math.max(w.after, data.id); }
        });
        if (t === ticket) { append(data.id, data.html); }
        say({ type: "entry", ticket: t, id: data.id, html: data.html });
      });
    }, 50);
  };
  Lead.prototype.announce = function () {
    if (!this.source || this.source.readyState !== 1) { return; }
    var tickets = Object.keys(this.at);
    if (tickets.indexOf(ticket) >= 0) { setLive("open"); }
    say({ type: "state", state: "open", tickets: tickets });
  };
  Lead.prototype.stop = function () {
    if (this.timer) { clearTimeout(this.timer); }
    if (this.source) { this.source.close(); }
    this.source = null;
    this.release();
  };

  function onMessage(event) {
    var m = event.data || {};
    if (!shown) { return; }
    if (m.type === "entry" && m.ticket === ticket) { append(m.id, m.html); }
    if (m.type === "state" && !lead) {
      setLive(m.state === "open" && m.tickets.indexOf(ticket) < 0 ? "waiting" : m.state);
    }
    if (m.type === "who") { want(); }
    if (!lead) { return; }
    if (m.type === "want") {
      lead.pages[m.page] = { ticket: String(m.ticket), after: m.after };
      lead.refresh();
    } else if (m.type === "leave") {
      delete lead.pages[m.page];
      lead.refresh();
    }
  }

  function requestLead() {
    navigator.locks.request("casebook-live", function () {
      if (!shown) { return null; }
      return new Promise(function (release) {
        lead = new Lead(release);
        // The pages that are open say what they show.
        say({ type: "who" });
        lead.refresh();
      });
    });
  }

  function show() {
    if (shown) { return; }
    shown = true;
    setLive("connecting");
    channel = new BroadcastChannel("casebook-live");
    channel.onmessage = onMessage;
    want();
    requestLead();
  }

  function hide() {
    if (!shown) { return; }
    shown = false;
    say({ type: "leave", page: page });
    if (lead) { lead.stop(); lead = null; }
    channel.close();
    channel = null;
    setLive("closed");
  }

  window.addEventListener("pagehide", hide);
  window.addEventListener("pageshow", show);
  show();
})();
