/* The well page's trend charts, drawn with uPlot (vendored, MIT).

   What to draw comes from the page (<script type="application/json" id="chart-setup">: chart titles,
   units, series colours, reference lines, the data URL); the data from that URL, asked for with the
   charts' width in pixels so the server sends no more buckets than there are pixels. Each series is a
   line (the bucket's mean) inside a shaded band (its lowest to highest value); reference lines (nameplate
   current, recommended flow range, limits) are dashed. The data is asked for again every
   setup.refreshSeconds while the page is visible.

   When every chart is drawn the container gets data-state="drawn" and the performance mark
   "charts-drawn" is set (the browser tests and the benchmark wait for them). */
(function () {
  "use strict";

  var setupNode = document.getElementById("chart-setup");
  var root = document.getElementById("well-charts");
  if (!setupNode || !root || typeof uPlot === "undefined") return;
  var setup = JSON.parse(setupNode.textContent);
  var HEIGHT = 220;
  var plots = new Map();
  var marked = false;

  document.querySelectorAll("[data-print-page]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });

  function figureOf(chart) {
    return root.querySelector('[data-chart="' + chart.key + '"]');
  }

  function widthOf(chart) {
    var target = figureOf(chart).querySelector(".chart-canvas");
    return Math.max(200, Math.floor(target.clientWidth));
  }

  function translucent(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function formatter(chart) {
    var number = new Intl.NumberFormat(undefined, { maximumFractionDigits: chart.decimals });
    return function (u, value) {
      return value == null ? "—" : number.format(value) + " " + chart.unit;
    };
  }

  function options(chart, width) {
    var series = [{ label: "Time" }];
    var bands = [];
    var value = formatter(chart);
    chart.series.forEach(function (s) {
      var mean = series.length;
      series.push({ label: s.label, stroke: s.colour, width: 1.5, value: value });
      series.push({ label: s.label + " lowest", stroke: "transparent", width: 0, class: "u-band-edge", points: { show: false } });
      series.push({ label: s.label + " highest", stroke: "transparent", width: 0, class: "u-band-edge", points: { show: false } });
      bands.push({ series: [mean + 2, mean + 1], fill: translucent(s.colour, 0.18) });
    });
    chart.references.forEach(function (r) {
      series.push({ label: r.label, stroke: chart.referenceColour, width: 1, dash: [6, 4], points: { show: false }, value: value });
    });
    return {
      width: width,
      height: HEIGHT,
      series: series,
      bands: bands,
      scales: { x: { time: true } },
      axes: [{}, { size: 60 }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      tzDate: function (ts) {
        return uPlot.tzDate(new Date(ts * 1e3), setup.timezone);
      },
    };
  }

  function arrays(chart, data) {
    var columns = [data.times];
    chart.series.forEach(function (s) {
      var m = data.metrics[s.metric];
      columns.push(m.avg, m.min || m.avg, m.max || m.avg); // null: the same as the mean
    });
    chart.references.forEach(function (r) {
      columns.push(data.times.map(function () {
        return r.value;
      }));
    });
    return columns;
  }

  function hasData(chart, data) {
    return chart.series.some(function (s) {
      return data.metrics[s.metric].avg.some(function (v) {
        return v != null;
      });
    });
  }

  function message(chart, text) {
    figureOf(chart).querySelector("[data-chart-message]").textContent = text;
  }

  function draw(data) {
    setup.charts.forEach(function (chart) {
      var target = figureOf(chart).querySelector(".chart-canvas");
      var plot = plots.get(chart.key);
      if (!hasData(chart, data)) {
        if (plot) {
          plot.destroy();
          plots.delete(chart.key);
        }
        message(chart, "No readings in this range.");
        return;
      }
      message(chart, "");
      if (plot) {
        plot.setData(arrays(chart, data));
      } else {
        plots.set(chart.key, new uPlot(options(chart, widthOf(chart)), arrays(chart, data), target));
      }
    });
    root.setAttribute("data-state", plots.size ? "drawn" : "empty");
    root.setAttribute("data-points", String(data.times.length));
    if (!marked) {
      marked = true;
      performance.mark("charts-drawn");
    }
  }

  function load() {
    var width = Math.max.apply(null, setup.charts.map(widthOf));
    var url = setup.src + (setup.src.indexOf("?") < 0 ? "?" : "&") + "points=" + width;
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.redirected) throw new Error("your session has ended; reload the page to sign in");
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(draw)
      .catch(function (error) {
        root.setAttribute("data-state", "error");
        setup.charts.forEach(function (chart) {
          message(chart, "The chart data could not be loaded (" + error.message + ").");
        });
      });
  }

  if (typeof ResizeObserver !== "undefined") {
    var resize = new ResizeObserver(function () {
      setup.charts.forEach(function (chart) {
        var plot = plots.get(chart.key);
        if (plot) plot.setSize({ width: widthOf(chart), height: HEIGHT });
      });
    });
    resize.observe(root);
  }

  load();
  window.setInterval(function () {
    if (!document.hidden) load();
  }, setup.refreshSeconds * 1000);
})();
