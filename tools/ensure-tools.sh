#!/usr/bin/env bash
# The one setup path of the tests, the benchmarks and the deployment checks: install the
# Debian packages that provide the given commands, when a command is missing. Nothing is
# installed when everything is there; nothing is written outside the package system.
#
#   tools/ensure-tools.sh COMMAND[=PACKAGE]...
#   tools/ensure-tools.sh redis-server redis-sentinel promtool=prometheus
#
# `.ci/run` calls it, the test harness calls it for redis-server and redis-sentinel (so the
# README's test command sets itself up), bench/lib.sh and deploy/check.sh call it for theirs.
# Installing needs root (or sudo); services a package would start are not started.
set -euo pipefail

missing=()
for wanted in "$@"; do
  command_name=${wanted%%=*}
  package=${wanted#*=}
  [[ $wanted == *=* ]] || package=$command_name
  if ! command -v "$command_name" >/dev/null 2>&1 && [[ ! -e $command_name ]]; then
    missing+=("$package")
  fi
done
((${#missing[@]})) || exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "ensure-tools: missing ${missing[*]} and not root; install them first (apt-get install ${missing[*]})" >&2
    exit 1
  }
  sudo=sudo
fi

echo "ensure-tools: installing ${missing[*]}" >&2
# Keep package scripts from starting services (the tests and benchmarks run their own).
policy=/usr/sbin/policy-rc.d
added=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && added=1
fi
cleanup() { if ((added)); then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
