#!/usr/bin/env python3
"""A fake upstream for the benchmarks: answers the GitHub, HubSpot and Gravatar lookups that
enrichd's connectors make, with the connectors' own fixture bodies, after a fixed delay.

Every call is counted per connector (`GET /__stats` returns the counts as JSON, `POST
/__reset` zeroes them), so a scenario can check how many upstream calls enrichd made.
Connectors named with `--hang` are "stalled": their requests are read and never answered (the
connection stays open until the client gives up).

Python 3.11 standard library only.

    python3 bench/upstream.py --port 0 --port-file /tmp/up.port --delay-ms 20 [--hang hubspot]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "connectors"

# The properties HubSpot's own stand-in adds to its example contact (a richer profile).
HUBSPOT_ADDITIONS = {
    "hs_object_id": "512",
    "jobtitle": "Director of Data Engineering",
    "city": "Cambridge",
    "state": "Massachusetts",
    "country": "United States",
    "industry": "Computer Software",
    "lifecyclestage": "customer",
    "hs_lead_status": "CONNECTED",
    "hubspotscore": "61",
    "hs_analytics_source": "ORGANIC_SEARCH",
}
HUBSPOT_TOKEN = "demo-hubspot-token"


def load(relative: str) -> dict:
    return json.loads((FIXTURES / relative).read_text())


class Bodies:
    """Fixture bodies, personalised with the identifier asked for (so profiles differ)."""

    def __init__(self) -> None:
        self.github = load("github/fixtures/user-octocat.json")
        self.hubspot = load("hubspot/fixtures/contact-by-email.json")
        for name, value in HUBSPOT_ADDITIONS.items():
            self.hubspot["properties"].setdefault(name, value)
        self.hubspot_404 = (FIXTURES / "hubspot/fixtures/404.json").read_bytes()
        self.gravatar = load("gravatar/fixtures/profile-unauthenticated-alex-morgan.json")

    def github_user(self, login: str) -> bytes:
        body = dict(self.github)
        body["login"] = login
        body["html_url"] = f"https://github.com/{login}"
        return json.dumps(body).encode()

    def hubspot_contact(self, email: str) -> bytes:
        body = dict(self.hubspot)
        body["properties"] = dict(self.hubspot["properties"], email=email)
        return json.dumps(body).encode()

    def gravatar_profile(self, digest: str) -> bytes:
        body = dict(self.gravatar)
        body["hash"] = digest
        return json.dumps(body).encode()


def connector_of(path: str) -> str | None:
    if path.startswith("/users/"):
        return "github"
    if path.startswith("/crm/v3/objects/contacts/"):
        return "hubspot"
    if path.startswith("/v3/profiles/"):
        return "gravatar"
    return None


class Upstream:
    def __init__(self, delay: float, hang: set[str], quiet: bool) -> None:
        self.delay = delay
        self.hang = hang
        self.quiet = quiet
        self.bodies = Bodies()
        self.calls: dict[str, int] = {}
        self.inflight = 0
        self.hanging: list[asyncio.StreamWriter] = []

    def stats(self) -> bytes:
        return json.dumps(
            {"calls": self.calls, "inflight": self.inflight, "hanging": len(self.hanging)}
        ).encode()

    async def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes] | None:
        """The status and body to send, or None to never answer."""
        url = urlsplit(target)
        path = url.path
        if path == "/__stats":
            return 200, self.stats()
        if path == "/__reset":
            self.calls.clear()
            return 200, self.stats()
        connector = connector_of(path)
        if connector is None:
            return 404, b'{"message":"Not Found"}'
        self.calls[connector] = self.calls.get(connector, 0) + 1
        if connector in self.hang:
            return None
        self.inflight += 1
        try:
            if self.delay > 0:
                await asyncio.sleep(self.delay)
        finally:
            self.inflight -= 1
        last = unquote(path.rsplit("/", 1)[-1])
        if connector == "github":
            return 200, self.bodies.github_user(last)
        if connector == "hubspot":
            if headers.get("authorization") != f"Bearer {HUBSPOT_TOKEN}":
                return 401, b'{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}'
            return 200, self.bodies.hubspot_contact(last)
        return 200, self.bodies.gravatar_profile(last)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                result = await self.answer(method, target, headers)
                if result is None:
                    # Stalled: keep the connection open, never answer.
                    self.hanging.append(writer)
                    await asyncio.Event().wait()
                    return
                status, body = result
                reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "X")
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing a broken socket
                pass


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--hang", default="", help="comma-separated connectors never answered")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    hang = {name for name in args.hang.split(",") if name}
    upstream = Upstream(args.delay_ms / 1000.0, hang, args.quiet)
    server = await asyncio.start_server(upstream.serve, args.host, args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        Path(tmp).write_text(str(port))
        os.replace(tmp, args.port_file)
    if not args.quiet:
        print(f"upstream listening on {args.host}:{port} delay={args.delay_ms}ms hang={sorted(hang)}",
              file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
