#!/usr/bin/env python3
"""The enrichd benchmark harness (Python 3.11 standard library; drives wrk, nginx, redis-server,
valgrind). `bench/run.sh` and `bench/smoke.sh` are the entry points; see `bench/README.md`.

Everything runs on loopback and is started and stopped here. Scenarios:

  hit       GET /v1/profiles/{id} over a warm cache of many users: nginx serving the same
            profile JSON as a static file (the ceiling), enrichd with its in-process cache, and
            enrichd reading through Redis (a fresh replica with a 1-entry local tier), side by
            side in the same run with the same wrk settings.
  miss      new users through 3 connectors (HubSpot, GitHub, Gravatar) whose upstream answers
            after a fixed delay (20 ms), at several closed-loop loads; the upstream measured
            directly at the same load is the baseline.
  herd      N concurrent identical requests for one cold user: upstream calls per connector
            (must be exactly 1); also two replicas sharing Redis.
  stall     one upstream accepts and never answers: every response within the deadline?
  memory    peak RSS (VmHWM) after enriching many distinct users with local_capacity 10000.
  callgrind instructions per hit-path request, counted by valgrind (repeatable).
  redis_memory  bytes of Redis per user (used_memory growth over N users, two connectors),
            this build and each --extra-binary side by side.
  scaleout  the miss path with one and two replicas, on one Redis and on a Redis Cluster of
            three masters (throughput, p99, CPU per request of enrichd and of Redis).

Each scenario reports requests/s, p50/p99/p99.9 latency, upstream calls and enrichd's peak RSS;
repeated runs are summarised by their median. Results go to --out as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LUA = BENCH / "lua"
sys.path.insert(0, str(BENCH))
import upstream as fake  # noqa: E402 - the fixture bodies, shared with the Python upstream

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
CONNECTORS = ("hubspot", "github", "gravatar")
# A fixed key for --sealed runs (a benchmark secret, never a real one): 32 bytes in base64.
BENCH_SEALING_KEY = "YmVuY2htYXJrLW9ubHktc2VhbGluZy1rZXktMzJieXQ="


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_status(pid: int) -> dict:
    """VmHWM / VmRSS of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (nginx's workers, valgrind's child)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        for p in process_tree(pid):
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
    return total / CLK_TCK


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all CPUs)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / CLK_TCK


def prometheus(text: str) -> dict[str, float]:
    """`name{labels}` -> value, for the lines of a Prometheus exposition."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                values[key] = float(value)
            except ValueError:
                pass
    return values


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.binary = Path(args.binary).resolve()
        self.work = Path(tempfile.mkdtemp(prefix="enrichd-bench-", dir=args.tmp))
        self.work.chmod(0o755)  # nginx workers (not root) read the bodies served from here
        self.procs: list[subprocess.Popen] = []
        self.pin = args.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
        self.echo = ECHO_MODULE.exists() and shutil.which("nginx")
        self.extra_binaries = [tuple(x.split("=", 1)) for x in args.extra_binary]
        log(f"work dir {self.work}; binary {self.binary}; pinning {'on' if self.pin else 'off'}")

    # ----- processes ---------------------------------------------------------------------

    def cpus(self, which: str) -> list[str]:
        """`taskset` prefix: the servers on CPU 1, load generators (and upstreams) on CPU 0."""
        if not self.pin:
            return []
        return ["taskset", "-c", {"server": "1", "client": "0"}[which]]

    @contextlib.contextmanager
    def unpinned(self):
        """Every process started meanwhile (servers, upstreams, wrk) floats over all CPUs."""
        pin, self.pin = self.pin, False
        try:
            yield
        finally:
            self.pin = pin

    def spawn(self, name: str, cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
        logfile = open(self.work / f"{name}.log", "ab")
        proc = subprocess.Popen(
            cmd, stdout=logfile, stderr=subprocess.STDOUT, cwd=cwd or self.work,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        proc.bench_name = name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen | None, grace: float = 5.0) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc, grace=3.0)
        self.procs.clear()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def run(self, cmd: list[str], timeout: float, check: bool = True) -> str:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise BenchError(f"{cmd[0]} failed ({result.returncode}): {result.stderr[-2000:]}{result.stdout[-2000:]}")
        return result.stdout

    def run_together(self, cmds: list[list[str]], timeout: float) -> list[str]:
        """Start every command at once and wait for all: their outputs, in order."""
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cmd in cmds]
        try:
            outputs = [proc.communicate(timeout=timeout) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        for cmd, proc, (out, err) in zip(cmds, procs, outputs):
            if proc.returncode != 0:
                raise BenchError(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}{out[-2000:]}")
        return [out for out, _ in outputs]

    def wait_port_file(self, path: Path, proc: subprocess.Popen, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                return int(path.read_text())
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise BenchError(f"{proc.bench_name} did not start; see {self.work}/{proc.bench_name}.log")

    def wait_http(self, url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                status, _ = http_get(url, timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError(f"{proc.bench_name} did not answer {url}; see {self.work}/{proc.bench_name}.log")

    # ----- upstreams ---------------------------------------------------------------------

    def start_upstream(self, name: str, delay_ms: float, hang: tuple[str, ...] = (), kind: str = "auto") -> "Upstream":
        """The fake upstream APIs: nginx + echo module (echo_sleep) when available and nothing
        must hang, else the Python server. Either counts calls per connector."""
        if kind == "auto":
            kind = "nginx" if self.echo and not hang and self.args.upstream != "python" else "python"
        if kind == "nginx":
            return NginxUpstream(self, name, delay_ms)
        return PythonUpstream(self, name, delay_ms, hang)

    # ----- enrichd -----------------------------------------------------------------------

    def enrichd_config(self, name: str, upstream: "Upstream | None", *, redis_url: str = "",
                       cluster_nodes: list[str] | None = None, local_capacity: int = 10000,
                       deadline_ms: int = 800, timeout_ms: int = 400,
                       breaker_threshold: int = 5, workers: int | None = None,
                       connectors: tuple[str, ...] = CONNECTORS, sealed: bool | None = None,
                       extra: str = "") -> Path:
        base = upstream.url if upstream else "http://127.0.0.1:9"
        lines = [
            "# Generated by bench/harness.py",
            "server:",
            '  bind: "127.0.0.1:0"',
            f"  workers: {workers or self.args.workers}",
            "  shutdown_timeout_seconds: 2",
            "auth: {api_keys: [], admin_tokens: []}",
            "cache:",
            f'  redis_url: "{redis_url}"',
            # A JSON list is a YAML flow sequence: the Cluster's seed nodes, instead of redis_url.
            *([f"  redis_cluster_nodes: {json.dumps(cluster_nodes)}"] if cluster_nodes else []),
            f"  local_capacity: {local_capacity}",
            f'  key_prefix: "bench{name}:"',
            *([f'  encryption_keys: [{{id: bench, key: "{BENCH_SEALING_KEY}"}}]']
              if (self.args.sealed if sealed is None else sealed) else []),
            "enrichment:",
            f"  deadline_ms: {deadline_ms}",
            f"  priority: [{', '.join(c for c in ('hubspot', 'github', 'gravatar') if c in connectors)}]",
            "connectors:",
        ]
        settings = {
            "hubspot": f'{{base_url: "{base}", access_token: "demo-hubspot-token"}}',
            "github": f'{{base_url: "{base}"}}',
            "gravatar": f'{{base_url: "{base}"}}',
        }
        for connector in connectors:
            lines += [
                f"  {connector}:",
                f"    kind: {connector}",
                f"    timeout_ms: {timeout_ms}",
                f"    circuit_breaker: {{failure_threshold: {breaker_threshold}, open_seconds: 30}}",
                f"    settings: {settings[connector]}",
            ]
        lines += [
            f'state_file: "{self.work}/{name}-state.json"',
            "health_check: {enabled: false}",
            *([extra] if extra else []),
        ]
        path = self.work / f"{name}.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start_enrichd(self, name: str, config: Path, valgrind: list[str] | None = None,
                      binary: Path | None = None) -> "Enrichd":
        cmd = (valgrind or self.cpus("server")) + [str(binary or self.binary), "serve", "--config", str(config)]
        # As in production (deploy/k8s/overlays/production): JSON logs at `info`.
        env = {"ENRICHD_LOG_FORMAT": "json", "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "info,actix_server=warn")}
        env.update(kv.split("=", 1) for kv in self.args.enrichd_env)
        proc = self.spawn(name, cmd, env=env)
        logfile = self.work / f"{name}.log"
        deadline = time.monotonic() + (120 if valgrind else 20)
        port = None
        while time.monotonic() < deadline and port is None:
            if proc.poll() is not None:
                break
            for line in logfile.read_text(errors="replace").splitlines():
                if "enrichd is listening" in line:
                    try:
                        port = int(json.loads(line)["port"])
                    except (ValueError, KeyError):
                        match = re.search(r"port\D+(\d+)", line)
                        port = int(match.group(1)) if match else None
            time.sleep(0.05)
        if port is None:
            raise BenchError(f"enrichd {name} did not start:\n{logfile.read_text(errors='replace')[-3000:]}")
        enrichd = Enrichd(self, name, proc, port)
        self.wait_http(f"{enrichd.url}/readyz", proc, timeout=120 if valgrind else 20)
        return enrichd

    # ----- nginx static ceiling ----------------------------------------------------------

    def start_static_nginx(self, body: bytes) -> tuple[subprocess.Popen, str]:
        root = self.work / "static"
        root.mkdir(exist_ok=True)
        (root / "profile.json").write_bytes(body)
        port = free_port()
        conf = self.work / "static-nginx.conf"
        conf.write_text(f"""
worker_processes {self.args.nginx_workers};
daemon off;
pid {self.work}/static-nginx.pid;
error_log {self.work}/static-nginx.error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  {nginx_temp_paths(self.work)}
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  open_file_cache max=16 inactive=60s;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    root {root};
    location /v1/profiles/ {{ default_type application/json; try_files /profile.json =404; }}
  }}
}}
""")
        proc = self.spawn("static-nginx", self.cpus("server") + ["nginx", "-c", str(conf), "-p", str(self.work)])
        url = f"http://127.0.0.1:{port}"
        self.wait_http(f"{url}/v1/profiles/x", proc)
        return proc, url

    # ----- redis -------------------------------------------------------------------------

    def start_redis(self, name: str = "redis", *extra: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        proc = self.spawn(name, self.cpus("server") + [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.work), "--protected-mode", "no", *extra,
        ])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return proc, f"redis://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.05)
        logfile = self.work / f"{name}.log"
        raise BenchError(f"redis-server {name} did not start:\n{logfile.read_text(errors='replace')[-1500:]}")

    def start_redis_cluster(self, name: str, masters: int = 3) -> tuple[list[subprocess.Popen], list[str]]:
        """A Redis Cluster of `masters` masters and no replicas, built as tests/api/cluster.rs
        builds one: redis-server --cluster-enabled yes on each port, then
        `redis-cli --cluster create`; returns once every node says cluster_state:ok."""
        # The bus port is given: by default it is the port + 10000, out of range for a port
        # above 55535, which free_port() can return.
        nodes = [self.start_redis(f"{name}{i}", "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                                  "--cluster-config-file", str(self.work / f"{name}{i}-nodes.conf"))
                 for i in range(masters)]
        urls = [url for _, url in nodes]
        self.run(["redis-cli", "--cluster", "create", *(u.removeprefix("redis://") for u in urls),
                  "--cluster-replicas", "0", "--cluster-yes"], timeout=60)
        deadline = time.monotonic() + 20
        while not all(b"cluster_state:ok" in redis_command(u, "CLUSTER", "INFO") for u in urls):
            if time.monotonic() > deadline:
                raise BenchError(f"the Redis Cluster {name} did not form; see {self.work}/{name}*.log")
            time.sleep(0.1)
        return [proc for proc, _ in nodes], urls

    # ----- load generators ---------------------------------------------------------------

    def wrk(self, url: str | list[str], script: str, script_args: list[str], *, connections: int,
            duration: float, threads: int = 1, timeout: str = "2s", pids: list[int] | None = None,
            helpers: list[int] | None = None, guard: bool = False, before=None) -> dict:
        """One wrk run. `pids`: the servers whose CPU time is charged to this measurement. With
        `helpers`: our other processes (upstreams), not counted as noise. With
        `guard`, a run during which other programs on this (shared) machine used more than
        --noise-threshold cores is repeated, up to --noise-retries times.
        With several URLs (replicas), one wrk per URL is started at the same time with an equal
        share of the connections; `{part}` in `script_args` becomes the wrk's index (so that
        their user ids differ), and the figures are merged (see `merge_wrk`)."""
        urls = [url] if isinstance(url, str) else url
        shares = [connections // len(urls) + (i < connections % len(urls)) for i in range(len(urls))]
        if min(shares) < threads:
            raise BenchError(f"{connections} connections cannot be split over {len(urls)} wrk processes")
        cmds = [self.cpus("client") + [
            "wrk", f"-t{threads}", f"-c{share}", f"-d{max(1, int(round(duration)))}s", f"--timeout={timeout}",
            "--latency", "-s", str(LUA / script), u, "--", *(arg.replace("{part}", str(i)) for arg in script_args),
        ] for i, (u, share) in enumerate(zip(urls, shares))]
        attempts = 1 + (self.args.noise_retries if guard else 0)
        for attempt in range(attempts):
            # A repeated run must not reuse the user ids of the one it replaces (they are cached now).
            attempt_cmds = [[arg.replace("{attempt}", str(attempt)) for arg in cmd] for cmd in cmds]
            if before:
                before()
            r = self._wrk_once(attempt_cmds, duration, pids or [], helpers or [])
            r["attempts"] = attempt + 1
            if r["foreign_cores"] <= self.args.noise_threshold:
                break
            if attempt + 1 < attempts:
                log(f"    noisy run: other programs used {r['foreign_cores']:.2f} cores; repeating")
                time.sleep(2)
        r["noisy"] = r["foreign_cores"] > self.args.noise_threshold
        return r

    def _wrk_once(self, cmds: list[list[str]], duration: float, pids: list[int], helpers: list[int]) -> dict:
        busy0, cpu0, t0 = machine_busy(), cpu_seconds(pids), time.monotonic()
        each0 = [cpu_seconds([pid]) for pid in pids]
        helpers0 = cpu_seconds(helpers)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        outs = self.run_together(cmds, timeout=duration + 60)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(pids) - cpu0
        each = [cpu_seconds([pid]) - c0 for pid, c0 in zip(pids, each0)]
        helper_cores = (cpu_seconds(helpers) - helpers0) / elapsed
        busy_cores = (machine_busy() - busy0) / elapsed
        wrk_cores = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / elapsed
        r = merge_wrk([wrk_figures(out) for out in outs])
        requests = max(1, r["requests"])
        return {
            **r,
            "server_cpu_util": round(cpu / elapsed, 3),
            "server_cpu_us_per_request": round(cpu * 1e6 / requests, 2),
            "server_cpu_us_per_request_each": [round(c * 1e6 / requests, 2) for c in each],
            "wrk_cores": round(wrk_cores, 2),
            "machine_busy_cores": round(busy_cores, 2),
            # CPU used by anything else on the machine meanwhile (other users of this host).
            "helper_cores": round(helper_cores, 2),
            "foreign_cores": round(max(0.0, busy_cores - wrk_cores - helper_cores - cpu / elapsed), 2),
        }

    def load(self, mode: str, port: int, count: int, *extra: str, timeout: float = 900) -> dict:
        cmd = self.cpus("client") + [sys.executable, str(BENCH / "load.py"), mode, "--port", str(port),
                                     "--count", str(count), *extra]
        return json.loads(self.run(cmd, timeout=timeout).strip().splitlines()[-1])


def wrk_figures(out: str) -> dict:
    """Requests, throughput, latency (ms) and errors from wrk's `WRKJSON` line (lua/report.lua)."""
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            raw = json.loads(line[len("WRKJSON "):])
            secs = raw["duration_us"] / 1e6
            lat = {k: v / 1000.0 for k, v in raw["latency_us"].items()}
            return {
                "requests": raw["requests"],
                "rps": round(raw["requests"] / secs, 1),
                "p50_ms": lat["p50"], "p90_ms": lat["p90"], "p99_ms": lat["p99"],
                "p99.9_ms": lat["p99.9"], "max_ms": lat["max"], "mean_ms": round(lat["mean"], 3),
                "errors": raw["errors"], "error_total": sum(raw["errors"].values()),
                "bytes_per_request": round(raw["bytes"] / max(1, raw["requests"])),
            }
    raise BenchError(f"wrk printed no summary:\n{out[-2000:]}")


LATENCIES = ("p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms")


def merge_wrk(parts: list[dict]) -> dict:
    """The figures of wrk processes run at the same time against different replicas: requests
    and throughput summed; each latency percentile the worse of the parts (wrk gives no
    histogram to merge), the parts' own under `parts`."""
    if len(parts) == 1:
        return parts[0]
    requests = sum(p["requests"] for p in parts)
    return {
        "requests": requests,
        "rps": round(sum(p["rps"] for p in parts), 1),
        **{k: max(p[k] for p in parts) for k in LATENCIES},
        "mean_ms": round(sum(p["mean_ms"] * p["requests"] for p in parts) / max(1, requests), 3),
        "errors": {k: sum(p["errors"][k] for p in parts) for k in parts[0]["errors"]},
        "error_total": sum(p["error_total"] for p in parts),
        "bytes_per_request": round(sum(p["bytes_per_request"] * p["requests"] for p in parts) / max(1, requests)),
        "parts": parts,
    }


class Upstream:
    url: str
    proc: subprocess.Popen

    def calls(self) -> dict[str, int]:
        raise NotImplementedError

    def stop(self) -> None:
        self.harness.stop(self.proc)


class PythonUpstream(Upstream):
    kind = "python"

    def __init__(self, harness: Harness, name: str, delay_ms: float, hang: tuple[str, ...]) -> None:
        self.harness = harness
        port_file = harness.work / f"{name}.port"
        cmd = harness.cpus("client") + [sys.executable, str(BENCH / "upstream.py"), "--port", "0",
                                        "--port-file", str(port_file), "--delay-ms", str(delay_ms),
                                        "--hang", ",".join(hang)]
        self.proc = harness.spawn(name, cmd)
        port = harness.wait_port_file(port_file, self.proc)
        self.url = f"http://127.0.0.1:{port}"

    def calls(self) -> dict[str, int]:
        _, body = http_get(f"{self.url}/__stats")
        return {k: int(v) for k, v in json.loads(body)["calls"].items()}


def nginx_temp_paths(work: Path) -> str:
    tmp = work / "nginx-tmp"
    tmp.mkdir(exist_ok=True)
    return " ".join(f"{kind}_temp_path {tmp};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


class NginxUpstream(Upstream):
    """nginx answering the three connectors' lookups with their fixture bodies after
    `echo_sleep` (libnginx-mod-http-echo); calls are counted from its access log."""

    kind = "nginx-echo"

    def __init__(self, harness: Harness, name: str, delay_ms: float) -> None:
        self.harness = harness
        bodies = harness.work / f"{name}-bodies"
        bodies.mkdir(exist_ok=True)
        b = fake.Bodies()
        (bodies / "github.json").write_bytes(b.github_user("octocat"))
        (bodies / "hubspot.json").write_bytes(b.hubspot_contact("bcooper@biglytics.net"))
        (bodies / "gravatar.json").write_bytes(b.gravatar_profile("0" * 64))
        self.access_log = harness.work / f"{name}-access.log"
        port = free_port()
        sleep = f"echo_sleep {delay_ms / 1000.0:.3f}; " if delay_ms > 0 else ""
        conf = harness.work / f"{name}.conf"
        conf.write_text(f"""
load_module {ECHO_MODULE};
worker_processes 1;
daemon off;
pid {harness.work}/{name}.pid;
error_log {harness.work}/{name}.error.log warn;
events {{ worker_connections 8192; }}
http {{
  log_format calls '$request_uri';
  access_log {self.access_log} calls buffer=64k flush=100ms;
  {nginx_temp_paths(harness.work)}
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  default_type application/json;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location /users/ {{ {sleep}echo_exec /__body/github.json; }}
    location /crm/v3/objects/contacts/ {{
      if ($http_authorization != "Bearer demo-hubspot-token") {{ return 401 '{{"status":"error"}}'; }}
      {sleep}echo_exec /__body/hubspot.json;
    }}
    location /v3/profiles/ {{ {sleep}echo_exec /__body/gravatar.json; }}
    location /__body/ {{ internal; alias {bodies}/; }}
  }}
}}
""")
        self.proc = harness.spawn(name, harness.cpus("client") + ["nginx", "-c", str(conf), "-p", str(harness.work)])
        self.url = f"http://127.0.0.1:{port}"
        harness.wait_http(f"{self.url}/users/ready", self.proc)

    def calls(self) -> dict[str, int]:
        time.sleep(0.3)  # the access log is flushed every 100 ms
        counts: dict[str, int] = {}
        if self.access_log.exists():
            for line in self.access_log.read_text().splitlines():
                if line.startswith("/users/ready"):
                    continue
                name = fake.connector_of(line)
                if name:
                    counts[name] = counts.get(name, 0) + 1
        return counts


class Enrichd:
    def __init__(self, harness: Harness, name: str, proc: subprocess.Popen, port: int) -> None:
        self.harness, self.name, self.proc, self.port = harness, name, proc, port
        self.url = f"http://127.0.0.1:{port}"

    def rss(self) -> dict:
        return vm_status(self.proc.pid)

    def metrics(self) -> dict[str, float]:
        _, body = http_get(f"{self.url}/metrics")
        return prometheus(body.decode())

    def stop(self) -> None:
        self.harness.stop(self.proc)


# ===========================================================================================
# Scenarios. Each returns a dict of figures for one run; `checks` lists correctness failures.
# ===========================================================================================


def warm(h: Harness, enrichd: Enrichd, users: int, prefix: str, concurrency: int = 32) -> dict:
    result = h.load("enrich", enrichd.port, users, "--prefix", prefix, "--concurrency", str(concurrency), "--strict")
    log(f"  warmed {users} users in {result['elapsed_s']} s ({result['rps']} req/s)")
    return result


def charge_upstream_calls(r: dict, up: "Upstream", before: dict[str, int], label: str, in_flight: int) -> list[str]:
    """Record in measurement `r` the upstream calls made since `before` (the counters then);
    the checks that failed: one call per connector per request, + the requests still in flight
    at the end (at most `in_flight`)."""
    calls = {k: v - before.get(k, 0) for k, v in up.calls().items()}
    r["upstream_calls"] = calls
    r["upstream_calls_per_request"] = round(sum(calls.values()) / max(1, r["requests"]), 3)
    return [f"{label}: {name} upstream calls {calls.get(name, 0)} for {r['requests']} requests"
            for name in CONNECTORS if not r["requests"] <= calls.get(name, 0) <= r["requests"] + in_flight + 1]


def scenario_hit(h: Harness, run: int) -> dict:
    a = h.args
    users, prefix = a.hit_users, f"h{run}x"
    up = h.start_upstream(f"hit-up{run}", delay_ms=0)
    redis_proc = None
    servers = {}
    try:
        # enrichd with the in-process cache.
        local = h.start_enrichd(f"hit-local{run}", h.enrichd_config(f"hitlocal{run}", up))
        warm(h, local, users, prefix)
        _, body = http_get(f"{local.url}/v1/profiles/{prefix}0")
        servers["enrichd_local"] = local
        # enrichd through Redis: a writer fills Redis, then a fresh reader with a 1-entry local
        # tier (so practically every hit is a Redis hit) is measured.
        redis_proc, redis_url = h.start_redis()
        writer = h.start_enrichd(f"hit-writer{run}", h.enrichd_config(f"hitredis{run}", up, redis_url=redis_url))
        warm(h, writer, users, prefix)
        writer.stop()
        reader = h.start_enrichd(f"hit-redis{run}", h.enrichd_config(f"hitredis{run}", up, redis_url=redis_url, local_capacity=1))
        servers["enrichd_redis"] = reader
        # Other enrichd builds to compare in the same run (--extra-binary LABEL=PATH), in-process cache.
        extra = {}
        extra_pids = {}
        if a.sealed_extra:  # the same build as a Redis-tier reader of values sealed at rest
            sealed_writer = h.start_enrichd(f"hit-sealed-writer{run}", h.enrichd_config(
                f"hitsealed{run}", up, redis_url=redis_url, sealed=True))
            warm(h, sealed_writer, users, prefix)
            sealed_writer.stop()
            r = h.start_enrichd(f"hit-sealed{run}", h.enrichd_config(
                f"hitsealed{run}", up, redis_url=redis_url, local_capacity=1, sealed=True))
            servers["enrichd_redis_sealed"] = extra["enrichd_redis_sealed"] = r
            extra_pids["enrichd_redis_sealed"] = [r.proc.pid, redis_proc.pid]
        for label, path in h.extra_binaries:
            e = h.start_enrichd(f"hit-{label}{run}", h.enrichd_config(f"hit{label}{run}", up), binary=Path(path))
            warm(h, e, users, prefix)
            servers[f"enrichd_{label}"] = extra[f"enrichd_{label}"] = e
            extra_pids[f"enrichd_{label}"] = [e.proc.pid]
            if a.extra_redis:  # the same build as a Redis-tier reader (Redis already holds the users)
                r = h.start_enrichd(f"hit-{label}-redis{run}", h.enrichd_config(
                    f"hitredis{run}", up, redis_url=redis_url, local_capacity=1), binary=Path(path))
                servers[f"enrichd_{label}_redis"] = extra[f"enrichd_{label}_redis"] = r
                extra_pids[f"enrichd_{label}_redis"] = [r.proc.pid, redis_proc.pid]
        nginx_proc, nginx_url = h.start_static_nginx(body)
        up.stop()

        targets = {"nginx_static": nginx_url, "enrichd_local": local.url, "enrichd_redis": reader.url,
                   **{name: e.url for name, e in extra.items()}}
        # Whose CPU time is charged to each server (the Redis variant also pays for redis-server).
        cpu_of = {"nginx_static": [nginx_proc.pid], "enrichd_local": [local.proc.pid],
                  "enrichd_redis": [reader.proc.pid, redis_proc.pid],
                  **extra_pids}
        order = list(targets)
        if run % 2:
            order.reverse()  # alternate the order between runs so drift does not favour one
        before = {name: s.metrics() for name, s in servers.items()}
        results = {}
        for name in order:
            url = targets[name]
            h.wrk(url, "profiles.lua", [str(users), prefix, str(run)], connections=a.hit_connections,
                  duration=min(2, a.duration))  # warm-up, discarded
            r = h.wrk(url, "profiles.lua", [str(users), prefix, str(run + 100)],
                      connections=a.hit_connections, duration=a.duration, pids=cpu_of[name], guard=True)
            if name in servers:
                r["vmhwm_kib"] = servers[name].rss()["VmHWM"]
            results[name] = r
            log(f"  {name:14s} {r['rps']:>10.0f} req/s  p50 {r['p50_ms']:.3f}  p99 {r['p99_ms']:.3f}  p99.9 {r['p99.9_ms']:.3f} ms"
                f"  server CPU {r['server_cpu_util'] * 100:.0f}% = {r['server_cpu_us_per_request']:.1f} us/request"
                f"  wrk {r['wrk_cores'] * 100:.0f}%  others {r['foreign_cores'] * 100:.0f}%  errors {r['error_total']}")
        after = {name: s.metrics() for name, s in servers.items()}
        checks = [f"{n}: {r['error_total']} errors/non-2xx" for n, r in results.items() if r["error_total"]]
        for name in servers:
            def delta(key):
                return after[name].get(key, 0) - before[name].get(key, 0)
            results[name]["lookups"] = {
                "local_hit": delta('enrichd_cache_lookups_total{result="hit",tier="local"}'),
                "local_miss": delta('enrichd_cache_lookups_total{result="miss",tier="local"}'),
                "redis_hit": delta('enrichd_cache_lookups_total{result="hit",tier="redis"}'),
            }
        for name in ["enrichd_redis", *(n for n in extra if n.startswith("enrichd_redis"))]:
            lk = results[name]["lookups"]
            if lk["redis_hit"] < 0.9 * results[name]["requests"]:
                checks.append(f"{name}: only {lk['redis_hit']:.0f} Redis hits for {results[name]['requests']} requests")
        for name in ["enrichd_local", *(n for n in extra if "_redis" not in n)]:
            if results[name]["lookups"]["local_miss"] > 0:
                checks.append(f"{name}: local-tier misses during the hit run")
        ceiling = results["nginx_static"]["rps"]
        for name in ["enrichd_local", "enrichd_redis", *extra]:
            results[name]["ratio_vs_nginx"] = round(results[name]["rps"] / ceiling, 3) if ceiling else None
            # CPU efficiency: nginx's CPU time per request over enrichd's (1.0 = as cheap as nginx).
            results[name]["cpu_ratio_vs_nginx"] = round(
                results["nginx_static"]["server_cpu_us_per_request"] / results[name]["server_cpu_us_per_request"], 3)
        return {"results": results, "upstream_calls": 0, "checks": checks,
                "profile_bytes": len(body), "users": users}
    finally:
        for s in servers.values():
            s.stop()
        h.stop(redis_proc)
        up.stop()


def scenario_miss(h: Harness, run: int) -> dict:
    a = h.args
    up = h.start_upstream(f"miss-up{run}", delay_ms=a.upstream_delay_ms)
    redis_proc = None
    builds = [("", None)] + [(f"{label}_", Path(path)) for label, path in (h.extra_binaries if a.miss_extra else [])]
    caches = ["local"] + (["redis"] if a.miss_redis else []) + (["redisdown"] if a.miss_redis_down else [])
    variants = [(b, v) for b in builds for v in caches]
    if run % 2:
        variants.reverse()  # alternate the order between runs so drift does not favour one build
    results, checks, rss = {}, [], {}
    try:
        for (label, binary), cache in variants:
            variant = f"{label}{cache}"
            redis_url = ""
            if cache == "redisdown":
                # A Redis that is down for the whole run: nothing listens on this port.
                redis_url = f"redis://127.0.0.1:{free_port()}/0"
            elif cache == "redis":
                if redis_proc is None:
                    redis_proc, redis_url = h.start_redis()
                    h.redis_url = redis_url
                redis_url = h.redis_url
                # Every build starts from an empty Redis: a later one would otherwise find the
                # earlier ones' users there (a larger keyspace, rehashing) and pay for them.
                if not redis_command(redis_url, "FLUSHALL").startswith(b"+OK"):
                    raise BenchError(f"FLUSHALL on {redis_url} failed")
            enrichd = h.start_enrichd(f"miss{run}{variant}", h.enrichd_config(f"miss{run}{variant}", up, redis_url=redis_url),
                                      binary=binary)
            own = [enrichd.proc.pid] + ([redis_proc.pid] if cache == "redis" else [])
            try:
                # Warm the connection pools (and the allocator) before measuring.
                h.wrk(enrichd.url, "enrich_unique.lua", [f"w{run}{re.sub(r'[^A-Za-z0-9]', '', variant)}"],
                      connections=max(a.miss_connections), duration=1)
                for c in a.miss_connections:
                    base = h.wrk(f"{up.url}/users/baseline", "report.lua", [], connections=c, duration=min(3, a.duration),
                                 pids=[up.proc.pid], guard=True)
                    before = {}
                    # User ids (and GitHub logins) are made of letters and digits only.
                    tag = re.sub(r"[^A-Za-z0-9]", "", variant)
                    r = h.wrk(enrichd.url, "enrich_unique.lua", [f"m{run}{tag}c{c}a{{attempt}}"], connections=c,
                              duration=a.duration, pids=own, helpers=[up.proc.pid], guard=True,
                              before=lambda: before.update(up.calls()))
                    checks += charge_upstream_calls(r, up, before, f"{variant} c{c}", c)
                    r["upstream_direct_p50_ms"] = base["p50_ms"]
                    r["upstream_direct_p99_ms"] = base["p99_ms"]
                    r["overhead_p99_vs_delay_ms"] = round(r["p99_ms"] - a.upstream_delay_ms, 3)
                    r["overhead_p99_vs_direct_ms"] = round(r["p99_ms"] - base["p99_ms"], 3)
                    r["overhead_p50_vs_delay_ms"] = round(r["p50_ms"] - a.upstream_delay_ms, 3)
                    r["ideal_rps"] = round(c * 1000.0 / a.upstream_delay_ms, 1)
                    r["efficiency"] = round(r["rps"] / r["ideal_rps"], 3)
                    results[f"{variant}.c{c}"] = r
                    if r["error_total"]:
                        checks.append(f"{variant} c{c}: {r['error_total']} errors/non-2xx")
                    log(f"  {variant:5s} c={c:<3d} {r['rps']:>7.0f} req/s  p50 {r['p50_ms']:.2f}  p99 {r['p99_ms']:.2f}  "
                        f"p99.9 {r['p99.9_ms']:.2f} ms | upstream direct p99 {base['p99_ms']:.2f} | p99-20ms {r['overhead_p99_vs_delay_ms']:.2f}"
                        f" | p99-direct {r['overhead_p99_vs_direct_ms']:.2f} | server {r['server_cpu_us_per_request']:.0f} us/req"
                        f" | others {r['foreign_cores'] * 100:.0f}%")
                rss[variant] = enrichd.rss()["VmHWM"]
            finally:
                enrichd.stop()
        return {"results": results, "checks": checks, "upstream": up.kind, "vmhwm_kib": rss}
    finally:
        h.stop(redis_proc)
        up.stop()


def scenario_herd(h: Harness, run: int) -> dict:
    a = h.args
    checks = []
    results = {}
    up = h.start_upstream(f"herd-up{run}", delay_ms=a.upstream_delay_ms, kind="python")
    redis_proc = None
    replicas = []
    try:
        enrichd = h.start_enrichd(f"herd{run}", h.enrichd_config(f"herd{run}", up))
        replicas.append(enrichd)
        before = up.calls()
        r = h.load("herd", enrichd.port, a.herd_requests, "--prefix", f"herd{run}x")
        calls = {k: v - before.get(k, 0) for k, v in up.calls().items()}
        m = enrichd.metrics()
        r.update(upstream_calls=calls, coalesced=m.get("enrichd_coalesced_requests_total"),
                 vmhwm_kib=enrichd.rss()["VmHWM"])
        results["one_replica"] = r
        enrichd.stop()
        replicas.clear()
        if a.herd_redis:
            redis_proc, redis_url = h.start_redis()
            for i in range(2):
                replicas.append(h.start_enrichd(f"herd{run}r{i}", h.enrichd_config(f"herdr{run}", up, redis_url=redis_url)))
            before = up.calls()
            r2 = h.load("herd", replicas[0].port, a.herd_requests, "--prefix", f"herd{run}y",
                        "--ports", ",".join(str(e.port) for e in replicas))
            calls2 = {k: v - before.get(k, 0) for k, v in up.calls().items()}
            r2["upstream_calls"] = calls2
            r2["coalesced"] = sum(e.metrics().get("enrichd_coalesced_requests_total", 0) for e in replicas)
            results["two_replicas_redis"] = r2
        for name, r in results.items():
            for connector in CONNECTORS:
                if r["upstream_calls"].get(connector, 0) != 1:
                    checks.append(f"{name}: {connector} called {r['upstream_calls'].get(connector, 0)} times (want exactly 1)")
            if r["statuses"] != {"200": a.herd_requests}:
                checks.append(f"{name}: statuses {r['statuses']}")
            log(f"  {name}: {r['requests']} requests -> upstream calls {r['upstream_calls']}, statuses {r['statuses']}, "
                f"cache {r['cache']}, coalesced {r['coalesced']}, p99 {r['latency_ms']['p99']} ms")
        return {"results": results, "checks": checks}
    finally:
        for e in replicas:
            e.stop()
        h.stop(redis_proc)
        up.stop()


def scenario_stall(h: Harness, run: int) -> dict:
    a = h.args
    deadline = a.stall_deadline_ms
    up = h.start_upstream(f"stall-up{run}", delay_ms=a.upstream_delay_ms, hang=("hubspot",), kind="python")
    # The per-call timeout is longer than the deadline, so it is the deadline that must cut the
    # request short; the breaker is kept shut so that every request really waits on the stalled
    # upstream (the worst case).
    enrichd = h.start_enrichd(f"stall{run}", h.enrichd_config(
        f"stall{run}", up, deadline_ms=deadline, timeout_ms=deadline * 4, breaker_threshold=1_000_000))
    try:
        checks = []
        check = h.load("enrich", enrichd.port, a.stall_check_requests, "--prefix", f"s{run}x",
                       "--concurrency", "8", "--parse")
        if check["statuses"] != {"200": a.stall_check_requests}:
            checks.append(f"statuses {check['statuses']}")
        if check["sources"].get("hubspot:timeout", 0) != a.stall_check_requests:
            checks.append(f"hubspot source statuses: {check['sources']}")
        if check["partial"] != a.stall_check_requests:
            checks.append(f"only {check['partial']} partial profiles")
        if check["latency_ms"]["max"] > deadline + 1000:
            checks.append(f"a response took {check['latency_ms']['max']} ms (deadline {deadline} ms)")
        r = h.wrk(enrichd.url, "enrich_unique.lua", [f"st{run}a{{attempt}}"], connections=a.stall_connections,
                  pids=[enrichd.proc.pid], helpers=[up.proc.pid], guard=True,
                  duration=a.duration, timeout=f"{max(2, deadline * 4 // 1000 + 1)}s")
        r["deadline_ms"] = deadline
        r["max_over_deadline_ms"] = round(r["max_ms"] - deadline, 3)
        r["p99_over_deadline_ms"] = round(r["p99_ms"] - deadline, 3)
        r["within_deadline_plus_10ms"] = r["max_ms"] <= deadline + 10
        r["upstream_calls"] = up.calls()
        r["vmhwm_kib"] = enrichd.rss()["VmHWM"]
        r["check"] = check
        if r["error_total"]:
            checks.append(f"wrk: {r['errors']}")
        log(f"  deadline {deadline} ms: {r['rps']:.0f} req/s  p50 {r['p50_ms']:.2f}  p99 {r['p99_ms']:.2f}  max {r['max_ms']:.2f} ms"
            f"  (max - deadline = {r['max_over_deadline_ms']:.2f} ms); check: {check['sources']}")
        return {"results": {"stall": r}, "checks": checks}
    finally:
        enrichd.stop()
        up.stop()


def scenario_memory(h: Harness, run: int) -> dict:
    a = h.args
    up = h.start_upstream(f"mem-up{run}", delay_ms=0)
    enrichd = h.start_enrichd(f"mem{run}", h.enrichd_config(f"mem{run}", up, local_capacity=a.memory_capacity))
    try:
        checks = []
        samples = [{"users": 0, **enrichd.rss()}]
        step = max(1, a.memory_users // 10)
        done = 0
        started = time.monotonic()
        before = up.calls()
        while done < a.memory_users:
            n = min(step, a.memory_users - done)
            r = h.load("enrich", enrichd.port, n, "--prefix", f"mem{run}x", "--start", str(done),
                       "--concurrency", "32")
            if r["statuses"] != {"200": n}:
                checks.append(f"users {done}..{done + n}: statuses {r['statuses']} errors {r['errors']}")
            done += n
            samples.append({"users": done, **enrichd.rss()})
        calls = {k: v - before.get(k, 0) for k, v in up.calls().items()}
        final = enrichd.rss()
        log(f"  {done} users in {time.monotonic() - started:.1f} s: VmHWM {final['VmHWM'] / 1024:.1f} MiB, "
            f"VmRSS {final['VmRSS'] / 1024:.1f} MiB; samples (users: MiB) "
            + ", ".join(f"{s['users']}: {s['VmRSS'] / 1024:.1f}" for s in samples))
        return {"results": {"memory": {"users": done, "local_capacity": a.memory_capacity,
                                       "vmhwm_kib": final["VmHWM"], "vmrss_kib": final["VmRSS"],
                                       "vmhwm_mib": round(final["VmHWM"] / 1024, 1),
                                       "samples": samples, "upstream_calls": calls}},
                "checks": checks}
    finally:
        enrichd.stop()
        up.stop()


def scenario_callgrind(h: Harness, run: int) -> dict:
    """Instructions per request, counted by callgrind (repeatable, whatever else the machine
    does). enrichd runs under valgrind with instrumentation off until its cache is warm; then
    the counters are zeroed, N sequential profile reads (hit path) are sent over one connection
    and the counters dumped; then M enrichments of new users (miss path, upstream without
    delay) and a second dump."""
    a = h.args
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise BenchError("valgrind (callgrind_control) is not installed")
    up = h.start_upstream(f"cg-up{run}", delay_ms=0)
    out = h.work / f"callgrind.{run}.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    enrichd = h.start_enrichd(f"cg{run}", h.enrichd_config(f"cg{run}", up, workers=1), valgrind=valgrind)
    keep = Path(a.out) / "callgrind"
    keep.mkdir(parents=True, exist_ok=True)
    pid = str(enrichd.proc.pid)

    def control(*args: str) -> None:
        nonlocal pid
        h.run(["callgrind_control", *args, pid], timeout=120)

    def dump(label: str, requests: int) -> dict:
        control("-d", label)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # find the dump carrying this trigger
            for path in h.work.glob(f"callgrind.{run}.out*"):
                text = path.read_text(errors="replace")
                if f"\ndesc: Trigger: dump {label}\n" in text and "\ntotals:" in text:
                    total = next(int(line.split()[1]) for line in text.splitlines()
                                 if line.startswith(("totals:", "summary:")))
                    kept = keep / f"callgrind.{label}.out"
                    shutil.copy(path, kept)
                    if shutil.which("callgrind_annotate"):
                        for kind, extra in (("inclusive", ["--inclusive=yes", "--threshold=99"]), ("exclusive", ["--threshold=95"])):
                            text = h.run(["callgrind_annotate", *extra, str(kept)], timeout=120, check=False)
                            (keep / f"callgrind.{label}.{kind}.txt").write_text(text)
                    per = round(total / requests)
                    log(f"  {label}: {requests} requests, {total:,} instructions = {per:,} per request ({kept})")
                    return {"requests": requests, "instructions": total, "instructions_per_request": per, "dump": str(kept)}
            time.sleep(0.2)
        raise BenchError(f"no callgrind dump for {label}")

    redis_proc = None
    others = []
    try:
        prefix = f"cg{run}x"
        users = a.callgrind_users
        warm(h, enrichd, users, prefix, concurrency=4)
        # A few requests of each kind before measuring, so lazily initialised paths are not counted.
        h.load("get", enrichd.port, 50, "--prefix", prefix, "--users", str(users))
        h.load("enrich", enrichd.port, 50, "--prefix", f"cg{run}w", "--concurrency", "1")
        control("-i", "on")
        control("-z")
        hit = h.load("get", enrichd.port, a.callgrind_requests, "--prefix", prefix, "--users", str(users),
                     "--seed", "7", "--strict")
        results = {"hit": dump(f"hit{run}", a.callgrind_requests)}
        control("-z")
        miss = h.load("enrich", enrichd.port, a.callgrind_misses, "--prefix", f"cg{run}m", "--concurrency", "1",
                      "--parse", "--strict")
        results["miss"] = dump(f"miss{run}", a.callgrind_misses)
        control("-i", "off")
        enrichd.stop()
        checks = []
        if hit["statuses"] != {"200": a.callgrind_requests}:
            checks.append(f"hit statuses {hit['statuses']}")
        if miss["cache"] != {"miss": a.callgrind_misses}:
            checks.append(f"miss: cache {miss['cache']} statuses {miss['statuses']}")
        if a.callgrind_redis:
            # The Redis-tier hit: a native writer fills Redis; the measured replica (1-entry local
            # tier) reads every profile from Redis.
            redis_proc, redis_url = h.start_redis()
            writer = h.start_enrichd(f"cg{run}writer", h.enrichd_config(f"cgr{run}", up, redis_url=redis_url))
            others.append(writer)
            warm(h, writer, users, prefix, concurrency=8)
            writer.stop()
            reader = h.start_enrichd(f"cg{run}redis", h.enrichd_config(f"cgr{run}", up, redis_url=redis_url,
                                                                       local_capacity=1, workers=1),
                                     valgrind=["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                               f"--callgrind-out-file={out}.redis"])
            others.append(reader)
            pid = str(reader.proc.pid)
            h.load("get", reader.port, 50, "--prefix", prefix, "--users", str(users))
            control("-i", "on")
            control("-z")
            hr = h.load("get", reader.port, a.callgrind_requests, "--prefix", prefix, "--users", str(users),
                        "--seed", "7", "--strict")
            results["hit_redis"] = dump(f"hitredis{run}", a.callgrind_requests)
            # The miss path with Redis: the same replica enriches new users (lookup, claim,
            # fan-out, the entry written back and the event published), sequentially.
            control("-i", "off")
            h.load("enrich", reader.port, 50, "--prefix", f"cg{run}rw", "--concurrency", "1")
            control("-i", "on")
            control("-z")
            mr = h.load("enrich", reader.port, a.callgrind_misses, "--prefix", f"cg{run}rm", "--concurrency", "1",
                        "--parse", "--strict")
            results["miss_redis"] = dump(f"missredis{run}", a.callgrind_misses)
            control("-i", "off")
            if hr["statuses"] != {"200": a.callgrind_requests}:
                checks.append(f"hit_redis statuses {hr['statuses']}")
            if mr["cache"] != {"miss": a.callgrind_misses}:
                checks.append(f"miss_redis: cache {mr['cache']} statuses {mr['statuses']}")
        return {"results": results, "checks": checks}
    finally:
        enrichd.stop()
        for e in others:
            e.stop()
        h.stop(redis_proc)
        up.stop()


def submit_job(enrichd: "Enrichd", prefix: str, count: int) -> str:
    """POST a job of `count` new users (each with an email and a GitHub handle, as the miss
    path's requests): its id."""
    body = "".join(
        f'{{"user_id":"{prefix}{i}","email":"{prefix}{i}@bench.example","handles":{{"github":"{prefix}{i}"}}}}\n'
        for i in range(count)).encode()
    request = urllib.request.Request(f"{enrichd.url}/v1/jobs", data=body, method="POST",
                                     headers={"content-type": "application/x-ndjson"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["job_id"]


def job_status(enrichd: "Enrichd", job: str) -> dict:
    _, body = http_get(f"{enrichd.url}/v1/jobs/{job}")
    return json.loads(body)


def scenario_jobs(h: Harness, run: int) -> dict:
    """A bulk job's throughput with 20 ms upstreams, and the interactive miss path's latency
    with and without a job running beside it (Redis configured, as jobs are run in production)."""
    a = h.args
    up = h.start_upstream(f"jobs-up{run}", delay_ms=a.upstream_delay_ms)
    redis_proc, redis_url = h.start_redis()
    config = h.enrichd_config(f"jobs{run}", up, redis_url=redis_url,
                              extra=f"jobs: {{workers: {a.job_workers}}}")
    enrichd = h.start_enrichd(f"jobs{run}", config)
    own = [enrichd.proc.pid, redis_proc.pid]
    results, checks = {}, []
    try:
        h.wrk(enrichd.url, "enrich_unique.lua", [f"jw{run}"], connections=a.job_connections, duration=1)
        alone = h.wrk(enrichd.url, "enrich_unique.lua", [f"ja{run}a{{attempt}}"], connections=a.job_connections,
                      duration=a.duration, pids=own, helpers=[up.proc.pid], guard=True)
        results["interactive_alone"] = alone
        t0 = time.monotonic()
        job = submit_job(enrichd, f"jb{run}x", a.job_subjects)
        submitted = time.monotonic() - t0
        while (status := job_status(enrichd, job))["status"] in ("queued", "running"):
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        counts = status["counts"]
        results["job_alone"] = {"subjects": a.job_subjects, "seconds": round(elapsed, 3),
                                "submit_seconds": round(submitted, 3),
                                "subjects_per_second": round(a.job_subjects / elapsed, 1), "counts": counts}
        if counts["ok"] != a.job_subjects:
            checks.append(f"job alone: {counts}")
        # A job long enough to outlast the measurement, then the same interactive load beside it.
        big = int(results["job_alone"]["subjects_per_second"] * (a.duration + 10))
        job = submit_job(enrichd, f"jc{run}x", big)
        time.sleep(1)
        before = job_status(enrichd, job)["counts"]["done"]
        t1 = time.monotonic()
        during = h.wrk(enrichd.url, "enrich_unique.lua", [f"jd{run}a{{attempt}}"], connections=a.job_connections,
                       duration=a.duration, pids=own, helpers=[up.proc.pid])
        done = job_status(enrichd, job)["counts"]["done"] - before
        results["interactive_during_job"] = during
        results["job_during"] = {"subjects_per_second": round(done / (time.monotonic() - t1), 1)}
        results["p99_ratio_during_vs_alone"] = round(during["p99_ms"] / alone["p99_ms"], 3)
        urllib.request.urlopen(urllib.request.Request(f"{enrichd.url}/v1/jobs/{job}", method="DELETE"), timeout=10)
        if during["error_total"] or alone["error_total"]:
            checks.append(f"interactive errors: alone {alone['error_total']}, during {during['error_total']}")
        log(f"  job alone {results['job_alone']['subjects_per_second']:.0f} subjects/s | interactive c={a.job_connections} "
            f"p99 alone {alone['p99_ms']:.2f} ms, during a job {during['p99_ms']:.2f} ms "
            f"(job meanwhile {results['job_during']['subjects_per_second']:.0f} subjects/s)")
        return {"results": results, "checks": checks}
    finally:
        enrichd.stop()
        h.stop(redis_proc)
        up.stop()


def redis_info_memory(url: str) -> int:
    """`used_memory` of the Redis at `url` (after a moment for lazy frees)."""
    host, port = url.removeprefix("redis://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"INFO memory\r\n")
        data = b""
        while b"used_memory:" not in data or not data.endswith(b"\r\n"):
            data += s.recv(65536)
    for line in data.decode().splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise BenchError("no used_memory in INFO memory")


def redis_info_field(url: str, section: str, field: str) -> int:
    """One numeric field of `INFO <section>`."""
    for line in redis_command(url, "INFO", section).decode(errors="replace").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split(":")[1])
    raise BenchError(f"no {field} in INFO {section}")


def redis_command(url: str, *args: str) -> bytes:
    """One command to the Redis at `url`, its raw reply."""
    host, port = url.removeprefix("redis://").split(":")
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request.encode())
        time.sleep(0.05)
        return s.recv(1 << 20)


def redis_int(url: str, *args: str) -> int:
    """A command whose reply ends with an integer (DBSIZE, PUBSUB NUMSUB <channel>): that integer."""
    last = redis_command(url, *args).rstrip(b"\r\n").split(b"\r\n")[-1]
    if not last.startswith(b":"):
        raise BenchError(f"{' '.join(args)} on {url}: unexpected reply {last[:200]!r}")
    return int(last[1:])


def redis_commands(urls: list[str]) -> int:
    """Commands processed so far by these Redis servers (every node of a cluster), together."""
    return sum(redis_info_field(url, "stats", "total_commands_processed") for url in urls)


def bulk_value(reply: bytes) -> bytes:
    """The value of a bulk reply (empty for nil)."""
    if not reply.startswith(b"$") or reply.startswith(b"$-1"):
        return b""
    head, _, rest = reply.partition(b"\r\n")
    return rest[:int(head[1:])]


def stored_sizes(value: bytes) -> list[int]:
    """A value's size as stored, and as JSON (a packed value's header says)."""
    if value[:3] == b"\xfeZ\x01":
        return [len(value), int.from_bytes(value[3:7], "little")]
    return [len(value), len(value)]


def entry_sizes(value: bytes) -> dict:
    """A user's entry (src/cache/entry.rs), part by part: [stored, unpacked] bytes of the
    profile's body and subject and of the answers, and of the whole."""
    parts, at = {}, 3 + 16
    for part in ("body", "subject", "answers"):
        length = int.from_bytes(value[at:at + 4], "little")
        section = value[at + 4:at + 4 + length]
        at += 4 + length
        unpacked = int.from_bytes(section[:4], "little") if part == "answers" and section else None
        parts[part] = [length, unpacked] if unpacked is not None else stored_sizes(section)
    parts["entry"] = [len(value), sum(unpacked for _, unpacked in parts.values())]
    return parts


def scenario_redis_memory(h: Harness, run: int) -> dict:
    """Bytes of Redis memory per user (profile, per-source answers, remembered identifiers,
    indexes) with two connectors, for this build and each --extra-binary, each on a Redis of
    its own: `used_memory` after enriching N users minus before, over N."""
    a = h.args
    up = h.start_upstream(f"rmem-up{run}", delay_ms=0)
    builds = [("this build", h.binary)] + [(label, Path(path)) for label, path in h.extra_binaries]
    results, checks = {}, []
    try:
        for label, binary in builds:
            redis_proc, redis_url = h.start_redis()
            name = f"rmem{run}{len(results)}"
            enrichd = h.start_enrichd(name, h.enrichd_config(
                name, up, redis_url=redis_url, connectors=("hubspot", "github")), binary=binary)
            try:
                time.sleep(0.5)
                before = redis_info_memory(redis_url)
                commands_before = redis_info_field(redis_url, "stats", "total_commands_processed")
                r = h.load("enrich", enrichd.port, a.redis_memory_users, "--prefix", f"rm{run}x",
                           "--concurrency", "16")
                if r["statuses"] != {"200": a.redis_memory_users}:
                    checks.append(f"{label}: statuses {r['statuses']} errors {r['errors']}")
                time.sleep(1.0)  # the writes follow the answers
                after = redis_info_memory(redis_url)
                commands = redis_info_field(redis_url, "stats", "total_commands_processed") - commands_before
                # Then every user read back once by a replica whose in-process tier holds one.
                reader = h.start_enrichd(f"{name}r", h.enrichd_config(
                    name, up, redis_url=redis_url, connectors=("hubspot", "github"), local_capacity=1),
                    binary=binary)
                try:
                    hits_before = redis_info_field(redis_url, "stats", "total_commands_processed")
                    rr = h.load("get", reader.port, a.redis_memory_users, "--prefix", f"rm{run}x",
                                "--users", str(a.redis_memory_users))
                    hit_commands = redis_info_field(redis_url, "stats", "total_commands_processed") - hits_before
                    if rr["statuses"] != {"200": a.redis_memory_users}:
                        checks.append(f"{label} reads: statuses {rr['statuses']}")
                finally:
                    reader.stop()
                user = f"rm{run}x0"
                keys = redis_command(redis_url, "KEYS", f"bench{name}:*{{{user}}}*").decode(errors="replace")
                usage = {}
                for key in [k for k in keys.split("\r\n") if k.startswith(f"bench{name}:")]:
                    reply = redis_command(redis_url, "MEMORY", "USAGE", key).decode()
                    usage[key.split("}", 1)[1] or key] = int(reply.strip(":\r\n") or 0)
                # Each value's size as stored and, when packed, as JSON (from its header).
                values = {}
                for key in [k for k in keys.split("\r\n") if k.startswith(f"bench{name}:")]:
                    short = key.split("}", 1)[1] or key
                    if short.endswith(":profile"):  # the layout before entries
                        for field in ("body", "subject"):
                            value = bulk_value(redis_command(redis_url, "HGET", key, field))
                            values[f"{short}.{field}"] = stored_sizes(value)
                            if a.redis_memory_dump:
                                Path(a.redis_memory_dump, f"{label[:6]}{short}.{field}".replace(":", "_")).write_bytes(value)
                    elif ":source:" in short or short.endswith(":entry"):
                        value = bulk_value(redis_command(redis_url, "GET", key))
                        if short.endswith(":entry"):
                            values.update({f"{short}.{part}": sizes for part, sizes in entry_sizes(value).items()})
                        else:
                            values[short] = stored_sizes(value)
                        if a.redis_memory_dump:
                            Path(a.redis_memory_dump, f"{label[:6]}{short}".replace(":", "_")).write_bytes(value)
                per_user = (after - before) / a.redis_memory_users
                results[label] = {"users": a.redis_memory_users, "bytes_per_user": round(per_user),
                                  "commands_per_miss": round(commands / a.redis_memory_users, 2),
                                  "commands_per_redis_hit": round(hit_commands / a.redis_memory_users, 2),
                                  "keys_of_one_user": usage, "values_of_one_user": values}
                log(f"  {label}: {per_user:.0f} bytes of Redis per user ({a.redis_memory_users} users); "
                    f"one user's keys: {usage}; values (stored, JSON): {values}")
            finally:
                enrichd.stop()
                h.stop(redis_proc)
        return {"results": {"redis_memory": results}, "checks": checks}
    finally:
        up.stop()


# The scale-out configurations, in the order measured (reversed on odd runs):
# label -> (enrichd replicas, where their Redis is). The first is the reference of the ratios
# (of the medians: a run's quiet measurement of one need not have a quiet reference beside it).
SCALEOUT = {
    "1x_redis": (1, "redis"),
    "2x_redis": (2, "redis"),
    "1x_cluster3": (1, "cluster3"),
    "2x_cluster3": (2, "cluster3"),
}
SCALEOUT_REDIS = {"redis": "one Redis", "cluster3": "Redis Cluster, 3 masters"}


def scenario_scaleout(h: Harness, run: int) -> dict:
    """The miss path with one and two replicas (one deployment: a shared key prefix), on one
    Redis and on a Redis Cluster of three masters (no replicas), side by side in each run:
    closed-loop throughput and latency, CPU per request of enrichd and of Redis, to plan
    capacity. Unpinned: on two cores, pinning both replicas (and three Redis masters) to the
    server CPU would measure their contention, not the scale-out."""
    a = h.args
    log("  unpinned: enrichd replicas, redis-servers, upstream and wrk float over all CPUs")
    with h.unpinned():
        up = h.start_upstream(f"so-up{run}", delay_ms=a.upstream_delay_ms)
        redis_procs = []
        try:
            single, single_url = h.start_redis(f"so{run}-redis")
            redis_procs.append(single)
            cluster, cluster_urls = h.start_redis_cluster(f"so{run}-cluster")
            redis_procs += cluster
            # Redis kind -> (its processes, its node URLs, enrichd_config's keywords for it).
            stores = {"redis": ([single], [single_url], {"redis_url": single_url}),
                      "cluster3": (cluster, cluster_urls, {"cluster_nodes": cluster_urls})}
            results, checks = {}, []
            for label in (reversed(SCALEOUT) if run % 2 else SCALEOUT):
                replicas, store = SCALEOUT[label]
                checks += scaleout_config(h, run, label, up, replicas, *stores[store], results)
            return {"results": results, "checks": checks, "upstream": up.kind}
        finally:
            for proc in redis_procs:
                h.stop(proc)
            up.stop()


def scaleout_config(h: Harness, run: int, label: str, up: "Upstream", replicas: int, redis_procs: list,
                    redis_urls: list[str], where: dict, results: dict) -> list[str]:
    """One scale-out configuration at each --scaleout-connections: `replicas` enrichd from one
    config (so one key prefix: one deployment, coordinated through Redis pub/sub) on the Redis
    `where` says, the load split evenly over them (one wrk per replica, started together).
    Adds its measurements to `results`; returns the checks that failed."""
    a = h.args
    name = f"so{run}{label.replace('_', '')}"  # the key prefix is bench<name>:
    config = h.enrichd_config(name, up, **where)
    servers, checks = [], []
    try:
        for i in range(replicas):
            servers.append(h.start_enrichd(f"{name}r{i}", config))
        urls = [s.url for s in servers]
        # Charged to each measurement: the replicas first, then the Redis server(s).
        pids = [s.proc.pid for s in servers] + [p.pid for p in redis_procs]
        # Warm the connection pools (and the allocator) before measuring.
        h.wrk(urls, "enrich_unique.lua", [f"w{name}p{{part}}"], connections=max(a.scaleout_connections), duration=1)
        for c in a.scaleout_connections:
            marks: dict = {}

            def mark():  # the counters just before the (possibly repeated) measurement
                marks.update(calls=up.calls(), commands=redis_commands(redis_urls),
                             keys=[redis_int(u, "DBSIZE") for u in redis_urls])

            r = h.wrk(urls, "enrich_unique.lua", [f"m{name}c{c}a{{attempt}}p{{part}}"], connections=c,
                      duration=a.duration, pids=pids, helpers=[up.proc.pid], guard=True, before=mark)
            checks += charge_upstream_calls(r, up, marks["calls"], f"{label} c{c}", c)
            each = r["server_cpu_us_per_request_each"]
            r.update(
                replicas=replicas,
                p99_each_ms=[p["p99_ms"] for p in r.get("parts", [r])],
                overhead_p99_vs_delay_ms=round(r["p99_ms"] - a.upstream_delay_ms, 3),
                ideal_rps=round(c * 1000.0 / a.upstream_delay_ms, 1),
                enrichd_cpu_us_per_request=round(sum(each[:replicas]), 2),
                redis_cpu_us_per_request=round(sum(each[replicas:]), 2),
                redis_commands_per_request=round((redis_commands(redis_urls) - marks["commands"]) / max(1, r["requests"]), 2),
                keys_added_per_node=[redis_int(u, "DBSIZE") - k for u, k in zip(redis_urls, marks["keys"])],
                vmhwm_kib=[s.rss()["VmHWM"] for s in servers],
            )
            if r["error_total"]:
                checks.append(f"{label} c{c}: {r['error_total']} errors/non-2xx {r['errors']}")
            if min(r["keys_added_per_node"]) <= 0:
                checks.append(f"{label} c{c}: keys added per Redis node {r['keys_added_per_node']} (every master should get some)")
            results[f"{label}.c{c}"] = r
            log(f"  {label:11s} c={c:<3d} {r['rps']:>7.0f} req/s  p50 {r['p50_ms']:.2f}  p99 {r['p99_ms']:.2f} "
                f"(each replica {', '.join(f'{x:.2f}' for x in r['p99_each_ms'])}) ms | p99-delay {r['overhead_p99_vs_delay_ms']:.2f}"
                f" | enrichd {r['enrichd_cpu_us_per_request']:.0f} + redis {r['redis_cpu_us_per_request']:.0f} us/req"
                f" | {r['redis_commands_per_request']:.1f} Redis commands/req | keys per node {r['keys_added_per_node']}"
                f" | errors {r['error_total']} | others {r['foreign_cores'] * 100:.0f}%")
        # One deployment: every replica listens on the shared events channel (on a cluster,
        # on whichever node it subscribed to, so the nodes' counts are summed).
        subscribers = sum(redis_int(u, "PUBSUB", "NUMSUB", f"bench{name}:events") for u in redis_urls)
        if subscribers != replicas:
            checks.append(f"{label}: {subscribers} subscribers of bench{name}:events for {replicas} replicas")
        return checks
    finally:
        for s in servers:
            s.stop()


SCENARIOS = {
    "hit": scenario_hit,
    "miss": scenario_miss,
    "herd": scenario_herd,
    "stall": scenario_stall,
    "memory": scenario_memory,
    "callgrind": scenario_callgrind,
    "jobs": scenario_jobs,
    "redis_memory": scenario_redis_memory,
    "scaleout": scenario_scaleout,
}


# ===========================================================================================
# Summary
# ===========================================================================================


def machine(binary: Path) -> dict:
    def cmd(*args):
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {
        "wrk": (cmd("wrk", "-v") or "").splitlines()[0] if shutil.which("wrk") else None,
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip() if shutil.which("nginx") else None,
        "redis": cmd("redis-server", "--version") if shutil.which("redis-server") else None,
        "valgrind": cmd("valgrind", "--version") if shutil.which("valgrind") else None,
        "python": platform.python_version(),
    }
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
        "mem_total": cmd("sh", "-c", "grep MemTotal /proc/meminfo | awk '{print $2\" kB\"}'"),
        "commit": cmd("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
        "src_dirty": bool(cmd("git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "connectors", "Cargo.toml", "Cargo.lock")),
        "versions": versions,
        "binary": str(binary),
        "binary_sha256": cmd("sha256sum", str(binary)).split(" ")[0][:16],
        "binary_mtime": dt.datetime.fromtimestamp(binary.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def summarise(all_runs: dict[str, list[dict]], args: argparse.Namespace) -> tuple[dict, str]:
    """Medians over runs, and a Markdown report."""
    summary: dict = {}
    md: list[str] = []

    def med(scenario: str, key: str, field: str):
        """Median over runs, of the quiet measurements when there are any (see --noise-threshold)."""
        found = [r["results"][key] for r in all_runs[scenario] if key in r["results"]]
        quiet = [m for m in found if not m.get("noisy")]
        return median([m.get(field) for m in (quiet or found)])

    def quiet_count(scenario: str, key: str) -> str:
        found = [r["results"][key] for r in all_runs[scenario] if key in r["results"]]
        return f"{sum(not m.get('noisy') for m in found)}/{len(found)}"

    if "hit" in all_runs:
        runs = all_runs["hit"]
        md += ["### Hit path: GET /v1/profiles/{id}, warm cache", "",
               f"{runs[0]['users']} users, profile {runs[0]['profile_bytes']} B, wrk -t1 -c{args.hit_connections} "
               f"-d{args.duration}s, {len(runs)} runs (medians; ratio = median of per-run ratios against nginx in the same run).", "",
               "| server | req/s | p50 ms | p99 ms | p99.9 ms | throughput ratio vs nginx | server CPU use | server CPU µs/request | CPU-efficiency ratio vs nginx | peak RSS MiB | quiet runs |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        for key in runs[0]["results"]:
            row = {f: med("hit", key, f) for f in ("rps", "p50_ms", "p99_ms", "p99.9_ms", "ratio_vs_nginx", "server_cpu_util",
                                                   "server_cpu_us_per_request", "cpu_ratio_vs_nginx", "vmhwm_kib")}
            summary[f"hit.{key}"] = row
            rss = None if row["vmhwm_kib"] is None else row["vmhwm_kib"] / 1024
            util = None if row["server_cpu_util"] is None else row["server_cpu_util"] * 100
            md.append(f"| {key} | {fmt(row['rps'], '.0f')} | {fmt(row['p50_ms'], '.3f')} | {fmt(row['p99_ms'], '.3f')} | "
                      f"{fmt(row['p99.9_ms'], '.3f')} | {fmt(row['ratio_vs_nginx'], '.2f')} | {fmt(util, '.0f')}% | "
                      f"{fmt(row['server_cpu_us_per_request'], '.1f')} | {fmt(row['cpu_ratio_vs_nginx'], '.2f')} | {fmt(rss, '.1f')} | "
                      f"{quiet_count('hit', key)} |")
        md.append("")
        per_run = [f"{r['results']['enrichd_local']['ratio_vs_nginx']:.2f}/{r['results']['enrichd_redis']['ratio_vs_nginx']:.2f}" for r in runs]
        split = [r["results"]["enrichd_redis"].get("server_cpu_us_per_request_each") for r in runs]
        md += [f"Per-run throughput ratios vs nginx (local/redis): {', '.join(per_run)}. "
               f"enrichd_redis CPU µs/request split enrichd/redis-server per run: "
               + ", ".join("/".join(f"{x:.1f}" for x in sp) for sp in split if sp), ""]
    if "miss" in all_runs:
        runs = all_runs["miss"]
        md += ["### Miss path: POST /v1/enrich, new user per request, 3 connectors, upstream delay "
               f"{args.upstream_delay_ms:g} ms ({runs[0]['upstream']})", "",
               f"wrk -t1 -cC -d{args.duration:g}s, closed loop (C connections, each waits for its answer); {len(runs)} runs (medians). "
               "'direct' = the upstream measured directly with the same C.", "",
               "| cache | C | req/s | ideal req/s | p50 ms | p99 ms | p99.9 ms | upstream direct p99 ms | p99 − 20 ms | p99 − direct p99 | enrichd CPU µs/request | upstream calls/request | quiet runs |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for key in runs[0]["results"]:
            variant, c = key.split(".c")
            row = {f: med("miss", key, f) for f in ("rps", "ideal_rps", "p50_ms", "p99_ms", "p99.9_ms", "upstream_direct_p99_ms",
                                                    "overhead_p99_vs_delay_ms", "overhead_p99_vs_direct_ms",
                                                    "server_cpu_us_per_request", "upstream_calls_per_request")}
            summary[f"miss.{key}"] = row
            md.append(f"| {variant} | {c} | {fmt(row['rps'], '.0f')} | {fmt(row['ideal_rps'], '.0f')} | {fmt(row['p50_ms'], '.2f')} | "
                      f"{fmt(row['p99_ms'], '.2f')} | {fmt(row['p99.9_ms'], '.2f')} | {fmt(row['upstream_direct_p99_ms'], '.2f')} | "
                      f"{fmt(row['overhead_p99_vs_delay_ms'], '.2f')} | {fmt(row['overhead_p99_vs_direct_ms'], '.2f')} | "
                      f"{fmt(row['server_cpu_us_per_request'], '.0f')} | {fmt(row['upstream_calls_per_request'], '.2f')} | "
                      f"{quiet_count('miss', key)} |")
        md.append("")
        # This build's CPU per miss against each extra build's, run by run (the runs' spread shows).
        ratios = []
        for label in (x.split("=", 1)[0] for x in args.extra_binary):
            for key in runs[0]["results"]:
                ours = key.removeprefix(f"{label}_")
                if ours == key or ours not in runs[0]["results"]:
                    continue
                theirs_med, ours_med = (med("miss", k, "server_cpu_us_per_request") for k in (key, ours))
                if not theirs_med or ours_med is None:
                    continue
                per_run = [r["results"][ours]["server_cpu_us_per_request"] / r["results"][key]["server_cpu_us_per_request"]
                           for r in runs if r["results"][key]["server_cpu_us_per_request"]]
                ratios.append(f"CPU per miss, {ours.replace('.c', ' at C = ')}, this build / {label}: per run "
                              f"{' · '.join(f'{x:.2f}' for x in per_run)}; medians {ours_med / theirs_med:.3f} ×.")
        md += ratios + ([""] if ratios else [])
    if "herd" in all_runs:
        runs = all_runs["herd"]
        md += ["### Thundering herd", "", f"{args.herd_requests} concurrent identical requests for one cold user, "
               f"upstream delay {args.upstream_delay_ms} ms; {len(runs)} runs.", "",
               "| variant | upstream calls per connector (each run) | statuses | coalesced (median) | p99 ms (median) |", "|---|---|---|---|---|"]
        for key in runs[0]["results"]:
            calls = ["/".join(str(r["results"][key]["upstream_calls"].get(c, 0)) for c in CONNECTORS) for r in runs]
            statuses = runs[-1]["results"][key]["statuses"]
            coalesced = median([r["results"][key]["coalesced"] for r in runs])
            p99 = median([r["results"][key]["latency_ms"]["p99"] for r in runs])
            summary[f"herd.{key}"] = {"calls": calls, "coalesced": coalesced, "p99_ms": p99}
            md.append(f"| {key} | {', '.join(calls)} (hubspot/github/gravatar) | {statuses} | {coalesced:.0f} | {p99:.1f} |")
        md.append("")
    if "stall" in all_runs:
        runs = all_runs["stall"]
        row = {f: med("stall", "stall", f) for f in ("rps", "p50_ms", "p99_ms", "p99.9_ms", "max_ms", "max_over_deadline_ms", "p99_over_deadline_ms")}
        maxes = [r["results"]["stall"]["max_ms"] for r in runs]
        summary["stall"] = {**row, "max_each_run": maxes}
        md += ["### Stalled connector (HubSpot accepts and never answers)", "",
               f"deadline {args.stall_deadline_ms} ms, HubSpot timeout {args.stall_deadline_ms * 4} ms, breaker kept shut, "
               f"wrk -t1 -c{args.stall_connections} -d{args.duration}s, new user per request; {len(runs)} runs.", "",
               "| req/s | p50 ms | p99 ms | p99.9 ms | max ms (median) | max ms (each run) | p99 − deadline | max − deadline | quiet runs |", "|---|---|---|---|---|---|---|---|---|",
               f"| {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['p99.9_ms']:.2f} | {row['max_ms']:.2f} | "
               f"{', '.join(f'{m:.1f}' for m in maxes)} | {row['p99_over_deadline_ms']:.2f} | {row['max_over_deadline_ms']:.2f} | "
               f"{quiet_count('stall', 'stall')} |", ""]
    if "memory" in all_runs:
        runs = all_runs["memory"]
        hwm = [r["results"]["memory"]["vmhwm_mib"] for r in runs]
        summary["memory"] = {"vmhwm_mib_median": median(hwm), "each_run": hwm}
        samples = runs[-1]["results"]["memory"]["samples"]
        md += ["### Memory", "", f"{runs[0]['results']['memory']['users']} distinct users enriched (3 connectors each), "
               f"cache.local_capacity {args.memory_capacity}; {len(runs)} runs.", "",
               f"Peak RSS (VmHWM): median **{median(hwm):.1f} MiB** (each run: {', '.join(f'{x:.1f}' for x in hwm)}).", "",
               "RSS as users accumulate (last run): " + ", ".join(f"{s['users']}: {s['VmRSS'] / 1024:.1f} MiB" for s in samples), ""]
    if "redis_memory" in all_runs:
        runs = all_runs["redis_memory"]
        labels = list(runs[0]["results"]["redis_memory"])
        md += ["### Redis memory per user", "",
               f"`used_memory` growth over {args.redis_memory_users} users enriched with two connectors "
               f"(hubspot, github), each build on a Redis of its own; {len(runs)} runs.", "",
               "| build | bytes per user (median) | each run | Redis commands per miss / per Redis-tier hit | one user's keys (MEMORY USAGE, last run) | one user's values, stored / as JSON (bytes) |",
               "|---|---|---|---|---|---|"]
        summary["redis_memory"] = {}
        for label in labels:
            each = [r["results"]["redis_memory"][label]["bytes_per_user"] for r in runs]
            keys = runs[-1]["results"]["redis_memory"][label]["keys_of_one_user"]
            summary["redis_memory"][label] = {"bytes_per_user_median": median(each), "each_run": each}
            last = runs[-1]["results"]["redis_memory"][label]
            md.append(f"| {label} | {median(each):.0f} | {', '.join(str(x) for x in each)} | "
                      f"{last['commands_per_miss']} / {last['commands_per_redis_hit']} | "
                      + ", ".join(f"`{k}` {v}" for k, v in sorted(keys.items())) + " | "
                      + ", ".join(f"`{k}` {v[0]} / {v[1]}" for k, v in sorted(last["values_of_one_user"].items())) + " |")
        md.append("")
    if "callgrind" in all_runs:
        runs = all_runs["callgrind"]
        md += ["### Instructions per request (callgrind)", "",
               f"enrichd under valgrind --tool=callgrind, server.workers 1, in-process cache; hit: {args.callgrind_requests} sequential "
               f"GETs over one connection ({args.callgrind_users} warm users); miss: {args.callgrind_misses} sequential enrichments of new "
               f"users (3 connectors, upstream without delay); hit_redis and miss_redis: the same through a replica with Redis "
               f"and a 1-entry in-process tier; {len(runs)} runs.", "",
               "| path | instructions per request (median) | each run |", "|---|---|---|"]
        for key in ("hit", "hit_redis", "miss", "miss_redis"):
            per = [r["results"][key]["instructions_per_request"] for r in runs if key in r["results"]]
            if not per:
                continue
            summary[f"callgrind.{key}"] = {"per_request_median": median(per), "each_run": per}
            md.append(f"| {key} | {fmt(median(per), ',.0f')} | {', '.join(f'{x:,}' for x in per)} |")
        md.append("")
    if "jobs" in all_runs:
        runs = all_runs["jobs"]
        alone = median([r["results"]["interactive_alone"]["p99_ms"] for r in runs])
        during = median([r["results"]["interactive_during_job"]["p99_ms"] for r in runs])
        rate = median([r["results"]["job_alone"]["subjects_per_second"] for r in runs])
        beside = median([r["results"]["job_during"]["subjects_per_second"] for r in runs])
        ratio = median([r["results"]["p99_ratio_during_vs_alone"] for r in runs])
        summary["jobs"] = {"subjects_per_second": rate, "interactive_p99_alone_ms": alone,
                           "interactive_p99_during_job_ms": during, "p99_ratio": ratio,
                           "job_subjects_per_second_beside_interactive": beside}
        md += ["### Bulk jobs: a job's throughput, and the interactive miss path beside it", "",
               f"{args.job_subjects} subjects (3 connectors each, {args.upstream_delay_ms:g} ms upstreams), jobs.workers "
               f"{args.job_workers}, Redis; interactive load: wrk -c{args.job_connections} on POST /v1/enrich (new users), "
               f"{len(runs)} runs (medians).", "",
               "| job alone, subjects/s | interactive p99 alone, ms | interactive p99 during a job, ms | ratio | job beside the interactive load, subjects/s |",
               "|---|---|---|---|---|",
               f"| {fmt(rate, '.0f')} | {fmt(alone, '.2f')} | {fmt(during, '.2f')} | {fmt(ratio, '.2f')} | {fmt(beside, '.0f')} |", ""]
    if "scaleout" in all_runs:
        summarise_scaleout(all_runs["scaleout"], args, summary, md)
    return summary, "\n".join(md)


def summarise_scaleout(runs: list[dict], args: argparse.Namespace, summary: dict, md: list[str]) -> None:
    """The scale-out table: medians over the quiet measurements of each configuration and load."""
    def found(key: str) -> list[dict]:
        ms = [r["results"][key] for r in runs if key in r["results"]]
        return [m for m in ms if not m.get("noisy")] or ms

    md += [f"### Scale-out: replicas and Redis Cluster on the miss path (upstream delay {args.upstream_delay_ms:g} ms, "
           f"{runs[0]['upstream']})", "",
           f"POST /v1/enrich, new user per request, 3 connectors; wrk -t1 -cC -d{args.duration:g}s closed loop; with two "
           f"replicas (one deployment: one config, one key prefix) two wrk processes start together with C/2 connections "
           f"each: req/s is their sum, p50/p99 the worse of the two (each replica's p99 listed). Configurations "
           f"interleaved in every run (order reversed on odd runs); {len(runs)} runs (medians of the quiet ones). "
           f"Unpinned (every process floats over the {os.cpu_count()} CPUs); enrichd server.workers {args.workers} per "
           f"replica. Ratio = median req/s over `1x_redis`'s median req/s at the same C.", "",
           "| configuration | Redis | C | req/s | ratio | ideal req/s | p50 ms | p99 ms | p99 each replica | p99 − delay | "
           "enrichd CPU µs/req (all replicas) | Redis CPU µs/req (all nodes) | Redis commands/req | errors (max) | quiet runs |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, (replicas, store) in SCALEOUT.items():
        for c in args.scaleout_connections:
            ms = found(f"{label}.c{c}")
            if not ms:
                continue
            row = {f: median([m.get(f) for m in ms]) for f in (
                "rps", "ideal_rps", "p50_ms", "p99_ms", "overhead_p99_vs_delay_ms",
                "enrichd_cpu_us_per_request", "redis_cpu_us_per_request", "redis_commands_per_request")}
            row["p99_each_ms"] = [median(x) for x in zip(*(m["p99_each_ms"] for m in ms))]
            reference = summary.get(f"scaleout.{next(iter(SCALEOUT))}.c{c}", row)["rps"]
            row["rps_ratio"] = round(row["rps"] / reference, 3) if row["rps"] and reference else None
            everything = [r["results"][f"{label}.c{c}"] for r in runs if f"{label}.c{c}" in r["results"]]
            row["errors_max"] = max(m["error_total"] for m in everything)
            summary[f"scaleout.{label}.c{c}"] = row
            md.append(f"| {label} | {SCALEOUT_REDIS[store]} | {c} | {fmt(row['rps'], '.0f')} | {fmt(row['rps_ratio'], '.2f')} | "
                      f"{fmt(row['ideal_rps'], '.0f')} | {fmt(row['p50_ms'], '.2f')} | {fmt(row['p99_ms'], '.2f')} | "
                      f"{' / '.join(f'{x:.2f}' for x in row['p99_each_ms'])} | {fmt(row['overhead_p99_vs_delay_ms'], '.2f')} | "
                      f"{fmt(row['enrichd_cpu_us_per_request'], '.0f')} | {fmt(row['redis_cpu_us_per_request'], '.0f')} | "
                      f"{fmt(row['redis_commands_per_request'], '.1f')} | {row['errors_max']} | "
                      f"{sum(not m.get('noisy') for m in everything)}/{len(everything)} |")
    md.append("")


def main() -> int:
    p = argparse.ArgumentParser(description="enrichd benchmark harness")
    p.add_argument("--binary", default=str(ROOT / "target/release/enrichd"))
    p.add_argument("--scenarios", default="hit,miss,herd,stall,memory,callgrind")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=10, help="seconds per measured wrk run")
    p.add_argument("--hit-users", type=int, default=10000)
    p.add_argument("--hit-connections", type=int, default=32)
    p.add_argument("--miss-connections", default="1,4,16,32", help="closed-loop loads (wrk connections)")
    p.add_argument("--scaleout-connections", default="32",
                   help="scaleout: closed-loop loads (wrk connections, split evenly over the replicas)")
    p.add_argument("--upstream-delay-ms", type=float, default=20)
    p.add_argument("--upstream", choices=["auto", "python"], default="auto",
                   help="miss/hit/memory upstream: nginx+echo when installed (auto), or the Python server")
    p.add_argument("--miss-redis", action=argparse.BooleanOptionalAction, default=True,
                   help="also run the miss path with a Redis-backed enrichd")
    p.add_argument("--miss-redis-down", action=argparse.BooleanOptionalAction, default=False,
                   help="also run the miss path with Redis configured but down (nothing listening)")
    p.add_argument("--miss-extra", action="store_true",
                   help="with --extra-binary: also run the miss path with each extra build (same runs)")
    p.add_argument("--herd-requests", type=int, default=1000)
    p.add_argument("--herd-redis", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--stall-deadline-ms", type=int, default=300)
    p.add_argument("--stall-connections", type=int, default=16)
    p.add_argument("--stall-check-requests", type=int, default=200)
    p.add_argument("--memory-users", type=int, default=100000)
    p.add_argument("--redis-memory-users", type=int, default=5000,
                   help="redis_memory: users enriched into each build's Redis")
    p.add_argument("--redis-memory-dump", default="",
                   help="redis_memory: a folder to write one user's stored values to (replies as read)")
    p.add_argument("--memory-capacity", type=int, default=10000)
    p.add_argument("--callgrind-users", type=int, default=1000)
    p.add_argument("--callgrind-requests", type=int, default=2000)
    p.add_argument("--callgrind-misses", type=int, default=300)
    p.add_argument("--callgrind-redis", action=argparse.BooleanOptionalAction, default=True,
                   help="also count the Redis-tier hit path")
    p.add_argument("--job-subjects", type=int, default=5000)
    p.add_argument("--job-workers", type=int, default=32, help="jobs.workers of the jobs scenario")
    p.add_argument("--job-connections", type=int, default=4, help="interactive load beside the job")
    p.add_argument("--workers", type=int, default=1, help="enrichd server.workers (1: it is pinned to one CPU)")
    p.add_argument("--nginx-workers", default="1",
                   help="worker_processes of the static nginx of the hit scenario (`auto`: one per CPU)")
    p.add_argument("--noise-threshold", type=float, default=0.25,
                   help="a measurement during which other programs used more CPU cores than this is repeated")
    p.add_argument("--noise-retries", type=int, default=3)
    p.add_argument("--extra-binary", action="append", default=[], metavar="LABEL=PATH",
                   help="hit scenario: also measure this enrichd build (in-process cache) in the same runs")
    p.add_argument("--extra-redis", action="store_true",
                   help="with --extra-binary: also measure each extra build as a Redis-tier reader")
    p.add_argument("--sealed-extra", action="store_true",
                   help="hit scenario: also a Redis-tier reader whose values are sealed (cache.encryption_keys)")
    p.add_argument("--sealed", action="store_true",
                   help="every enrichd with cache.encryption_keys (values in Redis sealed with AES-256-GCM)")
    p.add_argument("--enrichd-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for enrichd (experiments, e.g. MALLOC_ARENA_MAX=1)")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", default=str(BENCH / "results" / time.strftime("%Y%m%d-%H%M%S")))
    p.add_argument("--tmp", default=None, help="parent of the scratch directory")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, configs)")
    args = p.parse_args()
    args.miss_connections = [int(c) for c in str(args.miss_connections).split(",") if c]
    args.scaleout_connections = [int(c) for c in str(args.scaleout_connections).split(",") if c]
    if "scaleout" in args.scenarios and min(args.scaleout_connections, default=0) < 2:
        p.error("--scaleout-connections: at least 2 connections each (one per replica)")
    scenarios = [s for s in args.scenarios.split(",") if s]
    for s in scenarios:
        if s not in SCENARIOS:
            p.error(f"unknown scenario {s}; known: {', '.join(SCENARIOS)}")
    if not Path(args.binary).exists():
        p.error(f"{args.binary} does not exist; build it first")

    h = Harness(args)
    failures: list[str] = []
    all_runs: dict[str, list[dict]] = {}

    def on_signal(signum, _frame):
        h.cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    info = machine(h.binary)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        for scenario in scenarios:
            runs = 1 if scenario == "memory" and args.runs > 1 and args.memory_users > 200000 else args.runs
            for run in range(runs):
                log(f"{scenario} run {run + 1}/{runs}")
                try:
                    result = SCENARIOS[scenario](h, run)
                except (BenchError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as err:
                    failures.append(f"{scenario} run {run + 1}: harness error: {err}")
                    log(f"  FAILED: {err}")
                    break
                all_runs.setdefault(scenario, []).append(result)
                for check in result.get("checks", []):
                    failures.append(f"{scenario} run {run + 1}: {check}")
                    log(f"  CHECK FAILED: {check}")
        summary, md = summarise(all_runs, args)
    finally:
        h.cleanup()
    header = (f"Machine: {info['nproc']} CPUs, {info['cpu_model']}, kernel {info['kernel']}, {info['mem_total']} RAM; "
              f"date {info['date']}; commit {info['commit']}{' (src modified)' if info['src_dirty'] else ''}; "
              f"binary {info['binary']} (sha256 {info['binary_sha256']}…, built {info['binary_mtime']}).\n"
              f"Pinning: {'servers on CPU 1, load generators and upstreams on CPU 0' if h.pin else 'off'}"
              f"{' (scaleout: off, see its section)' if h.pin and 'scaleout' in scenarios else ''}; "
              f"enrichd server.workers {args.workers}.\n")
    md = header + "\n" + md
    (out / "runs.json").write_text(json.dumps({"machine": info, "args": vars(args), "runs": all_runs, "summary": summary,
                                               "failures": failures}, indent=1, default=str))
    (out / "summary.md").write_text(md + "\n")
    print(md)
    if failures:
        print("\nFAILURES:\n" + "\n".join(f"  - {f}" for f in failures))
        return 1
    log(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
