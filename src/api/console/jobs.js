// Jobs: the tenant's bulk jobs with progress, their results to download, cancelling, and a
// small form to submit one.

import { call, describe, segment } from "./api.js";
import { badge, busy, confirmAction, el, number, replace, say, table } from "./dom.js";

/** How often the list is read again while a job is open and the list is shown. */
const EVERY_MS = 2000;

export function jobs() {
  const host = document.getElementById("jobs-table");
  const form = document.getElementById("jobs-form");
  let timer = 0;
  let shown = false;
  document.getElementById("jobs-refresh").addEventListener("click", () => load());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(document.getElementById("jobs-submit"));
  });

  async function load() {
    clearTimeout(timer);
    let list;
    try {
      list = (await call("GET", "v1/jobs?limit=50")).body.jobs;
    } catch (error) {
      return say(describe(error), "error");
    }
    // Rows are rebuilt: the focused button is found again by job and action.
    const focused = document.activeElement && document.activeElement.closest ? document.activeElement : null;
    const focusedJob = focused && host.contains(focused) ? focused.closest("tr")?.dataset.job : null;
    const focusedAct = focusedJob ? focused.dataset.act : null;
    replace(host, list.length === 0
      ? el("p", { className: "muted", id: "jobs-none", text: "No jobs yet (they are kept for jobs.retention_seconds)." })
      : table(null, ["Job", "Status", "Progress", "ok / partial / failed / suppressed", "Created", "ETA", ""], list.map(row), { id: "jobs-list" }));
    if (focusedJob) {
      const row = host.querySelector(`tr[data-job="${CSS.escape(focusedJob)}"]`);
      const again = row && (row.querySelector(`button[data-act="${focusedAct}"]`) || row.querySelector("button"));
      (again || document.getElementById("jobs-title")).focus();
    }
    clearTimeout(timer);
    if (shown && list.some((j) => j.status === "queued" || j.status === "running")) {
      timer = setTimeout(load, EVERY_MS);
    }
  }

  function row(job) {
    const c = job.counts;
    const open = job.status === "queued" || job.status === "running";
    return el("tr", { "data-job": job.job_id, "data-status": job.status },
      el("th", { scope: "row" }, el("code", { text: job.job_id })),
      el("td", {}, badge(job.status)),
      el("td", {}, el("progress", { max: c.total || 1, value: c.done, "aria-label": `${c.done} of ${c.total} done` }),
        el("span", { className: "small", text: ` ${number(c.done)} / ${number(c.total)}` })),
      el("td", { className: "num", text: [c.ok, c.partial, c.failed, c.suppressed].map((n) => number(n)).join(" / ") }),
      el("td", { text: job.created_at }),
      el("td", { className: "num", text: job.eta_seconds === null || job.eta_seconds === undefined ? "—" : `${job.eta_seconds} s` }),
      el("td", { className: "actions" },
        el("button", { type: "button", text: "Results", "data-act": "results", "aria-label": `Download the results of job ${job.job_id}`, onclick: (e) => download(job.job_id, e.currentTarget) }),
        open ? el("button", { type: "button", className: "danger", text: "Cancel", "data-act": "cancel", "aria-label": `Cancel job ${job.job_id}`, onclick: (e) => cancel(job.job_id, e.currentTarget) }) : null));
  }

  async function download(id, button) {
    await busy(button, async () => {
      try {
        const answer = await call("GET", `v1/jobs/${segment(id)}/results`);
        const url = URL.createObjectURL(new Blob([answer.body], { type: "application/x-ndjson" }));
        const link = el("a", { href: url, download: `enrichd-job-${id}.ndjson`, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
        say(`Results of ${id} downloaded (${answer.body.split("\n").filter(Boolean).length} lines).`, "ok");
      } catch (error) {
        say(describe(error), "error");
      }
    });
  }

  async function cancel(id, button) {
    const confirmed = await confirmAction({
      title: "Cancel this job?",
      text: `Subjects of job ${id} not started yet will not be enriched; its webhook says cancelled.`,
      action: "Cancel the job",
    });
    if (!confirmed) return button.focus();
    try {
      const answer = (await call("DELETE", `v1/jobs/${segment(id)}`)).body;
      say(`Job ${id} is ${answer.status}.`, "ok");
    } catch (error) {
      say(describe(error), "error");
    }
    load();
  }

  async function submit(button) {
    if (!form.reportValidity()) return;
    const query = form.elements.refresh.checked ? "?refresh=true" : "";
    await busy(button, async () => {
      try {
        const answer = (await call("POST", `v1/jobs${query}`, { ndjson: form.elements.subjects.value })).body;
        say(`Job ${answer.job_id} queued: ${answer.total} subjects.`, "ok");
        form.reset();
      } catch (error) {
        say(describe(error), "error");
      }
    });
    load();
  }

  return {
    show() {
      shown = true;
      load();
    },
    hide() {
      shown = false;
      clearTimeout(timer);
    },
  };
}
