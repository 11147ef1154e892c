// A merged profile for people: each section's fields with their source, confidence,
// agreement and conflicts; the sources with status and wave; a timeline of the calls.

import { timeline } from "./charts.js";
import { badge, el, fact, number, show, table } from "./dom.js";

const SECTIONS = ["identity", "demographics", "interests", "social", "behavior", "contextual"];

/** `server-timing` → `{name: {dur, desc}}`. */
export function serverTiming(header) {
  const entries = {};
  for (const part of (header || "").split(",")) {
    const [name, ...params] = part.trim().split(";");
    if (!name) continue;
    const entry = {};
    for (const param of params) {
      const [key, value = ""] = param.trim().split("=");
      entry[key] = key === "dur" ? Number(value) : value.replace(/^"|"$/g, "");
    }
    entries[name] = entry;
  }
  return entries;
}

/** The profile's leaves as `[path, value]`: objects are opened, lists and scalars are leaves,
 * and so is any object the provenance names as a whole. */
export function leaves(value, provenance, path) {
  const opened = value && typeof value === "object" && !Array.isArray(value) && !(path in provenance);
  if (!opened) return [[path, value]];
  const entries = Object.entries(value);
  if (entries.length === 0) return [];
  return entries.flatMap(([key, inner]) => leaves(inner, provenance, `${path}.${key}`));
}

/** The provenance entry of `path`, or of the nearest enclosing path that has one. */
export function provenanceOf(path, provenance) {
  for (let at = path; at; at = at.includes(".") ? at.slice(0, at.lastIndexOf(".")) : "") {
    if (provenance[at]) return provenance[at];
  }
  return null;
}

/** The answer of `POST /v1/enrich` rendered. */
export function renderProfile(answer, timing) {
  const provenance = answer.provenance || {};
  return el("article", { className: "profile", id: "profile", "data-user": answer.user_id },
    el("h3", { tabindex: "-1", text: `Profile of ${answer.user_id}` }),
    el("dl", { className: "facts" },
      fact("Cache", answer.cache), fact("Confidence", number(answer.confidence, 3)),
      fact("Partial", answer.partial ? "yes — a source did not answer" : "no"),
      fact("Enriched", answer.enriched_at), fact("Expires", answer.expires_at),
      answer.cost !== undefined ? fact("Cost", number(answer.cost, 4)) : null,
      timing.total ? fact("Server time", `${timing.total.dur} ms (Server-Timing)`) : null),
    renderSources(answer.sources || [], timing, answer.cache === "miss" || answer.cache === "bypass"),
    SECTIONS.filter((s) => answer.profile && s in answer.profile).map((section) => {
      const rows = leaves(answer.profile[section], provenance, section).map(([path, value]) => fieldRow(path, value, provenance));
      if (rows.length === 0) return null;
      return el("section", { className: "section", "data-section": section },
        el("h4", { text: section }),
        table(null, ["Field", "Value", "Source", "Confidence", "Agreement and conflicts"], rows));
    }),
    el("details", {}, el("summary", { text: "The answer as JSON" }),
      el("pre", { className: "json", text: JSON.stringify(answer, null, 2) })));
}

function fieldRow(path, value, provenance) {
  const p = provenanceOf(path, provenance) || {};
  const source = p.source || (p.sources ? p.sources.join(", ") : "—");
  const notes = [];
  if (p.agreeing && p.agreeing.length) notes.push(el("span", { className: "agree", text: `agrees: ${p.agreeing.join(", ")}` }));
  for (const c of p.conflicts || []) {
    notes.push(el("span", { className: "conflict", text: `${c.source} says ${show(c.value)} (${number(c.confidence, 2)})` }));
  }
  return el("tr", { "data-field": path },
    el("th", { scope: "row", text: path }),
    el("td", { className: "value", text: show(value) }),
    el("td", { className: "source", text: source }),
    el("td", { className: "num confidence", text: p.confidence === undefined ? "—" : number(p.confidence, 3) }),
    el("td", { className: "notes" }, notes));
}

/** The sources: a table and, when they were asked just now (not a cached answer), a timeline
 * of the calls (a wave starts when the wave before has answered). */
function renderSources(sources, timing, calledNow) {
  const rows = sources.map((s) => el("tr", { "data-source": s.connector, "data-status": s.status },
    el("th", { scope: "row", text: s.connector }),
    el("td", {}, badge(s.status)),
    el("td", { className: "num", text: s.wave || 1 }),
    el("td", { text: s.via ? `${s.via.identifier} from ${s.via.from}` : "" }),
    el("td", { className: "num", text: `${s.latency_ms ?? "—"} ms` }),
    el("td", { className: "num", text: s.confidence === undefined ? "—" : number(s.confidence, 2) }),
    el("td", { className: "num", text: s.cost === undefined ? "—" : number(s.cost, 4) })));
  const called = sources.filter((s) => !["skipped", "disabled"].includes(s.status));
  const waveEnds = {};
  for (const s of called) {
    const wave = s.wave || 1;
    const duration = timing[s.connector] ? timing[s.connector].dur : s.latency_ms || 0;
    waveEnds[wave] = Math.max(waveEnds[wave] || 0, duration);
  }
  const startOf = (wave) => {
    let start = 0;
    for (let w = 1; w < wave; w += 1) start += waveEnds[w] || 0;
    return start;
  };
  const calls = called.map((s) => ({
    label: s.wave > 1 ? `${s.connector} (wave ${s.wave})` : s.connector,
    start: startOf(s.wave || 1),
    duration: timing[s.connector] ? timing[s.connector].dur : s.latency_ms || 0,
    status: s.status,
  })).sort((a, b) => a.start - b.start || b.duration - a.duration);
  const span = Math.max(timing.total ? timing.total.dur : 0, ...calls.map((c) => c.start + c.duration), 1);
  return el("section", { className: "section", "data-section": "sources" },
    el("h4", { text: "Sources" }),
    table(null, ["Connector", "Status", "Wave", "Via", "Latency", "Confidence", "Cost"], rows),
    calledNow && calls.length ? el("figure", { className: "timeline-figure" }, el("div", { className: "scroll" }, timeline(calls, span)),
      el("figcaption", { className: "muted small", text: "When each connector answered; a later wave starts once the one before has answered. Skipped and disabled connectors are not drawn." })) : null);
}

/** The answer of a dry run rendered. */
export function renderDryRun(plan) {
  const rows = (plan.connectors || []).map((c) => el("tr", { "data-connector": c.connector, "data-call": c.call },
    el("th", { scope: "row", text: c.connector }),
    el("td", {}, badge(c.call)),
    el("td", { text: c.reason || "" }),
    el("td", { className: "num", text: number(c.cost, 4) })));
  return el("article", { className: "profile", id: "dry-run" },
    el("h3", { tabindex: "-1", text: `Dry run for ${plan.user_id}` }),
    el("p", { text: "Nothing was called or stored." }),
    el("dl", { className: "facts" },
      fact("Cache", plan.cache), fact("Projected cost", number(plan.projected_cost, 4)),
      plan.projected_cost_max !== undefined ? fact("At most", number(plan.projected_cost_max, 4)) : null,
      plan.budget_remaining !== undefined && plan.budget_remaining !== null
        ? fact("Budget left today", number(plan.budget_remaining, 4)) : null),
    table(null, ["Connector", "Would call", "Why not (or when)", "Cost"], rows),
    el("details", {}, el("summary", { text: "The answer as JSON" }),
      el("pre", { className: "json", text: JSON.stringify(plan, null, 2) })));
}
