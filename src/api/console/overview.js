// Overview: the service at a glance from `/metrics`, scraped every 5 seconds while shown.

import { call, describe } from "./api.js";
import { sparkline } from "./charts.js";
import { badge, el, millis, number, percent, replace, table } from "./dom.js";
import { between, parse, snapshot } from "./metrics.js";

const EVERY_MS = 5000;
/** Points kept per chart: 5 minutes. */
const KEPT = 60;

const FIGURES = [
  { key: "rate", title: "Requests / s", format: (v) => number(v, 2), hint: "API requests (/v1) per second" },
  { key: "hits", title: "Cache hit ratio", format: (v) => percent(v), hint: "lookups answered from a cache tier (fresh or stale)" },
  { key: "p99", title: "p99 latency", format: millis, hint: "enrich and profile routes" },
  { key: "errors", title: "Error ratio", format: (v) => percent(v, 2), hint: "5xx answers of /v1 routes" },
];

export function overview() {
  const cards = document.getElementById("overview-cards");
  const connectors = document.getElementById("overview-connectors");
  const note = document.getElementById("overview-note");
  const history = Object.fromEntries(FIGURES.map((f) => [f.key, []]));
  let previous = null;
  let timer = 0;
  let scraping = false;

  async function scrape() {
    if (scraping) return;
    scraping = true;
    let samples;
    try {
      samples = parse((await call("GET", "metrics")).body);
    } catch (error) {
      note.textContent = describe(error);
      note.className = "message error";
      note.hidden = false;
      return;
    } finally {
      scraping = false;
    }
    note.hidden = true;
    const now = snapshot(samples, Date.now());
    // The first scrape (or the first after a pause) is only where rates start from.
    const figures = between(now, previous || now);
    if (previous) {
      for (const f of FIGURES) {
        history[f.key].push(figures[f.key]);
        if (history[f.key].length > KEPT) history[f.key].shift();
      }
    }
    draw(figures, previous !== null);
    previous = now;
  }

  function draw(figures, measured) {
    replace(cards, FIGURES.map((f) => {
      const values = history[f.key];
      return el("figure", { className: "card", "data-figure": f.key },
        el("figcaption", { text: f.title }),
        el("p", { className: "figure", text: measured ? f.format(figures[f.key]) : "…" }),
        sparkline(values.length ? values : [null], { label: `${f.title} over the last 5 minutes` }),
        el("p", { className: "muted small", text: f.hint }));
    }));
    const rows = figures.connectors.map((c) => el("tr", { "data-connector": c.name },
      el("th", { scope: "row", text: c.name }),
      el("td", {}, badge(c.healthy === undefined ? "unknown" : c.healthy ? "healthy" : "unhealthy")),
      el("td", {}, badge(c.open ? "open" : "closed")),
      el("td", { className: "num", text: number(c.rate, 2) }),
      el("td", { className: "num", text: percent(c.failure) })));
    replace(connectors, table("Connectors, from /metrics",
      ["Connector", "Health", "Circuit", "Calls / s", "Failed"], rows));
  }

  return {
    show() {
      scrape();
      clearInterval(timer);
      timer = setInterval(() => {
        if (document.hidden) previous = null;
        else scrape();
      }, EVERY_MS);
    },
    hide() {
      clearInterval(timer);
      // Rates are not averaged over the time the page was not looking; the charts show a gap.
      previous = null;
      for (const f of FIGURES) history[f.key].push(null);
    },
  };
}
