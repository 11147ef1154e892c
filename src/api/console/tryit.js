// Try it: a subject form → `POST /v1/enrich` (or its dry run), rendered with provenance.

import { call, describe } from "./api.js";
import { busy, el, fields, identifiers, replace, say } from "./dom.js";
import { renderDryRun, renderProfile, serverTiming } from "./profile.js";

export function tryIt() {
  const form = document.getElementById("try-form");
  const result = document.getElementById("try-result");
  const choices = document.getElementById("try-connectors");
  const enrich = document.getElementById("try-enrich");
  const dryRun = document.getElementById("try-dry-run");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(false, enrich);
  });
  dryRun.addEventListener("click", () => run(true, dryRun));

  /** The request body the form describes. */
  function subject() {
    const values = fields(form);
    const body = identifiers(values);
    const picked = [...choices.querySelectorAll("input:checked")].map((box) => box.value);
    if (picked.length) body.connectors = picked;
    if (form.elements.refresh.checked) body.refresh = true;
    if (values.timeout_ms) body.timeout_ms = Number(values.timeout_ms);
    return body;
  }

  async function run(dry, button) {
    if (!form.reportValidity()) return;
    await busy(button, async () => {
      replace(result, el("p", { className: "muted", text: dry ? "Planning…" : "Enriching…" }));
      try {
        const answer = await call("POST", dry ? "v1/enrich?dry_run=true" : "v1/enrich", { body: subject() });
        const shown = dry ? renderDryRun(answer.body) : renderProfile(answer.body, serverTiming(answer.headers.get("server-timing")));
        replace(result, shown);
        shown.querySelector("h3").focus();
      } catch (error) {
        const sources = error.details && error.details.sources;
        replace(result, el("p", { className: "message error", role: "alert", id: "try-error", text: describe(error) }),
          sources ? renderProfile({ user_id: subject().user_id, sources, provenance: {}, profile: {} }, {}) : null);
        say(describe(error), "error");
      }
    });
  }

  /** Offer the connectors enrichd has, as check boxes. */
  async function loadConnectors() {
    try {
      const list = (await call("GET", "v1/connectors")).body.connectors;
      replace(choices, el("legend", {}, "Connectors ", el("span", { className: "muted", text: "(none ticked: every relevant one)" })),
        list.map((c) => el("label", { className: "check" },
          el("input", { type: "checkbox", name: "connector", value: c.name }), ` ${c.name}${c.enabled ? "" : " (disabled)"}`)));
    } catch (error) {
      say(describe(error), "error");
    }
  }

  return {
    show() {
      loadConnectors();
    },
    hide() {},
  };
}
