// Small charts drawn as SVG from numbers (no chart library): a sparkline of a figure over
// time and a timeline of connector calls.

import { svg } from "./dom.js";

/** A sparkline of `values` (nulls leave gaps), scaled from 0 to the largest value. */
export function sparkline(values, { width = 240, height = 48, label = "" } = {}) {
  const top = Math.max(...values.filter((v) => v !== null), 0) || 1;
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img", "aria-label": label,
    preserveAspectRatio: "none",
  });
  let run = [];
  const flush = () => {
    // A lone point is drawn as a short flat stroke.
    if (run.length === 1) run.push([run[0][0] + Math.min(step, 4), run[0][1]]);
    if (run.length) {
      chart.append(svg("polyline", { points: run.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ") }));
    }
    run = [];
  };
  values.forEach((value, i) => {
    if (value === null) return flush();
    run.push([i * step, height - 2 - (value / top) * (height - 4)]);
  });
  flush();
  return chart;
}

/** A timeline of calls `[{label, start, duration, status}]` in milliseconds, one row each,
 * against `span` milliseconds. */
export function timeline(calls, span, { width = 600, row = 22 } = {}) {
  const labelWidth = 110;
  const scale = (width - labelWidth - 60) / Math.max(span, 1);
  const height = row * calls.length + 20;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "timeline", role: "img",
    "aria-label": `Connector calls over ${span.toFixed(1)} ms`,
  });
  calls.forEach((call, i) => {
    const y = i * row + 4;
    const x = labelWidth + call.start * scale;
    chart.append(
      svg("text", { x: 0, y: y + 13, class: "t-label", text: call.label }),
      svg("rect", {
        x: x.toFixed(1), y, height: row - 8, width: Math.max(call.duration * scale, 2).toFixed(1),
        class: `t-bar s-${call.status}`,
      }, svg("title", { text: `${call.label}: ${call.status}, ${call.duration} ms` })),
      svg("text", { x: (x + Math.max(call.duration * scale, 2) + 4).toFixed(1), y: y + 13, class: "t-value", text: `${call.duration} ms` }),
    );
  });
  const axis = row * calls.length + 14;
  chart.append(
    svg("line", { x1: labelWidth, x2: (labelWidth + span * scale).toFixed(1), y1: axis - 8, y2: axis - 8, class: "t-axis" }),
    svg("text", { x: labelWidth, y: axis + 4, class: "t-value", text: "0" }),
    svg("text", { x: (labelWidth + span * scale).toFixed(1), y: axis + 4, class: "t-value", "text-anchor": "end", text: `${span.toFixed(1)} ms` }),
  );
  return chart;
}
