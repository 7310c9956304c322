"""``sora-mock verify``: its command line (see :mod:`mockserver.conformance` for the run).

Against a loopback base URL (the mock) no key is needed: a placeholder key is sent, and the
run says so. The exit codes are :data:`EXIT_CODES` (also in ``sora-mock verify --help``).
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
from mockserver.conformance.reports import summary_line, verdict, write_reports
from mockserver.conformance.results import EXIT_NOT_VERIFIED, RunResult
from mockserver.conformance.verifier import Sleep, Verifier
from mockserver.settings._help import HelpFormatter

EXIT_OK, EXIT_DRIFT, EXIT_USAGE, EXIT_RETIRED = 0, 1, 2, 3
#: the exit codes, most important first: a run with drift exits 1 even if part of it could
#: not be verified (the console and the reports say which part)
EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}  verified: no drift
  {EXIT_DRIFT}  drift: the provider answered something its contract does not allow
  {EXIT_USAGE}  usage error (bad option or --base-url)
  {EXIT_RETIRED}  no drift, but the provider answers "model not found" for the model asked for
     (retired: its lifecycle could not be checked)
  {EXIT_NOT_VERIFIED}  could not verify: the provider rejected the credentials (401/403 to every
     request sent with them), could not be reached (connection refused, DNS, timeout) or
     left requests unanswered, the key is not set (see --skip-without-key), a part asked
     for cannot run (--generated N without schemathesis: pip install 'sora-mock[verify]'),
     or no check ran at all
"""


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
        epilog=EXIT_CODES,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--provider", required=True, choices=sorted(PROVIDERS), help="the provider API to check"
    )
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
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="where the Markdown and JUnit reports go",
    )
    p.add_argument("--timeout", type=_positive_float, default=60.0, metavar="S", help="per request")
    p.add_argument(
        "--poll-seconds",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="wall-time budget for polling one job (and for reading one stream)",
    )
    p.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds between two status reads of a created job",
    )
    p.add_argument(
        "--max-polls",
        type=_non_negative_int,
        default=60,
        metavar="N",
        help="status reads of a created job at most",
    )
    p.add_argument(
        "--generated",
        type=_non_negative_int,
        default=10,
        metavar="N",
        help="generated read (GET) cases per operation (default 10; 0: none); they need "
        "schemathesis: pip install 'sora-mock[verify]'",
    )
    p.add_argument(
        "--skip-without-key",
        action="store_true",
        help="when the provider's key is not set, report the run skipped and exit 0 (for a CI "
        "matrix where some providers have no key); by default that exits 4: nothing was checked",
    )
    return p


def exit_code(result: RunResult) -> int:
    """The run's exit code (see :data:`EXIT_CODES`)."""
    if result.drift_count:
        return EXIT_DRIFT
    if result.blockers or result.error_count:
        return EXIT_NOT_VERIFIED
    if result.retired_models:
        return EXIT_RETIRED
    return EXIT_OK


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
            verifier.say(f"({env_var} is not set: a real run would not verify anything)")
        verifier.dry_run()
        if verifier.result.blockers:
            _say_blockers(verifier, verifier.result)
            return EXIT_NOT_VERIFIED
        return EXIT_OK
    if not api_key:
        message = f"no check ran: {env_var} is not set"
        result = verifier.result
        result.skipped = message
        if not args.skip_without_key:
            result.block("no-key", f"{message} (set it to verify {args.provider})")
        markdown, xml = write_reports(result, args.report_dir, redactor)
        if result.blockers:
            _say_blockers(verifier, result)
        else:
            verifier.say(f"skipped: set {env_var} to verify {args.provider}")
        verifier.say(f"Reports: {markdown}, {xml}")
        verifier.say(summary_line(result))
        return exit_code(result)
    try:
        result = verifier.run()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("sora-mock verify: interrupted; no report written", file=err)
        return EXIT_NOT_VERIFIED  # not 1: that says the provider drifted
    markdown, xml = write_reports(result, args.report_dir, redactor)
    code = exit_code(result)
    if code == EXIT_OK:
        verifier.say(
            f"no drift: {result.requests} requests, {result.creates_sent} paid create(s). "
            f"Reports: {markdown}, {xml}"
        )
    else:  # what could not be verified has lines of its own, below
        said = verdict(result, blockers=False)
        verifier.say(
            f"{said}. Reports: {markdown}, {xml}" if said else f"Reports: {markdown}, {xml}"
        )
    _say_blockers(verifier, result)
    verifier.say(summary_line(result))
    return code


def _say_blockers(verifier: Verifier, result: RunResult) -> None:
    for blocker in result.blockers:
        verifier.say(f"{result.provider}: NOT VERIFIED ({blocker.kind}): {blocker.reason}")


def main(argv: Sequence[str] | None = None, **kwargs: Any) -> int:
    """``sora-mock verify ...`` on its own (``kwargs`` go to :func:`run_args`)."""
    parser = argparse.ArgumentParser(prog="sora-mock")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["verify", *(argv or [])])
    return run_args(args, **kwargs)
