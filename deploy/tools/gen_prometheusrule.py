#!/usr/bin/env python3
"""Generate deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/rules.yaml.

rules.yaml (a plain Prometheus rule file, what promtool checks and tests) is the single source
of the alerts; the PrometheusRule is its `groups` wrapped for the Prometheus Operator, because
kustomize cannot embed a plain file as an object's spec.

usage: gen_prometheusrule.py           # rewrite the PrometheusRule
       gen_prometheusrule.py --check   # exit 1 when the PrometheusRule is not up to date
"""
import pathlib
import sys

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent.parent
RULES = DEPLOY / "prometheus" / "rules.yaml"
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


def main() -> int:
    text = render()
    if sys.argv[1:] == ["--check"]:
        current = TARGET.read_text() if TARGET.exists() else ""
        same = current == text
        if not same and TARGET.exists():
            # Say whether only the layout differs or the rules themselves.
            spec = (yaml.safe_load(current) or {}).get("spec")
            same_rules = spec == yaml.safe_load(RULES.read_text())
            print(
                f"{TARGET.relative_to(DEPLOY.parent)} is out of date with "
                f"{RULES.relative_to(DEPLOY.parent)}"
                + (" (layout only)" if same_rules else " (the rules differ)")
                + "; run: python3 deploy/tools/gen_prometheusrule.py",
                file=sys.stderr,
            )
        elif not same:
            print(f"{TARGET} is missing; run: python3 deploy/tools/gen_prometheusrule.py", file=sys.stderr)
        return 0 if same else 1
    if sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(DEPLOY.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
