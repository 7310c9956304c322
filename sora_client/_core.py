"""The client's logic, once, as sans-I/O flows (see ``_flow``): create, get, wait, download.

Nothing here sends a byte or sleeps; ``SoraClient`` and ``AsyncSoraClient`` perform the
actions these generators yield. The retry policy is in ``_retry``; the provider's words in
``_providers``.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from sora_client._exceptions import (
    NEVER_SENT,
    AmbiguousCreateError,
    APIError,
    ContentTypeError,
    GenerationFailedError,
    IncompleteDownloadError,
    InvalidRequestError,
    ModelUnavailableError,
    PollTimeoutError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    SoraError,
    UnexpectedResponseError,
    UnsupportedOperation,
    VideoNotReadyError,
    translate_transport_error,
)
from sora_client._flow import Close, Flow, Keep, Notify, Now, Read, Send, Sleep
from sora_client._images import ImageInput, check_matches, load_image
from sora_client._models import RANK, Job
from sora_client._providers import Adapter, CreateSpec
from sora_client._providers.base import request_id
from sora_client._retry import RETRYABLE_STATUS, RetryPolicy
from sora_client._sse import Event, LineTooLong, SSEDecoder

log = logging.getLogger("sora_client")

#: error bodies read from a streamed response are cut here
MAX_ERROR_BODY = 1 << 20
#: media types accepted as "the video" (a CDN may label it generically)
VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
#: media types accepted for the image variants (thumbnail, spritesheet)
IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
#: file name suffix per variant when download() is given a directory
VARIANT_SUFFIX = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}
#: the first bytes of a body that is text, not a video (JSON, HTML, XML)
TEXT_STARTS = (b"{", b"[", b"<", b'"')
#: redirects of a create followed (307/308 to the same origin only)
MAX_CREATE_REDIRECTS = 5
#: a download slower than this many bytes per ``timeout`` window is a stall (curl's
#: --speed-limit/--speed-time): a trickle cannot hold a download open for ever
MIN_DOWNLOAD_BYTES_PER_WINDOW = 16 * 1024
#: the largest file download() saves unless told otherwise (a 25 s 1792x1024 Sora video is
#: tens of MB): an endless or runaway body stops here instead of filling the disk
DEFAULT_MAX_DOWNLOAD = 1 << 30
#: the answer has no event yet: wait() checks its deadline between reads
_NOTHING_YET = Event("", "__nothing_yet__")

ProgressCallback = Callable[[Job], object]


@dataclass
class ChatStream:
    """The open event stream a chat-mode job is reported on."""

    response: httpx.Response
    decoder: SSEDecoder = field(default_factory=SSEDecoder)
    pending: deque[Event] = field(default_factory=deque)
    ended: bool = False
    #: the job's last state once the stream has been read to its end
    final: Job | None = None


class Core:
    def __init__(
        self,
        adapter: Adapter,
        policy: RetryPolicy,
        poll_interval: float,
        exchange_timeout: float | None = None,
        max_download: int | None = DEFAULT_MAX_DOWNLOAD,
    ) -> None:
        self.adapter = adapter
        #: the most bytes download() writes to one file (decoded); None: no limit
        self.max_download = max_download
        self.policy = policy
        self.poll_interval = poll_interval
        #: the overall deadline of one exchange (the drivers enforce it on whole bodies; the
        #: flows on the bodies they stream themselves); None: no deadline
        self.exchange_timeout = exchange_timeout

    @property
    def provider(self) -> str:
        return self.adapter.name

    # ================================================================== create

    def prepare_create(
        self,
        prompt: str,
        image: ImageInput | None,
        model: str | None,
        seconds: int | None,
        size: str | None,
        extra: dict[str, Any],
    ) -> httpx.Request:
        """Build the create request and check it; raise InvalidRequestError before any send."""
        name = self.adapter.name
        if not isinstance(prompt, str):
            raise InvalidRequestError(name, "prompt", "must be a string")
        field_name = self.adapter.image_field
        loaded = load_image(name, field_name, image) if image is not None else None
        if isinstance(seconds, str) and seconds.strip().isdigit():
            seconds = int(seconds)
        spec = CreateSpec(prompt, loaded, model, seconds, size, dict(extra))
        request = self.adapter.build_create(spec)
        problems: list[tuple[str | None, str]] = []
        for check in (
            lambda: self.adapter.validate(request),
            lambda: check_matches(name, loaded, self.adapter.pixel_target(spec)),
        ):
            try:
                check()
            except InvalidRequestError as exc:
                problems += exc.problems
        if problems:
            problems = _one_set_per_field(problems, _model_of(request))
            first_field, first_rule = problems[0]
            raise InvalidRequestError(name, first_field, first_rule, problems)
        return request

    def create(
        self,
        prompt: str,
        image: ImageInput | None = None,
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Flow[Job]:
        request = self.prepare_create(prompt, image, model, seconds, size, extra or {})
        sent_at = datetime.now(UTC)
        response = yield from self._send_create(request)
        if self.adapter.streams:
            return (yield from self._open_chat(response, sent_at))
        return self._created(response, sent_at)

    def _created(
        self, response: httpx.Response, sent_at: datetime, content: bytes | None = None
    ) -> Job:
        """The job a 2xx create answer names. A success the client cannot read may still
        have made a job: that is ambiguous (never re-sent), not a plain unexpected answer."""
        try:
            return self._job(response, content)
        except UnexpectedResponseError as exc:
            raise AmbiguousCreateError(
                provider=self.provider,
                sent_at=sent_at,
                request_id=request_id(response),
                status_code=response.status_code,
                reason=f"the server answered {response.status_code} but {exc.message}",
            ) from exc

    def _send_create(self, request: httpx.Request) -> Flow[httpx.Response]:
        """Send a create: retried only if it never left (connect) or was refused (429).

        Redirects are not left to httpx: a 307/308 to the same origin is followed (the
        server asks for the same POST elsewhere and did not act on it); any other redirect
        may hide an accepted job, or would send the prompt and image to another host:
        AmbiguousCreateError, nothing re-sent."""
        stream = self.adapter.streams
        attempt = 0
        hops = 0
        while True:
            sent_at = datetime.now(UTC)
            try:
                response = yield Send(request, stream=stream, follow_redirects=False)
            except httpx.HTTPError as exc:
                error = translate_transport_error(exc, self.provider)
                error.__cause__ = exc
                if not isinstance(exc, NEVER_SENT):
                    raise AmbiguousCreateError(
                        provider=self.provider,
                        sent_at=sent_at,
                        reason=f"{type(exc).__name__} after the request was sent",
                    ) from error
                if attempt >= self.policy.max_retries:
                    raise error from exc
                delay = self.policy.backoff(attempt)
                log.info("create to %s did not connect; retry in %.2f s", self.provider, delay)
            else:
                if response.status_code < 300:
                    return response
                if response.status_code < 400:
                    if stream:
                        yield Close(response)
                    target = self._same_origin_redirect(response)
                    if target is None or hops >= MAX_CREATE_REDIRECTS:
                        location = response.headers.get("location", "")
                        where = httpx.URL(location).host if location else ""
                        raise AmbiguousCreateError(
                            provider=self.provider,
                            sent_at=sent_at,
                            request_id=request_id(response),
                            status_code=response.status_code,
                            reason=(
                                f"the server answered {response.status_code}, a redirect"
                                + (f" to {where}" if where else "")
                                + " that the client does not follow for a create"
                            ),
                        )
                    hops += 1
                    request = _moved(request, target)
                    continue
                content = yield from self._body(response, stream)
                api_error = self.adapter.error(response, content)
                if response.status_code >= 500 and not isinstance(api_error, ModelUnavailableError):
                    raise AmbiguousCreateError(
                        provider=self.provider,
                        sent_at=sent_at,
                        request_id=request_id(response),
                        status_code=response.status_code,
                        reason=f"the server answered {response.status_code}",
                    ) from api_error
                if not isinstance(api_error, RateLimitError) or attempt >= self.policy.max_retries:
                    raise api_error  # a 4xx, a refusal for money or model: never re-sent
                wait = self.policy.delay(attempt, response)
                if wait is None:
                    raise api_error
                delay = wait
                log.info("create to %s rate limited; retry in %.2f s", self.provider, delay)
            yield Sleep(delay)
            attempt += 1

    def _same_origin_redirect(self, response: httpx.Response) -> httpx.URL | None:
        """The new URL of a 307/308 to the request's own origin, else None."""
        if response.status_code not in (307, 308):
            return None
        location = response.headers.get("location")
        if not location:
            return None
        try:
            target = response.request.url.join(location)
        except httpx.InvalidURL:
            return None
        here = response.request.url
        if (target.scheme, target.host, target.port) != (here.scheme, here.host, here.port):
            return None
        return target

    # ================================================================== reads

    def _send_read(
        self, request: httpx.Request, *, stream: bool = False, attempt: int = 0
    ) -> Flow[tuple[httpx.Response, int]]:
        """Send an idempotent request, retrying 429, 5xx and transport failures within the
        budget. Returns a success response and the attempt number it took; raises the typed
        error otherwise."""
        while True:
            try:
                response = yield Send(request, stream=stream)
            except httpx.HTTPError as exc:
                error: SoraError = translate_transport_error(exc, self.provider)
                error.__cause__ = exc
                if attempt >= self.policy.max_retries:
                    raise error from exc
                delay = self.policy.backoff(attempt)
            else:
                if response.status_code < 300:
                    return response, attempt
                content = yield from self._body(response, stream)
                error = self.adapter.error(response, content)
                if response.status_code not in RETRYABLE_STATUS or not isinstance(
                    error, (RateLimitError, ServerError)
                ):
                    raise error  # e.g. 429 insufficient_quota, 503 model_not_found
                if attempt >= self.policy.max_retries:
                    raise error
                wait = self.policy.delay(attempt, response)
                if wait is None:
                    raise error
                delay = wait
            log.info(
                "%s %s failed (%s); retry in %.2f s", request.method, request.url.path, error, delay
            )
            yield Sleep(delay)
            attempt += 1

    def get(self, job_id: str) -> Flow[Job]:
        if not self.adapter.has_status:
            raise UnsupportedOperation(
                f"{self.provider} has no status endpoint: the job is its event stream; "
                "pass the Job from create() to wait()"
            )
        request = self.adapter.build_get(job_id)
        self.adapter.validate(request)
        response, _ = yield from self._send_read(request)
        return self._job(response)

    # ================================================================== list, delete, remix

    def list_page(
        self, limit: int | None, order: str | None, after: str | None, from_server: bool = False
    ) -> Flow[tuple[list[Job], bool, str | None]]:
        """One page of the provider's jobs: (jobs, has_more, the next page's cursor).
        ``from_server``: ``after`` is the cursor the previous page named, so a cursor the
        contract would refuse is the provider's fault, not the caller's."""
        request = self.adapter.build_list(limit, order, after)
        try:
            self.adapter.validate(request)
        except InvalidRequestError as exc:
            if not from_server:
                raise
            raise UnexpectedResponseError(
                f"the provider's next-page cursor cannot be sent back ({exc.rule})",
                provider=self.provider,
                status_code=200,
            ) from None
        response, _ = yield from self._send_read(request)
        body = self._json(response)
        try:
            return self.adapter.parse_list(body, response)
        except SoraError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self.adapter.unexpected(response, f"{type(exc).__name__}: {exc}", body) from None

    def delete(self, job_id: str) -> Flow[bool]:
        """Delete a job (idempotent, so retried like a read). True when the provider says
        it is deleted."""
        request = self.adapter.build_delete(job_id)
        self.adapter.validate(request)
        response, _ = yield from self._send_read(request)
        body = self._json(response)
        try:
            return self.adapter.parse_deleted(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise self.adapter.unexpected(response, f"{type(exc).__name__}: {exc}", body) from None

    def remix(self, job_id: str, prompt: str, extra: dict[str, Any]) -> Flow[Job]:
        """A new job from a completed one. It costs what a create costs, so it is sent as a
        create is: retried only when it provably never arrived or was refused with 429."""
        if not isinstance(prompt, str):
            raise InvalidRequestError(self.provider, "prompt", "must be a string")
        request = self.adapter.build_remix(job_id, prompt, dict(extra))
        self.adapter.validate(request)
        sent_at = datetime.now(UTC)
        response = yield from self._send_create(request)
        return self._created(response, sent_at)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise self.adapter.unexpected(
                response, "the body is not JSON", response.content[:500].decode("utf-8", "replace")
            ) from None

    # ================================================================== wait

    def wait(
        self,
        job: Job | str,
        timeout: float,
        on_progress: ProgressCallback | None,
        poll_interval: float | None,
        raise_on_failure: bool,
    ) -> Flow[Job]:
        if self.adapter.streams:
            if not isinstance(job, Job):
                raise UnsupportedOperation(
                    f"{self.provider} has no status endpoint: wait() needs the Job from create()"
                )
            result = yield from self._wait_chat(job, timeout, on_progress)
        else:
            result = yield from self._poll(job, timeout, on_progress, poll_interval)
        if result.failed and raise_on_failure:
            raise GenerationFailedError(result)
        return result

    def _poll(
        self,
        job: Job | str,
        timeout: float,
        on_progress: ProgressCallback | None,
        poll_interval: float | None,
    ) -> Flow[Job]:
        start = yield Now()
        deadline = start + timeout
        last = job if isinstance(job, Job) else (yield from self.get(job))
        #: the furthest state on_progress was shown: a poll that reads an older state (a
        #: replica behind, a status going backwards) is not reported
        shown = last
        if on_progress is not None:
            yield Notify(on_progress, last)
        interval = self.poll_interval if poll_interval is None else poll_interval
        while not last.done:
            now = yield Now()
            remaining = deadline - now
            if remaining <= 0:
                raise PollTimeoutError(last, timeout)
            hint = last._poll_after
            delay = max(0.0, hint if hint is not None else interval)
            yield Sleep(min(delay, remaining))
            current = yield from self.get(last.id)
            if on_progress is not None and _forward(current, shown):
                yield Notify(on_progress, current)
                shown = current
            last = current
        return last

    # ================================================================== chat mode

    def _open_chat(self, response: httpx.Response, sent_at: datetime) -> Flow[Job]:
        """Read the stream up to its first chunk: that gives the job its id. Anything short
        of a readable first chunk leaves it unknown whether a job was made: ambiguous."""
        if not _is_event_stream(response):
            content = yield from self._body(response, True)
            return self._created(response, sent_at, content)
        handle = ChatStream(response)

        def ambiguous(reason: str) -> AmbiguousCreateError:
            return AmbiguousCreateError(
                provider=self.provider,
                sent_at=sent_at,
                request_id=request_id(response),
                status_code=response.status_code,
                reason=reason,
            )

        try:
            event = yield from self._next_event(handle)
        except ResponseTooLargeError as exc:
            raise ambiguous(str(exc)) from exc
        except httpx.HTTPError as exc:
            yield Close(response)
            error = translate_transport_error(exc, self.provider)
            error.__cause__ = exc
            raise ambiguous(
                f"the event stream broke before the job id arrived ({type(exc).__name__})"
            ) from error
        if event is None or event.data.strip() == "[DONE]":
            yield Close(response)
            raise ambiguous("the event stream ended before its first chunk")
        try:
            job = self._chunk(None, event, response)
        except APIError as exc:
            yield Close(response)
            raise ambiguous(f"its first chunk is unreadable ({exc.message})") from exc
        if job.done:
            yield Close(response)
            return job
        job._stream = handle
        yield Keep(response)
        return job

    def _wait_chat(
        self, job: Job, timeout: float, on_progress: ProgressCallback | None
    ) -> Flow[Job]:
        handle = job._stream
        if not isinstance(handle, ChatStream):
            if job.done:
                return job
            raise UnsupportedOperation(
                f"this {self.provider} job's event stream is gone and chat mode has no status "
                "endpoint: its state cannot be read again"
            )
        if handle.final is not None:
            return handle.final  # already read to its end by an earlier wait
        if handle.ended:
            raise UnsupportedOperation(
                f"this {self.provider} job's event stream was closed (cancelled or broken) and "
                "chat mode has no status endpoint: its state cannot be read again"
            )
        start = yield Now()
        deadline = start + timeout
        shown = job
        if on_progress is not None:
            yield Notify(on_progress, job)
        response = handle.response
        finished = False
        try:
            while not job.done:
                event = yield from self._next_event(handle, deadline)
                if event is _NOTHING_YET:
                    yield Keep(response)  # the stream goes on: wait() again reads on
                    finished = True
                    raise PollTimeoutError(job, timeout)
                if event is None or event.data.strip() == "[DONE]":
                    break
                job = self._chunk(job, event, response)
                if on_progress is not None and _forward(job, shown):
                    yield Notify(on_progress, job)
                    shown = job
            finished = True
        except httpx.HTTPError as exc:
            finished = True
            handle.ended = True
            yield Close(response)
            raise translate_transport_error(exc, self.provider) from exc
        finally:
            if not finished:
                # cancelled (CancelledError, KeyboardInterrupt) or a callback raised: the
                # driver closes the stream; a later wait() must not read a closed stream
                handle.ended = True
        handle.ended = True
        yield Close(response)
        job._stream = None
        if not job.done:
            raise self.adapter.unexpected(
                response, "the event stream ended before the video was reported", job.raw
            )
        handle.final = job
        return job

    def _next_event(self, handle: ChatStream, deadline: float | None = None) -> Flow[Event | None]:
        """The next event of the stream, reading chunk by chunk as they arrive. With a
        deadline, ``_NOTHING_YET`` once it passes with no complete event (checked after
        each read, so a stream that trickles cannot hold wait() past its timeout)."""
        while not handle.pending:
            if handle.ended:
                return None
            if deadline is not None:
                now = yield Now()
                if now >= deadline:
                    return _NOTHING_YET
            chunk = yield Read(handle.response)
            try:
                if chunk:
                    handle.pending.extend(handle.decoder.feed(chunk))
                else:
                    handle.pending.extend(handle.decoder.close())
                    handle.ended = True
            except LineTooLong as exc:
                handle.ended = True
                yield Close(handle.response)
                raise ResponseTooLargeError(
                    f"{self.provider} sent an event-stream line longer than {exc.limit} bytes; "
                    "the stream was closed",
                    limit=exc.limit,
                ) from None
        return handle.pending.popleft()

    def _chunk(self, job: Job | None, event: Event, response: httpx.Response) -> Job:
        try:
            chunk = json.loads(event.data)
            return self.adapter.apply_chunk(job, chunk, response)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self.adapter.unexpected(
                response, f"unreadable chunk: {exc}", event.data
            ) from None

    # ================================================================== download

    def download(
        self, job: Job | str, path: str | os.PathLike[str], variant: str = "video"
    ) -> Flow[Path]:
        target = Path(path)
        job_id = job.id if isinstance(job, Job) else job
        if target.is_dir():
            target = target / f"{_safe_name(job_id)}{VARIANT_SUFFIX.get(variant, '')}"
        adapter = self.adapter
        if variant != "video":
            # only a content endpoint serves variants; the contract decides which exist
            request = adapter.build_content(job_id, variant)
            assert request is not None
            adapter.validate(request)
            return (yield from self._fetch_to_file(request, target, IMAGE_TYPES))
        if isinstance(job, str):
            by_id = adapter.build_content(job)
            if by_id is not None:
                adapter.validate(by_id)
                return (yield from self._fetch_to_file(by_id, target))
            job = yield from self.get(job)  # raises UnsupportedOperation in chat mode
        if job.failed:
            raise GenerationFailedError(job)
        if not job.completed and adapter.has_status:
            job = yield from self.get(job.id)
            if job.failed:
                raise GenerationFailedError(job)
        if not job.completed:
            raise VideoNotReadyError(
                f"{self.provider} job {job.id} is {job.status} ({job.progress:.0%}): "
                "wait() for it before downloading"
            )
        content = adapter.build_content(job.id)
        if content is not None:
            adapter.validate(content)
        elif job.video_url:
            content = adapter.build_video_url(job.video_url)
        else:
            raise UnexpectedResponseError(
                "the completed job names no video URL",
                provider=self.provider,
                status_code=200,
                body=job.raw,
            )
        return (yield from self._fetch_to_file(content, target))

    def _fetch_to_file(
        self, request: httpx.Request, target: Path, accepted: tuple[str, ...] = VIDEO_TYPES
    ) -> Flow[Path]:
        """Stream the video into a temp file beside ``target``, then move it in.

        A body that breaks off (or ends short of its length) is resumed where it stopped with
        ``Range: bytes=N-``, validated by ``If-Range`` (the ETag, else Last-Modified) and by
        the total length in ``Content-Range``: a server that answers 200, or a 206 of another
        representation, starts the file over. When every attempt ends short:
        IncompleteDownloadError, and ``target`` is left as it was."""
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(target)
        request = _identity(request)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".part"
        )
        os.close(fd)
        part = _Partial(Path(tmp_name))
        moved = False
        attempt = 0
        try:
            while True:
                ranged = part.resumable()
                sent = _ranged(request, part) if ranged else request
                response, attempt = yield from self._send_read(sent, stream=True, attempt=attempt)
                error: SoraError | None = None
                if not (yield from self._accept_video(response, part, ranged, accepted)):
                    continue  # a 206 of another representation: start over at once
                try:
                    yield from self._append(response, part)
                except httpx.HTTPError as exc:
                    yield Close(response)
                    error = translate_transport_error(exc, self.provider)
                    error.__cause__ = exc
                if error is None and part.complete():
                    os.chmod(part.path, 0o666 & ~_umask())  # mkstemp made it 0600
                    os.replace(part.path, target)
                    moved = True
                    log.debug("saved %d bytes to %s", part.written, target)
                    return target
                short: SoraError = IncompleteDownloadError(
                    f"the video from {self.provider} ended after {part.written} of "
                    f"{part.total if part.total is not None else 'an unknown number of'} bytes"
                    + (f" ({error})" if error is not None else ""),
                    received=part.written,
                    expected=part.total,
                )
                if error is not None and part.total is None and not part.written:
                    short = error  # nothing came at all: the transport error says why
                if attempt >= self.policy.max_retries:
                    raise short from (error.__cause__ if error is not None else None)
                delay = self.policy.backoff(attempt)
                log.info(
                    "download from %s broke after %d bytes; %s in %.2f s",
                    self.provider,
                    part.written,
                    "resume" if part.resumable() else "retry",
                    delay,
                )
                yield Sleep(delay)
                attempt += 1
        finally:
            if not moved:
                part.path.unlink(missing_ok=True)

    def _accept_video(
        self,
        response: httpx.Response,
        part: _Partial,
        ranged: bool,
        accepted: tuple[str, ...] = VIDEO_TYPES,
    ) -> Flow[bool]:
        """Check the answer is the video (or the rest of it); raise when it is not. False:
        a 206 that does not continue the same representation (the file starts over)."""
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type and not media_type.startswith(accepted):
            content = yield from self._body(response, True)
            raise self._not_video(response, media_type, content)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        identity = encoding in ("", "identity")
        self._check_size(response, identity)
        if response.status_code == 206 and ranged:
            span = _content_range(response.headers.get("content-range"))
            etag = response.headers.get("etag")
            same = (
                span is not None
                and identity
                and span[0] == part.written
                and (part.total is None or span[2] is None or span[2] == part.total)
                and (part.etag is None or etag is None or etag == part.etag)
            )
            if not same:
                yield Close(response)
                log.info("the resumed download of %s changed: starting over", self.provider)
                part.restart()
                return False
            part.raw = True
            if part.total is None:
                part.total = span[2] if span is not None else None
            return True
        # a whole body (200): from the start, whatever was kept
        part.restart()
        part.raw = identity
        length = response.headers.get("content-length")
        part.total = int(length) if identity and length and length.strip().isdigit() else None
        part.etag = _strong_etag(response.headers.get("etag"))
        part.last_modified = response.headers.get("last-modified")
        return True

    def _append(self, response: httpx.Response, part: _Partial) -> Flow[None]:
        """Write the body on at the end of ``part``; check it is a video, not text, and that it
        keeps coming (a stall below the minimum rate is a ReadTimeout)."""
        window = self.exchange_timeout
        window_start = yield Now()
        window_bytes = 0
        # only an unlabelled body is sniffed: a body labelled video/* is the video, whatever
        # its first byte (the contract allows any bytes)
        first = part.written == 0 and not response.headers.get("content-type", "").strip()
        with part.path.open("ab") as out:
            while True:
                chunk = yield Read(response, raw=part.raw)
                if not chunk:
                    break
                if first:
                    first = False
                    if chunk.lstrip()[:1] in TEXT_STARTS:
                        # no Content-Type said what this is, and it reads as text: a JSON job
                        # or an HTML page saved as .mp4 is the bug this refuses
                        rest = yield from self._body(response, True)
                        raise self._not_video(response, "an unlabelled text body", chunk + rest)
                if self.max_download is not None and part.written + len(chunk) > self.max_download:
                    yield Close(response)
                    raise self._too_large(f"it went on past {self.max_download} bytes")
                out.write(chunk)
                part.written += len(chunk)
                window_bytes += len(chunk)
                if window is not None:
                    now = yield Now()
                    if now - window_start >= window:
                        if window_bytes < MIN_DOWNLOAD_BYTES_PER_WINDOW:
                            raise httpx.ReadTimeout(
                                f"the download stalled: {window_bytes} bytes in {window:g} s"
                            )
                        window_start, window_bytes = now, 0
        yield Close(response)

    def _check_size(self, response: httpx.Response, identity: bool) -> None:
        """Refuse before reading a body whose stated length is over the download limit."""
        if self.max_download is None or not identity:
            return
        span = _content_range(response.headers.get("content-range"))
        length = response.headers.get("content-length", "").strip()
        total = span[2] if span is not None and response.status_code == 206 else None
        if total is None and response.status_code != 206 and length.isdigit():
            total = int(length)
        if total is not None and total > self.max_download:
            raise self._too_large(f"it announced {total} bytes")

    def _too_large(self, how: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the download from {self.provider} is larger than max_download_size "
            f"({self.max_download} bytes): {how}. No file was written; pass a larger "
            "max_download_size to the client to accept it",
            limit=self.max_download or 0,
        )

    def _not_video(self, response: httpx.Response, media_type: str, content: bytes) -> SoraError:
        try:
            body: Any = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            body = content[:500].decode("utf-8", "replace")
        body = self.adapter.redact_value(body)
        state = ""
        if isinstance(body, dict):
            try:
                job = self.adapter.parse_job(body, response)
            except (SoraError, ValueError, KeyError, TypeError, AttributeError):
                job = None
            if job is not None and job.failed:
                return GenerationFailedError(job)
            if job is not None:
                state = f" (the job is {job.status}, {job.progress:.0%})"
        return ContentTypeError(
            f"{self.provider} answered {media_type} instead of the video{state}; "
            "it is probably not ready yet: wait() for the job, then download again. "
            "No file was written.",
            content_type=media_type,
            body=body,
        )

    # ================================================================== helpers

    def _body(self, response: httpx.Response, stream: bool) -> Flow[bytes]:
        """The whole body of a (possibly streamed) response, then closed."""
        if not stream:
            return response.content
        parts: list[bytes] = []
        size = 0
        start = yield Now()
        try:
            while size < MAX_ERROR_BODY:
                chunk = yield Read(response)
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
                if self.exchange_timeout is not None:
                    now = yield Now()
                    if now - start >= self.exchange_timeout:
                        break  # a trickling error body: what came is enough to name it
        except httpx.HTTPError:
            pass  # an error body that breaks off is still an error: keep what came
        yield Close(response)
        return b"".join(parts)

    def _job(self, response: httpx.Response, content: bytes | None = None) -> Job:
        data = response.content if content is None else content
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise self.adapter.unexpected(
                response, "the body is not JSON", data[:500].decode("utf-8", "replace")
            ) from None
        try:
            return self.adapter.parse_job(body, response)
        except SoraError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise self.adapter.unexpected(response, f"{type(exc).__name__}: {exc}", body) from None


@dataclass
class _Partial:
    """A download in progress: its temp file and what is known of the representation."""

    path: Path
    written: int = 0
    total: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    #: bytes as sent (identity encoding): offsets are byte offsets, resumable
    raw: bool = True

    def resumable(self) -> bool:
        """A Range request can go on from here: bytes kept, raw, and a validator (an ETag or
        Last-Modified for If-Range, or at least the total length to compare)."""
        return (
            self.written > 0
            and self.raw
            and (self.etag is not None or self.last_modified is not None or self.total is not None)
        )

    def complete(self) -> bool:
        return self.total is None or self.written == self.total

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.written = 0
        self.total = self.etag = self.last_modified = None


def _ranged(request: httpx.Request, part: _Partial) -> httpx.Request:
    headers = httpx.Headers(request.headers)
    headers["Range"] = f"bytes={part.written}-"
    headers["Accept-Encoding"] = "identity"
    validator = part.etag or part.last_modified
    if validator is not None:
        headers["If-Range"] = validator
    return httpx.Request(request.method, request.url, headers=headers)


_NOT_ONE_OF = re.compile(r"^(?P<value>.+) is not one of \[(?P<allowed>.*)\]$")


def _one_set_per_field(
    problems: list[tuple[str | None, str]], model: str | None
) -> list[tuple[str | None, str]]:
    """One allowed set per field, with the model it applies to. A contract states a field's
    values twice when a model narrows them (``duration`` is 10, 15 or 25, and 10 or 15 for
    sora-2): the narrowest set is the one that applies, and it is said once."""
    narrowest: dict[str | None, tuple[int, str]] = {}
    for field_name, rule in problems:
        found = _NOT_ONE_OF.match(rule)
        if found:
            size = len([v for v in found["allowed"].split(",") if v.strip()])
            narrowest[field_name] = min(narrowest.get(field_name, (size, rule)), (size, rule))
    if any(field_name == "model" for field_name, _ in problems):
        model = None  # a model the contract refuses narrows nothing
    out: list[tuple[str | None, str]] = []
    for field_name, rule in problems:
        if field_name not in narrowest:
            out.append((field_name, rule))
        elif rule == narrowest[field_name][1]:
            with_model = model is not None and field_name != "model"
            out.append((field_name, f"{rule} with model {model}" if with_model else rule))
    return out


def _model_of(request: httpx.Request) -> str | None:
    """The model a create names, from its JSON body or its multipart ``model`` part."""
    content = request.content
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            value = json.loads(content).get("model")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None
    found = re.search(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n', content)
    return found.group(1).decode("utf-8", "replace") if found else None


def _identity(request: httpx.Request) -> httpx.Request:
    """Media is asked for as sent: no coding to inflate, offsets that resume."""
    request.headers["Accept-Encoding"] = "identity"
    return request


def _remove_orphans(target: Path) -> None:
    """Remove partial files of ``target`` left by a process that died mid-download (its pid
    is in the name); a live process's partial file is left alone."""
    for orphan in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        pid = orphan.name[len(target.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            orphan.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``bytes START-END/TOTAL`` (TOTAL may be ``*``) as numbers."""
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    span, _, total = spec.partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not first.isdigit() or not last.isdigit():
        return None
    if total != "*" and not total.isdigit():
        return None
    return int(first), int(last), (None if total == "*" else int(total))


def _strong_etag(value: str | None) -> str | None:
    """If-Range takes only a strong ETag (RFC 9110 13.1.5)."""
    if value is None or value.startswith("W/"):
        return None
    return value


def _moved(request: httpx.Request, url: httpx.URL) -> httpx.Request:
    """The same request (method, headers, body) to a new URL of the same origin."""
    return httpx.Request(request.method, url, headers=request.headers, content=request.content)


def _forward(job: Job, shown: Job) -> bool:
    """``job`` is news past ``shown``: a later status, or more progress in the same one."""
    rank, seen = RANK.get(job.status, 0), RANK.get(shown.status, 0)
    if rank != seen:
        return rank > seen
    if job.status != shown.status:
        return False  # completed vs failed: both terminal, the first word stands
    return job.progress > shown.progress


def _is_event_stream(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").lower().startswith("text/event-stream")


def _safe_name(job_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id) or "video"


def _umask() -> int:
    """The process umask (read by setting it, then putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
