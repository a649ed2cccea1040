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

  window.drawChart = function (container, points, kind) {
    var width = 720, height = 300, pad = 48;
    container.innerHTML = "";
    var svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    svg.setAttribute("data-kind", kind);
    svg.setAttribute("data-points", String(points.length));
    container.appendChild(svg);
    if (!points.length) {
      svg.appendChild(el("text", { x: pad, y: height / 2 }, "No numeric values to chart."));
      return svg;
    }
    var ys = points.map(function (p) { return p.y; });
    var low = Math.min(0, Math.min.apply(null, ys)), high = Math.max.apply(null, ys);
    if (high === low) high = low + 1;
    var step = (width - 2 * pad) / Math.max(points.length, 1);
    function sx(i) { return pad + step * (i + 0.5); }
    function sy(v) { return height - pad - (v - low) / (high - low) * (height - 2 * pad); }
    svg.appendChild(el("line", { x1: pad, y1: sy(low), x2: width - pad, y2: sy(low), stroke: "#999" }));
    svg.appendChild(el("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, stroke: "#999" }));
    svg.appendChild(el("text", { x: 4, y: sy(high) + 4, "font-size": 11 }, String(high)));
    svg.appendChild(el("text", { x: 4, y: sy(low) + 4, "font-size": 11 }, String(low)));
    if (kind === "bar") {
      points.forEach(function (p, i) {
        var top = sy(Math.max(p.y, 0)), bottom = sy(Math.min(p.y, 0));
        svg.appendChild(el("rect", {
          x: sx(i) - step * 0.4, y: top, width: Math.max(step * 0.8, 1), height: Math.max(bottom - top, 1),
          fill: "#417690", "class": "bar"
        }));
      });
    } else {
      var path = points.map(function (p, i) { return (i ? "L" : "M") + sx(i).toFixed(1) + " " + sy(p.y).toFixed(1); });
      svg.appendChild(el("path", { d: path.join(" "), fill: "none", stroke: "#417690", "stroke-width": 2, "class": "line" }));
    }
    var every = Math.ceil(points.length / 8);
    points.forEach(function (p, i) {
      if (i % every === 0) {
        svg.appendChild(el("text", { x: sx(i), y: height - pad + 16, "font-size": 11, "text-anchor": "middle" }, String(p.x)));
      }
    });
    return svg;
  };
})();
