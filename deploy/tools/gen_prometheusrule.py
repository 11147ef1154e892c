#!/usr/bin/env python3
"""Generate deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/rules.yaml, and set the
base URL of the alerts' runbook links.

rules.yaml (a plain Prometheus rule file, what promtool checks and tests) is the single source
of the alerts; the PrometheusRule is its `groups` wrapped for the Prometheus Operator, because
kustomize cannot embed a plain file as an object's spec.

Every alert's runbook_url is `<base>#<its section>`, with one base for all alerts: the address
of deploy/RUNBOOK.md on the repository's web host. `--runbook-base-url URL` replaces the base in
rules.yaml and in the expected annotations of rules_test.yaml (text substitution: comments and
layout stay), then regenerates the PrometheusRule, so the three files keep agreeing.

usage: gen_prometheusrule.py                          # rewrite the PrometheusRule
       gen_prometheusrule.py --check                  # exit 1 when it is not up to date
       gen_prometheusrule.py --runbook-base-url URL   # point every runbook link at URL, rewrite
"""
import pathlib
import re
import sys

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent.parent
RULES = DEPLOY / "prometheus" / "rules.yaml"
RULES_TEST = DEPLOY / "prometheus" / "rules_test.yaml"
TARGET = DEPLOY / "k8s" / "base" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/rules.yaml by deploy/tools/gen_prometheusrule.py: do not
# edit; change rules.yaml and rerun the script (deploy/check.sh fails while they differ).
# The Prometheus Operator loads it when its Prometheus selects it: kube-prometheus-stack selects
# only PrometheusRules labelled `release: <its release>` by default (deploy/README.md).
"""


class Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)


def render() -> str:
    rules = yaml.safe_load(RULES.read_text())
    obj = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "enrichd",
            "labels": {
                "app.kubernetes.io/name": "enrichd",
                "app.kubernetes.io/component": "api",
            },
        },
        "spec": rules,
    }
    return HEADER + yaml.dump(obj, Dumper=Dumper, sort_keys=False, width=4096)


def runbook_base(rules: dict) -> str:
    """The one base URL of every alert's runbook_url (what precedes `#`)."""
    urls = [r.get("annotations", {}).get("runbook_url", "") for g in rules["groups"] for r in g["rules"] if "alert" in r]
    bases = {u.partition("#")[0] for u in urls}
    if len(bases) != 1:
        raise SystemExit(f"{RULES.relative_to(DEPLOY.parent)}: the alerts' runbook_url must share one base "
                         f"URL, found {sorted(bases)}")
    return bases.pop()


def valid_base(url: str) -> bool:
    return re.fullmatch(r"https?://[^\s#?\"']+/RUNBOOK\.md", url) is not None


def set_runbook_base(new: str) -> int:
    if not valid_base(new):
        print(f"--runbook-base-url {new!r}: expected the absolute http(s) address of RUNBOOK.md, "
              "e.g. https://github.com/ORG/enrichd/blob/main/deploy/RUNBOOK.md", file=sys.stderr)
        return 2
    old = runbook_base(yaml.safe_load(RULES.read_text()))
    for path in (RULES, RULES_TEST):
        text = path.read_text()
        # Only runbook_url values: the base followed by an anchor.
        path.write_text(re.sub(rf"(runbook_url: ){re.escape(old)}#", lambda m: f"{m.group(1)}{new}#", text))
        print(f"{path.relative_to(DEPLOY.parent)}: runbook links now under {new}")
    return write()


def write() -> int:
    TARGET.write_text(render())
    print(f"wrote {TARGET.relative_to(DEPLOY.parent)}")
    return 0


def check() -> int:
    rules = yaml.safe_load(RULES.read_text())
    base = runbook_base(rules)
    if not valid_base(base):
        print(f"{RULES.relative_to(DEPLOY.parent)}: runbook base {base!r} is not the absolute http(s) "
              "address of RUNBOOK.md; set it with --runbook-base-url", file=sys.stderr)
        return 1
    text = render()
    current = TARGET.read_text() if TARGET.exists() else ""
    if current == text:
        return 0
    if TARGET.exists():
        # Say whether only the layout differs or the rules themselves.
        same_rules = (yaml.safe_load(current) or {}).get("spec") == rules
        print(
            f"{TARGET.relative_to(DEPLOY.parent)} is out of date with "
            f"{RULES.relative_to(DEPLOY.parent)}"
            + (" (layout only)" if same_rules else " (the rules differ)")
            + "; run: python3 deploy/tools/gen_prometheusrule.py",
            file=sys.stderr,
        )
    else:
        print(f"{TARGET} is missing; run: python3 deploy/tools/gen_prometheusrule.py", file=sys.stderr)
    return 1


def main() -> int:
    args = sys.argv[1:]
    if args == ["--check"]:
        return check()
    if len(args) == 2 and args[0] == "--runbook-base-url":
        return set_runbook_base(args[1])
    if args and args[0].startswith("--runbook-base-url="):
        return set_runbook_base(args[0].partition("=")[2])
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    return write()


if __name__ == "__main__":
    sys.exit(main())
