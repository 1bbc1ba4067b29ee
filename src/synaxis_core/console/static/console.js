// Synaxis console: draws the charts (uPlot) from the JSON in their data-chart attribute, after the
// first load and after every htmx swap. No inline script, no eval (the page's CSP forbids both).
(function () {
  "use strict";
  var COLORS = ["#0b5cad", "#c2410c", "#1a7f37", "#8250df", "#b42318", "#0f766e", "#57606a"];
  var charts = [];

  function money(v) {
    if (v == null) { return ""; }
    return v === 0 ? "$0" : "$" + (Math.abs(v) < 0.01 ? v.toFixed(4) : v.toFixed(2));
  }
  function count(v) { return v == null ? "" : Math.round(v).toLocaleString("en"); }
  function fmt(scale) { return scale === "usd" ? money : count; }

  function build(el) {
    if (el.getAttribute("data-rendered")) { return; }
    var data = JSON.parse(el.getAttribute("data-chart"));
    var halfDay = 43200;  // bars centred on their day, none cut at either end
    var scales = { x: { time: true, range: function (u, min, max) { return [min - halfDay, max + halfDay]; } } };
    var axes = [{ stroke: "#1b1f24", grid: { stroke: "#e5e8eb" } }];
    var seen = [];
    var series = [{ label: "Day", value: function (u, ts) { return ts == null ? "" : new Date(ts * 1000).toISOString().slice(0, 10); } }];
    data.series.forEach(function (s, i) {
      var color = COLORS[i % COLORS.length];
      if (seen.indexOf(s.scale) < 0) {
        seen.push(s.scale);
        scales[s.scale] = { auto: true, range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } };
        axes.push({ scale: s.scale, side: seen.length === 1 ? 3 : 1, stroke: "#1b1f24", size: 70,
                    grid: { show: seen.length === 1, stroke: "#e5e8eb" },
                    values: function (u, vals) { return vals.map(fmt(s.scale)); } });
      }
      var one = { label: s.label, scale: s.scale, stroke: color, width: 2, value: function (u, v) { return fmt(s.scale)(v); } };
      if (s.kind === "bars") {
        one.fill = color + "55";
        one.width = 1;
        one.paths = uPlot.paths.bars({ size: [0.7, 40] });
        one.points = { show: false };
      }
      series.push(one);
    });
    var opts = {
      width: Math.max(320, el.clientWidth), height: 260, series: series, scales: scales, axes: axes,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      legend: { live: true }, cursor: { drag: { x: false, y: false } }
    };
    var values = [data.x].concat(data.series.map(function (s) { return s.values; }));
    charts.push({ el: el, plot: new uPlot(opts, values, el) });
    el.setAttribute("data-rendered", "true");
  }

  function renderAll(root) {
    if (typeof uPlot === "undefined") { return; }
    charts = charts.filter(function (c) { return document.body.contains(c.el); });
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("[data-chart]").forEach(build);
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      charts.forEach(function (c) { c.plot.setSize({ width: Math.max(320, c.el.clientWidth), height: 260 }); });
    }, 150);
  });

  document.addEventListener("DOMContentLoaded", function () {
    renderAll(document);
    if (window.htmx) { window.htmx.onLoad(renderAll); }
  });
})();
