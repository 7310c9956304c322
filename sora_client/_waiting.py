"""Waiting for a job, as sans-I/O flows: polls spaced by the provider's hint and the retry
policy, progress reported only forward, and the chat mode's event stream read event by event
within the deadline."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from sora_client._exceptions import (
    AmbiguousCreateError,
    APIError,
    GenerationFailedError,
    PollTimeoutError,
    ResponseTooLargeError,
    UnsupportedOperation,
    translate_transport_error,
)
from sora_client._exchanges import Exchanges
from sora_client._flow import Close, Flow, Keep, Notify, Now, Read, Sleep
from sora_client._models import RANK, Job
from sora_client._providers.base import request_id
from sora_client._sse import Event, LineTooLong, SSEDecoder

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


class Waiting(Exchanges):
    """Waiting for a job: ``wait`` polls, or reads a chat job's event stream."""

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
