"""``sora-mock``: serve the mock (or replay recordings), verify a base URL against the
contracts, proxy a provider while validating (and recording) its traffic."""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mockserver.settings._help import HelpFormatter
from mockserver.settings.config import MockConfig


def _scenario_help() -> str:
    from mockserver.state.faults import SCENARIOS

    lines = ["scenarios (--scenario NAME[@KEY], header X-Mock-Scenario, POST /__mock/scenarios):"]
    for scenario, spec in SCENARIOS.items():
        status = f"{spec.status}" if spec.status else "-  "
        when = "at create" if spec.create_only else "any request"
        lines.append(f"  {scenario.value:<21} {status:<4} {when:<12} {spec.message}")
    lines.append(
        "  generation_failed:CODE picks the provider's failure code (Vtrix: 003000095..99)"
    )
    lines.append("")
    lines.append("dashboard: http://HOST:PORT/__mock/ (or / in a browser)")
    return "\n".join(lines)


def _serve_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "serve",
        help="serve every provider API on one port",
        description="Serve every provider API, the admin API and the dashboard on one port.\n\n"
        "Every option can also be set by an environment variable: SORA_MOCK_ and the option's\n"
        "name (SORA_MOCK_PORT=9000, SORA_MOCK_STRICT=1; SORA_MOCK_API_KEY=k1,k2 for a\n"
        "repeatable option). A flag wins over the environment.",
        epilog=_scenario_help(),
        formatter_class=HelpFormatter,
    )
    listen = p.add_argument_group("where it listens")
    time_ = p.add_argument_group("jobs and time")
    state = p.add_argument_group("state: jobs, media and uploads")
    behaviour = p.add_argument_group("what it accepts")
    faults = p.add_argument_group("faults and limits")
    replay = p.add_argument_group("replaying recordings")
    providers = p.add_argument_group("providers and models from files")
    providers.add_argument(
        "--provider",
        action="append",
        default=[],
        dest="providers",
        metavar="FILE",
        help="serve one more provider API: a contract with its x-sora-mock declaration "
        "(ARCHITECTURE.md, 'Add a provider in one file'; repeatable; SORA_MOCK_PROVIDERS "
        "takes several, separated as PATH is)",
    )
    providers.add_argument(
        "--models",
        type=Path,
        default=None,
        metavar="FILE",
        help="models the declared providers serve besides their contracts' (a YAML file: "
        "README.md, 'Models files')",
    )
    listen.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (0.0.0.0: every interface)",
    )
    listen.add_argument("--port", type=int, default=8000, metavar="PORT", help="port to listen on")
    listen.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        dest="allowed_hosts",
        metavar="NAME",
        help="answer requests whose Host is NAME too (repeatable; .DOMAIN: it and every name "
        "under it; '*': any Host). Loopback names, IP addresses and this machine's name need "
        "none; other Hosts get a 421 (a DNS-rebinding page's guard)",
    )
    time_.add_argument(
        "--clock",
        choices=["real", "virtual"],
        default="real",
        help="virtual: time moves only through POST /__mock/clock/advance",
    )
    time_.add_argument(
        "--speed",
        type=float,
        metavar="FACTOR",
        default=1.0,
        help="divide every job duration by this (10 = ten times faster)",
    )
    state.add_argument(
        "--store",
        default=None,
        metavar="SPEC",
        help="memory (one worker only) or sqlite:PATH (kept across restarts); default: memory "
        "with one worker, else a SQLite file of the server's own, removed at exit",
    )
    behaviour.add_argument(
        "--strict",
        action="store_true",
        help="validate every response against its contract (a violation is logged)",
    )
    faults.add_argument(
        "--fault-rate",
        type=float,
        metavar="RATE",
        default=0.0,
        help="chance (0..1) that a request gets a transient 429 or 500",
    )
    faults.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the random faults (reproducible)",
    )
    faults.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="RPM",
        help="requests per minute per API key (429 with Retry-After above it)",
    )
    behaviour.add_argument(
        "--fetch-remote-images",
        action="store_true",
        help="fetch reference image URLs that are not data: or the mock's own",
    )
    behaviour.add_argument(
        "--api-key",
        action="append",
        default=[],
        dest="api_keys",
        metavar="KEY",
        help="accept only these keys (repeatable); default: any non-empty key",
    )
    faults.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME[@KEY]",
        help="switch a scenario on for everyone, or for one key (repeatable)",
    )
    state.add_argument(
        "--media-dir",
        type=Path,
        metavar="DIR",
        default=None,
        help="cache rendered videos on disk here (a directory every host mounts: each video is "
        "rendered once for all of them)",
    )
    state.add_argument(
        "--media-dir-bytes",
        type=_size,
        default=1 << 30,
        metavar="SIZE",
        help="rendered videos kept on disk (--media-dir, or beside a SQLite store) at most "
        "(512M, 2G; 0: no limit), least recently used deleted first",
    )
    state.add_argument(
        "--media-redis-bytes",
        type=_size,
        default=256 * 1024 * 1024,
        metavar="SIZE",
        help="with --store redis:// and no --media-dir: rendered videos every host shares in "
        "Redis, at most SIZE in all (256M, 2G; 0: none), least recently used evicted first",
    )
    state.add_argument(
        "--files-quota",
        type=int,
        default=1000,
        metavar="N",
        help="uploaded files (POST /__mock/files) kept at most; over it the oldest no job uses "
        "are evicted, else the upload is a 413",
    )
    state.add_argument(
        "--files-quota-bytes",
        type=_size,
        default=256 * 1024 * 1024,
        metavar="SIZE",
        help="bytes of uploaded files kept at most (256M, 2G), evicted as --files-quota",
    )
    faults.add_argument(
        "--slow-seconds",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="delay the `slow` scenario adds",
    )
    replay.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve the jobs recorded in DIR (sora-mock proxy --record DIR)",
    )
    replay.add_argument(
        "--replay-fallback",
        choices=["mock", "404"],
        default="mock",
        help="a create no cassette matches: simulate it (mock) or answer 404",
    )
    replay.add_argument(
        "--replay-match",
        choices=["lenient", "strict"],
        default="lenient",
        help="a create whose prompt, model, size, seconds or image differ from the recording it "
        "gets: replay it and name the fields in X-Mock-Replay-Mismatch (lenient), or refuse it "
        "with 400 naming the nearest recording (strict)",
    )
    behaviour.add_argument(
        "--max-waiting-chats",
        type=int,
        default=32,
        metavar="N",
        help="chat completions that may wait for their video at once, per process (429 above "
        "it); keep it below the server's threads so waiting requests never take them all",
    )
    faults.add_argument(
        "--retired-model",
        action="append",
        default=[],
        metavar="NAME",
        help="answer creates for this model with the provider's 'model not found' (repeatable)",
    )
    faults.add_argument(
        "--no-retry-after",
        dest="retry_after",
        action="store_false",
        help="send 429s without Retry-After (no provider documents the header)",
    )
    behaviour.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_false",
        help="keep no Prometheus metrics (GET /metrics is then a 404)",
    )
    time_.add_argument(
        "--retention",
        type=_duration,
        default=24 * 3600.0,
        metavar="DURATION",
        help="how long a job is kept, on the mock's clock: 3600, 90m, 24h, 7d or never; "
        "then it is purged and answers as an unknown id (a contract's own expires_at wins: "
        "GPTProto /v1/videos jobs go an hour after completion)",
    )
    listen.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=None,
        help="worker processes; they share one store (default: the number of cores)",
    )
    listen.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        default=128,
        help="requests one worker serves at once; more wait in line",
    )
    _webhook_options(p.add_argument_group("webhooks (a create's callback_url)"))
    _console_options(p.add_argument_group("console"))
    return p


def _webhook_options(hooks: argparse._ArgumentGroup) -> None:
    hooks.add_argument(
        "--webhook-allow-host",
        action="append",
        default=[],
        dest="webhook_allow_hosts",
        metavar="HOST",
        help="deliver webhooks to HOST too (repeatable; .DOMAIN: it and every name under it); "
        "loopback needs none, a callback URL naming any other host is refused with a 400",
    )
    hooks.add_argument(
        "--webhook-secret",
        default=None,
        metavar="SECRET",
        help="sign each webhook with this secret (the provider's signature header); the "
        "environment keeps it out of the process list",
    )
    hooks.add_argument(
        "--webhook-attempts",
        type=int,
        default=5,
        metavar="N",
        help="attempts per event, the first included; retried on the mock's clock after 10 s, "
        "doubled each time (at most 5 min), then given up",
    )
    hooks.add_argument(
        "--webhook-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="real seconds one attempt may take (connection and answer)",
    )


def _duration(text: str) -> float | None:
    if text.strip().lower() == "never":
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (e.g. 3600, 90m, 24h)"
        ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"a duration must be positive: {text!r}")
    return seconds


def _size(text: str) -> int:
    from mockserver.media.media_store import parse_size

    try:
        return parse_size(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G, 0)") from None


def _console_options(p: argparse.ArgumentParser) -> None:
    from mockserver.http.console import FORMATS

    p.add_argument(
        "--log-format",
        choices=FORMATS,
        default="text",
        help="one console line per request: text for people, json (one object a line) for tools",
    )
    p.add_argument("--quiet", action="store_true", help="no request lines on the console")
    p.add_argument(
        "--log-dashboard",
        action="store_true",
        help="also show the requests the dashboard sends on its own (X-Mock-Client: dashboard)",
    )


def _sample_image_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample-image",
        help="write the built-in sample reference image (a cat in a hat) as PNG",
        description="Write the mock's built-in reference image, at the size a video will have "
        "(a provider refuses an image whose size differs from the video's).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--size", default="720x1280", help="WIDTHxHEIGHT in pixels")
    p.add_argument(
        "-o", "--output", type=Path, default=None, help="file to write (default: cat-SIZE.png)"
    )


def sample_image(args: argparse.Namespace) -> int:
    from mockserver import sample

    try:
        width, height = sample.parse_size(args.size)
    except sample.SizeError as exc:
        print(f"sora-mock: {exc}", file=sys.stderr)
        return 2
    output: Path = args.output or Path(f"cat-{width}x{height}.png")
    try:
        output.write_bytes(sample.sample_image(width, height))
    except OSError as exc:
        print(f"sora-mock: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({width}x{height} PNG)")
    return 0


def config_from(args: argparse.Namespace) -> MockConfig:
    return MockConfig(
        clock=args.clock,
        speed=args.speed,
        store=args.store or "memory",
        strict=args.strict,
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        rate_limit_rpm=args.rate_limit,
        fetch_remote_images=args.fetch_remote_images,
        api_keys=tuple(args.api_keys),
        media_dir=args.media_dir,
        media_dir_bytes=args.media_dir_bytes,
        media_redis_bytes=args.media_redis_bytes,
        files_quota=args.files_quota,
        files_quota_bytes=args.files_quota_bytes,
        slow_seconds=args.slow_seconds,
        scenarios=tuple(args.scenario),
        retention_seconds=args.retention,
        log_format=None if getattr(args, "quiet", False) else getattr(args, "log_format", "text"),
        log_dashboard=getattr(args, "log_dashboard", False),
        bind_host=args.host,
        allowed_hosts=tuple(getattr(args, "allowed_hosts", ())),
        retry_after=args.retry_after,
        metrics=getattr(args, "metrics", True),
        retired_models=tuple(args.retired_model),
        max_waiting_chats=args.max_waiting_chats,
        replay_dir=args.replay,
        replay_fallback=args.replay_fallback,
        replay_match=args.replay_match,
        providers=tuple(str(Path(p).resolve()) for p in getattr(args, "providers", ())),
        models_file=str(args.models.resolve()) if getattr(args, "models", None) else None,
        webhook_allow_hosts=tuple(getattr(args, "webhook_allow_hosts", ())),
        webhook_secret=getattr(args, "webhook_secret", None) or None,
        webhook_attempts=getattr(args, "webhook_attempts", 5),
        webhook_timeout_seconds=getattr(args, "webhook_timeout", 10.0),
    )


def serve(args: argparse.Namespace) -> int:
    from mockserver.http.serving import ServeError, ServeOptions, default_workers
    from mockserver.http.serving import serve as run
    from mockserver.state.faults import UnknownScenario, parse

    for item in args.scenario:
        try:
            parse(item.partition("@")[0], "rule")
        except UnknownScenario as exc:
            print(f"sora-mock: {exc}", file=sys.stderr)
            return 2
    workers = args.workers if args.workers is not None else default_workers()
    if args.webhook_attempts < 1 or not 0 < args.webhook_timeout < math.inf:
        print(
            "sora-mock: --webhook-attempts must be at least 1 and --webhook-timeout a positive "
            "number of seconds",
            file=sys.stderr,
        )
        return 2
    if workers < 1 or args.concurrency < 1:
        print("sora-mock: --workers and --concurrency must be at least 1", file=sys.stderr)
        return 2
    if args.store == "memory" and workers > 1:
        print(
            "sora-mock: --store memory keeps the state in one process: use it with --workers 1, "
            "or leave --store out (the workers then share a temporary SQLite store)",
            file=sys.stderr,
        )
        return 2
    refused = _load_files(args)
    if refused is not None:
        print(f"sora-mock: {refused}", file=sys.stderr)
        return 2
    options = ServeOptions(args.host, args.port, workers, args.concurrency)
    try:
        return run(config_from(args), options, announce=lambda text: print(text, flush=True))
    except (ServeError, ValueError) as exc:
        print(f"sora-mock: {exc}", file=sys.stderr)
        return 2


def _load_files(args: argparse.Namespace) -> str | None:
    """Load the provider files, then the models file (which may name their prefixes), before
    anything is served; a mistake is the loader's message (file, place, fix), else None."""
    from contracts import ContractError, add_provider, use_models

    try:
        for path in args.providers:
            add_provider(path)
        if args.models is not None:
            use_models(args.models)
    except ContractError as exc:
        return f"{exc.path}: at {exc.where or '/'}: {exc.message}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command != "serve" or not gc.isenabled():
        return _main(argv, command)
    # start-up leaves ~58,000 container objects, all living as long as the server: the cyclic
    # collector would only walk them, again and again (~4 % of start-up, counted with
    # callgrind). serving.serve freezes them before the workers fork and turns it back on.
    gc.disable()
    try:
        return _main(argv, command)
    finally:
        gc.enable()


def _main(argv: list[str], command: str | None) -> int:
    parser = argparse.ArgumentParser(prog="sora-mock", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = _serve_parser(sub)
    _sample_image_parser(sub)
    from_env = None
    if command == "serve":
        from mockserver.settings import envconfig

        try:
            from_env = envconfig.apply(serve_parser, os.environ)
        except envconfig.EnvironmentValueError as exc:
            print(f"sora-mock: {exc}", file=sys.stderr)
            return 2
        for name in envconfig.unknown(serve_parser, os.environ):
            print(f"sora-mock: warning: {name} is not a serve option: ignored", file=sys.stderr)
    if command not in ("serve", "sample-image"):
        # the conformance commands import httpx and the checking stack (half a second):
        # `serve` does without them, so it starts that much sooner
        from mockserver import verify
        from mockserver.conformance import commands

        verify.add_parser(sub)
        commands.add_proxy_parser(sub)
        commands.add_cassettes_parser(sub)
    args = parser.parse_args(argv)
    if from_env is not None:
        from_env.finish(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.command == "serve":
        return serve(args)
    if args.command == "sample-image":
        return sample_image(args)
    from mockserver import verify
    from mockserver.conformance import commands

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
