// Erase and suppress: `DELETE /v1/profiles/{id}` and `POST /v1/suppressions` (or `/lift`),
// each after the operator has typed what they are about to act on.

import { call, describe, segment } from "./api.js";
import { busy, confirmAction, el, fields, identifiers, replace, say, table } from "./dom.js";

export function privacy(role) {
  const erase = document.getElementById("erase-form");
  const suppress = document.getElementById("suppress-form");
  const audit = document.getElementById("audit");
  erase.addEventListener("submit", (event) => {
    event.preventDefault();
    runErase(document.getElementById("erase-submit"));
  });
  suppress.addEventListener("submit", (event) => {
    event.preventDefault();
    runSuppress("suppress", document.getElementById("suppress-submit"));
  });
  document.getElementById("lift-submit").addEventListener("click", (event) => runSuppress("lift", event.currentTarget));

  async function runErase(button) {
    if (!erase.reportValidity()) return;
    const user = erase.elements.user_id.value.trim();
    const alsoSuppress = erase.elements.suppress.checked;
    const confirmed = await confirmAction({
      title: `Erase ${user}?`,
      text: `Everything held about ${user} is removed on every replica${alsoSuppress ? ", and their identifiers are suppressed" : ""}. This cannot be undone.`,
      action: "Erase",
      typed: user,
    });
    if (!confirmed) return button.focus();
    await busy(button, async () => {
      try {
        await call("DELETE", `v1/profiles/${segment(user)}${alsoSuppress ? "?suppress=true" : ""}`);
        say(`${user} erased${alsoSuppress ? " and suppressed" : ""}.`, "ok");
        erase.reset();
      } catch (error) {
        say(describe(error), "error");
      }
    });
    loadAudit();
  }

  async function runSuppress(action, button) {
    const body = identifiers(fields(suppress));
    if (Object.keys(body).length === 0) return say("Name at least one identifier.", "error");
    const word = action === "lift" ? "Lift" : "Suppress";
    const confirmed = await confirmAction({
      title: `${word} these identifiers?`,
      text: `${JSON.stringify(body)} — ${action === "lift" ? "they may be enriched again" : "they will not be enriched until lifted"}.`,
      action: word,
      typed: action,
    });
    if (!confirmed) return button.focus();
    await busy(button, async () => {
      try {
        await call("POST", action === "lift" ? "v1/suppressions/lift" : "v1/suppressions", { body });
        say(action === "lift" ? "Lifted." : "Suppressed.", "ok");
        suppress.reset();
      } catch (error) {
        say(describe(error), "error");
      }
    });
    loadAudit();
  }

  /** The last entries of the audit trail (admins). */
  async function loadAudit() {
    if (!role.admin) return;
    try {
      const page = (await call("GET", "v1/audit?limit=10")).body;
      const entries = page.entries || [];
      replace(audit, el("h3", { text: "Recent audit entries" }),
        table(null, ["When", "Who", "Tenant", "Action", "Targets", "Outcome"], entries.map((e) => el("tr", {},
          el("td", { text: e.time }), el("td", { text: e.actor }), el("td", { text: e.tenant }),
          el("td", { text: e.action }), el("td", { text: (e.targets || []).join(", ") }), el("td", { text: e.outcome })))));
    } catch (error) {
      replace(audit, el("p", { className: "muted", text: `Audit trail: ${describe(error)}` }));
    }
  }

  return {
    show() {
      audit.hidden = !role.admin;
      loadAudit();
    },
    hide() {},
  };
}
