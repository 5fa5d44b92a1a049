// garnet's cluster dashboard: swaps in the fresh <main> the server rendered, every few seconds,
// without a reload. No library; served by garnet itself under its license (MIT OR Apache-2.0,
// /assets/LICENSE.txt). Everything it inserts was escaped by the server; it sets no HTML itself.
"use strict";
(function () {
  var body = document.body;
  var url = body.getAttribute("data-fragment");
  var every = Math.max(2, Number(body.getAttribute("data-refresh")) || 15) * 1000;
  var conn = document.getElementById("conn");
  var base = conn ? conn.textContent : "";
  function version() {
    var m = document.getElementById("live");
    return m ? m.getAttribute("data-version") : "";
  }
  function say(text, bad) {
    if (!conn) return;
    conn.textContent = text;
    conn.className = bad ? "conn lost" : "conn";
  }
  function tick() {
    fetch(url + "?since=" + encodeURIComponent(version()), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 204) { say(base, false); return null; }
        if (r.status !== 200) { say("not updating: the dashboard answered " + r.status, true); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null || html === undefined) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        var old = document.getElementById("live");
        if (fresh && old) old.replaceWith(document.adoptNode(fresh));
        say(base, false);
      })
      .catch(function () { say("not updating: the dashboard cannot be reached (retrying)", true); })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
