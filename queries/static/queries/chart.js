// A small SVG line or bar chart: no library, no network. window.drawChart(container, points, kind)
// draws points [{x, y}] (y numeric; x numeric, a date or a label) scaled to the box.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function compact(v) {
    var size = Math.abs(v);
    var units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (size >= units[i][0]) return (v / units[i][0]).toFixed(size >= units[i][0] * 100 ? 0 : 1).replace(/\.0$/, "") + units[i][1];
    }
    return String(Math.round(v * 100) / 100);
  }

  window.drawChart = function (container, points, kind) {
    var width = 720, height = 300, pad = 48, left = 72, gap = 8;
    container.innerHTML = "";
    var svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    svg.setAttribute("data-kind", kind);
    svg.setAttribute("data-points", String(points.length));
    container.appendChild(svg);
    if (!points.length) {
      svg.appendChild(el("text", { x: left, y: height / 2 }, "No numeric values to chart."));
      return svg;
    }
    var ys = points.map(function (p) { return p.y; });
    var low = Math.min(0, Math.min.apply(null, ys)), high = Math.max.apply(null, ys);
    if (high === low) high = low + 1;
    var step = (width - left - pad) / Math.max(points.length, 1);
    function sx(i) { return left + step * (i + 0.5); }
    function sy(v) { return height - pad - (v - low) / (high - low) * (height - 2 * pad); }
    svg.appendChild(el("line", { x1: left, y1: sy(low), x2: width - pad, y2: sy(low), stroke: "#999" }));
    svg.appendChild(el("line", { x1: left, y1: pad, x2: left, y2: height - pad, stroke: "#999" }));
    // Y labels end just left of the axis, in a compact form ("1.2M"), so a long number never
    // runs into the plot.
    [high, low].forEach(function (v) {
      svg.appendChild(el("text", { x: left - 6, y: sy(v) + 4, "font-size": 11, "text-anchor": "end", "class": "y-label" }, compact(v)));
    });
    if (kind === "bar") {
      points.forEach(function (p, i) {
        var top = sy(Math.max(p.y, 0)), bottom = sy(Math.min(p.y, 0));
        svg.appendChild(el("rect", {
          x: sx(i) - step * 0.4, y: top, width: Math.max(step * 0.8, 1), height: Math.max(bottom - top, 1),
          fill: "#9333ea", "class": "bar"
        }));
      });
    } else {
      var path = points.map(function (p, i) { return (i ? "L" : "M") + sx(i).toFixed(1) + " " + sy(p.y).toFixed(1); });
      svg.appendChild(el("path", { d: path.join(" "), fill: "none", stroke: "#9333ea", "stroke-width": 2, "class": "line" }));
    }
    // X labels: each one is drawn, measured, and kept only when it clears the last kept one and
    // the chart's edges, so labels of any length (timestamps, addresses) never overlap.
    var lastRight = -Infinity;
    points.forEach(function (p, i) {
      var label = el("text", { x: sx(i), y: height - pad + 16, "font-size": 11, "text-anchor": "middle", "class": "x-label" }, String(p.x));
      svg.appendChild(label);
      var box = label.getBBox();
      if (box.x < lastRight + gap || box.x < left || box.x + box.width > width) {
        svg.removeChild(label);
        return;
      }
      lastRight = box.x + box.width;
    });
    return svg;
  };
})();
