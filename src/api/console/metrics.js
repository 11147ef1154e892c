// Reading `/metrics` (the Prometheus text format) and turning two scrapes into rates, ratios
// and a latency quantile, as PromQL's rate() and histogram_quantile() would.

/** The samples of a scrape: `[{name, labels, value}]` (comments and bad lines skipped). */
export function parse(text) {
  const samples = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const row of text.split("\n")) {
    if (row === "" || row.startsWith("#")) continue;
    const match = line.exec(row);
    if (!match) continue;
    const labels = {};
    for (const [, name, value] of (match[2] || "").matchAll(label)) {
      labels[name] = value.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const value = Number(match[3]);
    if (!Number.isNaN(value)) samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels pass `keep`. */
export function total(samples, name, keep = () => true) {
  let sum = 0;
  for (const s of samples) if (s.name === name && keep(s.labels)) sum += s.value;
  return sum;
}

/** The sums of the samples named `name` grouped by label `by`. */
export function byLabel(samples, name, by, keep = () => true) {
  const sums = new Map();
  for (const s of samples) {
    if (s.name !== name || !keep(s.labels) || !(by in s.labels)) continue;
    sums.set(s.labels[by], (sums.get(s.labels[by]) || 0) + s.value);
  }
  return sums;
}

/** The `q` quantile of histogram bucket counts `[[le, count]]` (cumulative, any order), in
 * the histogram's unit; null when there is nothing. */
export function quantile(q, buckets) {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const count = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (count <= 0) return null;
  const rank = q * count;
  let [lower, below] = [0, 0];
  for (const [le, cumulative] of sorted) {
    if (cumulative >= rank) {
      if (le === Infinity) return lower;
      const inBucket = cumulative - below;
      return inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
    }
    [lower, below] = [le, cumulative];
  }
  return lower;
}

/** The cumulative bucket counts of histogram `name` (its `_bucket` series) summed over the
 * series whose labels pass `keep`, keyed by upper bound. */
export function buckets(samples, name, keep = () => true) {
  const sums = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !keep(s.labels)) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    sums.set(le, (sums.get(le) || 0) + s.value);
  }
  return sums;
}

/** `now − before` for every key of `now` (a counter reset counts from zero). */
export function delta(now, before) {
  const out = [];
  for (const [key, value] of now) {
    const previous = before.get(key) || 0;
    out.push([key, value >= previous ? value - previous : value]);
  }
  return out;
}

/** The routes that enrich or read profiles: the latency that matters to callers. */
const SERVING = new Set(["/v1/enrich", "/v1/enrich/batch", "/v1/profiles/{user_id}"]);
const api = (labels) => labels.route && labels.route.startsWith("/v1/");
const serving = (labels) => SERVING.has(labels.route);
/** Source statuses that are the upstream's or the network's fault. */
const FAILED = new Set(["timeout", "error", "rate_limited", "circuit_open"]);

/** Source statuses counted although no call was made. */
const NOT_CALLED = new Set(["skipped", "disabled", "budget_exhausted"]);

/** Lookups answered from a cache: fresh local entries, and Redis's fresh or stale ones (a
 * stale local entry goes on to Redis, so it is a hit only when there is no Redis). */
function cacheHits(samples) {
  const redis = samples.some((s) => s.name === "enrichd_cache_lookups_total" && s.labels.tier === "redis");
  return total(samples, "enrichd_cache_lookups_total", (l) => (l.tier === "local"
    ? l.result === "hit" || (!redis && l.result === "stale")
    : l.result === "hit" || l.result === "stale"));
}

/** The figures of one scrape that later figures are computed from. */
export function snapshot(samples, at) {
  return {
    at,
    requests: total(samples, "enrichd_http_requests_total", api),
    errors: total(samples, "enrichd_http_requests_total", (l) => api(l) && Number(l.status) >= 500),
    lookups: total(samples, "enrichd_cache_lookups_total", (l) => l.tier === "local"),
    hits: cacheHits(samples),
    latency: buckets(samples, "enrichd_http_request_duration_seconds", serving),
    calls: byLabel(samples, "enrichd_connector_requests_total", "connector", (l) => !NOT_CALLED.has(l.status)),
    failed: byLabel(samples, "enrichd_connector_requests_total", "connector", (l) => FAILED.has(l.status)),
    healthy: byLabel(samples, "enrichd_connector_healthy", "connector"),
    open: byLabel(samples, "enrichd_connector_circuit_open", "connector"),
  };
}

/** Rates and ratios between two snapshots: requests/s, error and hit ratios, p99 in ms, and
 * per connector calls/s and failure ratio. Ratios are null when nothing happened. */
export function between(now, before) {
  const seconds = (now.at - before.at) / 1000;
  const grew = (a, b) => (a >= b ? a - b : a);
  const requests = grew(now.requests, before.requests);
  const lookups = grew(now.lookups, before.lookups);
  const p99 = quantile(0.99, delta(now.latency, before.latency));
  const names = new Set([...now.calls.keys(), ...now.healthy.keys(), ...now.open.keys()]);
  const connectors = [...names].sort().map((name) => {
    const calls = grew(now.calls.get(name) || 0, before.calls.get(name) || 0);
    const failed = grew(now.failed.get(name) || 0, before.failed.get(name) || 0);
    return {
      name,
      rate: seconds > 0 ? calls / seconds : null,
      failure: calls > 0 ? failed / calls : null,
      healthy: now.healthy.get(name),
      open: now.open.get(name),
    };
  });
  return {
    rate: seconds > 0 ? requests / seconds : null,
    errors: requests > 0 ? grew(now.errors, before.errors) / requests : null,
    hits: lookups > 0 ? grew(now.hits, before.hits) / lookups : null,
    p99: p99 === null ? null : p99 * 1000,
    connectors,
  };
}
