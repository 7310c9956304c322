"""``SoraClient`` and ``AsyncSoraClient``: one interface for every provider, mirrored method
for method over one shared base. All logic is in the sans-I/O flows of ``_core``; these
classes only perform the actions the flows yield (send, read, sleep) with blocking calls or
awaits.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

import httpx

from sora_client._core import DEFAULT_MAX_DOWNLOAD, Core, ProgressCallback
from sora_client._decoding import adecoded, decoded
from sora_client._exceptions import BodyTooLarge, ConfigurationError, translate_transport_error
from sora_client._files import use_models_file, use_provider_files
from sora_client._flow import Action, Close, Flow, Keep, Notify, Now, Read, Send, Sleep
from sora_client._images import ImageInput
from sora_client._models import Job
from sora_client._providers import PROVIDERS, adapter_class
from sora_client._retry import RetryPolicy

log = logging.getLogger("sora_client")
T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

#: connect quickly, but give a slow provider (or an event stream) a minute between bytes
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 3
#: how long ``wait`` waits for a job, in seconds (Sora renders take minutes)
DEFAULT_WAIT_TIMEOUT = 900.0
#: seconds between polls when the provider gives no ``openai-poll-after-ms`` hint
DEFAULT_POLL_INTERVAL = 5.0
#: the body iterator of each streamed response being read, kept with the response (not the
#: client): a chat Job's stream is read on by whichever client waits for it
_ITERATORS: weakref.WeakKeyDictionary[httpx.Response, Any] = weakref.WeakKeyDictionary()
#: sent when no key is given and the base URL is loopback (the mock accepts any key)
PLACEHOLDER_KEY = "sk-mock-placeholder"
#: the largest answer read whole (a JSON job is a few kB; videos and streams are streamed)
MAX_BODY = 32 * 1024 * 1024


class _BaseClient(Generic[H]):
    _http: H

    def __init__(
        self,
        provider: str,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        default_headers: dict[str, str] | None = None,
        max_download_size: int | None = DEFAULT_MAX_DOWNLOAD,
        models: str | os.PathLike[str] | None = None,
    ) -> None:
        use_provider_files()
        use_models_file(models)
        cls = adapter_class(provider)
        key = api_key if api_key is not None else os.environ.get(cls.env_var, "")
        key = key.strip()
        #: True when no key was given and a placeholder is sent to a loopback base URL
        self.placeholder_key = False
        if not key:
            if base_url is None or not _is_loopback(base_url):
                raise ConfigurationError(
                    f"no API key for {provider}: set {cls.env_var} or pass api_key="
                )
            key = PLACEHOLDER_KEY
            self.placeholder_key = True
            log.warning(
                "no API key for %s: %s is a loopback address (a mock, which accepts any key), "
                "so the placeholder key %r is sent",
                provider,
                base_url,
                PLACEHOLDER_KEY,
            )
        if max_retries < 0:
            raise ConfigurationError("max_retries cannot be negative")
        if max_download_size is not None and max_download_size <= 0:
            raise ConfigurationError("max_download_size must be positive (or None: no limit)")
        self.provider = provider
        self.max_retries = max_retries
        self._adapter = cls(key, base_url, default_headers)
        self._core = Core(
            self._adapter,
            RetryPolicy(max_retries=max_retries),
            poll_interval,
            exchange_timeout=_overall(timeout),
            max_download=max_download_size,
        )
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock
        #: seconds slept through an injected ``sleep``: with no clock injected, ``wait``
        #: deadlines count them, so a test's fake sleep moves time for the client too
        self._slept = 0.0
        #: streams a chat-mode Job still owns: closed with the client
        self._kept: dict[int, httpx.Response] = {}

    @property
    def base_url(self) -> httpx.URL:
        return self._adapter.base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider!r} base_url={str(self.base_url)!r}>"

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return time.monotonic() + self._slept

    def _generate_flow(
        self,
        prompt: str,
        image: ImageInput | None,
        model: str | None,
        seconds: int | None,
        size: str | None,
        extra: dict[str, Any],
        path: str | os.PathLike[str],
        timeout: float,
        on_progress: ProgressCallback | None,
    ) -> Flow[Job]:
        job = yield from self._core.create(prompt, image, model, seconds, size, extra)
        job = yield from self._core.wait(job, timeout, on_progress, None, True)
        yield from self._core.download(job, path)
        return job

    def _check_body(self, response: httpx.Response, size: int, started: float) -> None:
        """Between two chunks of a body read whole: raise (as httpx would) when it outgrows
        MAX_BODY or the exchange outlives its overall deadline (httpx's own timeouts are
        per read, so a server trickling a byte a second would never trip them)."""
        if size > MAX_BODY:
            raise BodyTooLarge(
                f"sent an answer larger than {MAX_BODY} bytes",
                limit=MAX_BODY,
                request=response.request,
            )
        limit = self._core.exchange_timeout
        if limit is not None and self._now() - started > limit:
            raise httpx.ReadTimeout(
                f"the answer was not complete after {limit:g} s (the overall deadline of a "
                "request)",
                request=response.request,
            )

    @staticmethod
    def _escaped(exc: httpx.HTTPError, provider: str) -> Exception:
        """A safety net: flows translate every httpx error; should one escape, translate it."""
        return translate_transport_error(exc, provider)


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


def _is_read(response: httpx.Response) -> bool:
    """A transport may hand over a body already read (httpx.MockTransport, respx): its raw
    stream is gone, but its bytes are at hand (decoded, which for identity is the same)."""
    try:
        response.content  # noqa: B018
    except httpx.ResponseNotRead:
        return False
    return True


def _read_already(response: httpx.Response) -> bytes:
    return response.content


def _set_content(response: httpx.Response, content: bytes) -> None:
    """Make ``response.content`` the body read chunk by chunk, as ``Response.read()`` does
    (httpx keeps it in ``_content``; the drivers read it themselves to enforce limits)."""
    response._content = content


def _is_loopback(base_url: str | httpx.URL) -> bool:
    """127.0.0.0/8, ::1 or localhost: a server on this machine (the mock), never a provider."""
    host = httpx.URL(str(base_url)).host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _overall(timeout: float | httpx.Timeout | None) -> float | None:
    """The overall deadline of one exchange: the read timeout (a float is all four)."""
    if timeout is None:
        return None
    if isinstance(timeout, httpx.Timeout):
        return timeout.read
    return float(timeout)


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _maybe_await(result: Any) -> None:
    if inspect.isawaitable(result):
        await cast(Awaitable[Any], result)


#: the provider ids, for help texts and argument choices
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)
