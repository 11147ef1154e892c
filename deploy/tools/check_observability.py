#!/usr/bin/env python3
"""Check the Grafana dashboard and the alert rules against the metrics contract. Run by
deploy/check.sh (plain python3 + PyYAML).

- The dashboard is valid JSON with unique panel ids and non-overlapping panels; every panel has a
  query and uses the `datasource` variable.
- Every metric name that a dashboard query or an alert expression references is in the
  contract (PRODUCT.md section 5, plus the standard process_* metrics and Prometheus' own `up`)
  or one of the few metrics enrichd exports beyond it (EXTRA, each checked to be defined in
  src/metrics.rs); histogram names only with _bucket/_sum/_count. The dashboard shows every
  contract metric.
- A cache hit ratio that adds the hits of both tiers divides by the local lookups only: every
  lookup is counted once in tier `local` and once more in tier `redis` when the local tier had
  no fresh copy, so dividing by both tiers counts a local miss answered by Redis as half a hit.
- Every alert has a severity label, summary, description and a runbook_url that is absolute
  (http(s)://.../RUNBOOK.md#anchor), shares its base with every other alert's, and whose anchor
  is a heading of deploy/RUNBOOK.md.
- Writes the dashboard's queries (Grafana variables replaced) as recording rules to OUT, so that
  `promtool check rules OUT` proves they parse as PromQL.

usage: check_observability.py [--product PRODUCT.md] --promql-out OUT.yaml
"""
import argparse
import json
import pathlib
import re
import sys

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent.parent
METRICS_RS = DEPLOY.parent / "src" / "metrics.rs"
DASHBOARD = DEPLOY / "grafana" / "enrichd.json"
RULES = DEPLOY / "prometheus" / "rules.yaml"
RUNBOOK = DEPLOY / "RUNBOOK.md"

# PRODUCT.md section 5, for when the shared documents are not beside the checkout.
CONTRACT = {
    "enrichd_http_requests_total": "counter",
    "enrichd_http_request_duration_seconds": "histogram",
    "enrichd_enrichments_total": "counter",
    "enrichd_enrichment_duration_seconds": "histogram",
    "enrichd_connector_requests_total": "counter",
    "enrichd_connector_request_duration_seconds": "histogram",
    "enrichd_connector_retries_total": "counter",
    "enrichd_connector_healthy": "gauge",
    "enrichd_connector_circuit_open": "gauge",
    "enrichd_cache_lookups_total": "counter",
    "enrichd_coalesced_requests_total": "counter",
    "enrichd_build_info": "gauge",
}
# Exported beyond the contract (README.md, "Observability"), usable in alerts and the dashboard;
# each must be defined in src/metrics.rs.
EXTRA = {
    "enrichd_config_reloads_total": "counter",
    # PRODUCT.md section 11 (spend control) names these two.
    "enrichd_connector_cost_total": "counter",
    "enrichd_connector_quota_remaining": "gauge",
    # PRODUCT.md section 12 (bulk jobs) names these three.
    "enrichd_jobs_subjects_total": "counter",
    "enrichd_jobs_active": "gauge",
    "enrichd_jobs_queue_depth": "gauge",
}
# "plus the standard process_* metrics" (what the prometheus crate's process collector exports).
PROCESS = {
    "process_cpu_seconds_total", "process_open_fds", "process_max_fds",
    "process_virtual_memory_bytes", "process_resident_memory_bytes",
    "process_start_time_seconds", "process_threads",
}
SYNTHETIC = {"up"}  # written by Prometheus itself for every target

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "inf", "nan", "atan2",
    # aggregation operators (may be followed by `by (...)` before their parenthesis)
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
}

errors: list[str] = []


def error(message: str) -> None:
    errors.append(message)


def contract_from_product(path: pathlib.Path) -> dict:
    """The metrics table of PRODUCT.md: | `name` | type | labels |."""
    metrics = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*(counter|gauge|histogram|summary)\b", line)
        if m:
            metrics[m.group(1)] = m.group(2)
    return metrics


def metric_names(expr: str) -> set:
    """Metric names of a PromQL expression (Grafana variables allowed)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"`[^`]*`", "``", s)
    s = re.sub(r"\{[^}]*\}", "{}", s)
    s = re.sub(r"\[[^\]]*\]", "[]", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1()", s)
    s = re.sub(r"\$\{[^}]*\}|\$\w+", "", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        word, before = m.group(0), s[: m.start()]
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue  # 1e3, 5m
        if word.lower() in KEYWORDS:
            continue
        if s[m.end():].lstrip().startswith("("):
            continue  # a function
        names.add(word)
    return names


def check_names(where: str, names: set, contract: dict) -> set:
    known = set()
    for name in names:
        base = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and contract.get(name[: -len(suffix)]) == "histogram":
                base = name[: -len(suffix)]
        if base in contract and (base != name or contract[base] != "histogram"):
            known.add(base)
        elif name in PROCESS or name in SYNTHETIC:
            known.add(name)
        elif name in contract:
            error(f"{where}: histogram {name} used without _bucket/_sum/_count")
        else:
            error(f"{where}: `{name}` is not a metric of the contract")
    return known


def selectors(expr: str, metric: str) -> list[str]:
    """The label matchers of every selector of `metric` in `expr` (empty for a bare name)."""
    return [m.group(1) or "" for m in re.finditer(rf"\b{metric}\b(?:\{{([^}}]*)\}})?", expr)]


def check_cache_hit_ratio(where: str, expr: str) -> None:
    """A hit ratio over both tiers must divide by local lookups (see the module doc)."""
    metric = "enrichd_cache_lookups_total"
    numerator, slash, denominator = expr.partition(" / ")
    if not slash or metric not in numerator or metric not in denominator:
        return
    num, den = selectors(numerator, metric), selectors(denominator, metric)
    hits = all(re.search(r'result\s*=\s*"hit"', s) for s in num)
    per_tier = re.search(r"\bby\s*\([^)]*\btier\b", numerator) or any("tier" in s for s in num)
    if hits and not per_tier and not all(re.search(r'tier\s*=\s*"local"', s) for s in den):
        error(f"{where}: a hit ratio over both tiers must divide by the local lookups "
              f'({metric}{{tier="local"}}): a local miss answered by Redis is counted in both tiers')


def grafana_to_promql(expr: str) -> str:
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)


def github_anchor(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--product", type=pathlib.Path)
    ap.add_argument("--promql-out", type=pathlib.Path, required=True)
    args = ap.parse_args()

    contract = dict(CONTRACT)
    if args.product and args.product.exists():
        from_doc = contract_from_product(args.product)
        if not from_doc:
            error(f"{args.product}: no metrics table found")
        else:
            if from_doc != CONTRACT:
                print(f"  note: {args.product} lists other metrics than this checker's copy; "
                      f"using {args.product} (update CONTRACT in {pathlib.Path(__file__).name})")
            contract = from_doc
        print(f"  contract: {len(contract)} metrics from {args.product}")
    else:
        print(f"  contract: {len(contract)} metrics (built-in copy of PRODUCT.md section 5; shared/ not found)")
    known = {**EXTRA, **contract}
    if METRICS_RS.exists():
        defined = METRICS_RS.read_text()
        for name in EXTRA:
            if f'"{name}"' not in defined:
                error(f"EXTRA metric {name} is not defined in {METRICS_RS.relative_to(DEPLOY.parent)}")
    print(f"  beyond the contract: {', '.join(sorted(EXTRA))}")

    # --- dashboard -------------------------------------------------------------------------------
    try:
        dash = json.loads(DASHBOARD.read_text())
    except json.JSONDecodeError as e:
        error(f"{DASHBOARD.name}: invalid JSON: {e}")
        dash = None
    recording = []
    if dash is not None:
        used = set()
        ids = set()
        panels = [p for p in dash.get("panels", [])]
        panels += [c for p in panels for c in p.get("panels", [])]
        cells: dict = {}
        for panel in panels:
            title = panel.get("title", "?")
            g = panel.get("gridPos", {})
            if not g or g.get("x", 0) + g.get("w", 0) > 24:
                error(f"dashboard panel {title!r}: gridPos missing or wider than the 24-column grid")
            overlapped = set()
            for cx in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0)):
                for cy in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)):
                    if (cx, cy) in cells and cells[(cx, cy)] not in overlapped:
                        overlapped.add(cells[(cx, cy)])
                        error(f"dashboard panel {title!r} overlaps {cells[(cx, cy)]!r}")
                    cells[(cx, cy)] = title
            if panel.get("id") in ids:
                error(f"dashboard panel {title!r}: duplicate id {panel.get('id')}")
            ids.add(panel.get("id"))
            if panel.get("type") == "row":
                continue
            targets = panel.get("targets", [])
            if not targets:
                error(f"dashboard panel {title!r}: no query")
            if panel.get("datasource", {}).get("uid") != "${datasource}":
                error(f"dashboard panel {title!r}: must use the ${{datasource}} variable")
            for t in targets:
                expr = t.get("expr", "")
                names = metric_names(expr)
                if not names:
                    error(f"dashboard panel {title!r}: query references no metric: {expr}")
                used |= check_names(f"dashboard panel {title!r}", names, known)
                check_cache_hit_ratio(f"dashboard panel {title!r}", expr)
                recording.append({"record": f"dashboard:panel_{panel['id']}:{t.get('refId', 'A')}",
                                  "expr": grafana_to_promql(expr)})
        for var in dash.get("templating", {}).get("list", []):
            q = var.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", q)
            if m:
                used |= check_names(f"dashboard variable {var['name']}", metric_names(m.group(1)), known)
                recording.append({"record": f"dashboard:variable:{var['name']}", "expr": grafana_to_promql(m.group(1))})
        missing = sorted(set(contract) - used)
        if missing:
            error(f"dashboard does not show contract metric(s): {', '.join(missing)}")
        print(f"  dashboard: {sum(p.get('type') != 'row' for p in panels)} panels in "
              f"{sum(p.get('type') == 'row' for p in panels)} rows, no overlaps, {len(recording)} queries, "
              f"{len(used & set(contract))}/{len(contract)} contract metrics shown")

    # --- rules -------------------------------------------------------------------------------------
    anchors = {github_anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", RUNBOOK.read_text(), re.M)}
    rules = yaml.safe_load(RULES.read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    bases = set()
    for rule in alerts:
        name = rule["alert"]
        check_names(f"alert {name}", metric_names(rule["expr"]), known)
        if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            error(f"alert {name}: needs a severity label (critical, warning or info)")
        ann = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                error(f"alert {name}: needs a {key} annotation")
        url = ann.get("runbook_url", "")
        if not re.fullmatch(r"https?://[^\s#?\"']+/RUNBOOK\.md#[\w-]+", url):
            error(f"alert {name}: runbook_url must be an absolute http(s) link into RUNBOOK.md "
                  f"(https://HOST/.../deploy/RUNBOOK.md#{name.lower()}), is {url!r}")
        elif url.rpartition("#")[2] not in anchors:
            error(f"alert {name}: runbook anchor #{url.rpartition('#')[2]} is not a heading of RUNBOOK.md")
        bases.add(url.partition("#")[0])
    if len(bases) > 1:
        error(f"alerts: every runbook_url must share one base URL (gen_prometheusrule.py --runbook-base-url), "
              f"found {sorted(bases)}")
    print(f"  rules: {len(alerts)} alerts, metric names, severities, annotations and runbook links "
          f"(under {', '.join(sorted(bases))}) checked")

    args.promql_out.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": recording}]},
                                              sort_keys=False, width=4096))
    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
