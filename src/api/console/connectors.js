// Connectors: `GET /v1/connectors` as a table, one connector's detail, and the lifecycle
// actions (enable, disable, reload, discover) for admins, each confirmed first.

import { call, describe, segment } from "./api.js";
import { badge, busy, confirmAction, el, fact, number, percent, replace, say, show, table } from "./dom.js";

const ACTIONS = {
  enable: "It will be asked again by every replica within 2 seconds.",
  disable: "No replica will call it until it is enabled again (within 2 seconds; kept across restarts).",
  reload: "Its configuration is read again and it is rebuilt on every replica.",
};

export function connectors(role) {
  const host = document.getElementById("connectors-table");
  const detail = document.getElementById("connector-detail");
  const discover = document.getElementById("connectors-discover");
  document.getElementById("connectors-refresh").addEventListener("click", () => load());
  discover.addEventListener("click", () => runDiscover(discover));

  async function load() {
    let list;
    try {
      list = (await call("GET", "v1/connectors")).body.connectors;
    } catch (error) {
      return say(describe(error), "error");
    }
    replace(host, table(null, ["Connector", "Category", "Enabled", "Health", "Circuit", "Requests",
      "Success", "p50 / p95 / p99", "Cost / call", ""], list.map(row), { id: "connectors-list" }));
  }

  function row(c) {
    const usage = c.usage || {};
    const latency = usage.latency_ms || {};
    const actions = el("td", { className: "actions" },
      el("button", { type: "button", className: "link", text: "Details", "aria-label": `Details of ${c.name}`, onclick: () => open(c.name) }));
    if (role.admin) {
      const act = c.enabled ? "disable" : "enable";
      for (const action of [act, "reload"]) {
        actions.append(el("button", {
          type: "button", text: action[0].toUpperCase() + action.slice(1), "data-action": action,
          "aria-label": `${action} ${c.name}`, onclick: (event) => lifecycle(c.name, action, event.currentTarget),
        }));
      }
    }
    return el("tr", { "data-connector": c.name, "data-enabled": String(c.enabled) },
      el("th", { scope: "row", text: c.name }),
      el("td", { text: c.category }),
      el("td", {}, badge(c.enabled ? "enabled" : "disabled")),
      el("td", {}, badge(c.health ? c.health.status : "unknown")),
      el("td", {}, badge(c.circuit || "unknown")),
      el("td", { className: "num", text: number(usage.requests) }),
      el("td", { className: "num", text: percent(usage.success_rate) }),
      el("td", { className: "num", text: ["p50", "p95", "p99"].map((p) => latency[p] ?? "—").join(" / ") + " ms" }),
      el("td", { className: "num", text: c.cost ? number(c.cost.per_call, 4) : "—" }),
      actions);
  }

  async function lifecycle(name, action, button) {
    const confirmed = await confirmAction({
      title: `${action[0].toUpperCase() + action.slice(1)} ${name}?`, text: ACTIONS[action], action: action[0].toUpperCase() + action.slice(1),
    });
    if (!confirmed) return button.focus();
    await busy(button, async () => {
      try {
        const answer = (await call("POST", `v1/connectors/${segment(name)}/${action}`)).body;
        say(`${name}: ${action} done — now ${answer.enabled ? "enabled" : "disabled"} (health: ${answer.health ? answer.health.status : "unknown"}).`, "ok");
      } catch (error) {
        say(`${name}: ${action} failed — ${describe(error)}`, "error");
      }
    });
    await load();
    // The focus goes back to the row, on the action taken or the one that undoes it.
    const row = host.querySelector(`tr[data-connector="${CSS.escape(name)}"]`);
    const again = row && (row.querySelector(`button[data-action="${action}"]`) || row.querySelector("button[data-action]"));
    if (again) again.focus();
  }

  async function runDiscover(button) {
    const confirmed = await confirmAction({
      title: "Discover connectors?",
      text: "connectors_dir is read again on every replica: new manifests are added, changed ones rebuilt, removed ones dropped.",
      action: "Discover",
    });
    if (!confirmed) return button.focus();
    await busy(button, async () => {
      try {
        const found = (await call("POST", "v1/connectors/discover")).body;
        const part = (word, list) => `${word}: ${list && list.length ? list.map(show).join(", ") : "none"}`;
        say(`Discovered — ${part("added", found.added)}; ${part("changed", found.changed)}; ${part("removed", found.removed)}; ${part("refused", found.refused)}.`, "ok");
      } catch (error) {
        say(`Discover failed — ${describe(error)}`, "error");
      }
    });
    await load();
  }

  async function open(name) {
    let c;
    try {
      c = (await call("GET", `v1/connectors/${segment(name)}`)).body;
    } catch (error) {
      return say(describe(error), "error");
    }
    const schema = (c.config_schema && c.config_schema.properties) || {};
    const heading = el("h3", { tabindex: "-1", text: `${c.name} ${c.version || ""}` });
    replace(detail, el("article", { className: "panel", "aria-label": `${c.name} in detail` },
      heading,
      el("p", { text: c.description || "" }),
      el("dl", { className: "facts" },
        fact("Kind", c.kind), fact("Origin", show(c.origin)), fact("Category", c.category),
        fact("Fills", (c.capabilities || []).join(", ")),
        fact("Needs", (c.required_identifiers || []).join(", ") || "nothing"),
        fact("Health", c.health ? `${c.health.status} (checked ${c.health.last_check || "never"}, ${c.health.consecutive_failures} failures in a row)` : "—")),
      el("h4", { text: "Configuration (secrets shown as ***)" }),
      el("pre", { className: "json", id: "connector-config", text: JSON.stringify(c.config, null, 2) }),
      el("h4", { text: "Settings schema" }),
      table(null, ["Setting", "Type", "Required", "Secret", "Default", "What it is"],
        Object.entries(schema).map(([key, s]) => el("tr", {},
          el("th", { scope: "row", text: key }), el("td", { text: s.type }),
          el("td", { text: s.required ? "yes" : "no" }), el("td", { text: s.sensitive ? "yes" : "no" }),
          el("td", { text: show(s.default) }), el("td", { text: s.description || "" })))),
      el("button", {
        type: "button", text: "Close", onclick: () => {
          replace(detail);
          const opener = host.querySelector(`tr[data-connector="${CSS.escape(name)}"] button.link`);
          if (opener) opener.focus();
        },
      })));
    heading.focus();
  }

  return {
    show() {
      discover.hidden = !role.admin;
      document.getElementById("connectors-admin-note").hidden = role.admin;
      load();
    },
    hide() {},
  };
}
