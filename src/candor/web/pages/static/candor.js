/* Candor pages: live Mission Control figures over server-sent events. No third parties. */
(function () {
  "use strict";

  function resolve(data, path) {
    var value = data;
    var parts = path.split("/");
    for (var i = 0; i < parts.length; i++) {
      if (value === null || value === undefined) { return undefined; }
      if (Array.isArray(value)) {
        var key = parts[i];
        value = value.find(function (item) { return String(item.id) === key; });
      } else {
        value = value[parts[i]];
      }
    }
    return value;
  }

  function reasonTags(cell, stopped) {
    while (cell.firstChild) { cell.removeChild(cell.firstChild); }
    Object.keys(stopped || {}).sort().forEach(function (reason) {
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = reason + " " + stopped[reason];
      cell.appendChild(tag);
      cell.appendChild(document.createTextNode(" "));
    });
  }

  function bars(figures) {
    var series = (figures.sends && figures.sends.per_minute) || [];
    var peak = 1;
    series.forEach(function (m) { peak = Math.max(peak, m.count); });
    series.forEach(function (m, index) {
      var bar = document.querySelector('[data-bar="' + index + '"]');
      if (!bar) { return; }
      var height = Math.round(36 * m.count / peak);
      bar.setAttribute("height", String(height));
      bar.setAttribute("y", String(40 - height));
      var title = bar.querySelector("title");
      if (title) { title.textContent = m.minute + ": " + m.count; }
    });
  }

  function shapeChanged(figures) {
    var shown = {};
    document.querySelectorAll("[data-fig]").forEach(function (el) {
      shown[el.getAttribute("data-fig")] = true;
    });
    var missing = false;
    (figures.journeys || []).forEach(function (j) {
      Object.keys(j.steps || {}).forEach(function (step) {
        if (document.querySelector("[data-fig^='journeys/']") &&
            !shown["journeys/" + j.id + "/steps/" + step + "/here"]) { missing = true; }
      });
    });
    var table = document.querySelector('[data-shape="requests/open"]');
    var open = (figures.requests && figures.requests.open) || [];
    if (table || open.length) {
      open.forEach(function (r) {
        if (!shown["requests/open/" + r.id + "/days_left"]) { missing = true; }
      });
    }
    return missing;
  }

  // A <time> shows its moment in the member's time zone (body data-zone), as the server does.
  function readable(iso) {
    var zone = document.body.getAttribute("data-zone") || "UTC";
    var parts = new Intl.DateTimeFormat("en-GB", {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
      hour12: false, timeZone: zone, timeZoneName: "short"
    }).formatToParts(new Date(iso));
    var get = function (type) {
      var part = parts.find(function (p) { return p.type === type; });
      return part ? part.value : "";
    };
    return get("day") + " " + get("month") + " " + get("year") + ", " + get("hour") + ":" +
      get("minute") + " " + get("timeZoneName");
  }

  function apply(figures) {
    document.querySelectorAll("[data-fig]").forEach(function (el) {
      var value = resolve(figures, el.getAttribute("data-fig"));
      var text = value === undefined || value === null ? "0" : String(value);
      if (el.tagName === "TIME" && value) {
        if (el.getAttribute("datetime") === text) { return; }
        el.setAttribute("datetime", text);
        text = readable(text);
      }
      if (el.textContent !== text) {
        el.textContent = text;
        el.classList.remove("changed");
        void el.offsetWidth;
        el.classList.add("changed");
      }
    });
    document.querySelectorAll("[data-reasons]").forEach(function (cell) {
      reasonTags(cell, resolve(figures, cell.getAttribute("data-reasons")));
    });
    bars(figures);
    var stale = document.querySelector("[data-stale]");
    if (stale && shapeChanged(figures)) { stale.classList.remove("hidden"); }
    var count = Number(document.body.getAttribute("data-updates") || "0") + 1;
    document.body.setAttribute("data-updates", String(count));
  }

  function live(el) {
    if (!window.EventSource) { return; }
    var state = document.querySelector("[data-live-state]");
    var source = new EventSource(el.getAttribute("data-live-stream"));
    source.addEventListener("figures", function (event) {
      try { apply(JSON.parse(event.data)); } catch (e) { return; }
      el.classList.add("on");
      if (state) { state.textContent = "Live · figures as of"; }
    });
    source.addEventListener("error", function () {
      el.classList.remove("on");
      if (state) { state.textContent = "Reconnecting · figures as of"; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var stream = document.querySelector("[data-live-stream]");
    if (stream) { live(stream); }
  });
})();
