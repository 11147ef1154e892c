#!/usr/bin/env python3
"""Verify an enrichd webhook's signature (README, "Verifying a webhook").

enrichd signs each webhook attempt with the header

    enrichd-signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">

keyed with `jobs.webhook_secret`. A receiver recomputes the MAC over the raw body it got (the
bytes, before any JSON parsing), compares it in constant time with every `v1=` value of the
header, and refuses a timestamp more than `tolerance` seconds away from its clock, so that a
captured request cannot be replayed later. It mirrors `verify` in enrichd's
`src/jobs/webhook.rs`. Python 3 standard library only.

As a module:

    from verify_webhook import verify

    # in the receiver's handler, with the raw body as bytes:
    if not verify(SECRET, request.headers["enrichd-signature"], raw_body):
        ...  # refuse it (e.g. answer 400) and do not act on it

From the command line (exit status 0 when the signature is valid, 1 otherwise, wrong usage
included):

    python3 verify_webhook.py SECRET HEADER BODY_FILE [NOW]

BODY_FILE `-` reads the body from standard input; NOW (Unix seconds) defaults to the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time

#: How far (seconds) the signature's timestamp may be from the receiver's clock.
DEFAULT_TOLERANCE = 300


def verify(
    secret: bytes,
    header: str,
    body: bytes,
    now: int | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Whether `header` (the `enrichd-signature` value) signs `body` with `secret`.

    The timestamp must be at most `tolerance` seconds from `now` (Unix seconds; default: the
    clock). Any one `v1=` value matching is enough, so that a header carrying several (a
    secret being rotated) verifies with either secret.
    """
    t = None
    signatures = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            # Digits only (at most 20, a u64), as enrichd writes it; the last t= counts.
            digits = value.isascii() and value.isdigit() and len(value) <= 20
            t = int(value) if digits else None
        elif name == "v1":
            signatures.append(value)
    if t is None:
        return False
    if now is None:
        now = int(time.time())
    if abs(t - now) > tolerance:
        return False
    message = str(t).encode("ascii") + b"." + body
    expected = hmac.new(secret, message, hashlib.sha256).hexdigest().encode("ascii")
    # compare_digest takes time independent of where the values differ; every value is
    # compared, so the time does not tell which one matched either.
    matched = False
    for signature in signatures:
        if hmac.compare_digest(signature.encode("utf-8", "surrogateescape"), expected):
            matched = True
    return matched


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print(
            "usage: verify_webhook.py SECRET HEADER BODY_FILE [NOW]\n"
            "  exit 0 when HEADER signs the body with SECRET, 1 when it does not",
            file=sys.stderr,
        )
        return 1
    secret = os.fsencode(argv[1])
    header = argv[2]
    now = None
    if len(argv) == 5:
        if not (argv[4].isascii() and argv[4].isdigit() and len(argv[4]) <= 20):
            print(f"NOW must be Unix seconds, not {argv[4]!r}", file=sys.stderr)
            return 1
        now = int(argv[4])
    try:
        if argv[3] == "-":
            body = sys.stdin.buffer.read()
        else:
            with open(argv[3], "rb") as file:
                body = file.read()
    except OSError as err:
        print(f"cannot read the body: {err}", file=sys.stderr)
        return 1
    if verify(secret, header, body, now):
        return 0
    print("The signature does not verify.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
