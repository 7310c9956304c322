"""The client's logic, once, as sans-I/O flows (see ``_flow``): create, get, wait, download.

Nothing here sends a byte or sleeps; ``SoraClient`` and ``AsyncSoraClient`` perform the
actions these generators yield. The retry policy is in ``_retry``; the provider's words in
``_providers``.
"""

from __future__ import annotations

import json
import logging
import os
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
    ContentTypeError,
    GenerationFailedError,
    IncompleteDownloadError,
    InvalidRequestError,
    PollTimeoutError,
    SoraError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedOperation,
    VideoNotReadyError,
    translate_transport_error,
)
from sora_client._flow import Close, Flow, Keep, Notify, Now, Read, Send, Sleep
from sora_client._images import ImageInput, check_matches, load_image
from sora_client._models import Job
from sora_client._providers import Adapter, CreateSpec
from sora_client._providers.base import request_id
from sora_client._retry import RETRYABLE_STATUS, RetryPolicy
from sora_client._sse import Event, SSEDecoder

log = logging.getLogger("sora_client")

#: error bodies read from a streamed response are cut here
MAX_ERROR_BODY = 1 << 20
#: media types accepted as "the video" (a CDN may label it generically)
VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")

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
    def __init__(self, adapter: Adapter, policy: RetryPolicy, poll_interval: float) -> None:
        self.adapter = adapter
        self.policy = policy
        self.poll_interval = poll_interval

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
        self.adapter.validate(request)
        check_matches(name, loaded, self.adapter.pixel_target(spec))
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
        response = yield from self._send_create(request)
        if self.adapter.streams:
            return (yield from self._open_chat(response))
        return self._job(response)

    def _send_create(self, request: httpx.Request) -> Flow[httpx.Response]:
        """Send a create: retried only if it never left (connect) or was refused (429)."""
        stream = self.adapter.streams
        attempt = 0
        while True:
            sent_at = datetime.now(UTC)
            try:
                response = yield Send(request, stream=stream)
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
                content = yield from self._body(response, stream)
                api_error = self.adapter.error(response, content)
                if response.status_code >= 500:
                    raise AmbiguousCreateError(
                        provider=self.provider,
                        sent_at=sent_at,
                        request_id=request_id(response),
                        status_code=response.status_code,
                        reason=f"the server answered {response.status_code}",
                    ) from api_error
                if response.status_code != 429 or attempt >= self.policy.max_retries:
                    raise api_error
                wait = self.policy.delay(attempt, response)
                if wait is None:
                    raise api_error
                delay = wait
                log.info("create to %s rate limited; retry in %.2f s", self.provider, delay)
            yield Sleep(delay)
            attempt += 1

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
                if response.status_code not in RETRYABLE_STATUS:
                    raise error
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
            if on_progress is not None and (
                current.status != last.status or current.progress != last.progress
            ):
                yield Notify(on_progress, current)
            last = current
        return last

    # ================================================================== chat mode

    def _open_chat(self, response: httpx.Response) -> Flow[Job]:
        """Read the stream up to its first chunk: that gives the job its id."""
        sent_at = datetime.now(UTC)
        if not _is_event_stream(response):
            content = yield from self._body(response, True)
            return self._job(response, content)
        handle = ChatStream(response)
        try:
            event = yield from self._next_event(handle)
        except httpx.HTTPError as exc:
            error = translate_transport_error(exc, self.provider)
            error.__cause__ = exc
            raise AmbiguousCreateError(
                provider=self.provider,
                sent_at=sent_at,
                request_id=request_id(response),
                status_code=response.status_code,
                reason=f"the event stream broke before the job id arrived ({type(exc).__name__})",
            ) from error
        if event is None or event.data.strip() == "[DONE]":
            yield Close(response)
            raise self.adapter.unexpected(response, "the event stream ended with no chunk", None)
        job = self._chunk(None, event, response)
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
        start = yield Now()
        deadline = start + timeout
        if on_progress is not None:
            yield Notify(on_progress, job)
        response = handle.response
        try:
            while not job.done:
                now = yield Now()
                if now >= deadline:
                    yield Keep(response)  # the stream goes on: wait() again reads on
                    raise PollTimeoutError(job, timeout)
                event = yield from self._next_event(handle)
                if event is None or event.data.strip() == "[DONE]":
                    break
                before = (job.status, job.progress)
                job = self._chunk(job, event, response)
                if on_progress is not None and (job.status, job.progress) != before:
                    yield Notify(on_progress, job)
        except httpx.HTTPError as exc:
            handle.ended = True
            yield Close(response)
            raise translate_transport_error(exc, self.provider) from exc
        handle.ended = True
        yield Close(response)
        job._stream = None
        if not job.done:
            raise self.adapter.unexpected(
                response, "the event stream ended before the video was reported", job.raw
            )
        handle.final = job
        return job

    def _next_event(self, handle: ChatStream) -> Flow[Event | None]:
        while not handle.pending:
            if handle.ended:
                return None
            chunk = yield Read(handle.response)
            if chunk:
                handle.pending.extend(handle.decoder.feed(chunk))
            else:
                handle.pending.extend(handle.decoder.close())
                handle.ended = True
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

    def download(self, job: Job | str, path: str | os.PathLike[str]) -> Flow[Path]:
        target = Path(path)
        job_id = job.id if isinstance(job, Job) else job
        if target.is_dir():
            target = target / f"{_safe_name(job_id)}.mp4"
        adapter = self.adapter
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

    def _fetch_to_file(self, request: httpx.Request, target: Path) -> Flow[Path]:
        attempt = 0
        while True:
            response, attempt = yield from self._send_read(request, stream=True, attempt=attempt)
            media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type and not media_type.startswith(VIDEO_TYPES):
                content = yield from self._body(response, True)
                raise self._not_video(response, media_type, content)
            try:
                written = yield from self._write(response, target)
            except (httpx.HTTPError, IncompleteDownloadError) as exc:
                yield Close(response)
                error = (
                    exc
                    if isinstance(exc, TransportError)
                    else translate_transport_error(exc, self.provider)
                )
                if attempt >= self.policy.max_retries:
                    raise error from (None if error is exc else exc)
                delay = self.policy.backoff(attempt)
                log.info(
                    "download from %s broke (%s); retry in %.2f s", self.provider, error, delay
                )
                yield Sleep(delay)
                attempt += 1
                continue
            log.debug("saved %d bytes to %s", written, target)
            return target

    def _write(self, response: httpx.Response, target: Path) -> Flow[int]:
        """Stream the body to a temp file beside ``target``, check its length, move it in."""
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        raw = encoding in ("", "identity")
        expected = response.headers.get("content-length") if raw else None
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        tmp = Path(tmp_name)
        written = 0
        moved = False
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = yield Read(response, raw=raw)
                    if not chunk:
                        break
                    out.write(chunk)
                    written += len(chunk)
            yield Close(response)
            if expected is not None and expected.strip().isdigit() and int(expected) != written:
                raise IncompleteDownloadError(
                    f"the video from {self.provider} ended after {written} of {expected} bytes"
                )
            # mkstemp makes the file private (0600); a saved video gets the usual permissions
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
            moved = True
            return written
        finally:
            if not moved:
                tmp.unlink(missing_ok=True)

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
        try:
            while size < MAX_ERROR_BODY:
                chunk = yield Read(response)
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
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


def _is_event_stream(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").lower().startswith("text/event-stream")


def _safe_name(job_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id) or "video"


def _umask() -> int:
    """The process umask (read by setting it, then putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
