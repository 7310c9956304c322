"""Every error the client raises, in one tree::

    SoraError
    ├── ConfigurationError (+ ValueError)   unknown provider, no API key, bad base URL
    ├── InvalidRequestError (+ ValueError)  the request breaks the provider's contract, or the
    │                                       image does not match `size`; nothing was sent
    ├── UnsupportedOperation                e.g. `get` in chat mode (no status endpoint)
    ├── APIError                            the provider answered with an error
    │   ├── AuthenticationError             401
    │   ├── PermissionDeniedError           403
    │   │   └── InsufficientBalanceError    403 (or 402, or OpenAI's 429 insufficient_quota)
    │   │                                   whose body speaks of balance or quota: not retried
    │   ├── NotFoundError                   404
    │   │   └── ModelUnavailableError       the model is not served (retired): any status
    │   ├── RateLimitError                  429 (`.retry_after` seconds, when given)
    │   ├── ContentPolicyError              400 content_policy_violation / moderation_blocked
    │   ├── BadRequestError                 any other 4xx
    │   ├── ServerError                     5xx
    │   └── UnexpectedResponseError         a 2xx body the client cannot read
    ├── GenerationFailedError               the job ended `failed` (`.job`, `.code`)
    ├── PollTimeoutError                    `wait` gave up (`.job`: the last state seen)
    ├── VideoNotReadyError                  download of a job that has not completed
    │   └── ContentTypeError                `/content` answered JSON (or HTML), not video
    ├── AmbiguousCreateError                a create may or may not have reached the provider;
    │                                       it was NOT retried (look the job up first)
    └── TransportError                      the HTTP exchange itself failed (from httpx)
        ├── ConnectError                    never reached the server (connect/pool failure)
        ├── ReadTimeoutError                no answer in time after the request was sent
        ├── NetworkError                    the connection broke while reading or writing
        ├── ProtocolError                   malformed HTTP from the server
        │   └── ResponseTooLargeError       an answer, an event-stream line or a download over
        │                                   its limit (a coded body counts decoded)
        └── IncompleteDownloadError         the body was shorter than its Content-Length

httpx exceptions are translated in one place, :func:`translate_transport_error`, and raised
``from`` the original. No message, ``str()`` or ``repr()`` of these ever contains the API key:
error bodies are redacted by the client before an :class:`APIError` is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from sora_client._models import Job

__all__ = [
    "APIError",
    "AmbiguousCreateError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConnectError",
    "ContentPolicyError",
    "ContentTypeError",
    "GenerationFailedError",
    "IncompleteDownloadError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "ModelUnavailableError",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "ProtocolError",
    "RateLimitError",
    "ReadTimeoutError",
    "ResponseTooLargeError",
    "ServerError",
    "SoraError",
    "TransportError",
    "UnexpectedResponseError",
    "UnsupportedOperation",
    "VideoNotReadyError",
    "translate_transport_error",
]


class SoraError(Exception):
    """Root of every error this package raises."""


class ConfigurationError(SoraError, ValueError):
    """The client cannot be built as asked: unknown provider, missing key, bad base URL."""


class InvalidRequestError(SoraError, ValueError):
    """The request breaks the provider's contract (or a rule JSON Schema cannot hold, such as
    the image's pixel size); nothing was sent, nothing was paid for.

    ``field`` names the offending field (``size``, ``input_reference``...) and ``rule`` says
    what it broke; ``problems`` lists every ``(field, rule)`` found.
    """

    def __init__(
        self,
        provider: str,
        field: str | None,
        rule: str,
        problems: Sequence[tuple[str | None, str]] = (),
    ) -> None:
        self.provider = provider
        self.field = field
        self.rule = rule
        unique: list[tuple[str | None, str]] = []
        for problem in list(problems) or [(field, rule)]:
            if problem not in unique:
                unique.append(problem)
        self.problems = unique
        # every problem is named: a user fixes them all in one go, not one per attempt
        text = "; ".join(f"{f}: {r}" if f else r for f, r in self.problems)
        super().__init__(f"invalid request for {provider}: {text}")


class UnsupportedOperation(SoraError):
    """The provider's API has no such operation (chat mode has no status endpoint)."""


class APIError(SoraError):
    """The provider answered with an error status.

    ``provider_code`` is the provider's own code (``moderation_blocked``, ``insufficient_quota``,
    ``003000095``...), ``request_id`` the ``x-request-id`` header when sent, ``body`` the parsed
    error body (or its text).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int,
        provider_code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.provider_code = provider_code
        self.request_id = request_id
        self.body = body
        code = f", {provider_code}" if provider_code else ""
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{provider} answered {status_code}{code}: {message}{rid}")


class AuthenticationError(APIError):
    """401: the API key is missing, malformed or not valid for this provider."""


class PermissionDeniedError(APIError):
    """403: the key may not do this."""


class InsufficientBalanceError(PermissionDeniedError):
    """The account has no money or quota left: top up. Relays answer 403 (one-api/new-api:
    ``insufficient_user_quota``, ``pre_consume_token_quota_failed``), OpenAI 429
    ``insufficient_quota``; never retried (waiting does not refill an account)."""


class NotFoundError(APIError):
    """404: no job with this id (for this provider and key)."""


class ModelUnavailableError(NotFoundError):
    """The provider does not serve the model asked for (``model_not_found``): it was retired
    (OpenAI shut its Sora 2 API down on 2026-09-24) or the relay has no route for it. Relays
    answer it with 503, OpenAI with 404; either way it is not retried, and a create refused
    so made no job."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ContentPolicyError(APIError):
    """The provider refused the prompt or image on content-policy grounds (a 400)."""


class BadRequestError(APIError):
    """Any other 4xx: the provider rejected the request."""


class ServerError(APIError):
    """5xx: the provider failed."""


class UnexpectedResponseError(APIError):
    """A success status whose body the client cannot read as the provider's job object."""


class GenerationFailedError(SoraError):
    """The job ended ``failed``. ``job`` is its last state; ``code`` the provider's code
    (Vtrix ``003000095``..., OpenAI-style ``error.code``), when it gives one."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.code = job.error_code
        code = f" ({job.error_code})" if job.error_code else ""
        reason = job.error_message or "no reason given"
        super().__init__(f"{job.provider} job {job.id} failed{code}: {reason}")


class PollTimeoutError(SoraError):
    """``wait`` gave up before the job ended. ``job`` is the last state seen: wait again
    later with it; the job itself goes on and is still billed."""

    def __init__(self, job: Job, timeout: float) -> None:
        self.job = job
        self.timeout = timeout
        super().__init__(
            f"{job.provider} job {job.id} still {job.status} "
            f"({job.progress:.0%}) after {timeout:g} s; wait again later"
        )


class VideoNotReadyError(SoraError):
    """A download was asked for a job that has not completed."""


class ContentTypeError(VideoNotReadyError):
    """The content endpoint answered something other than video (GPTProto sends the JSON job
    until the video is ready). No file was written."""

    def __init__(self, message: str, *, content_type: str, body: Any = None) -> None:
        self.content_type = content_type
        self.body = body
        super().__init__(message)


class AmbiguousCreateError(SoraError):
    """A create request may have reached the provider, but its answer was lost (read timeout,
    broken connection after sending) or was a 5xx. It was not retried, so at most one job
    exists: look for it (the provider's dashboard, or a list of jobs created after
    ``sent_at``) before creating again.
    """

    def __init__(
        self,
        *,
        provider: str,
        sent_at: datetime,
        request_id: str | None = None,
        status_code: int | None = None,
        reason: str,
    ) -> None:
        self.provider = provider
        self.sent_at = sent_at
        self.request_id = request_id
        self.status_code = status_code
        self.reason = reason
        rid = f", request id {request_id}" if request_id else ""
        super().__init__(
            f"the create request to {provider} sent at {sent_at.isoformat(timespec='seconds')} "
            f"may or may not have made a job ({reason}{rid}); it was not retried so that you "
            "are not charged twice: look the job up before creating it again"
        )


class TransportError(SoraError):
    """The HTTP exchange failed below the API (translated from httpx, raised ``from`` it)."""


class ConnectError(TransportError):
    """The request never reached the server (connection refused, DNS, connect/pool timeout)."""


class ReadTimeoutError(TransportError):
    """The request was (at least partly) sent, and no answer came in time."""


class NetworkError(TransportError):
    """The connection broke while the request or the answer was in flight."""


class ProtocolError(TransportError):
    """The server spoke malformed HTTP, or closed the connection mid-answer."""


class ResponseTooLargeError(ProtocolError):
    """The server sent more than the client accepts in one piece: a JSON answer over
    ``limit`` bytes, or an event-stream line over ``limit`` bytes. Reading on would only
    fill memory."""

    def __init__(self, message: str, *, limit: int) -> None:
        self.limit = limit
        super().__init__(message)


class IncompleteDownloadError(TransportError):
    """The video body ended (or the connection broke) before its Content-Length, and every
    resume attempt did too. ``received`` and ``expected`` are byte counts (``expected`` is
    None when the server gave no length)."""

    def __init__(self, message: str, *, received: int = 0, expected: int | None = None) -> None:
        self.received = received
        self.expected = expected
        super().__init__(message)


class BodyTooLarge(httpx.DecodingError):
    """Raised by the drivers (as an httpx error, so flows treat it like one) when an answer
    outgrows the client's limit; translated to :class:`ResponseTooLargeError`."""

    def __init__(self, message: str, *, limit: int, request: httpx.Request | None = None) -> None:
        self.limit = limit
        super().__init__(message, request=request)


#: httpx exceptions that prove the request never left this machine
NEVER_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def translate_transport_error(exc: httpx.HTTPError, provider: str) -> TransportError:
    """The one place httpx errors become this package's errors (the caller raises ``from``)."""
    what = type(exc).__name__
    detail = str(exc) or what
    if isinstance(exc, BodyTooLarge):
        return ResponseTooLargeError(f"{provider} {exc}", limit=exc.limit)
    if isinstance(exc, NEVER_SENT):
        return ConnectError(f"could not reach {provider}: {detail}")
    if isinstance(exc, httpx.TimeoutException):
        return ReadTimeoutError(f"{provider} did not answer in time ({what}): {detail}")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError)):
        return ProtocolError(f"malformed answer from {provider} ({what}): {detail}")
    if isinstance(exc, httpx.TooManyRedirects):
        return ProtocolError(f"{provider} redirected too many times: {detail}")
    return NetworkError(f"connection to {provider} failed ({what}): {detail}")
