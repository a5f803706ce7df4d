/* Live parts of a dashboard page: every element with data-live-src is refreshed every
   <body data-live-seconds> seconds from that URL (the same page asked for ?fragment=live), without a
   reload. Polling, not server-sent events: see the README's "Dashboards" section for the measurement.

   - One request per URL per round, however many regions share it; a region whose id appears in the
     answer takes that element's content, otherwise the whole answer.
   - A region is left alone while the user is in it (focus inside, an open <details>), so a form being
     filled in is never pulled away; it catches up on the next round.
   - Nothing is asked while the tab is hidden; coming back refreshes at once.
   - A session that has ended (redirect to sign-in, 403) stops the polling and says so. */
(function () {
  "use strict";

  var seconds = Number(document.body.getAttribute("data-live-seconds")) || 10;
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live-src]"));
  var status = document.querySelector("[data-live-status]");
  var timer = null;
  var stopped = false;
  var last = new Map();

  function say(text) {
    if (status) status.textContent = text;
  }

  function busy(region) {
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active)) return true;
    return region.querySelector("details[open]") !== null;
  }

  function scrollPositions(region) {
    return Array.prototype.map.call(region.querySelectorAll(".table-scroll"), function (el) {
      return el.scrollLeft;
    });
  }

  function restoreScroll(region, positions) {
    Array.prototype.forEach.call(region.querySelectorAll(".table-scroll"), function (el, index) {
      if (positions[index]) el.scrollLeft = positions[index];
    });
  }

  function fetchFragment(src) {
    return fetch(src, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    }).then(function (response) {
      if (response.redirected || response.status === 401 || response.status === 403) {
        stopped = true;
        throw new Error("signed-out");
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    });
  }

  function apply(region, html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var part = region.id ? holder.content.getElementById(region.id) : null;
    var fresh = part ? part.innerHTML : html;
    if (last.get(region) === fresh) return;
    var positions = scrollPositions(region);
    region.innerHTML = fresh;
    restoreScroll(region, positions);
    last.set(region, fresh);
  }

  function refresh() {
    if (stopped || document.hidden) return Promise.resolve();
    var requests = new Map();
    var rounds = regions.map(function (region) {
      if (busy(region)) return Promise.resolve();
      var src = region.getAttribute("data-live-src");
      if (!requests.has(src)) requests.set(src, fetchFragment(src));
      return requests.get(src).then(function (html) {
        if (!busy(region)) apply(region, html);
      });
    });
    return Promise.all(rounds).then(
      function () {
        say("Live: updated " + new Date().toLocaleTimeString() + ", every " + seconds + " s.");
      },
      function (error) {
        if (stopped) {
          say("Live updates stopped: your session has ended. Reload the page to sign in again.");
          window.clearInterval(timer);
        } else {
          say("Live update failed (" + error.message + "); trying again in " + seconds + " s.");
        }
      }
    );
  }

  if (regions.length) {
    timer = window.setInterval(refresh, seconds * 1000);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
  }
})();
