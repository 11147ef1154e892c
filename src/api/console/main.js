// The console's start: sign in (or find authentication off), learn what the credential may
// do, and show one view at a time from the address's fragment (#overview, #connectors, ...).
// Signing out, or enrichd refusing the key once signed in, reloads the page: nothing of the
// previous credential's views (profiles, jobs, forms, charts) survives it.

import { ApiError, call, describe, onUnauthorized, session } from "./api.js";
import { connectors } from "./connectors.js";
import { say } from "./dom.js";
import { jobs } from "./jobs.js";
import { overview } from "./overview.js";
import { privacy } from "./privacy.js";
import { tryIt } from "./tryit.js";

const $ = (id) => document.getElementById(id);

/** Why the page was reloaded to the sign-in form (kept across the reload, then dropped). */
const NOTICE = "enrichd.console.notice";

/** What the credential may do: `admin` (lifecycle and audit) or not; filled at sign-in. */
const role = { admin: false, auth: true, tenant: null };
let views = null;
let current = null;

/** Check the session's credential (or, with `key` null, none): `GET /v1/connectors`
 * answers, `GET /v1/audit` tells an admin token from an API key (403), `GET /v1/usage` names
 * the tenant. Throws the ApiError of a refusal. */
async function probe(key) {
  await call("GET", "v1/connectors", { key });
  try {
    await call("GET", "v1/audit?limit=1", { key });
    role.admin = true;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 401) throw error;
    // 403: an API key; 404: not served on this address; anything else (503: Redis down)
    // comes after the admin check, so the token is an admin's.
    role.admin = error.status !== 403 && error.code !== "not_found";
  }
  try {
    role.tenant = (await call("GET", "v1/usage", { key, quiet: true })).body.tenant;
  } catch {
    role.tenant = null;
  }
}

function showSignIn(problem, kind = "error") {
  $("loading").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !problem;
  error.textContent = problem || "";
  error.className = `message ${kind}`;
  $("signin-key").focus();
}

function signedIn() {
  $("loading").hidden = true;
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  const tenant = role.tenant ? `tenant ${role.tenant}` : "its tenant";
  $("who-text").textContent = !role.auth
    ? "Authentication is off (anyone who can reach enrichd can do this)"
    : `${role.admin ? "Admin token" : "API key"} · ${tenant}`;
  $("sign-out").hidden = !role.auth;
  for (const node of document.querySelectorAll("[data-admin]")) node.hidden = !role.admin;
  views = {
    overview: overview(),
    connectors: connectors(role),
    try: tryIt(),
    jobs: jobs(),
    privacy: privacy(role),
  };
  route(true);
}

/** Show the view the fragment names (the overview at first; a fragment that names no view,
 * such as the skip link's, leaves the current one). */
function route(focus = false) {
  if (!views) return;
  const wanted = location.hash.slice(1);
  const name = wanted in views ? wanted : current || "overview";
  if (current && current !== name) views[current].hide();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  const changed = current !== name;
  current = name;
  if (changed) views[name].show();
  if (focus || (changed && wanted)) $(`${name}-title`).focus();
}

/** Forget the credential and start again from the sign-in form, saying why. */
function restart(text, kind = "error") {
  session.clear();
  sessionStorage.setItem(NOTICE, JSON.stringify({ text, kind }));
  location.reload();
}

async function start() {
  onUnauthorized((error) => {
    if (views) restart(error.describe());
  });
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("signin-submit");
    button.disabled = true;
    try {
      // The tenant header goes with every call once saved (an API key naming another
      // tenant is refused), so the credential is probed as it will be used.
      session.save($("signin-key").value.trim(), $("signin-tenant").value.trim());
      await probe(undefined);
      $("signin-key").value = "";
      signedIn();
    } catch (error) {
      session.clear();
      showSignIn(describe(error));
    } finally {
      button.disabled = false;
    }
  });
  $("sign-out").addEventListener("click", () => restart("Signed out; the key is forgotten.", "ok"));
  window.addEventListener("hashchange", () => route());
  $("skip").addEventListener("click", (event) => {
    event.preventDefault();
    $("main").focus();
  });

  let notice = { text: null, kind: "error" };
  try {
    notice = JSON.parse(sessionStorage.getItem(NOTICE)) || notice;
  } catch {
    // Not ours: ignored.
  }
  sessionStorage.removeItem(NOTICE);
  const stored = session.key();
  try {
    if (stored) {
      await probe(undefined);
    } else {
      await probe(null);
      role.auth = false;
    }
    signedIn();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      session.clear();
      if (stored) showSignIn(error.describe());
      else showSignIn(notice.text, notice.kind);
    } else {
      $("loading").hidden = true;
      say(describe(error), "error");
    }
  }
}

start();
