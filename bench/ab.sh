#!/usr/bin/env bash
# A/B a source change without touching the working tree: the same commit built with and
# without the patches, measured side by side in the same runs (hit path, with nginx as the
# ceiling), then each counted by callgrind.
#
#   bench/ab.sh LABEL PATCH... [-- harness options]
#   bench/ab.sh fix my-change.patch -- --runs 5
#   AB_BASE=HEAD~1 bench/ab.sh ...            # another commit (default HEAD)
#
# The commit is exported with `git archive` (read-only) to a scratch directory; a copy of
# target/release is reused there so that only the workspace crates are rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

(($# >= 2)) || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
label=$1
shift
patches=()
while (($#)) && [[ $1 != -- ]]; do
  patches+=("$(realpath "$1")")
  shift
done
[[ ${1:-} == -- ]] && shift
base=${AB_BASE:-HEAD}
scratch=${AB_DIR:-${TMPDIR:-/tmp}/enrichd-ab}
bench_ensure_tools
bench_raise_fd_limit

build() { # build <dir> <patches...>
  local dir=$1
  shift
  rm -rf "$dir"
  mkdir -p "$dir/target"
  git archive "$base" | tar -x -C "$dir"
  [[ -d target/release ]] && cp -a target/release "$dir/target/"
  local p
  for p in "$@"; do
    patch -d "$dir" -p1 --forward <"$p"
  done
  (cd "$dir" && cargo build --release --locked -p enrichd)
}

echo "bench ab: building $base" >&2
build "$scratch/base"
echo "bench ab: building $base + ${patches[*]}" >&2
build "$scratch/$label" "${patches[@]}"

out=bench/results/ab-$label-$(date +%Y%m%d-%H%M%S)
python3 bench/harness.py --binary "$scratch/base/target/release/enrichd" \
  --extra-binary "$label=$scratch/$label/target/release/enrichd" --extra-redis \
  --scenarios hit --runs 3 --duration 5 --out "$out/hit" "$@"
for side in base "$label"; do
  python3 bench/harness.py --binary "$scratch/$side/target/release/enrichd" --scenarios callgrind \
    --runs 1 --out "$out/callgrind-$side"
done
echo "bench ab: results in $out" >&2
