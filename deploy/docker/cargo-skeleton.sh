#!/bin/sh
# Copy the Cargo skeleton of the workspace in SRC to DST: every Cargo.toml and Cargo.lock, and a
# stub for every target root a manifest needs to load (src/lib.rs, src/main.rs, build.rs and each
# `path = "....rs"` of an explicit [lib]/[[bin]]/[[test]]/[[bench]]/[[example]] section).
#
# The Dockerfile builds the dependencies against this skeleton in their own layer, which stays
# cached until a manifest or the lock file changes; editing sources only rebuilds the workspace's
# own crates. New workspace members are picked up without editing the Dockerfile.
#
# usage: cargo-skeleton.sh SRC DST
set -eu
src=$1
dst=$2
mkdir -p "$dst"
cd "$src"
cp Cargo.lock "$dst/Cargo.lock"
find . -name Cargo.toml -not -path './target/*' -not -path '*/.git/*' | sort | while read -r manifest; do
  dir=$(dirname "$manifest")
  mkdir -p "$dst/$dir"
  cp "$manifest" "$dst/$manifest"
  {
    for root in src/lib.rs src/main.rs build.rs; do
      [ -f "$dir/$root" ] && echo "$root"
    done
    sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' "$manifest"
  } | sort -u | while read -r root; do
    mkdir -p "$(dirname "$dst/$dir/$root")"
    # One stub fits every kind of target: a lib ignores the unused `main`.
    printf '#![allow(dead_code)]\nfn main() {}\n' > "$dst/$dir/$root"
  done
done
