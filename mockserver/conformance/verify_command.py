"""``sora-mock verify``: its command line (see :mod:`mockserver.conformance` for the run).

Exit codes: 0 no drift (or skipped: no key), 1 drift or a request that could not be
completed, 2 usage error, 3 no drift but the provider answers "model not found" for the model
asked for (retired: its lifecycle could not be checked). Against a loopback base URL (the
mock) no key is needed: a placeholder key is sent, and the run says so.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

import contracts
from mockserver.conformance.providers import PLACEHOLDER_KEY, PROVIDERS, is_loopback
from mockserver.conformance.redaction import Redactor
from mockserver.conformance.reports import verdict, write_reports
from mockserver.conformance.verifier import Sleep, Verifier


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``verify`` on the ``sora-mock`` sub-command parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="check a live provider (or the mock) against its contract and report drift",
        description="Send free probes, at most --max-creates paid creates (following the "
        "contract's links) and generated read cases to a provider, validate every answer "
        "against the contract, and write verify-<provider>.md and .xml.",
    )
    p.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    p.add_argument(
        "--base-url",
        default=None,
        help="default: the contract's x-provider-base-url; the mock: http://127.0.0.1:8000/gptge",
    )
    p.add_argument(
        "--max-creates",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="hard cap on paid create requests (default 1; 0: only free requests)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan; send nothing")
    p.add_argument(
        "--image",
        default=None,
        metavar="URL",
        help="reference image URL for a paid create of a JSON API (gptproto-v3 `images`, vtrix "
        "`input_reference`) instead of the contract example's; its size must match the "
        "example's (720x1280 portrait)",
    )
    p.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR")
    p.add_argument("--timeout", type=_positive_float, default=60.0, metavar="S", help="per request")
    p.add_argument(
        "--poll-seconds",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="wall-time budget for polling one job (and for reading one stream)",
    )
    p.add_argument("--poll-interval", type=_positive_float, default=10.0, metavar="S")
    p.add_argument("--max-polls", type=_non_negative_int, default=60, metavar="N")
    p.add_argument(
        "--generated",
        type=_non_negative_int,
        default=10,
        metavar="N",
        help="generated read (GET) cases per operation (default 10; 0: none)",
    )
    return p


def run_args(
    args: argparse.Namespace,
    *,
    sleep: Sleep = time.sleep,
    stream_pause: float = 0.0,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    contract_name, env_var = PROVIDERS[args.provider]
    contract = contracts.load(contract_name)
    api_key = os.environ.get(env_var, "").strip()
    redactor = Redactor([api_key])
    base_url = args.base_url or contract.spec["info"].get("x-provider-base-url", "")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        print(
            redactor(f"sora-mock verify: --base-url must be an http(s) URL, got {base_url!r}"),
            file=err,
        )
        return 2
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    placeholder = not api_key and is_loopback(base_url)
    if placeholder:
        # the mock accepts any non-empty key: checking it needs none (issue 12)
        api_key = PLACEHOLDER_KEY
    verifier = Verifier(
        args.provider,
        base_url,
        api_key,
        max_creates=args.max_creates,
        timeout=args.timeout,
        poll_seconds=args.poll_seconds,
        poll_interval=args.poll_interval,
        max_polls=args.max_polls,
        generated=args.generated,
        sleep=sleep,
        stream_pause=stream_pause,
        out=out,
        transport=transport,
        image_url=args.image,
    )
    if placeholder:
        verifier.say(
            f"{env_var} is not set and {base_url} is loopback: sending the placeholder key "
            f"{PLACEHOLDER_KEY!r}"
        )
        verifier.result.notes.append(
            f"no key set: the placeholder key {PLACEHOLDER_KEY!r} was sent (loopback base URL)"
        )
    if args.dry_run:
        if not api_key:
            verifier.say(f"({env_var} is not set: a real run would be skipped)")
        verifier.dry_run()
        return 0
    if not api_key:
        message = f"skipped: set {env_var} to verify {args.provider}"
        print(message, file=out)
        verifier.result.skipped = message
        write_reports(verifier.result, args.report_dir, redactor)
        return 0
    try:
        result = verifier.run()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("sora-mock verify: interrupted; no report written", file=err)
        return 1
    markdown, xml = write_reports(result, args.report_dir, redactor)
    if result.ok and result.retired_models:
        verifier.say(f"{verdict(result)}. Reports: {markdown}, {xml}")
        return 3
    if result.ok:
        verifier.say(
            f"no drift: {result.requests} requests, {result.creates_sent} paid create(s). "
            f"Reports: {markdown}, {xml}"
        )
        return 0
    verifier.say(f"{verdict(result)}. Reports: {markdown}, {xml}")
    return 1


def main(argv: Sequence[str] | None = None, **kwargs: Any) -> int:
    """``sora-mock verify ...`` on its own (``kwargs`` go to :func:`run_args`)."""
    parser = argparse.ArgumentParser(prog="sora-mock")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["verify", *(argv or [])])
    return run_args(args, **kwargs)
