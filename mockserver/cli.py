"""``sora-mock``: serve the mock (or replay recordings), verify a base URL against the
contracts, proxy a provider while validating (and recording) its traffic."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from mockserver.config import MockConfig


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve every provider API on one port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--clock",
        choices=["real", "virtual"],
        default="real",
        help="virtual: time moves only through POST /__mock/clock/advance",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="divide every job duration by this (10 = ten times faster)",
    )
    p.add_argument("--store", default="memory", help="memory or sqlite:PATH")
    p.add_argument(
        "--strict",
        action="store_true",
        help="validate every response against its contract (a violation is logged)",
    )
    p.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="chance (0..1) that a request gets a transient 429 or 500",
    )
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="RPM",
        help="requests per minute per API key (429 with Retry-After above it)",
    )
    p.add_argument(
        "--fetch-remote-images",
        action="store_true",
        help="fetch reference image URLs that are not data: or the mock's own",
    )
    p.add_argument(
        "--api-key",
        action="append",
        default=[],
        dest="api_keys",
        help="accept only these keys (repeatable); default: any non-empty key",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME[@KEY]",
        help="switch a scenario on for everyone, or for one key (repeatable)",
    )
    p.add_argument(
        "--media-dir", type=Path, default=None, help="cache rendered videos on disk here"
    )
    p.add_argument("--slow-seconds", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=8, help="worker threads (one process)")
    p.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve the jobs recorded in DIR (sora-mock proxy --record DIR)",
    )
    p.add_argument(
        "--replay-fallback",
        choices=["mock", "404"],
        default="mock",
        help="a create no cassette matches: simulate it (mock) or answer 404",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes (forked; needs --store sqlite:PATH so they share jobs)",
    )


def config_from(args: argparse.Namespace) -> MockConfig:
    return MockConfig(
        clock=args.clock,
        speed=args.speed,
        store=args.store,
        strict=args.strict,
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        rate_limit_rpm=args.rate_limit,
        fetch_remote_images=args.fetch_remote_images,
        api_keys=tuple(args.api_keys),
        media_dir=args.media_dir,
        slow_seconds=args.slow_seconds,
        replay_dir=args.replay,
        replay_fallback=args.replay_fallback,
    )


def serve(args: argparse.Namespace) -> int:
    from mockserver.app import create_app, service_of
    from mockserver.faults import UnknownScenario, parse
    from mockserver.lifecycle import key_fingerprint

    if args.processes > 1 and not args.store.startswith("sqlite:"):
        print(
            "sora-mock: --processes needs --store sqlite:PATH (workers share it)", file=sys.stderr
        )
        return 2
    try:
        app = create_app(config_from(args))
    except ValueError as exc:
        print(f"sora-mock: {exc}", file=sys.stderr)
        return 2
    svc = service_of(app)
    for item in args.scenario:
        name, _, key = item.partition("@")
        try:
            parse(name, "rule")
        except UnknownScenario as exc:
            print(f"sora-mock: {exc}", file=sys.stderr)
            return 2
        svc.store.add_rule(name, key_fingerprint(key) if key else None, None, None)

    if args.processes > 1:
        # Werkzeug forks a worker per request, up to N at once; they share the SQLite store
        from werkzeug.serving import make_server

        forking = make_server(args.host, args.port, app, processes=args.processes)
        port, run, close = forking.server_port, forking.serve_forever, forking.server_close
    else:
        # waitress: threaded, keep-alive; 2.8x Werkzeug's dev server (benchmarks/bench_mock.py)
        from waitress.server import create_server

        threaded = create_server(app, host=args.host, port=args.port, threads=args.threads)
        port, run, close = threaded.effective_port, threaded.run, threaded.close
    base = f"http://{args.host}:{port}"
    print(f"sora-mock serving on {base} (clock: {args.clock}, store: {args.store})")
    for prefix, live in (
        ("gptproto", "gptproto.com"),
        ("gptge", "api.gpt.ge"),
        ("vtrix", "cloud.vtrix.ai"),
    ):
        print(f"  {base}/{prefix:<9} stands in for https://{live}")
    print(f"  {base}/__mock/  admin API (jobs, journal, clock, scenarios)")
    sys.stdout.flush()
    try:
        run()
    except KeyboardInterrupt:
        pass
    finally:
        close()
        svc.store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sora-mock", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    from mockserver import verify
    from mockserver.conformance import commands

    verify.add_parser(sub)
    commands.add_proxy_parser(sub)
    commands.add_cassettes_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.command == "serve":
        return serve(args)
    if args.command == "verify":
        return verify.run_args(args)
    if args.command == "proxy":
        return commands.run_proxy(args)
    if args.command == "cassettes":
        return commands.run_cassettes(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
