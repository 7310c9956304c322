"""The client's logic, once, as sans-I/O flows (see ``_flow``): create, get, wait, download.

Nothing here sends a byte or sleeps; ``SoraClient`` and ``AsyncSoraClient`` perform the
actions these generators yield. The retry policy is in ``_retry``; the provider's words in
``_providers``.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from sora_client._downloads import Downloads
from sora_client._exceptions import (
    NEVER_SENT,
    AmbiguousCreateError,
    InvalidRequestError,
    ModelUnavailableError,
    RateLimitError,
    SoraError,
    UnexpectedResponseError,
    translate_transport_error,
)
from sora_client._flow import Close, Flow, Send, Sleep
from sora_client._images import ImageInput, check_matches, load_image
from sora_client._models import Job
from sora_client._providers import CreateSpec
from sora_client._providers.base import request_id
from sora_client._waiting import Waiting

log = logging.getLogger("sora_client")

#: redirects of a create followed (307/308 to the same origin only)
MAX_CREATE_REDIRECTS = 5


class Core(Waiting, Downloads):
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

    # ================================================================== wait

    # ================================================================== chat mode

    # ================================================================== download

    # ================================================================== helpers


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


def _moved(request: httpx.Request, url: httpx.URL) -> httpx.Request:
    """The same request (method, headers, body) to a new URL of the same origin."""
    return httpx.Request(request.method, url, headers=request.headers, content=request.content)
