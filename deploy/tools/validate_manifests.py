#!/usr/bin/env python3
"""Validate rendered enrichd manifests offline. Run by deploy/check.sh inside its tool venv.

For every rendered overlay (a multi-document YAML from `kubectl kustomize`):

1. Schema, strictly (unknown fields are errors): built-in kinds against the Kubernetes OpenAPI
   schemas shipped by the `kubernetes-validate` package, for each --k8s-version; the Prometheus
   Operator kinds (ServiceMonitor, PrometheusRule) against the JSON schema of the operator's CRD
   models shipped by `cloudcoil-models-prometheus-operator`, made strict the same way. A kind
   with no schema is an error, not a warning.
2. Wiring: the Service, PodDisruptionBudget, NetworkPolicy and ServiceMonitor select the pods;
   named ports exist; the HPA targets an existing Deployment that sets no `replicas`; every
   referenced ConfigMap exists; every referenced Secret key exists in the rendered Secret or in
   the documented example (deploy/k8s/examples/secret.example.yaml).
3. Production rules of this project: non-root, read-only root filesystem, no capabilities,
   RuntimeDefault seccomp, resources, credentials only from Secrets; the admin listener
   (server.admin_bind set, container ports `http` and `admin` equal to the ports of server.bind
   and server.admin_bind, probes on /healthz and /readyz of port `admin`, the Service exposing
   both, the ServiceMonitor scraping `admin`, the NetworkPolicy admitting `admin` only from this
   namespace or selected pods of another, never from a whole namespace or an address block);
   preStop sleep + server.shutdown_timeout_seconds < terminationGracePeriodSeconds,
   tagged images, the PrometheusRule equal to deploy/prometheus/rules.yaml, and per-overlay
   facts (dev: 1 replica and its Redis; production: >= 3 replicas, JSON logs, topology spread,
   required secrets, no Secret object).
4. The ConfigMap's config.yaml passes `enrichd check-config`, once with an empty environment and
   once with the pod's environment (secret values replaced by placeholders).

usage: validate_manifests.py --enrichd BIN --k8s-version 1.30 [--k8s-version 1.37]
           --example FILE... NAME=RENDERED.yaml...
"""
import argparse
import base64
import copy
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml
from kubernetes_validate import utils as kv

DEPLOY = pathlib.Path(__file__).resolve().parent.parent
RULES = DEPLOY / "prometheus" / "rules.yaml"

SECRET_ENV = ["ENRICHD_API_KEY", "ENRICHD_ADMIN_TOKEN", "ENRICHD_HASH_KEY", "HUBSPOT_TOKEN", "GITHUB_TOKEN", "REDIS_URL"]
# What each secret-backed variable stands for when check-config runs with the pod's environment.
PLACEHOLDERS = {
    "REDIS_URL": "redis://redis.invalid:6379/0",
    # privacy.hash_key must be 32 bytes of base64.
    "ENRICHD_HASH_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
}

errors: list[str] = []


def error(where: str, message: str) -> None:
    errors.append(f"{where}: {message}")


# --- schemas ---------------------------------------------------------------------------------------

def _strictify(node):
    """Forbid unknown properties in every object schema that lists its properties."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _strictify(value)
    elif isinstance(node, list):
        for value in node:
            _strictify(value)
    return node


def causes(problem) -> list:
    """The specific causes of a schema error. anyOf/oneOf errors (every optional field of the CRD
    models is `anyOf: [<schema>, null]`) hide them in their context, grouped by alternative: take
    the alternative that got deepest into the document, recursively."""
    if not problem.context:
        return [problem]
    branches: dict = {}
    for e in problem.context:
        branches.setdefault(e.schema_path[0] if e.schema_path else 0, []).append(e)
    best = max(branches.values(), key=lambda errs: max(len(e.absolute_path) for e in errs))
    return [leaf for e in best for leaf in causes(e)]


def describe(problem) -> list[str]:
    out = []
    for cause in causes(problem):
        path = ".".join(str(p) for p in cause.absolute_path) or "(root)"
        message = cause.message if len(cause.message) < 300 else cause.message[:300] + "..."
        out.append(f"{path}: {message}")
    return out


_crd_validators: dict = {}


def crd_validator(kind: str):
    """A strict JSON-schema validator for a monitoring.coreos.com/v1 kind, from the operator's
    CRD models (cloudcoil-models-prometheus-operator)."""
    if kind not in _crd_validators:
        import jsonschema
        from cloudcoil.models.prometheus_operator import v1

        model = getattr(v1, kind, None)
        if model is None:
            _crd_validators[kind] = None
        else:
            schema = _strictify(model.model_json_schema(by_alias=True, mode="validation"))
            _crd_validators[kind] = jsonschema.Draft202012Validator(schema)
    return _crd_validators[kind]


def validate_schema(where: str, doc: dict, versions: list[str]) -> None:
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    if api.startswith("monitoring.coreos.com/"):
        validator = crd_validator(kind) if api == "monitoring.coreos.com/v1" else None
        if validator is None:
            error(where, f"no CRD schema for {api} {kind}")
            return
        for problem in validator.iter_errors(doc):
            for cause in describe(problem):
                error(where, f"{api} {kind} schema: {cause}")
        return
    for version in versions:
        validator = k8s_validator(api, kind, version)
        if validator is None:
            error(where, f"Kubernetes {version} has no schema for {api} {kind}")
            return
        for problem in validator.iter_errors(doc):
            for cause in describe(problem):
                error(where, f"Kubernetes {version} schema: {cause}")


_k8s_validators: dict = {}


def k8s_validator(api: str, kind: str, version: str):
    """The strict validator kubernetes-validate uses (its schema files and registry), kept so that
    every problem is reported, not only the first."""
    key = (api, kind, version)
    if key not in _k8s_validators:
        import jsonschema
        from referencing import Registry, Resource

        schema_version = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)][-1]
        schema_dir = f"kubernetes-json-schema/v{schema_version}-local-strict"
        api_file = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api)
        try:
            schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{api_file}.json", version)
        except FileNotFoundError:
            _k8s_validators[key] = None
        else:
            defs = kv.schema_contents(f"{schema_dir}/_definitions.json", version)
            registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
            _k8s_validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
    return _k8s_validators[key]


# --- helpers -------------------------------------------------------------------------------------

def selects(selector: dict, labels: dict) -> bool:
    if not selector:
        return True
    match = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def bind_port_of(bind) -> int | None:
    """The port of a listen address such as 0.0.0.0:9090 or [::]:9090."""
    port = str(bind).rpartition(":")[2]
    return int(port) if port.isdigit() else None


def find(docs, kind, name=None):
    return [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]


def secret_keys_of_examples(paths) -> dict[str, set]:
    keys: dict[str, set] = {}
    for path in paths:
        for doc in yaml.safe_load_all(pathlib.Path(path).read_text()):
            if doc and doc.get("kind") == "Secret":
                data = {**doc.get("data", {}), **doc.get("stringData", {})}
                keys.setdefault(doc["metadata"]["name"], set()).update(data)
    return keys


# --- the checks of one overlay ---------------------------------------------------------------------

def check_overlay(name: str, docs: list[dict], example_secrets: dict, enrichd: str) -> None:
    w = f"[{name}]"
    deployments = find(docs, "Deployment", "enrichd")
    if len(deployments) != 1:
        error(w, f"expected one Deployment `enrichd`, found {len(deployments)}")
        return
    deploy = deployments[0]
    pod = deploy["spec"]["template"]
    pod_labels = pod["metadata"].get("labels", {})
    spec = pod["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    c = containers.get("enrichd")
    if c is None:
        error(w, "Deployment enrichd has no container `enrichd`")
        return
    where = f"{w} Deployment/enrichd"

    if not selects(deploy["spec"]["selector"], pod_labels):
        error(where, "selector does not match the pod template labels")

    # Security.
    psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        error(where, "runAsNonRoot is not set")
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    if not isinstance(uid, int) or uid == 0:
        error(where, f"runAsUser must be a numeric non-root uid, is {uid!r}")
    if csc.get("readOnlyRootFilesystem") is not True:
        error(where, "readOnlyRootFilesystem must be true")
    if csc.get("allowPrivilegeEscalation") is not False:
        error(where, "allowPrivilegeEscalation must be false")
    if "ALL" not in csc.get("capabilities", {}).get("drop", []) or csc.get("capabilities", {}).get("add"):
        error(where, "capabilities must drop ALL and add none")
    seccomp = csc.get("seccompProfile", psc.get("seccompProfile", {}))
    if seccomp.get("type") != "RuntimeDefault":
        error(where, "seccompProfile must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        error(where, "automountServiceAccountToken must be false")
    sa_name = spec.get("serviceAccountName")
    sas = find(docs, "ServiceAccount", sa_name)
    if not sas:
        error(where, f"ServiceAccount {sa_name!r} is not in the render")
    elif sas[0].get("automountServiceAccountToken") is not False:
        error(w, f"ServiceAccount {sa_name}: automountServiceAccountToken must be false")

    # Resources.
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(part, {}):
                error(where, f"resources.{part}.{r} is missing")

    # Image.
    image = c.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if "@sha256:" not in image and (not tag or tag == "latest"):
        error(where, f"image {image!r} needs an explicit tag (or digest), not latest")
    for other in find(docs, "Deployment"):
        for oc in other["spec"]["template"]["spec"]["containers"]:
            t = oc["image"].rsplit("/", 1)[-1].partition(":")[2]
            if "@sha256:" not in oc["image"] and (not t or t == "latest"):
                error(f"{w} Deployment/{other['metadata']['name']}", f"image {oc['image']!r} is untagged or latest")

    # Environment: credentials only from Secrets; every referenced Secret key exists.
    env = {e["name"]: e for e in c.get("env", [])}
    rendered_secrets = {
        s["metadata"]["name"]: set(s.get("data", {})) | set(s.get("stringData", {}))
        for s in find(docs, "Secret")
    }
    secret_refs = {}
    for var in SECRET_ENV:
        ref = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef")
        if not ref:
            error(where, f"env {var} must come from a secretKeyRef")
        else:
            secret_refs[var] = ref
    for var, e in env.items():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if not ref:
            continue
        sname, key = ref["name"], ref["key"]
        if sname in rendered_secrets:
            if key not in rendered_secrets[sname] and not ref.get("optional"):
                error(where, f"env {var}: key {key!r} is not in the rendered Secret {sname}")
        elif sname in example_secrets:
            if key not in example_secrets[sname]:
                error(where, f"env {var}: key {key!r} of Secret {sname} is not in its documented example")
        else:
            error(where, f"env {var}: Secret {sname!r} is neither rendered nor documented in deploy/k8s/examples")

    # Volumes: referenced ConfigMaps exist; the config file is mounted where the image reads it.
    configmaps = {cm["metadata"]["name"]: cm for cm in find(docs, "ConfigMap")}
    config_cm = None
    for vol in spec.get("volumes", []):
        cm = vol.get("configMap")
        if cm and cm["name"] not in configmaps and not cm.get("optional"):
            error(where, f"volume {vol['name']}: ConfigMap {cm['name']!r} is not in the render")
        if vol["name"] == "config" and cm:
            config_cm = configmaps.get(cm["name"])
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    args = c.get("args", [])
    config_path = args[args.index("--config") + 1] if "--config" in args else None
    if config_path != "/etc/enrichd/config.yaml" or config_path not in mounts:
        error(where, "must run with --config /etc/enrichd/config.yaml, mounted from the ConfigMap")
    if config_cm is None or "config.yaml" not in config_cm.get("data", {}):
        error(where, "volume `config` must be a rendered ConfigMap with key config.yaml")
        config_text = None
    else:
        config_text = config_cm["data"]["config.yaml"]

    # Ports and probes. With server.admin_bind, /healthz, /readyz and /metrics are served on the
    # admin listener only: the probes and the scrape must use it.
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    server = ((yaml.safe_load(config_text) or {}).get("server") or {}) if config_text is not None else {}
    bind_port = bind_port_of(server.get("bind", "0.0.0.0:8080"))
    admin_port = bind_port_of(server.get("admin_bind")) if server.get("admin_bind") else None
    if ports.get("http") != 8080 or bind_port not in (None, 8080):
        error(where, f"container port `http` and server.bind must be 8080, are {ports.get('http')} and {bind_port}")
    if config_text is not None and admin_port is None:
        error(where, "server.admin_bind must be set in the ConfigMap: metrics, probes and admin routes stay "
                     "off the API port")
    elif admin_port is not None and ports.get("admin") != admin_port:
        error(where, f"container port `admin` must be {admin_port} (server.admin_bind), is {ports.get('admin')}")
    probe_ports = ("admin", ports.get("admin")) if admin_port is not None else ("http", 8080)
    for probe, paths in (("livenessProbe", ("/healthz",)), ("readinessProbe", ("/readyz",)),
                         ("startupProbe", ("/healthz", "/readyz"))):
        got = c.get(probe)
        if not got:
            error(where, f"{probe} is missing")
            continue
        get = got.get("httpGet")
        if not get:
            error(where, f"{probe} must be an httpGet probe")
            continue
        if get.get("path") not in paths:
            error(where, f"{probe} must GET {' or '.join(paths)}, gets {get.get('path')!r}")
        if get.get("port") not in probe_ports:
            error(where, f"{probe} must probe port {probe_ports[0]}, probes {get.get('port')!r}")

    # With a read-only root filesystem, the working directory (where the runtime connector state
    # file goes when there is no Redis) must be a writable volume.
    workdir = c.get("workingDir")
    writable = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v or "persistentVolumeClaim" in v}
    if not workdir or not any(m["mountPath"] == workdir and m["name"] in writable and not m.get("readOnly")
                              for m in c.get("volumeMounts", [])):
        error(where, "workingDir must be set and be a writable volume (emptyDir or PVC): "
                     "the state file is written there without Redis")

    # Shutdown timing: preStop sleep + drain < grace period.
    grace = spec.get("terminationGracePeriodSeconds", 30)
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" and pre[1].isdigit() else None
    if sleep is None:
        error(where, "lifecycle.preStop must be exec [sleep, N]")
    drain = None
    if config_text is not None:
        drain = (yaml.safe_load(config_text).get("server") or {}).get("shutdown_timeout_seconds", 25)
    if sleep is not None and drain is not None and not sleep + drain < grace:
        error(where, f"preStop {sleep} s + shutdown_timeout_seconds {drain} s must stay below "
                     f"terminationGracePeriodSeconds {grace} s")

    # Service, ServiceMonitor, PDB, NetworkPolicy, HPA wiring.
    services = [s for s in find(docs, "Service") if selects(s["spec"].get("selector", {}), pod_labels)]
    if not services:
        error(w, "no Service selects the enrichd pods")
    def target(p):  # the container port number a Service port forwards to
        t = p.get("targetPort", p.get("port"))
        return ports.get(t) if isinstance(t, str) else t
    for svc in services:
        for p in svc["spec"]["ports"]:
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in ports:
                error(f"{w} Service/{svc['metadata']['name']}", f"targetPort {p['targetPort']!r} is not a container port")
    for name, number in (("http", ports.get("http")), ("admin", ports.get("admin"))):
        if number is not None and not any(target(p) == number for s in services for p in s["spec"]["ports"]):
            error(w, f"no Service exposes the container port `{name}` ({number})")
    for sm in find(docs, "ServiceMonitor"):
        matched = [s for s in services if selects(sm["spec"]["selector"], s["metadata"].get("labels", {}))]
        if not matched:
            error(f"{w} ServiceMonitor/{sm['metadata']['name']}", "selects no Service of the enrichd pods")
        for ep in sm["spec"]["endpoints"]:
            scraped = [p for s in matched for p in s["spec"]["ports"] if ep.get("port") == p.get("name")]
            if not scraped:
                error(f"{w} ServiceMonitor/{sm['metadata']['name']}", f"endpoint port {ep.get('port')!r} is not a Service port")
            elif admin_port is not None and any(target(p) != ports.get("admin") for p in scraped):
                error(f"{w} ServiceMonitor/{sm['metadata']['name']}", f"endpoint port {ep.get('port')!r} must be the "
                      "Service port of the admin listener (/metrics is served there only)")
            if ep.get("path", "/metrics") != "/metrics":
                error(f"{w} ServiceMonitor/{sm['metadata']['name']}", "must scrape /metrics")
    for pdb in find(docs, "PodDisruptionBudget"):
        if not selects(pdb["spec"]["selector"], pod_labels):
            error(f"{w} PodDisruptionBudget/{pdb['metadata']['name']}", "does not select the enrichd pods")
    policies = [n for n in find(docs, "NetworkPolicy") if selects(n["spec"]["podSelector"], pod_labels)]
    if not policies:
        error(w, "no NetworkPolicy selects the enrichd pods")
    for np in policies:
        npw = f"{w} NetworkPolicy/{np['metadata']['name']}"
        if set(np["spec"].get("policyTypes", [])) != {"Ingress", "Egress"}:
            error(npw, "must restrict both Ingress and Egress")
        ingress = np["spec"].get("ingress", [])
        in_ports = {p.get("port") for r in ingress for p in r.get("ports", [])}
        expected = {8080} | ({admin_port} if admin_port is not None else set())
        if in_ports != expected or any(not r.get("ports") for r in ingress):
            error(npw, f"ingress must be ports {sorted(expected)} only, is {sorted(map(str, in_ports))}")
        if admin_port is not None:
            # The admin listener (/metrics without a token, the lifecycle routes) is for this
            # namespace and selected pods of another (Prometheus): not a whole namespace such as
            # the ingress controller's, not an address block, not everyone.
            for r in ingress:
                if not any(p.get("port") in (admin_port, "admin") for p in r.get("ports", [])):
                    continue
                peers = r.get("from")
                if not peers:
                    error(npw, f"admits port {admin_port} (admin) from everywhere")
                for peer in peers or []:
                    if "ipBlock" in peer or ("namespaceSelector" in peer and not peer.get("podSelector")):
                        error(npw, f"admits port {admin_port} (admin) from {peer}: only this namespace's pods "
                                   "or selected pods of another namespace may reach it")
        out_ports = {p.get("port") for r in np["spec"].get("egress", []) for p in r.get("ports", [])}
        if not {53, 6379, 443} <= out_ports or any(not r.get("ports") for r in np["spec"].get("egress", [])):
            error(npw, f"egress must allow exactly DNS, Redis and HTTPS, allows {sorted(map(str, out_ports))}")
    hpas = find(docs, "HorizontalPodAutoscaler")
    for hpa in hpas:
        ref = hpa["spec"]["scaleTargetRef"]
        if ref.get("kind") != "Deployment" or not find(docs, "Deployment", ref.get("name")):
            error(f"{w} HorizontalPodAutoscaler/{hpa['metadata']['name']}", f"targets a missing {ref}")
        elif ref["name"] == "enrichd" and "replicas" in deploy["spec"]:
            error(where, "sets replicas although an HPA scales it (kubectl apply would fight the HPA)")
        if not any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", [])):
            error(f"{w} HorizontalPodAutoscaler/{hpa['metadata']['name']}", "must scale on CPU")

    # Alerts: the PrometheusRule is rules.yaml.
    rules = yaml.safe_load(RULES.read_text())
    for pr in find(docs, "PrometheusRule"):
        if pr["spec"] != rules:
            error(f"{w} PrometheusRule/{pr['metadata']['name']}", "differs from deploy/prometheus/rules.yaml "
                  "(run python3 deploy/tools/gen_prometheusrule.py)")
    if not find(docs, "PrometheusRule") or not find(docs, "ServiceMonitor"):
        error(w, "the ServiceMonitor and the PrometheusRule must be rendered")

    # Per overlay.
    if name == "production":
        hpa = next((h for h in hpas if h["spec"]["scaleTargetRef"].get("name") == "enrichd"), None)
        if hpa is None or hpa["spec"].get("minReplicas", 1) < 3:
            error(w, "production needs an HPA with minReplicas >= 3")
        if not find(docs, "PodDisruptionBudget"):
            error(w, "production needs a PodDisruptionBudget")
        if find(docs, "Secret"):
            error(w, "production must render no Secret (secrets are created out of band)")
        if env.get("ENRICHD_LOG_FORMAT", {}).get("value") != "json":
            error(where, "production logs must be JSON (ENRICHD_LOG_FORMAT=json)")
        if not spec.get("topologySpreadConstraints"):
            error(where, "production needs topologySpreadConstraints")
        for var in ("ENRICHD_API_KEY", "ENRICHD_ADMIN_TOKEN", "ENRICHD_HASH_KEY", "REDIS_URL"):
            if secret_refs.get(var, {}).get("optional", False):
                error(where, f"production: the Secret key behind {var} must not be optional")
        if env.get("HUBSPOT_ENABLED", {}).get("value") == "true" and secret_refs.get("HUBSPOT_TOKEN", {}).get("optional", False):
            error(where, "production enables HubSpot, so hubspot-token must not be optional")
    if name == "dev":
        if deploy["spec"].get("replicas") != 1:
            error(where, "dev runs 1 replica")
        if not find(docs, "Deployment", "enrichd-redis") or not find(docs, "Service", "enrichd-redis"):
            error(w, "dev needs its in-cluster Redis Deployment and Service")

    # check-config, twice.
    if config_text is not None:
        # Rendered Secrets give their real (dev) values; out-of-band ones a placeholder; an optional
        # key missing from a rendered Secret leaves the variable unset, as in the pod.
        rendered_values = {}
        for s in find(docs, "Secret"):
            values = {k: base64.b64decode(v).decode() for k, v in s.get("data", {}).items()}
            values.update(s.get("stringData", {}))
            rendered_values[s["metadata"]["name"]] = values
        pod_env = {}
        for var, e in env.items():
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if "value" in e:
                pod_env[var] = e["value"]
            elif ref and ref["name"] in rendered_values:
                if ref["key"] in rendered_values[ref["name"]]:
                    pod_env[var] = rendered_values[ref["name"]][ref["key"]]
            elif ref:
                pod_env[var] = PLACEHOLDERS.get(var, f"placeholder-{ref['key']}")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "config.yaml")
            pathlib.Path(path).write_text(config_text)
            for label, extra in (("empty environment", {}), ("the pod's environment, placeholder secrets", pod_env)):
                run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}
                proc = subprocess.run([enrichd, "check-config", "--config", path], env=run_env,
                                      capture_output=True, text=True)
                out = (proc.stdout + proc.stderr).strip().replace(path, "config.yaml")
                print(f"  {w} check-config with {label}: {out.splitlines()[0] if out else ''}")
                if proc.returncode != 0:
                    error(w, f"enrichd check-config failed with {label}:\n{out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enrichd", required=True)
    ap.add_argument("--k8s-version", action="append", required=True)
    ap.add_argument("--example", action="append", default=[])
    ap.add_argument("rendered", nargs="+", metavar="NAME=FILE")
    args = ap.parse_args()

    example_secrets = secret_keys_of_examples(args.example)
    for path in args.example:
        docs = [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d]
        for doc in docs:
            validate_schema(f"{path} {doc.get('kind')}/{doc['metadata']['name']}", doc, args.k8s_version)
        print(f"  {path}: {len(docs)} object(s) checked")

    for item in args.rendered:
        name, _, path = item.partition("=")
        docs = [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d]
        before = len(errors)
        for doc in docs:
            validate_schema(f"[{name}] {doc.get('kind')}/{doc['metadata']['name']}", doc, args.k8s_version)
        kinds = sorted({d["kind"] for d in docs})
        print(f"  [{name}] {len(docs)} objects, strict schemas (Kubernetes {', '.join(args.k8s_version)}; "
              f"Prometheus Operator CRDs): {', '.join(kinds)}")
        check_overlay(name, copy.deepcopy(docs), example_secrets, args.enrichd)
        print(f"  [{name}] {'OK' if len(errors) == before else f'{len(errors) - before} problem(s)'}")

    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
