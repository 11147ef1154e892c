#!/usr/bin/env python3
"""The Docker build context of the repository, as the top-level .dockerignore shapes it.

Docker's rules: patterns are matched against slash-separated paths relative to the context
root (after cleaning, leading '/' removed); `*` and `?` stay within one path component, `**`
spans any number of them; a pattern that matches a directory excludes everything below it; a
pattern starting with `!` re-includes; the last matching pattern decides.

usage: docker_context.py --list    # print the files sent to `docker build`
       docker_context.py --check   # fail unless every file the image build reads is sent
                                   # (manifests, lock file, sources, the files embedded with
                                   # include_str!/include_bytes!, what COPY names) and
                                   # target/ and .git/ are not
"""
import os
import pathlib
import posixpath
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out += "(?:.*/)?"
            else:
                out += ".*"
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i)
            if j == -1:
                out += re.escape(c)
            else:
                out += "[" + pattern[i + 1 : j].replace("!", "^", 1) + "]"
                i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    # A pattern matching a directory also matches everything below it.
    return re.compile(f"^{out}(?:/.*)?$")


def rules() -> list[tuple[bool, re.Pattern]]:
    path = ROOT / ".dockerignore"
    result = []
    for line in path.read_text().splitlines() if path.exists() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = posixpath.normpath(line[1:] if include else line).lstrip("/")
        result.append((include, _regex(pattern)))
    return result


def included(rel: str, compiled) -> bool:
    keep = True
    for include, regex in compiled:
        if regex.match(rel):
            keep = include
    return keep


def context_files() -> list[str]:
    compiled = rules()
    files = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        rel_dir = "" if rel_dir == "." else rel_dir
        if rel_dir in ("target", ".git"):
            # Never needed and huge; whether they are excluded is checked below.
            dirnames[:] = []
        for name in filenames:
            rel = posixpath.join(rel_dir.replace(os.sep, "/"), name) if rel_dir else name
            if included(rel, compiled):
                files.append(rel)
    return sorted(files)


def main() -> int:
    if sys.argv[1:] == ["--list"]:
        print("\n".join(context_files()))
        return 0
    if sys.argv[1:] != ["--check"]:
        print(__doc__, file=sys.stderr)
        return 2
    files = set(context_files())
    compiled = rules()
    problems = []
    for unwanted in ("target/debug/enrichd", ".git/HEAD"):
        if included(unwanted, compiled):
            problems.append(f"{unwanted.split('/')[0]}/ is not excluded by .dockerignore")
    needed = {"Cargo.toml", "Cargo.lock", "config.yaml", "deploy/docker/cargo-skeleton.sh"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    for m in re.finditer(r"^COPY\s+(?!--from)(.+)$", dockerfile, re.M):
        for src in m.group(1).split()[:-1]:
            if src not in (".", "./") and not src.startswith("--"):
                needed.add(src)
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("target/", ".git/")) or "/target/" in rel:
            continue
        if path.name == "Cargo.toml" or (path.suffix == ".rs" and not rel.startswith("deploy/")):
            needed.add(rel)
        if path.suffix == ".rs":
            for inc in re.finditer(r'include_(?:str|bytes)!\(\s*"([^"]+)"', path.read_text(errors="replace")):
                needed.add(posixpath.normpath(posixpath.join(posixpath.dirname(rel), inc.group(1))))
    for rel in sorted(needed - files):
        problems.append(f"{rel} is needed by the image build but excluded from the build context")
    for p in problems:
        print(f"ERROR {p}", file=sys.stderr)
    if not problems:
        print(f"build context: {len(files)} files; every manifest, source, embedded file and COPY source is in it; "
              "target/ and .git/ are not")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
