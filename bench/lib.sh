# Shared by bench/run.sh and bench/smoke.sh (sourced, not run).

# Install the Debian packages the harness needs when their commands are missing:
#   wrk, nginx, redis-server, valgrind (+ the nginx echo module, optional: without it the
#   fake upstream is the Python server).
bench_ensure_tools() {
  # The echo module is optional (the Python upstream stands in); the rest is required.
  tools/ensure-tools.sh wrk nginx redis-server valgrind taskset=util-linux
  [[ -e /usr/lib/nginx/modules/ngx_http_echo_module.so ]] ||
    tools/ensure-tools.sh /usr/lib/nginx/modules/ngx_http_echo_module.so=libnginx-mod-http-echo ||
    echo "bench: libnginx-mod-http-echo unavailable; using the Python upstream" >&2
  return 0
}

# Newest modification time (epoch seconds) of the files enrichd is built from.
bench_sources_mtime() {
  find src connectors Cargo.toml Cargo.lock -type f -printf '%T@\n' 2>/dev/null | sort -n | tail -1 | cut -d. -f1
}

# An enrichd binary at least as new as the sources, or nothing.
bench_fresh_binary() {
  local newest candidate
  newest=$(bench_sources_mtime)
  for candidate in target/release/enrichd target/debug/enrichd; do
    if [[ -x $candidate ]] && (($(stat -c %Y "$candidate") >= newest)); then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

bench_raise_fd_limit() {
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}
export PYTHONDONTWRITEBYTECODE=1
