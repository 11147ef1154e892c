// The console's start: sign in (or find authentication off), learn what the credential may
// do, and show one view at a time from the address's fragment (#overview, #connectors, ...).

import { ApiError, call, onUnauthorized, session } from "./api.js";
import { connectors } from "./connectors.js";
import { say } from "./dom.js";
import { jobs } from "./jobs.js";
import { overview } from "./overview.js";
import { privacy } from "./privacy.js";
import { tryIt } from "./tryit.js";

const $ = (id) => document.getElementById(id);

/** What the credential may do: `admin` (lifecycle and audit) or not; filled at sign-in. */
const role = { admin: false, auth: true };
let views = null;
let current = null;

/** Check a credential (or none): `GET /v1/connectors` answers, then `GET /v1/audit` tells
 * an admin token (200) from an API key (403). Throws the ApiError otherwise. */
async function probe(key) {
  await call("GET", "v1/connectors", { key });
  try {
    await call("GET", "v1/audit?limit=1", { key });
    role.admin = true;
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 403 && error.code !== "not_found")) throw error;
    role.admin = false;
  }
}

function showSignIn(problem) {
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  if (current) views[current].hide();
  current = null;
  $("nav").hidden = true;
  $("who").hidden = true;
  $("loading").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !problem;
  error.textContent = problem || "";
  $("signin-key").focus();
}

function signedIn() {
  $("loading").hidden = true;
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  const tenant = session.tenant() || "default";
  $("who-text").textContent = !role.auth
    ? "Authentication is off (anyone who can reach enrichd can do this)"
    : `${role.admin ? "Admin token" : "API key"} · tenant ${tenant}`;
  $("sign-out").hidden = !role.auth;
  for (const button of document.querySelectorAll("[data-admin]")) button.hidden = !role.admin;
  views = views || {
    overview: overview(),
    connectors: connectors(role),
    try: tryIt(),
    jobs: jobs(),
    privacy: privacy(role),
  };
  route();
}

/** Show the view the fragment names (the overview by default). */
function route() {
  if (!views) return;
  const wanted = location.hash.slice(1);
  const name = wanted in views ? wanted : "overview";
  if (current && current !== name) views[current].hide();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  const changed = current !== name;
  current = name;
  views[name].show();
  if (changed && wanted) $(`${name}-title`).focus();
}

async function start() {
  onUnauthorized((error) => {
    session.clear();
    showSignIn(error.describe());
  });
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("signin-key").value.trim();
    const tenant = $("signin-tenant").value.trim();
    const button = $("signin-submit");
    button.disabled = true;
    try {
      // The tenant header goes with every call once saved; an API key naming another tenant
      // is refused, so probe with it saved.
      session.save(key, tenant);
      await probe(undefined);
      $("signin-key").value = "";
      signedIn();
    } catch (error) {
      session.clear();
      showSignIn(error instanceof ApiError ? error.describe() : String(error));
    } finally {
      button.disabled = false;
    }
  });
  $("sign-out").addEventListener("click", () => {
    session.clear();
    say("Signed out; the key is forgotten.", "info");
    showSignIn(null);
  });
  window.addEventListener("hashchange", route);

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
      showSignIn(stored ? error.describe() : null);
    } else {
      $("loading").hidden = true;
      say(error instanceof ApiError ? error.describe() : String(error), "error");
    }
  }
}

start();
