"""``sora``: generate, inspect and download videos from the shell.

    sora generate --provider gptge --image cat.png --prompt "A cat in a hat" -o cat.mp4
    sora status   --provider gptge VIDEO_ID
    sora download --provider gptge VIDEO_ID -o cat.mp4 [--variant thumbnail]
    sora list     --provider gptge [--limit 20] [--max 100]
    sora delete   --provider gptge VIDEO_ID
    sora remix    --provider gptge VIDEO_ID --prompt "The same cat, at night"

The API key comes from the provider's environment variable (GPTPROTO_API_KEY, GPTGE_API_KEY,
VTRIX_API_KEY), never from the command line; with a loopback ``--base-url`` (the mock) none is
needed. Exit codes: 0 ok, 2 usage or invalid request,
3 authentication or permission, 4 rate limited, 5 generation failed or content policy,
6 timeout, 7 any other API or network error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from sora_client._base_client import DEFAULT_WAIT_TIMEOUT, _is_loopback
from sora_client._client import SoraClient
from sora_client._exceptions import (
    AmbiguousCreateError,
    AuthenticationError,
    ConfigurationError,
    ContentPolicyError,
    GenerationFailedError,
    InsufficientBalanceError,
    InvalidRequestError,
    ModelUnavailableError,
    PermissionDeniedError,
    PollTimeoutError,
    RateLimitError,
    ReadTimeoutError,
    SoraError,
    UnsupportedOperation,
    VideoNotReadyError,
)
from sora_client._files import use_models_file, use_provider_files
from sora_client._models import Job
from sora_client._providers import PROVIDERS, adapter_class

OK, USAGE, AUTH, RATE_LIMITED, FAILED, TIMEOUT, OTHER, INTERRUPTED = 0, 2, 3, 4, 5, 6, 7, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is returned as exit code 2 instead of exiting."""

    def error(self, message: str) -> Any:
        raise _UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sora",
        description="Sora-2 image-to-video through GPTProto, gpt.ge or Vtrix.",
        epilog="The key is read from GPTPROTO_API_KEY, GPTGE_API_KEY or VTRIX_API_KEY.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sub: argparse.ArgumentParser) -> None:
        # PROVIDERS, not PROVIDER_NAMES: the providers $SORA_CLIENT_PROVIDERS added too
        sub.add_argument("--provider", "-p", required=True, choices=tuple(PROVIDERS))
        sub.add_argument("--base-url", help="the API's base URL (default: the provider's own host)")

    gen = commands.add_parser("generate", help="create a video, wait for it, save it")
    common(gen)
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--image", help="reference image: a file, or a URL where allowed")
    gen.add_argument("--output", "-o", required=True, help="where to save the MP4")
    gen.add_argument("--model")
    gen.add_argument("--seconds", type=int)
    gen.add_argument("--size", help="WIDTHxHEIGHT, e.g. 720x1280")
    gen.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        help=f"seconds to wait for the video (default {DEFAULT_WAIT_TIMEOUT:g})",
    )

    status = commands.add_parser("status", help="show a job's status as JSON")
    common(status)
    status.add_argument("id")

    download = commands.add_parser("download", help="save a completed job's video")
    common(download)
    download.add_argument("id")
    download.add_argument("--output", "-o", required=True)
    download.add_argument(
        "--variant",
        default="video",
        help="video (default), thumbnail or spritesheet, where the provider has them",
    )

    listing = commands.add_parser("list", help="list this key's jobs as JSON lines")
    common(listing)
    listing.add_argument("--limit", type=int, help="jobs per page (the provider's default)")
    listing.add_argument("--max", type=int, help="stop after this many jobs")
    listing.add_argument("--order", choices=["asc", "desc"])

    delete = commands.add_parser("delete", help="delete a job and its video")
    common(delete)
    delete.add_argument("id")

    remix = commands.add_parser("remix", help="create a new job from a completed one")
    common(remix)
    remix.add_argument("id")
    remix.add_argument("--prompt", required=True)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], Any] | None = None,
    stdout: Any = None,
    stderr: Any = None,
) -> int:
    """Run the CLI; returns the exit code (tests call it with an injected transport)."""
    out = Console(file=stdout or sys.stdout, highlight=False, soft_wrap=True)
    err = Console(file=stderr or sys.stderr, highlight=False, soft_wrap=True)
    try:
        use_provider_files()  # before the parser: their names are --provider choices
        use_models_file(None)
        args = build_parser().parse_args(argv)
    except ConfigurationError as exc:
        err.print(f"error: {exc}", markup=False)
        return USAGE
    except _UsageError as exc:
        err.print(str(exc), markup=False)
        return USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else USAGE
    env_var = adapter_class(args.provider).env_var
    loopback = bool(args.base_url) and _is_loopback(args.base_url)
    if not os.environ.get(env_var, "").strip() and not loopback:
        err.print(f"error: no API key: set {env_var} for {args.provider}", markup=False)
        return AUTH
    try:
        with SoraClient(
            args.provider, base_url=args.base_url, transport=transport, sleep=sleep
        ) as client:
            if args.command == "generate":
                return _generate(client, args, out, err)
            if client.placeholder_key:
                err.print(
                    f"note: no {env_var}; {args.base_url} is loopback, a placeholder key is sent",
                    markup=False,
                )
            if args.command == "status":
                job = client.get(args.id)
                out.print(json.dumps(_summary(job), indent=2, ensure_ascii=False), markup=False)
                return OK
            if args.command == "list":
                for count, job in enumerate(client.list(limit=args.limit, order=args.order)):
                    if args.max is not None and count >= args.max:
                        break
                    out.print(json.dumps(_summary(job), ensure_ascii=False), markup=False)
                return OK
            if args.command == "delete":
                deleted = client.delete(args.id)
                out.print(json.dumps({"id": args.id, "deleted": deleted}), markup=False)
                return OK if deleted else OTHER
            if args.command == "remix":
                job = client.remix(args.id, args.prompt)
                out.print(json.dumps(_summary(job), indent=2, ensure_ascii=False), markup=False)
                return OK
            path = client.download(args.id, args.output, variant=args.variant)
            out.print(f"saved {path} ({path.stat().st_size} bytes)", markup=False)
            return OK
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return INTERRUPTED
    except SoraError as exc:
        code, hint = _explain(exc, args, env_var)
        err.print(f"error: {exc}", markup=False)
        if hint:
            err.print(hint, markup=False)
        return code


def _generate(client: SoraClient, args: argparse.Namespace, out: Console, err: Console) -> int:
    job = client.create(
        args.prompt, image=args.image, model=args.model, seconds=args.seconds, size=args.size
    )
    err.print(f"created {args.provider} job {job.id}", markup=False)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(job.status.replace("_", " "), total=1.0)

        def on_progress(current: Job) -> None:
            label = current.status.replace("_", " ")
            progress.update(task, completed=current.progress, description=label)

        job = client.wait(job, timeout=args.timeout, on_progress=on_progress)
    path = client.download(job, args.output)
    size = path.stat().st_size
    out.print(f"saved {path} ({size} bytes) from {args.provider} job {job.id}", markup=False)
    return OK


def _summary(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "provider": job.provider,
        "status": job.status,
        "progress": round(job.progress, 4),
        "video_url": job.video_url,
        "error_code": job.error_code,
        "error_message": job.error_message,
        "model": job.model,
        "created_at": job.created_at.isoformat() if job.created_at else None,
    }


def _explain(exc: SoraError, args: argparse.Namespace, env_var: str) -> tuple[int, str]:
    """(exit code, a hint the shell user can act on)."""
    p = args.provider
    job_id = getattr(getattr(exc, "job", None), "id", None) or getattr(args, "id", None)
    if isinstance(exc, (InvalidRequestError, UnsupportedOperation, ConfigurationError)):
        return USAGE, ""
    if isinstance(exc, AuthenticationError):
        return AUTH, f"check that {env_var} holds a valid {p} key"
    if isinstance(exc, ModelUnavailableError):
        return USAGE, f"{p} does not serve this model (retired?): pick another with --model"
    if isinstance(exc, InsufficientBalanceError):
        return AUTH, f"top up your {p} account, then try again"
    if isinstance(exc, PermissionDeniedError):
        return AUTH, f"this {env_var} key may not do that; check its permissions"
    if isinstance(exc, RateLimitError):
        after = f" after {exc.retry_after:g} s" if exc.retry_after is not None else " later"
        return RATE_LIMITED, f"rate limited: try again{after}"
    if isinstance(exc, ContentPolicyError):
        return FAILED, "the provider refused the prompt or image: rephrase it or use another image"
    if isinstance(exc, GenerationFailedError):
        return FAILED, "the provider could not render this video; trying again may work"
    if isinstance(exc, PollTimeoutError):
        return TIMEOUT, (
            f"the job goes on: check it with `sora status --provider {p} {job_id}` and save it "
            f"with `sora download --provider {p} {job_id} -o FILE`"
        )
    if isinstance(exc, AmbiguousCreateError):
        return OTHER, ""
    if isinstance(exc, ReadTimeoutError):
        return TIMEOUT, "the provider did not answer in time; try again later"
    if isinstance(exc, VideoNotReadyError):
        return OTHER, f"wait until `sora status --provider {p} {job_id}` says completed"
    return OTHER, ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
