"""``SoraClient`` and ``AsyncSoraClient``: one interface for every provider, mirrored method
for method over one shared base. All logic is in the sans-I/O flows of ``_core``; these
classes only perform the actions the flows yield (send, read, sleep) with blocking calls or
awaits.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import httpx

from sora_client._base_client import (
    _ITERATORS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    T,
    _BaseClient,
    _is_read,
    _read_already,
    _set_content,
)
from sora_client._decoding import adecoded, decoded
from sora_client._exchanges import DEFAULT_MAX_DOWNLOAD
from sora_client._flow import Action, Close, Flow, Keep, Notify, Now, Read, Send, Sleep
from sora_client._images import ImageInput
from sora_client._models import Job
from sora_client._providers import PROVIDERS
from sora_client._waiting import ProgressCallback


class SoraClient(_BaseClient[httpx.Client]):
    """A blocking client for one provider.

    ``SoraClient("gptge")`` reads ``GPTGE_API_KEY``; ``base_url`` defaults to the provider's
    host (``http://127.0.0.1:8000/gptge`` points it at the mock). ``transport`` is any httpx
    transport (``httpx.WSGITransport(app=...)``, respx); ``sleep`` replaces ``time.sleep``
    (a test passes one that records, or advances the mock's virtual clock).
    """

    def __init__(
        self,
        provider: str,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        default_headers: dict[str, str] | None = None,
        max_download_size: int | None = DEFAULT_MAX_DOWNLOAD,
        models: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            provider,
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            sleep=sleep,
            clock=clock,
            poll_interval=poll_interval,
            default_headers=default_headers,
            max_download_size=max_download_size,
            models=models,
        )
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)

    # ------------------------------------------------------------------ public API

    def create(
        self,
        prompt: str,
        image: ImageInput | None = None,
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
        **extra: Any,
    ) -> Job:
        """Create a job. The request is checked against the provider's contract first:
        a violation raises InvalidRequestError and nothing is sent."""
        return self._run(self._core.create(prompt, image, model, seconds, size, extra))

    def get(self, job_id: str | Job) -> Job:
        """The job's current state (UnsupportedOperation in chat mode)."""
        return self._run(self._core.get(job_id.id if isinstance(job_id, Job) else job_id))

    def wait(
        self,
        job: Job | str,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        *,
        poll_interval: float | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """Poll (or, in chat mode, read the stream) until the job completes. Raises
        GenerationFailedError if it fails (unless ``raise_on_failure=False``) and
        PollTimeoutError after ``timeout`` seconds."""
        return self._run(
            self._core.wait(job, timeout, on_progress, poll_interval, raise_on_failure)
        )

    def download(
        self, job: Job | str, path: str | os.PathLike[str], *, variant: str = "video"
    ) -> Path:
        """Save the video to ``path`` (a file, or a directory to put ``<id>.mp4`` in).
        ``variant="thumbnail"`` or ``"spritesheet"`` saves that image instead, where the
        provider has a content endpoint (UnsupportedOperation otherwise). A broken transfer
        resumes with ``Range``; ``path`` is replaced only once the file is whole."""
        return self._run(self._core.download(job, path, variant))

    def list(
        self, *, limit: int | None = None, order: str | None = None, after: str | None = None
    ) -> Iterator[Job]:
        """Every job of this key, newest first by default, fetched page by page as the
        iterator is read (``limit`` per page, from the cursor ``after``). Raises
        UnsupportedOperation at once for a provider without a list endpoint."""
        self._adapter.build_list(limit, order, after)  # unsupported: raise now, not on next()
        return self._pages(limit, order, after)

    def _pages(self, limit: int | None, order: str | None, after: str | None) -> Iterator[Job]:
        cursor, from_server = after, False
        while True:
            jobs, has_more, next_cursor = self._run(
                self._core.list_page(limit, order, cursor, from_server)
            )
            yield from jobs
            if not has_more or not next_cursor or next_cursor == cursor:
                return
            cursor, from_server = next_cursor, True

    def delete(self, job: Job | str) -> bool:
        """Delete a job and its video (True when the provider confirms it)."""
        return self._run(self._core.delete(job.id if isinstance(job, Job) else job))

    def remix(self, job: Job | str, prompt: str, **extra: Any) -> Job:
        """A new job from a completed one, changed as ``prompt`` says (it is billed as a
        create, and like a create it is never sent twice)."""
        return self._run(self._core.remix(job.id if isinstance(job, Job) else job, prompt, extra))

    def generate(
        self,
        prompt: str,
        image: ImageInput | None = None,
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
        *,
        path: str | os.PathLike[str],
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        **extra: Any,
    ) -> Job:
        """create + wait + download."""
        return self._run(
            self._generate_flow(
                prompt, image, model, seconds, size, extra, path, timeout, on_progress
            )
        )

    def close(self) -> None:
        """Close open chat streams and the connection pool."""
        for response in list(self._kept.values()):
            self._close(response)
        self._http.close()

    def __enter__(self) -> SoraClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ the driver

    def _run(self, flow: Flow[T]) -> T:
        opened: dict[int, httpx.Response] = {}
        kept: set[int] = set()
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    action = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    return cast(T, stop.value)
                except httpx.HTTPError as exc:
                    raise self._escaped(exc, self.provider) from exc
                value, error = None, None
                try:
                    value = self._perform(action, opened, kept)
                except httpx.HTTPError as exc:
                    error = exc
        finally:
            flow.close()
            for key, response in opened.items():
                if key not in kept:
                    self._close(response)

    def _perform(self, action: Action, opened: dict[int, httpx.Response], kept: set[int]) -> Any:
        if isinstance(action, Send):
            started = self._now()
            response = self._http.send(
                action.request, stream=True, follow_redirects=action.follow_redirects
            )
            if action.stream:
                opened[id(response)] = response
                return response
            try:
                parts: list[bytes] = []
                size = 0
                body = (
                    iter([_read_already(response)])
                    if _is_read(response)
                    else decoded(response, response.iter_raw())
                )
                for chunk in body:
                    size += len(chunk)
                    self._check_body(response, size, started)
                    parts.append(chunk)
                _set_content(response, b"".join(parts))
            finally:
                response.close()
            return response
        if isinstance(action, Read):
            opened.setdefault(id(action.response), action.response)
            kept.discard(id(action.response))
            iterator = _ITERATORS.get(action.response)
            if iterator is None:
                response = action.response
                iterator = iter([_read_already(response)]) if _is_read(response) else None
                if iterator is None:
                    # no chunk size: each chunk as the network delivers it (a size would make
                    # httpx hold bytes back until it is filled)
                    raw = response.iter_raw()
                    iterator = raw if action.raw else decoded(response, raw)
                _ITERATORS[response] = iterator
            for chunk in iterator:
                if chunk:
                    return chunk
            return b""
        if isinstance(action, Close):
            self._close(action.response)
            return None
        if isinstance(action, Keep):
            kept.add(id(action.response))
            self._kept[id(action.response)] = action.response
            return None
        if isinstance(action, Sleep):
            if action.seconds > 0:
                if self._sleep is None:
                    time.sleep(action.seconds)
                else:
                    self._slept += action.seconds
                    self._sleep(action.seconds)
            return None
        if isinstance(action, Now):
            return self._now()
        if isinstance(action, Notify):
            action.callback(action.value)
            return None
        raise TypeError(f"unknown action {action!r}")

    def _close(self, response: httpx.Response) -> None:
        self._kept.pop(id(response), None)
        iterator = _ITERATORS.pop(response, None)
        if isinstance(iterator, Iterator) and hasattr(iterator, "close"):
            iterator.close()
        response.close()


class AsyncSoraClient(_BaseClient[httpx.AsyncClient]):
    """The asynchronous twin of :class:`SoraClient`: the same methods, awaited.

    ``sleep`` may be a coroutine function (default ``asyncio.sleep``) or a plain function;
    ``on_progress`` callbacks may be either too.
    """

    def __init__(
        self,
        provider: str,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        default_headers: dict[str, str] | None = None,
        max_download_size: int | None = DEFAULT_MAX_DOWNLOAD,
        models: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            provider,
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            sleep=sleep,
            clock=clock,
            poll_interval=poll_interval,
            default_headers=default_headers,
            max_download_size=max_download_size,
            models=models,
        )
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=True)

    # ------------------------------------------------------------------ public API

    async def create(
        self,
        prompt: str,
        image: ImageInput | None = None,
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
        **extra: Any,
    ) -> Job:
        """See :meth:`SoraClient.create`."""
        return await self._run(self._core.create(prompt, image, model, seconds, size, extra))

    async def get(self, job_id: str | Job) -> Job:
        """See :meth:`SoraClient.get`."""
        return await self._run(self._core.get(job_id.id if isinstance(job_id, Job) else job_id))

    async def wait(
        self,
        job: Job | str,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        *,
        poll_interval: float | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """See :meth:`SoraClient.wait`."""
        return await self._run(
            self._core.wait(job, timeout, on_progress, poll_interval, raise_on_failure)
        )

    async def download(
        self, job: Job | str, path: str | os.PathLike[str], *, variant: str = "video"
    ) -> Path:
        """See :meth:`SoraClient.download`."""
        return await self._run(self._core.download(job, path, variant))

    def list(
        self, *, limit: int | None = None, order: str | None = None, after: str | None = None
    ) -> AsyncIterator[Job]:
        """See :meth:`SoraClient.list`: ``async for job in client.list(): ...``."""
        self._adapter.build_list(limit, order, after)  # unsupported: raise now
        return self._pages(limit, order, after)

    async def _pages(
        self, limit: int | None, order: str | None, after: str | None
    ) -> AsyncIterator[Job]:
        cursor, from_server = after, False
        while True:
            jobs, has_more, next_cursor = await self._run(
                self._core.list_page(limit, order, cursor, from_server)
            )
            for job in jobs:
                yield job
            if not has_more or not next_cursor or next_cursor == cursor:
                return
            cursor, from_server = next_cursor, True

    async def delete(self, job: Job | str) -> bool:
        """See :meth:`SoraClient.delete`."""
        return await self._run(self._core.delete(job.id if isinstance(job, Job) else job))

    async def remix(self, job: Job | str, prompt: str, **extra: Any) -> Job:
        """See :meth:`SoraClient.remix`."""
        return await self._run(
            self._core.remix(job.id if isinstance(job, Job) else job, prompt, extra)
        )

    async def generate(
        self,
        prompt: str,
        image: ImageInput | None = None,
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
        *,
        path: str | os.PathLike[str],
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        **extra: Any,
    ) -> Job:
        """See :meth:`SoraClient.generate`."""
        return await self._run(
            self._generate_flow(
                prompt, image, model, seconds, size, extra, path, timeout, on_progress
            )
        )

    async def aclose(self) -> None:
        """Close open chat streams and the connection pool."""
        for response in list(self._kept.values()):
            await self._close(response)
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSoraClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ the driver

    async def _run(self, flow: Flow[T]) -> T:
        opened: dict[int, httpx.Response] = {}
        kept: set[int] = set()
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    action = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    return cast(T, stop.value)
                except httpx.HTTPError as exc:
                    raise self._escaped(exc, self.provider) from exc
                value, error = None, None
                try:
                    value = await self._perform(action, opened, kept)
                except httpx.HTTPError as exc:
                    error = exc
        finally:
            flow.close()
            for key, response in opened.items():
                if key not in kept:
                    await self._close(response)

    async def _perform(
        self, action: Action, opened: dict[int, httpx.Response], kept: set[int]
    ) -> Any:
        if isinstance(action, Send):
            started = self._now()
            response = await self._http.send(
                action.request, stream=True, follow_redirects=action.follow_redirects
            )
            if action.stream:
                opened[id(response)] = response
                return response
            try:
                parts: list[bytes] = []
                size = 0
                abody = (
                    _one_chunk(_read_already(response))
                    if _is_read(response)
                    else adecoded(response, response.aiter_raw())
                )
                async for chunk in abody:
                    size += len(chunk)
                    self._check_body(response, size, started)
                    parts.append(chunk)
                _set_content(response, b"".join(parts))
            finally:
                await response.aclose()
            return response
        if isinstance(action, Read):
            opened.setdefault(id(action.response), action.response)
            kept.discard(id(action.response))
            iterator: AsyncIterator[bytes] | None = _ITERATORS.get(action.response)
            if iterator is None:
                response = action.response
                if _is_read(response):
                    iterator = _one_chunk(_read_already(response))
                else:
                    araw = response.aiter_raw()
                    iterator = araw if action.raw else adecoded(response, araw)
                _ITERATORS[response] = iterator
            async for chunk in iterator:
                if chunk:
                    return chunk
            return b""
        if isinstance(action, Close):
            await self._close(action.response)
            return None
        if isinstance(action, Keep):
            kept.add(id(action.response))
            self._kept[id(action.response)] = action.response
            return None
        if isinstance(action, Sleep):
            if action.seconds > 0:
                if self._sleep is None:
                    await asyncio.sleep(action.seconds)
                else:
                    self._slept += action.seconds
                    await _maybe_await(self._sleep(action.seconds))
            return None
        if isinstance(action, Now):
            return self._now()
        if isinstance(action, Notify):
            await _maybe_await(action.callback(action.value))
            return None
        raise TypeError(f"unknown action {action!r}")

    async def _close(self, response: httpx.Response) -> None:
        self._kept.pop(id(response), None)
        iterator = _ITERATORS.pop(response, None)
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        await response.aclose()


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _maybe_await(result: Any) -> None:
    if inspect.isawaitable(result):
        await cast(Awaitable[Any], result)


#: the provider ids, for help texts and argument choices
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)
