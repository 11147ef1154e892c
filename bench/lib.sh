# Shared by bench/run.sh and bench/smoke.sh (sourced, not run).

# Install the Debian packages the harness needs when their commands are missing:
#   wrk, nginx, redis-server, valgrind (+ the nginx echo module, optional: without it the
#   fake upstream is the Python server).
bench_ensure_tools() {
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
  command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
  local echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
  local want_echo=0
  [[ -e $echo_module ]] || want_echo=1
  if ((${#missing[@]} || want_echo)); then
    if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
      echo "bench: missing ${missing[*]} and not root; install them first" >&2
      ((${#missing[@]} == 0)) || return 1
      return 0
    fi
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    echo "bench: installing ${missing[*]}$( ((want_echo)) && echo ' libnginx-mod-http-echo (optional)')" >&2
    $sudo apt-get update -qq >&2
    if ((${#missing[@]})); then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
    if ((want_echo)); then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends libnginx-mod-http-echo >&2 ||
        echo "bench: libnginx-mod-http-echo unavailable; using the Python upstream" >&2
    fi
  fi
  # Installing nginx or redis-server may start their system services; the harness runs its own.
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
