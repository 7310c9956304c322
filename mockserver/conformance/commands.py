"""``sora-mock proxy`` and ``sora-mock cassettes report``: their command lines."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from mockserver.conformance.providers import PROVIDERS, live_base_url
from mockserver.settings._help import HelpFormatter


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_proxy_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "proxy",
        help="a contract-validating proxy in front of a provider (optionally recording)",
        description="Forward every request to the provider unchanged (credentials pass "
        "through, never stored), validate request and answer against the contract, report "
        "drift in X-Contract-Violations, on the console and at /__proxy/journal; with "
        "--record DIR, write one cassette per job.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--provider", required=True, choices=sorted(PROVIDERS), help="the provider API it fronts"
    )
    p.add_argument(
        "--upstream", default=None, metavar="URL", help="default: the provider's real base URL"
    )
    p.add_argument("--host", default="127.0.0.1", metavar="ADDRESS", help="address to listen on")
    p.add_argument("--port", type=int, default=8001, metavar="PORT", help="port to listen on")
    p.add_argument(
        "--mode",
        choices=["transparent", "strict"],
        default="transparent",
        help="transparent: forward the answer untouched, report drift; strict: answer 502 in "
        "the provider's error shape naming the violation (and refuse bad requests with 400)",
    )
    p.add_argument("--record", type=Path, default=None, metavar="DIR", help="write cassettes")
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="seconds to connect, between two reads, and the most an answer is held back "
        "(a whole JSON answer, each SSE event; files flow as they come)",
    )
    p.add_argument(
        "--max-body",
        type=_positive_float,
        default=32.0,
        metavar="MB",
        help="largest request body forwarded (as the mock's); 413 above it",
    )
    p.add_argument(
        "--media-cap",
        type=_positive_float,
        default=256.0,
        metavar="MB",
        help="largest media file a cassette keeps",
    )
    p.add_argument(
        "--no-media-urls",
        action="store_true",
        help="do not fetch the media URLs a finished job names (CDN links) into cassettes",
    )
    return p


def run_proxy(args: argparse.Namespace) -> int:
    import logging

    from mockserver.conformance.proxy import ContractProxy, make_server
    from mockserver.conformance.proxy_config import ProxyConfig

    for name in ("httpx", "httpcore"):  # the proxy's own console line says it all
        logging.getLogger(name).setLevel(logging.WARNING)

    upstream = args.upstream or live_base_url(args.provider)
    if not upstream.startswith(("http://", "https://")):
        print(
            f"sora-mock proxy: --upstream must be an http(s) URL, got {upstream!r}", file=sys.stderr
        )
        return 2
    config = ProxyConfig(
        args.provider,
        upstream=upstream,
        mode=args.mode,
        timeout=args.timeout,
        record_dir=args.record,
        media_cap=int(args.media_cap * 1024 * 1024),
        record_media_urls=not args.no_media_urls,
        max_body=int(args.max_body * 1024 * 1024),
    )
    proxy = ContractProxy(config, out=sys.stdout)
    server = make_server(proxy, args.host, args.port)
    base = f"http://{args.host}:{server.server_port}"
    # SIGTERM (a supervisor, `kill`, a container stopping) stops it as Ctrl-C does, from the
    # moment it is listening: the cassette being written is finished and closed, exit status 0
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"sora-mock proxy ({args.mode}) on {base} -> {proxy.upstream}")
        print(f"  point your client's base URL at {base}")
        print(f"  drift: the X-Contract-Violations header, this console, {base}/__proxy/journal")
        if args.record:
            print(f"  recording one cassette per job into {args.record}")
        sys.stdout.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        proxy.close()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def add_cassettes_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "cassettes", help="work with recorded cassettes (sora-mock proxy --record)"
    )
    inner = p.add_subparsers(dest="cassettes_command", required=True)
    report = inner.add_parser(
        "report",
        help="what recorded traffic shows against each contract assumption",
        description="Load every cassette of DIR (checked against its contract) and summarise "
        "status words, progress scale, timestamps, error shapes, headers and drift.",
    )
    report.add_argument(
        "directory", type=Path, metavar="DIR", help="a directory of cassettes (proxy --record)"
    )
    report.add_argument("--output", type=Path, default=None, metavar="FILE", help="also write it")
    return p


def run_cassettes(args: argparse.Namespace) -> int:
    from mockserver.conformance.cassettes import CassetteError
    from mockserver.conformance.evidence import report

    try:
        text = report(args.directory)
    except CassetteError as exc:
        print(f"sora-mock cassettes: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0
