#!/usr/bin/env bash
# A short end-to-end run of the benchmark harness (well under a minute once enrichd is built):
# every scenario with tiny counts. It checks that the harness works and the correctness checks
# hold (every answer 200, one upstream call per connector per new user, exactly one upstream
# call per connector in the thundering herd, also across two replicas sharing Redis, the
# stalled connector reported as `timeout` in a partial profile) -- never a timing target.
# (callgrind is left to bench/run.sh: under valgrind a debug build is too slow for a smoke run
# on a loaded machine.) Exit status non-zero when anything breaks.
#
#   bench/smoke.sh                    # uses a fresh target/{release,debug}/enrichd, else builds
#   ENRICHD_BIN=/path/enrichd bench/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

started=$SECONDS
bench_ensure_tools
bench_raise_fd_limit

binary=${ENRICHD_BIN:-}
if [[ -z $binary ]]; then
  if ! binary=$(bench_fresh_binary); then
    echo "bench smoke: no enrichd binary newer than the sources; building (debug)" >&2
    cargo build --locked -p enrichd
    binary=target/debug/enrichd
  fi
fi
echo "bench smoke: using $binary" >&2

out=$(mktemp -d "${TMPDIR:-/tmp}/enrichd-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT
harness_started=$SECONDS
python3 bench/harness.py --binary "$binary" --out "$out" \
  --scenarios hit,miss,herd,stall,memory \
  --runs 1 --duration 1 --noise-retries 0 \
  --hit-users 200 --hit-connections 8 \
  --miss-connections 2 \
  --herd-requests 200 \
  --stall-deadline-ms 200 --stall-connections 4 --stall-check-requests 20 \
  --memory-users 1000 --memory-capacity 100
echo "bench smoke: OK (harness $((SECONDS - harness_started)) s, total $((SECONDS - started)) s)" >&2
