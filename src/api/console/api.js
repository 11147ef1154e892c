// The console's only way to enrichd: its public API, on this page's origin, with the key
// signed in with (kept for this tab in sessionStorage, sent as a Bearer credential).

const KEY = "enrichd.console.key";
const TENANT = "enrichd.console.tenant";

export const session = {
  key: () => sessionStorage.getItem(KEY),
  tenant: () => sessionStorage.getItem(TENANT),
  save(key, tenant) {
    sessionStorage.setItem(KEY, key);
    if (tenant) sessionStorage.setItem(TENANT, tenant);
    else sessionStorage.removeItem(TENANT);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(TENANT);
  },
};

/** What enrichd answered when it was not a 2xx (or that it could not be reached: status 0). */
export class ApiError extends Error {
  constructor(status, code, message, details = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** A sentence for the operator. */
  describe() {
    switch (this.status) {
      case 0:
        return `Cannot reach enrichd (${this.message}). Is it running, and is this its address?`;
      case 401:
        return `enrichd refused the key (401 ${this.code}: ${this.message}). Check the key and sign in again.`;
      case 403:
        return `Not allowed with this credential: it needs an admin token, or the key may not act on that tenant (403 ${this.code}: ${this.message}).`;
      default:
        if (this.code === "not_found") {
          return `This address does not serve that route (${this.message}). With server.admin_bind, the admin routes and /metrics are on the admin address.`;
        }
        return `${this.status} ${this.code}: ${this.message}`;
    }
  }
}

/** Called with the error when enrichd refuses the credential (the page signs out). */
let unauthorized = () => {};
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** Call the API. `body`: sent as JSON; `ndjson`: a string sent as NDJSON; `key`: a credential
 * other than the session's (signing in). Answers `{status, headers, body}` with the body as
 * JSON when it is JSON, else text; throws an ApiError for anything but a 2xx. */
export async function call(method, path, { body, ndjson, key, quiet = false } = {}) {
  const headers = { accept: "application/json" };
  const credential = key === undefined ? session.key() : key;
  if (credential) headers.authorization = `Bearer ${credential}`;
  const tenant = session.tenant();
  if (tenant && key === undefined) headers["x-enrichd-tenant"] = tenant;
  let payload;
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (ndjson !== undefined) {
    headers["content-type"] = "application/x-ndjson";
    payload = ndjson;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: "omit", cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "unreachable", error.message);
  }
  const type = response.headers.get("content-type") || "";
  const text = await response.text();
  let parsed = text;
  if (type.startsWith("application/json") && text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const error = parsed && parsed.error ? parsed.error : {};
    const failure = new ApiError(
      response.status,
      error.code || "http_error",
      error.message || response.statusText || "no message",
      error.details || null,
    );
    if (response.status === 401 && key === undefined && !quiet) unauthorized(failure);
    throw failure;
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** A sentence for the operator about anything thrown. */
export function describe(error) {
  return error instanceof ApiError ? error.describe() : `The console failed: ${error}`;
}

/** A path segment, percent-encoded. */
export const segment = (text) => encodeURIComponent(text);
