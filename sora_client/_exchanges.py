"""One exchange with the provider, as a sans-I/O flow (see ``_flow``): a read sent with the retry
policy, a body read within its limits and deadline, a job parsed from it. The base of every
flow of ``_core``, ``_waiting`` and ``_downloads``."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import httpx

from sora_client._exceptions import (
    AmbiguousCreateError,
    RateLimitError,
    ServerError,
    SoraError,
    UnexpectedResponseError,
    UnsupportedOperation,
    translate_transport_error,
)
from sora_client._flow import Close, Flow, Now, Read, Send, Sleep
from sora_client._models import Job
from sora_client._providers import Adapter
from sora_client._providers.base import request_id
from sora_client._retry import RETRYABLE_STATUS, RetryPolicy

log = logging.getLogger("sora_client")

#: error bodies read from a streamed response are cut here
MAX_ERROR_BODY = 1 << 20

#: the largest file download() saves unless told otherwise (a 25 s 1792x1024 Sora video is
#: tens of MB): an endless or runaway body stops here instead of filling the disk
DEFAULT_MAX_DOWNLOAD = 1 << 30


class Exchanges:
    """The client's state (adapter, retry policy, poll interval, limits) and the exchanges every
    flow is made of."""

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

    def _json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise self.adapter.unexpected(
                response, "the body is not JSON", response.content[:500].decode("utf-8", "replace")
            ) from None

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
