#!/usr/bin/env python3
"""An exact-count HTTP/1.1 load client for the benchmarks (Python 3.11 standard library).

wrk runs for a duration; some scenarios need an exact number of requests instead:

* `enrich`  — enrich exactly N distinct users (`POST /v1/enrich`, unique ids) over C keep-alive
              connections: cache warm-up, the memory scenario, the stalled-connector check.
* `herd`    — N concurrent identical requests for one cold user: N connections are opened
              first (spread over `--ports`, one per replica), then every request is written at
              once.
* `get`     — N sequential `GET /v1/profiles/{id}` over one connection (the callgrind run).

Each prints one JSON object: counts by HTTP status, by `cache` field and by source status,
latency percentiles (ms), elapsed seconds, requests/s. Exit status 0 unless `--strict` and a
response was not 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter


def subject(prefix: str, i: int, with_ids: bool = True) -> dict:
    """The subject of synthetic user `i`: an email and a GitHub handle (so HubSpot, GitHub and
    Gravatar are all asked)."""
    user = f"{prefix}{i}"
    if not with_ids:
        return {"user_id": user}
    return {"user_id": user, "email": f"{user}@bench.example", "handles": {"github": user}}


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def send(self, method: str, path: str, body: bytes | None = None) -> None:
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
        if body is not None:
            head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))

    async def receive(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
            return status, body
        return status, await self.reader.readexactly(length)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        self.send(method, path, body)
        await self.writer.drain()
        return await self.receive()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter = Counter()
        self.cache: Counter = Counter()
        self.sources: Counter = Counter()
        self.partial = 0
        self.latencies: list[float] = []
        self.errors: Counter = Counter()

    def record(self, status: int, body: bytes, latency: float, parse: bool) -> None:
        self.statuses[str(status)] += 1
        self.latencies.append(latency)
        if parse and status == 200:
            try:
                profile = json.loads(body)
            except ValueError:
                self.errors["bad_json"] += 1
                return
            self.cache[profile.get("cache", "?")] += 1
            self.partial += bool(profile.get("partial"))
            for source in profile.get("sources", []):
                self.sources[f"{source['connector']}:{source['status']}"] += 1

    def report(self, elapsed: float, **extra) -> dict:
        lat = sorted(self.latencies)
        done = len(lat)
        return {
            "requests": done,
            "elapsed_s": round(elapsed, 3),
            "rps": round(done / elapsed, 1) if elapsed > 0 else None,
            "statuses": dict(self.statuses),
            "cache": dict(self.cache),
            "sources": dict(self.sources),
            "partial": self.partial,
            "errors": dict(self.errors),
            "latency_ms": {
                "p50": _ms(percentile(lat, 50)),
                "p99": _ms(percentile(lat, 99)),
                "p99.9": _ms(percentile(lat, 99.9)),
                "max": _ms(lat[-1] if lat else None),
            },
            **extra,
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


async def enrich(args: argparse.Namespace) -> dict:
    """Exactly `count` distinct users, `concurrency` at a time."""
    tally = Tally()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        conn = Connection(args.host, args.port)
        try:
            while next_index < args.count:
                i = args.start + next_index
                next_index += 1
                body = json.dumps(subject(args.prefix, i, not args.no_identifiers)).encode()
                started = time.perf_counter()
                try:
                    status, answer = await conn.request("POST", "/v1/enrich", body)
                except (ConnectionError, asyncio.IncompleteReadError) as err:
                    tally.errors[type(err).__name__] += 1
                    conn.close()
                    conn = Connection(args.host, args.port)
                    continue
                tally.record(status, answer, time.perf_counter() - started, args.parse)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(args.concurrency, args.count))))
    return tally.report(time.perf_counter() - started)


async def herd(args: argparse.Namespace) -> dict:
    """`count` identical requests for one cold user, written at the same moment."""
    body = json.dumps(subject(args.prefix, args.start, True)).encode()
    ports = [int(p) for p in args.ports.split(",")] if args.ports else [args.port]
    conns = [Connection(args.host, ports[i % len(ports)]) for i in range(args.count)]
    # Open every connection first (in waves, so the listen backlog is not overrun).
    for i in range(0, len(conns), 200):
        await asyncio.gather(*(c.open() for c in conns[i : i + 200]))
    tally = Tally()
    started = time.perf_counter()
    for c in conns:
        c.send("POST", "/v1/enrich", body)
    await asyncio.gather(*(c.writer.drain() for c in conns))
    sent = time.perf_counter() - started

    async def collect(c: Connection) -> None:
        try:
            status, answer = await c.receive()
        except (ConnectionError, asyncio.IncompleteReadError) as err:
            tally.errors[type(err).__name__] += 1
            return
        tally.record(status, answer, time.perf_counter() - started, True)

    await asyncio.gather(*(collect(c) for c in conns))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    return tally.report(elapsed, send_window_ms=round(sent * 1000, 3), user_id=f"{args.prefix}{args.start}")


async def get(args: argparse.Namespace) -> dict:
    """`count` sequential profile reads of random known users, over one connection."""
    rng = random.Random(args.seed)
    conn = Connection(args.host, args.port)
    tally = Tally()
    started = time.perf_counter()
    for _ in range(args.count):
        i = args.start + rng.randrange(args.users)
        t0 = time.perf_counter()
        status, answer = await conn.request("GET", f"/v1/profiles/{args.prefix}{i}")
        tally.record(status, answer, time.perf_counter() - t0, args.parse)
    conn.close()
    return tally.report(time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["enrich", "herd", "get"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ports", help="`herd`: spread the connections over these ports (replicas)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--prefix", default="u")
    parser.add_argument("--start", type=int, default=0, help="first user index")
    parser.add_argument("--users", type=int, default=1, help="`get`: ids are drawn from this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parse", action="store_true", help="parse profiles (cache/source tallies)")
    parser.add_argument("--no-identifiers", action="store_true", help="send only user_id")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless every answer is 200")
    args = parser.parse_args()
    result = asyncio.run({"enrich": enrich, "herd": herd, "get": get}[args.mode](args))
    print(json.dumps(result))
    if args.strict and (set(result["statuses"]) - {"200"} or result["errors"]
                        or result["requests"] != args.count):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
