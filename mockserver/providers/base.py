"""What every dialect is made of, and the registry they join.

A dialect is one provider API (one contract). It names the contract it serves, the URL prefix
that stands in for the provider's host, how the provider spells errors, and one handler per
contract operation. It translates; it does not decide: auth, faults, rate limits, validation
and the lifecycle are applied around the handler by ``mockserver.http.binding``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from flask import Request, Response

import contracts
from mockserver.state.faults import Selected
from mockserver.state.lifecycle import Job, JobState, key_fingerprint
from mockserver.state.service import MockService

Handler = Callable[["Dialect", "Context"], Response]


@dataclass
class Context:
    """One validated request, as a handler sees it."""

    request: Request
    operation: contracts.Operation
    #: the unmarshalled body (defaults applied), or None
    body: Any
    path: dict[str, Any]
    query: dict[str, Any]
    api_key: str
    scenario: Selected | None
    #: the URL prefix standing in for the provider's host, e.g. ``gptge``
    prefix: str

    @property
    def owner(self) -> str:
        return key_fingerprint(self.api_key)

    @property
    def host_url(self) -> str:
        return self.request.host_url.rstrip("/")

    @property
    def base_url(self) -> str:
        """The provider base URL on this mock, e.g. http://127.0.0.1:8000/gptge (worked out
        only when a handler asks: most answers hold no URL)."""
        return f"{self.host_url}/{self.prefix}"


F = TypeVar("F", bound=Callable[..., Response])


def handles(operation_id: str) -> Callable[[F], F]:
    """Mark a dialect method as the handler of one contract operation."""

    def mark(func: F) -> F:
        func.__operation_id__ = operation_id  # type: ignore[attr-defined]
        return func

    return mark


class Dialect:
    #: the contract this dialect serves (``contracts/<name>.yaml``)
    contract_name: ClassVar[str]
    #: the URL prefix standing in for the provider's host
    prefix: ClassVar[str]
    #: id prefix of the jobs it creates
    id_prefix: ClassVar[str] = "video_"
    #: (code, message) of a job that fails with no code chosen
    failure: ClassVar[tuple[str, str]] = ("generation_failed", "The video generation failed")
    #: operations that create a job (create-time scenarios apply to them only)
    create_operations: ClassVar[frozenset[str]] = frozenset()
    #: the error family: a key of mockserver.providers.errors.SCENARIO_CODES
    family: ClassVar[str]
    #: seconds from completion to the contract's `expires_at`, when the contract fills it (the
    #: job is purged then); None: the job is kept `--retention` (contracts/README.md)
    expiry_seconds: ClassVar[int | None] = None

    def __init__(self, service: MockService) -> None:
        self.service = service
        self.contract = contracts.load(self.contract_name)
        self.handlers: dict[str, Handler] = {}
        for attr in dir(type(self)):
            func = getattr(type(self), attr)
            op_id = getattr(func, "__operation_id__", None)
            if op_id is not None:
                self.contract.operation(op_id)  # a handler for an unknown operation is a bug
                self.handlers[op_id] = func
        missing = set(self.contract.operations) - set(self.handlers)
        if missing:
            raise TypeError(f"{type(self).__name__} serves no handler for {sorted(missing)}")

    @property
    def name(self) -> str:
        return self.contract_name

    # ---------------------------------------------------------------- provider's words

    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        """The provider's own error body. Overridden per error family."""
        raise NotImplementedError

    def scenario_code(self, scenario: str) -> str | None:
        from mockserver.providers.errors import SCENARIO_CODES

        return SCENARIO_CODES[self.family].get(scenario)

    def render(self, job: Job, state: JobState, ctx: Context) -> dict[str, Any]:
        """The provider's view of a job."""
        raise NotImplementedError

    def refuse_model(self, ctx: Context, model: str) -> Response | None:
        """The provider's "model not found" when ``model`` is retired (``--retired-model``)
        or the ``model_unavailable`` scenario applies; None otherwise. Every create handler
        asks first: nothing is stored for a refused create."""
        from mockserver.http.responses import error_response
        from mockserver.providers.errors import MODEL_NOT_FOUND

        scenario = ctx.scenario
        chosen = scenario is not None and scenario.scenario == "model_unavailable"
        if not chosen and model not in self.service.config.retired_models:
            return None
        status, code, message = MODEL_NOT_FOUND[self.family]
        return error_response(self, status, message.format(model=model), code=code, param="model")

    # ---------------------------------------------------------------- reference images

    def reference_image(
        self, ctx: Context, url: str, param: str, size: tuple[int, int] | None, mismatch: str
    ) -> tuple[bytes | None, list[str]] | Response:
        """Resolve an image URL (data:, the mock's own, or remote if allowed) and check it.

        Returns (bytes or None for a placeholder, notes), or the provider's 400 response.
        """
        from mockserver import media
        from mockserver.http.hosts import OwnHosts
        from mockserver.http.responses import error_response

        own = OwnHosts(ctx.request, self.service.config.bind_host)
        try:
            resolved = self.service.resolve_image_url(url, own)
        except media.ImageError as exc:
            return error_response(self, 400, str(exc), param=param)
        if resolved.data is None:
            return None, [resolved.note] if resolved.note else []
        refused = self.check_image(resolved.data, param, size, mismatch)
        return refused if refused is not None else (resolved.data, [])

    def check_image(
        self,
        image: bytes,
        param: str,
        size: tuple[int, int] | None,
        mismatch: str,
        digest: bytes | None = None,
    ) -> Response | None:
        """The provider's 400 for an image that does not decode or whose size is not ``size``
        (``digest``: the image's SHA-256, when the caller has it)."""
        from mockserver import media
        from mockserver.http.responses import error_response

        try:
            width, height, _ = media.probe_image(image, digest)
        except media.ImageError as exc:
            return error_response(self, 400, str(exc), param=param)
        if size is not None and (width, height) != size:
            return error_response(
                self,
                400,
                f"{mismatch} ({width}x{height} given, {size[0]}x{size[1]} expected).",
                param=param,
            )
        return None

    def new_job(self, ctx: Context, **fields: Any) -> Job:
        """A job of this dialect's API, owned by the request's key, with its scenario applied."""
        from mockserver.http import exchange

        fields.setdefault("id_prefix", self.id_prefix)
        fields.setdefault("expires_after_completion", self.expiry_seconds)
        job = self.service.create_job(
            api=self.name, owner=ctx.owner, scenario=ctx.scenario, failure=self.failure, **fields
        )
        notes = exchange.current()
        if notes is not None:
            notes.job_id = job.id  # the journal links the create to its job
        return job

    # ---------------------------------------------------------------- auth, from the contract

    def credentials(self, request: Request) -> str | None:
        """The API key, if the Authorization header is in a form the contract allows."""
        # (the header as Werkzeug's ``request.headers`` reads it: the environ's value)
        header = request.environ.get("HTTP_AUTHORIZATION", "").strip()
        if not header:
            return None
        bearer_ok, raw_ok = self._key_forms()
        scheme, _, token = header.partition(" ")
        if bearer_ok and scheme.lower() == "bearer":
            return token.strip() or None
        if raw_ok and " " not in header:
            return header
        return None

    def _key_forms(self) -> tuple[bool, bool]:
        """Whether the contract's security schemes take a ``Bearer`` key, and a raw key in
        ``Authorization``: read once per contract (a contract is not changed once loaded)."""
        contract = self.contract
        known = self.__dict__.get("_forms")
        if known is not None and known[0] is contract:
            return known[1]
        schemes = contract.security_schemes.values()
        bearer_ok = any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes)
        raw_ok = any(
            s.get("type") == "apiKey" and s.get("name", "").lower() == "authorization"
            for s in schemes
        )
        self._forms = (contract, (bearer_ok, raw_ok))
        return bearer_ok, raw_ok


DIALECTS: dict[str, type[Dialect]] = {}


def register(cls: type[Dialect]) -> type[Dialect]:
    if cls.contract_name in DIALECTS:
        raise ValueError(f"a dialect for {cls.contract_name!r} is already registered")
    DIALECTS[cls.contract_name] = cls
    return cls
