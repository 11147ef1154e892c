#!/usr/bin/env bash
# The enrichd benchmarks: every scenario, side by side with its baseline, medians of runs.
#
#   bench/run.sh            # full: 3 runs of every scenario (about 20 minutes)
#   bench/run.sh --quick    # 1 short run of every scenario (about 3 minutes)
#   bench/run.sh --full --runs 5 --scenarios hit,miss        # any harness option passes through
#   bench/run.sh --no-build --binary /path/to/enrichd        # measure another build
#   bench/run.sh --scenarios hit --extra-binary fix=/tmp/enrichd-fix   # A/B in the same runs
#
# Builds `cargo build --release --locked -p enrichd` first (a no-op when up to date), installs
# wrk, nginx, redis-server and valgrind with apt-get when missing, then runs bench/harness.py.
# Results: bench/results/<date>/summary.md and runs.json (`python3 bench/harness.py --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

preset=full
build=1
args=()
for arg in "$@"; do
  case $arg in
    --quick) preset=quick ;;
    --full) preset=full ;;
    --no-build) build=0 ;;
    -h | --help)
      sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
      exec python3 bench/harness.py --help
      ;;
    *) args+=("$arg") ;;
  esac
done

bench_ensure_tools
bench_raise_fd_limit
if ((build)); then
  cargo build --release --locked -p enrichd
fi

case $preset in
  quick)
    preset_args=(--runs 1 --duration 3 --hit-users 2000 --miss-connections 1,16 --herd-requests 500
      --stall-check-requests 50 --memory-users 20000 --callgrind-users 200 --callgrind-requests 500
      --callgrind-misses 50 --noise-retries 1)
    ;;
  full)
    preset_args=(--runs 3 --duration 10)
    ;;
esac

exec python3 bench/harness.py "${preset_args[@]}" "${args[@]}"
