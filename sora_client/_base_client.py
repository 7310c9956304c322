"""What ``SoraClient`` and ``AsyncSoraClient`` share (``_BaseClient``): the options and their
defaults, the adapter and the flows' core, the clock, the body limit, the transport errors
translated; and the helpers both drivers use on a response."""

from __future__ import annotations

import ipaddress
import logging
import os
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx

from sora_client._core import Core
from sora_client._exceptions import BodyTooLarge, ConfigurationError, translate_transport_error
from sora_client._exchanges import DEFAULT_MAX_DOWNLOAD
from sora_client._files import use_models_file, use_provider_files
from sora_client._flow import Flow
from sora_client._images import ImageInput
from sora_client._models import Job
from sora_client._providers import adapter_class
from sora_client._retry import RetryPolicy
from sora_client._waiting import ProgressCallback

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
