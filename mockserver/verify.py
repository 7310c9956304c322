"""``sora-mock verify``: check a live provider against its contract, on demand, and report drift.

What it sends, in order (nothing else, ever):

1. **Free probes.** A read with no credentials (the contract's 401 is expected), a read of an
   id that cannot exist for every ``GET`` operation with a path parameter (any error the
   contract allows, normally 404; a 2xx is drift), and every list operation.
2. **At most ``--max-creates`` paid creates** (default 1), each built from the contract's own
   documented request example; a multipart create whose reference image is required gets a
   PNG of the example's ``size`` drawn with Pillow. The cap is enforced where requests are
   sent: any authenticated request that is not a ``GET`` counts, and the one after the cap
   raises instead of going out.
3. **The contract's OpenAPI ``links``** from each create response: the status operation is
   polled (``--poll-interval``, at most ``--max-polls`` reads and ``--poll-seconds`` of wall
   time, through an injectable ``sleep``) until the job ends, then every other ``GET`` link
   (the content) is read once. Links to operations that write (remix, delete) are listed, not
   followed. A streamed create (``text/event-stream``) is read to its end within the same
   wall-time budget, each event checked as it comes against the media type's ``schema`` (the
   OpenAPI 3.1 reading: the schema of one event, ``data`` a JSON string with a
   ``contentSchema`` or the ``[DONE]`` terminator); ``x-sse-data-schema`` is read too. A
   test passes ``stream_pause`` to step a virtual clock between two events.
   If no free probe got an answer, nothing that costs money is sent.
4. **Generated read cases.** ``schemathesis.openapi.from_dict(spec)`` (an explicit, empty
   ``SchemathesisConfig`` so no ``schemathesis.toml`` of the working directory changes what
   is sent) with the base URL configured; for every ``GET`` operation,
   ``operation.as_strategy()`` in positive mode is drawn ``--generated`` times (default 10,
   derandomized, no example database) under hypothesis' generate phase only. Each case is
   turned into a request with ``case.as_transport_kwargs()`` and sent through this module's
   own httpx client, so the hard cap, the timeout and the redaction apply to it like to any
   other request. Operations other than ``GET`` are never generated: that would cost money.
   Cases holding an ASCII control character are dropped (see ``_has_control_characters``).

Every response is validated with the contract's own ``Contract.validate_response``
(openapi-core), not with schemathesis' ``case.validate_response()``. That is the validator the
mock's strict mode and the test-suite use, so "the mock is clean" and "the provider is clean"
mean the same thing; it returns one ``Problem`` per field with its path, which becomes the
report's JSON pointer; and it judges only what the contract says. schemathesis' checks raise
one aggregated exception of prose, and some of them are wrong for this job: a read of a
generated (random) id is *expected* to answer 404, which ``positive_data_acceptance`` reports
as a failure. For generated cases the validation request carries the operation's path
template filled with a plain placeholder, so an id that decodes to something odd (``a/b``)
cannot make the provider's answer look like a route problem. A stream's body is not handed to
``validate_response`` as a whole (its schema is one event): only its status and headers are,
as ``tests/test_strategies.py`` does.

Known gap (contracts/_validation.py, not this module): ``Contract.validate_response`` rejects
every ``video/mp4`` body ("b'...' is not of type 'string'"): a run that downloads a finished
video reports that as drift until the validator maps a decoder to ``video/mp4``.

Secrets: one :class:`Redactor` (``redact()``) is applied by every writer (console, Markdown,
JUnit XML, exception messages), masking the key, ``Authorization``-like headers, JSON fields
named like key/token/secret/authorization, secret query parameters and URL user-info, and
token-looking strings; the report files get a final pass replacing the literal key too.

Exit codes: 0 no drift (or skipped: no key), 1 drift or a request that could not be
completed, 2 usage error.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import logging
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlsplit

import httpx

import contracts
from contracts import Contract, ContractViolation, OpenAPIResponse, Operation
from contracts._sse import EventStreamChecker, sse_event

#: provider name on the command line -> (contract name, environment variable of its key)
PROVIDERS: dict[str, tuple[str, str]] = {
    "gptproto-v3": ("gptproto-v3", "GPTPROTO_API_KEY"),
    "gptproto-videos": ("gptproto-videos", "GPTPROTO_API_KEY"),
    "gptproto-chat": ("gptproto-chat", "GPTPROTO_API_KEY"),
    "gptge": ("gptge-videos", "GPTGE_API_KEY"),
    "vtrix": ("vtrix-generation", "VTRIX_API_KEY"),
}

REDACTED = "[REDACTED]"
#: an id no provider can have issued
UNKNOWN_ID = "sora-mock-verify-no-such-id-0000000000"
#: status words after which a job never changes
TERMINAL_WORDS = frozenset(
    {"completed", "succeeded", "success", "failed", "error", "cancelled", "canceled", "expired"}
)
EXCERPT_CHARS = 400
USER_AGENT = "sora-mock-verify/0.1 (+contract verification)"

Sleep = Callable[[float], None]
#: schemathesis schemas by contract name (see Verifier.generated_specs)
_ST_SCHEMAS: dict[str, Any] = {}


# ============================================================================ redaction

#: words that make a header, JSON field or query parameter name secret
_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "authorization",
        "auth",
        "secret",
        "password",
        "passwd",
        "signature",
        "cookie",
        "credential",
        "credentials",
    }
)
_SECRET_JOINED = frozenset(
    {"apikey", "xapikey", "accesstoken", "refreshtoken", "idtoken", "clientsecret", "setcookie"}
)
_NAME_VALUE = re.compile(
    r"""(?ix)
    (?<![\w-])
    (?P<q>["']?)
    (?P<name>[\w-]*(?:api[_-]?key|token|secret|password|passwd|authorization)[\w-]*|key)
    (?P=q)
    (?P<sep>\s*[:=]\s*)
    (?P<vq>["']?)
    (?P<value>(?>(?:(?:bearer|basic)\s+)?)(?!\[REDACTED\]|(?:null|true|false)\b)[^\s"'&,;})\]]+)
    """
)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?i)\b(bearer|basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{4,}"),
        r"\1 " + REDACTED,
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@"), r"\1" + REDACTED + "@"),
)
#: literal secrets shorter than this are not replaced in free text (it would garble the report)
MIN_LITERAL_SECRET = 6


def is_secret_name(name: str) -> bool:
    """True for names like ``Authorization``, ``api_key``, ``apiKey``, ``X-Api-Key``, ``token``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", spaced) if w]
    if not words:
        return False
    return "".join(words) in _SECRET_JOINED or any(w in _SECRET_WORDS for w in words)


class Redactor:
    """Masks secrets in any value a writer is about to output; the one redaction of this module.

    Strings lose every literal secret (and its URL- and JSON-escaped forms), secret-looking
    ``name=value``/``name: value`` pairs, ``Bearer``/``Basic`` credentials, ``sk-...`` keys, JWTs
    and URL user-info. Mappings (headers, JSON objects) lose the values of secret-named keys
    and are redacted recursively, as are lists and tuples; bytes are decoded first.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_LITERAL_SECRET:
                forms |= {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
        self.literals = sorted(forms, key=len, reverse=True)

    def text(self, value: str) -> str:
        for literal in self.literals:
            value = value.replace(literal, REDACTED)
        value = _NAME_VALUE.sub(
            lambda m: f"{m['q']}{m['name']}{m['q']}{m['sep']}{m['vq']}{REDACTED}", value
        )
        for pattern, replacement in _TEXT_PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, httpx.Headers):
            return [self((k, v)) for k, v in value.multi_items()]
        if isinstance(value, Mapping):
            return {
                k: (REDACTED if is_secret_name(str(k)) and v not in (None, "") else self(v))
                for k, v in value.items()
            }
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            name, inner = value
            return (name, REDACTED if is_secret_name(name) else self(inner))
        if isinstance(value, list | tuple):
            return type(value)(self(v) for v in value)
        if isinstance(value, BaseException):
            return self.text(f"{type(value).__name__}: {value}")
        return value

    def final_pass(self, text: str) -> str:
        """The last step before a report file is written: no literal key survives, whatever."""
        text = self.text(text)
        for literal in self.literals:
            text = text.replace(literal, REDACTED)
        return text


def redact(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """Redact one value (see :class:`Redactor`)."""
    return Redactor(secrets)(value)


# ============================================================================ results


@dataclass
class Drift:
    """One thing the provider answered that the contract does not allow."""

    where: str  # JSON pointer, "header X", "status code", "SSE event N /pointer", ...
    message: str


@dataclass
class Exchange:
    """One request sent and what came back."""

    kind: str
    method: str
    url: str
    status: int | None = None
    seconds: float = 0.0
    content_type: str = ""
    problems: list[Drift] = field(default_factory=list)
    error: str | None = None
    excerpt: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class OperationResult:
    operation: Operation
    exchanges: list[Exchange] = field(default_factory=list)
    not_sent: str | None = None

    @property
    def drift(self) -> list[tuple[Exchange, Drift]]:
        return [(x, p) for x in self.exchanges for p in x.problems]

    @property
    def errors(self) -> list[Exchange]:
        return [x for x in self.exchanges if x.error]

    @property
    def statuses(self) -> Counter[str]:
        return Counter(
            str(x.status) if x.status is not None else "no answer" for x in self.exchanges
        )


@dataclass
class RunResult:
    provider: str
    contract: Contract
    base_url: str
    max_creates: int
    started: str
    operations: dict[str, OperationResult]
    seconds: float = 0.0
    creates_sent: int = 0
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def drift_count(self) -> int:
        return sum(len(o.drift) for o in self.operations.values())

    @property
    def error_count(self) -> int:
        return sum(len(o.errors) for o in self.operations.values())

    @property
    def requests(self) -> int:
        return sum(len(o.exchanges) for o in self.operations.values())

    @property
    def ok(self) -> bool:
        return self.drift_count == 0 and self.error_count == 0


class CreateCapReached(RuntimeError):
    """A paid request was about to be sent past ``--max-creates``: it was not sent."""


# ============================================================================ planning


@dataclass
class RequestSpec:
    """A request this run will (or, in a dry run, would) send."""

    kind: str
    operation: Operation
    method: str
    path: str  # relative to the base URL, already formatted
    auth: bool = True
    query: list[tuple[str, Any]] = field(default_factory=list)
    json_body: Any = None
    multipart: dict[str, tuple[str | None, Any, str | None]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: status the contract says this probe must get (None: whatever the contract allows)
    expect_status: int | None = None
    #: True: a 2xx is drift (the id cannot exist)
    expect_error: bool = False
    #: the operation's path with a placeholder for every parameter (for validation)
    template_path: str | None = None


def _png(width: int, height: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (width // 4, height // 3, 3 * width // 4, height // 3 + width // 2), fill=(230, 180, 60)
    )
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _pointer_get(document: Any, pointer: str) -> Any:
    """Follow a JSON pointer (``/data/id``); raise KeyError when it leads nowhere."""
    node = document
    parts = pointer.split("/")[1:] if pointer else []
    for raw in parts:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(pointer)
    return node


def _pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _fill_path(template: str, values: Mapping[str, Any]) -> str:
    return re.sub(
        r"\{([^}]+)\}", lambda m: quote(str(values.get(m.group(1), "")), safe=":@-._~"), template
    )


def _safe_excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class Verifier:
    """One verification run of one provider's contract against one base URL."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        api_key: str,
        *,
        max_creates: int = 1,
        timeout: float = 60.0,
        poll_seconds: float = 600.0,
        poll_interval: float = 10.0,
        max_polls: int = 60,
        generated: int = 10,
        sleep: Sleep = time.sleep,
        stream_pause: float = 0.0,
        out: TextIO | None = None,
        transport: httpx.BaseTransport | None = None,
        image_url: str | None = None,
    ) -> None:
        contract_name, _ = PROVIDERS[provider]
        #: replaces the example's reference image URL in JSON creates (`images`, `input_reference`)
        self.image_url = image_url
        self.provider = provider
        self.contract = contracts.load(contract_name)
        self.base_url = base_url.rstrip("/")
        self.strip_prefix = urlsplit(self.base_url).path.rstrip("/")
        self.api_key = api_key
        self.max_creates = max_creates
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.generated = generated
        self._sleep_fn = sleep
        #: clock seconds to sleep between two events of a stream (0: read as they come)
        self.stream_pause = stream_pause
        self.out = out if out is not None else sys.stdout
        self.transport = transport
        self.redact = Redactor([api_key])
        self.creates_sent = 0
        self._client: httpx.Client | None = None
        self.result = RunResult(
            provider=provider,
            contract=self.contract,
            base_url=self.redact(self.base_url),
            max_creates=max_creates,
            started=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            operations={
                op_id: OperationResult(op) for op_id, op in self.contract.operations.items()
            },
        )

    # ------------------------------------------------------------------ output

    def say(self, message: str) -> None:
        print(self.redact(message), file=self.out)

    def sleep(self, seconds: float) -> None:
        self._sleep_fn(seconds)

    # ------------------------------------------------------------------ the contract

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            node = self.contract.resolve(node["$ref"])
        return node

    def _response_def(self, op: Operation, status: int | str) -> Mapping[str, Any]:
        responses = op.definition.get("responses", {})
        found = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        return self._resolve(found) if found else {}

    def _security_header(self) -> dict[str, str]:
        schemes = self.contract.security_schemes
        for requirement in self.contract.spec.get("security", []):
            for name in requirement:
                scheme = schemes.get(name, {})
                if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
                    return {"Authorization": f"Bearer {self.api_key}"}
                if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                    return {scheme["name"]: self.api_key}
        return {"Authorization": f"Bearer {self.api_key}"}

    def _ops(self, method: str) -> list[Operation]:
        return [op for op in self.contract.operations.values() if op.method == method]

    @staticmethod
    def _params(op: Operation) -> list[str]:
        return re.findall(r"\{([^}]+)\}", op.path)

    def _template_path(self, op: Operation) -> str:
        return _fill_path(op.path, dict.fromkeys(self._params(op), "placeholder"))

    def create_operations(self) -> list[Operation]:
        """POST operations without a path parameter: each creates a (paid) job."""
        return [op for op in self._ops("post") if not self._params(op)]

    def _link_targets(self, op: Operation) -> list[tuple[str, Operation, Mapping[str, Any]]]:
        links: list[tuple[str, Operation, Mapping[str, Any]]] = []
        for status, response in op.definition.get("responses", {}).items():
            if not str(status).startswith("2"):
                continue
            for name, link in (self._resolve(response).get("links") or {}).items():
                link = self._resolve(link)
                target = self.contract.operation(link["operationId"])
                if all(name != seen for seen, _, _ in links):
                    links.append((name, target, link.get("parameters") or {}))
        return links

    def _is_json_only(self, op: Operation) -> bool:
        content = self._response_def(op, 200).get("content") or {}
        return bool(content) and set(content) == {"application/json"}

    def _status_link(
        self, links: Sequence[tuple[str, Operation, Mapping[str, Any]]]
    ) -> tuple[str, Operation, Mapping[str, Any]] | None:
        gets = [link for link in links if link[1].method == "get"]
        return next((link for link in gets if self._is_json_only(link[1])), None) or (
            gets[0] if gets else None
        )

    def _example_body(self, op: Operation) -> tuple[str, Any]:
        content = (self._resolve(op.definition.get("requestBody")) or {}).get("content") or {}
        for media_type, media in content.items():
            examples = media.get("examples") or {}
            for example in examples.values():
                example = self._resolve(example)
                if "value" in example:
                    return media_type, copy.deepcopy(example["value"])
            if "example" in media:
                return media_type, copy.deepcopy(media["example"])
        raise LookupError(f"{op.operation_id} documents no request example")

    def _body_schema(self, op: Operation, media_type: str) -> Mapping[str, Any]:
        content = (self._resolve(op.definition.get("requestBody")) or {}).get("content") or {}
        return self._resolve((content.get(media_type) or {}).get("schema") or {})

    # ------------------------------------------------------------------ the plan

    def probe_specs(self) -> list[RequestSpec]:
        specs: list[RequestSpec] = []
        gets = self._ops("get")
        with_id = [op for op in gets if self._params(op)]
        linked = {
            t.operation_id for c in self.create_operations() for _, t, _ in self._link_targets(c)
        }
        first_read = next((op for op in with_id if op.operation_id in linked), None) or next(
            iter(with_id or gets), None
        )
        if first_read is not None:
            path = _fill_path(first_read.path, dict.fromkeys(self._params(first_read), UNKNOWN_ID))
            specs.append(
                RequestSpec(
                    "probe: no credentials", first_read, "GET", path, auth=False, expect_status=401
                )
            )
        elif self.create_operations():
            create = self.create_operations()[0]
            spec = self.create_spec(create, kind="probe: no credentials")
            spec.auth = False
            spec.expect_status = 401
            specs.append(spec)
        for op in with_id:
            path = _fill_path(op.path, dict.fromkeys(self._params(op), UNKNOWN_ID))
            specs.append(RequestSpec("probe: unknown id", op, "GET", path, expect_error=True))
        for op in gets:
            if not self._params(op):
                specs.append(RequestSpec("probe: list", op, "GET", op.path))
        for spec in specs:
            if spec.expect_status is not None and str(spec.expect_status) not in (
                spec.operation.definition.get("responses") or {}
            ):
                spec.expect_status, spec.expect_error = None, True
        return specs

    def create_spec(self, op: Operation, kind: str = "paid create") -> RequestSpec:
        """The create request built from the contract's own documented example."""
        media_type, body = self._example_body(op)
        spec = RequestSpec(kind, op, op.method.upper(), op.path)
        if media_type == "application/json":
            if self.image_url and isinstance(body, dict):
                # the contracts' example URLs are illustrations a live provider may not fetch
                if "images" in body:
                    body["images"] = [self.image_url]
                if "input_reference" in body:
                    body["input_reference"] = self.image_url
            spec.json_body = body
        elif media_type == "multipart/form-data":
            schema = self._body_schema(op, media_type)
            parts: dict[str, tuple[str | None, Any, str | None]] = {
                k: (None, str(v), None) for k, v in body.items()
            }
            properties = schema.get("properties") or {}
            for name in schema.get("required") or []:
                prop = self._resolve(properties.get(name) or {})
                if name not in parts and prop.get("format") == "binary":
                    size = str(
                        body.get("size")
                        or self._resolve(properties.get("size") or {}).get("default")
                    )
                    match = re.fullmatch(r"(\d+)x(\d+)", size)
                    width, height = (int(match[1]), int(match[2])) if match else (720, 1280)
                    parts[name] = (
                        f"reference-{width}x{height}.png",
                        _png(width, height),
                        "image/png",
                    )
            spec.multipart = parts
        else:
            raise LookupError(f"{op.operation_id}: cannot send a {media_type} example")
        return spec

    def generated_specs(self) -> list[RequestSpec]:
        """Positive read cases generated by schemathesis from the contract (GET only)."""
        if self.generated <= 0:
            return []
        try:
            import schemathesis
            from schemathesis.config import SchemathesisConfig
        except ImportError:  # pragma: no cover - schemathesis is in the dev extra
            self.result.notes.append(
                "generated read cases skipped: schemathesis is not installed "
                "(pip install -e '.[dev]')"
            )
            return []
        schema = _ST_SCHEMAS.get(self.contract.name)
        if schema is None:  # loading costs ~0.5 s: once per contract and process
            schema = schemathesis.openapi.from_dict(
                copy.deepcopy(self.contract.spec), config=SchemathesisConfig()
            )
            _ST_SCHEMAS[self.contract.name] = schema
        schema.config.update(base_url=self.base_url)
        specs: list[RequestSpec] = []
        for op in self._ops("get"):
            st_op = schema[op.path][op.method.upper()]
            cases = self._draw(st_op.as_strategy())
            seen: set[str] = set()
            for case in cases:
                # schemathesis hands path parameters over percent-encoded
                path_values = [unquote(str(v)) for v in (case.path_parameters or {}).values()]
                if _has_control_characters([path_values, case.query, case.headers]):
                    continue
                kwargs = case.as_transport_kwargs(base_url=self.base_url)
                request = httpx.Request(
                    kwargs["method"], kwargs["url"], params=kwargs.get("params")
                )
                if str(request.url) in seen or len(seen) >= self.generated:
                    continue
                seen.add(str(request.url))
                headers = {
                    k: str(v)
                    for k, v in (kwargs.get("headers") or {}).items()
                    if k.lower()
                    not in {"user-agent", "accept-encoding", "connection", "authorization"}
                }
                path = str(request.url)[len(self.base_url) :].split("?", 1)[0]
                specs.append(
                    RequestSpec(
                        "generated",
                        op,
                        "GET",
                        path,
                        query=list(request.url.params.multi_items()),
                        headers=headers,
                        template_path=self._template_path(op),
                    )
                )
        return specs

    def _draw(self, strategy: Any) -> list[Any]:
        """Up to ``--generated`` cases of a strategy: derandomized, no example database."""
        from hypothesis import HealthCheck, Phase, given, settings

        cases: list[Any] = []

        @given(strategy)
        @settings(
            # drawn three times over: control-character cases and duplicates are dropped
            max_examples=3 * self.generated,
            database=None,
            deadline=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
        return cases

    def not_sent_reasons(self) -> dict[str, str]:
        reasons: dict[str, str] = {}
        creates = self.create_operations()
        for index, op in enumerate(creates):
            if index >= self.max_creates:
                reasons[op.operation_id] = (
                    f"not sent: --max-creates {self.max_creates} (a create costs money)"
                )
        for op in self.contract.operations.values():
            if op.method in ("get",) or op in creates:
                continue
            if op.method == "delete":
                reasons[op.operation_id] = (
                    "not sent: it deletes data (verify only reads and creates)"
                )
            else:
                reasons[op.operation_id] = (
                    f"not sent: {op.method.upper()} on an existing job would cost money "
                    "or change it"
                )
        return reasons

    # ------------------------------------------------------------------ dry run

    def describe(self, spec: RequestSpec) -> str:
        url = self.base_url + spec.path
        if spec.query:
            url = str(httpx.URL(url, params=spec.query))
        auth = (
            "; ".join(f"{k}: {REDACTED}" for k in self._security_header())
            if spec.auth
            else "no Authorization"
        )
        body = ""
        if spec.json_body is not None:
            body = " json " + _summary(self.redact(spec.json_body))
        elif spec.multipart is not None:
            parts = []
            for name, (filename, value, ctype) in spec.multipart.items():
                if filename is not None:
                    parts.append(f"{name}=<{ctype} file {filename}, {len(value)} bytes>")
                else:
                    parts.append(f"{name}={_short(self.redact({name: value})[name])}")
            body = " multipart {" + ", ".join(parts) + "}"
        expect = ""
        if spec.expect_status:
            expect = f" (expect {spec.expect_status})"
        elif spec.expect_error:
            expect = " (expect an error the contract allows)"
        return f"[{spec.kind}] {spec.method} {url}{body} [{auth}]{expect}"

    def dry_run(self) -> None:
        self.say(
            f"sora-mock verify {self.provider}: DRY RUN against {self.base_url} "
            f"(contract {self.contract.name}); nothing is sent"
        )
        number = 0

        def line(text: str) -> None:
            nonlocal number
            number += 1
            self.say(f"{number:3}. {text}")

        for spec in self.probe_specs():
            line(self.describe(spec))
        for op in self.create_operations()[: self.max_creates]:
            line(self.describe(self.create_spec(op)))
            if "text/event-stream" in (self._response_def(op, 200).get("content") or {}):
                self.say(
                    f"       a streamed answer is read event by event, at most "
                    f"{self.poll_seconds:g} s, each event checked against the contract"
                )
            links = self._link_targets(op)
            status = self._status_link(links)
            for name, target, params in links:
                where = ", ".join(f"{k}={v}" for k, v in params.items())
                if target.method != "get":
                    line(f"[link {name}] not followed: {target.method.upper()} {target.path}")
                elif status is not None and target is status[1]:
                    line(
                        f"[link {name}] GET {self.base_url}{target.path} ({where}), polled every "
                        f"{self.poll_interval:g} s until the job ends, at most {self.max_polls} "
                        f"times or {self.poll_seconds:g} s"
                    )
                else:
                    line(
                        f"[link {name}] GET {self.base_url}{target.path} ({where}) "
                        "once the job ends"
                    )
        for spec in self.generated_specs():
            line(self.describe(spec))
        for op_id, reason in self.not_sent_reasons().items():
            self.say(f"     {op_id}: {reason}")
        paid = min(self.max_creates, len(self.create_operations()))
        self.say(
            f"{number} requests planned, at most {paid} of them paid; nothing was sent (dry run)"
        )

    # ------------------------------------------------------------------ sending

    def _build(self, spec: RequestSpec) -> httpx.Request:
        assert self._client is not None
        headers = {"User-Agent": USER_AGENT, **spec.headers}
        if spec.auth:
            headers |= self._security_header()
        url = self.base_url + spec.path
        if spec.multipart is not None:
            return self._client.build_request(
                spec.method, url, params=spec.query or None, headers=headers, files=spec.multipart
            )
        return self._client.build_request(
            spec.method, url, params=spec.query or None, headers=headers, json=spec.json_body
        )

    def send(self, spec: RequestSpec) -> tuple[Exchange, Any]:
        """Send one request, validate the answer; returns the exchange and the JSON body."""
        request = self._build(spec)
        authenticated = any(is_secret_name(k) for k in request.headers if k.lower() != "cookie")
        if request.method != "GET" and authenticated:
            # the hard cap, where requests leave: count before sending (a timeout may still cost)
            if self.creates_sent >= self.max_creates:
                raise CreateCapReached(
                    f"{spec.method} {spec.operation.operation_id} not sent: "
                    f"--max-creates {self.max_creates} reached"
                )
            self.creates_sent += 1
            self.result.creates_sent = self.creates_sent
        exchange = Exchange(spec.kind, spec.method, self.redact(str(request.url)))
        self.result.operations[spec.operation.operation_id].exchanges.append(exchange)
        started = time.monotonic()
        document: Any = None
        try:
            assert self._client is not None
            response = self._client.send(request, stream=True)
            try:
                exchange.status = response.status_code
                exchange.content_type = response.headers.get("Content-Type", "")
                media = self._media(spec.operation, response)
                if media and exchange.content_type.startswith("text/event-stream"):
                    data = self._read_stream(response, media, exchange)
                else:
                    data = response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            exchange.error = self.redact(exc)
            exchange.seconds = time.monotonic() - started
            self._echo(exchange)
            return exchange, None
        exchange.seconds = time.monotonic() - started
        if exchange.content_type.split(";")[0].strip() in ("application/json", "text/plain", ""):
            try:
                document = json.loads(data) if data else None
            except ValueError:
                document = None
        exchange.excerpt = self._excerpt(data, exchange.content_type, document)
        self._validate(spec, request, response, data, exchange, document)
        self._echo(exchange)
        return exchange, document

    def _media(self, op: Operation, response: httpx.Response) -> Mapping[str, Any]:
        content = self._response_def(op, response.status_code).get("content") or {}
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip()
        return content.get(ctype) or {}

    def _read_stream(
        self, response: httpx.Response, media: Mapping[str, Any], exchange: Exchange
    ) -> bytes:
        """Read a ``text/event-stream`` to its end (within ``--poll-seconds``), checking every
        event as it comes, and return the raw text (for the status and header checks)."""
        check = EventStreamChecker(self.contract, media)
        lines: list[str] = []
        block: list[str] = []
        events = 0
        finished = cut = False
        started = time.monotonic()
        slept = 0.0
        for line in response.iter_lines():
            lines.append(line)
            if line:
                block.append(line)
                continue
            event = sse_event(block)
            block = []
            if event is None:  # comments only (keep-alive)
                continue
            events += 1
            problems, finished = check.check(event)
            exchange.problems += [Drift(f"SSE event {events} {w}", m) for w, m in problems]
            if finished:
                break
            if max(time.monotonic() - started, slept) >= self.poll_seconds:
                cut = True
                exchange.notes.append(
                    f"stream cut after {self.poll_seconds:g} s (--poll-seconds): not finished"
                )
                break
            if self.stream_pause > 0:
                self.sleep(self.stream_pause)
                slept += self.stream_pause
        exchange.notes.append(f"{events} events")
        if not finished and not cut and check.terminator is not None:
            ending = f"the stream ended without `data: {check.terminator}`"
            exchange.problems.append(Drift("stream end", ending))
        return ("\n".join(lines) + "\n").encode()

    def _excerpt(self, data: bytes, content_type: str, document: Any) -> str:
        if document is not None:
            text = json.dumps(self.redact(document), ensure_ascii=False)
        elif content_type.startswith(("text/", "application/json")) or not data:
            text = self.redact(data.decode("utf-8", "replace"))
        else:
            return f"<{len(data)} bytes of {content_type or 'unknown type'}>"
        return _safe_excerpt(self.redact(text))

    def _validate(
        self,
        spec: RequestSpec,
        request: httpx.Request,
        response: httpx.Response,
        data: bytes,
        exchange: Exchange,
        document: Any,
    ) -> None:
        oa_request = contracts.request_from_httpx(request, strip_prefix=self.strip_prefix)
        if spec.template_path is not None:
            oa_request.path = spec.template_path
        oa_response = OpenAPIResponse(
            status_code=response.status_code,
            content_type=response.headers.get("Content-Type", "application/octet-stream"),
            headers=contracts_headers(response.headers),
            data=data,
        )
        try:
            self.contract.validate_response(oa_request, oa_response)
        except ContractViolation as exc:
            stream = exchange.content_type.startswith("text/event-stream")
            for problem in exc.problems:
                where = _where(problem, document)
                if stream and not (where in ("status code", "headers") or where[:7] == "header "):
                    # the media schema describes one event, not the stream: each event was
                    # checked against it as it came (as tests/test_strategies.py does)
                    continue
                exchange.problems.append(Drift(where, _message(problem, document)))
        status = response.status_code
        if (
            spec.expect_status is not None
            and status != spec.expect_status
            and not _transient(status)
        ):
            exchange.problems.append(
                Drift("status code", f"expected {spec.expect_status} (contract), got {status}")
            )
        if spec.expect_error and 200 <= status < 300:
            exchange.problems.append(
                Drift("status code", f"answered {status} for an id that cannot exist")
            )
        if _transient(status) and (spec.expect_status or spec.expect_error):
            exchange.notes.append(f"{status} is transient: the probe is inconclusive")
        ctype = exchange.content_type.split(";")[0].strip()
        if ctype == "video/mp4" and status == 200 and data[4:8] != b"ftyp":
            exchange.problems.append(
                Drift("body", "Content-Type is video/mp4 but the body is not an MP4 (no ftyp box)")
            )

    def _echo(self, exchange: Exchange) -> None:
        if exchange.error:
            verdict = f"ERROR {exchange.error}"
        elif exchange.problems:
            verdict = f"DRIFT ({len(exchange.problems)})"
        else:
            verdict = "ok"
        status = exchange.status if exchange.status is not None else "-"
        url = exchange.url if len(exchange.url) <= 120 else exchange.url[:117] + "..."
        self.say(f"  [{exchange.kind}] {exchange.method} {url} -> {status} {verdict}")
        for problem in exchange.problems:
            self.say(f"      {problem.where}: {problem.message}")

    # ------------------------------------------------------------------ the run

    def run(self) -> RunResult:
        started = time.monotonic()
        for op_id, reason in self.not_sent_reasons().items():
            self.result.operations[op_id].not_sent = reason
        self.say(
            f"sora-mock verify {self.provider}: contract {self.contract.name} against "
            f"{self.base_url} (at most {self.max_creates} paid create(s))"
        )
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            self._client = client
            try:
                probes = [self.send(spec)[0] for spec in self.probe_specs()]
                if probes and all(x.error for x in probes):
                    # not one free request got an answer: spend nothing, send nothing more
                    self.result.notes.append(
                        "no free probe got an answer: no create and no generated case was sent"
                    )
                    for op in self.create_operations()[: self.max_creates]:
                        self.result.operations[
                            op.operation_id
                        ].not_sent = "not sent: the provider did not answer the free probes"
                    return self._finish(started)
                for op in self.create_operations()[: self.max_creates]:
                    self._create_and_follow(op)
                for spec in self.generated_specs():
                    self.send(spec)
            except CreateCapReached as exc:  # a bug if it happens: stop sending at once
                self.result.notes.append(f"stopped: {exc}")
            finally:
                self._client = None
        return self._finish(started)

    def _finish(self, started: float) -> RunResult:
        self.result.seconds = time.monotonic() - started
        return self.result

    def _create_and_follow(self, op: Operation) -> None:
        try:
            spec = self.create_spec(op)
        except LookupError as exc:
            self.result.operations[op.operation_id].not_sent = f"not sent: {exc}"
            return
        exchange, document = self.send(spec)
        if exchange.status is None or not 200 <= exchange.status < 300:
            if self._link_targets(op):
                exchange.notes.append("links not followed: the create did not succeed")
            return
        links = self._link_targets(op)
        status_link = self._status_link(links)
        resolved: dict[str, tuple[Operation, dict[str, Any], str]] = {}
        missing: set[str] = set()
        for name, target, params in links:
            values: dict[str, Any] = {}
            pointer = ""
            for param, expr in params.items():
                param_name = param.split(".", 1)[-1]
                try:
                    values[param_name], pointer = self._evaluate(expr, document)
                except NotImplementedError:
                    exchange.notes.append(f"link {name}: {expr} is not supported: not followed")
                    break
                except KeyError:
                    if str(expr) not in missing:  # one problem, however many links use it
                        missing.add(str(expr))
                        exchange.problems.append(
                            Drift(
                                str(expr).split("#", 1)[-1],
                                f"{expr} (the contract's links) is missing from the answer",
                            )
                        )
                    break
            else:
                if target.method == "get":
                    resolved[name] = (target, values, pointer)
                else:
                    exchange.notes.append(
                        f"link {name} ({target.method.upper()} {target.operation_id}) not followed"
                    )
        if status_link is not None and status_link[0] in resolved:
            target, values, pointer = resolved.pop(status_link[0])
            self._poll(target, values, pointer, status_link[0])
        for name, (target, values, _) in resolved.items():
            self.send(self._link_spec(target, values, f"link {name}"))

    def _evaluate(self, expr: Any, document: Any) -> tuple[Any, str]:
        """A link parameter's value: a constant or ``$response.body#/pointer``."""
        if not isinstance(expr, str) or not expr.startswith("$"):
            return expr, ""
        if expr.startswith("$response.body#"):
            pointer = expr[len("$response.body#") :]
            return _pointer_get(document, pointer), pointer
        raise NotImplementedError(expr)

    def _link_spec(self, target: Operation, values: Mapping[str, Any], kind: str) -> RequestSpec:
        path_names = set(self._params(target))
        path = _fill_path(target.path, {k: v for k, v in values.items() if k in path_names})
        query = [(k, v) for k, v in values.items() if k not in path_names]
        return RequestSpec(kind, target, "GET", path, query=query)

    def _poll(
        self, target: Operation, values: Mapping[str, Any], id_pointer: str, name: str
    ) -> None:
        status_pointer = id_pointer.rsplit("/", 1)[0] + "/status"
        started = time.monotonic()
        slept = 0.0
        reads = 0
        while True:
            exchange, document = self.send(self._link_spec(target, values, f"link {name}"))
            reads += 1
            try:
                word = _pointer_get(document, status_pointer)
            except KeyError:
                return
            if str(word).lower() in TERMINAL_WORDS or exchange.status != 200:
                exchange.notes.append(f"job status: {word}")
                return
            if (
                reads > self.max_polls
                or max(time.monotonic() - started, slept) >= self.poll_seconds
            ):
                exchange.notes.append(
                    f"job still {word!r} after {reads} reads: polling stopped (--max-polls "
                    f"{self.max_polls}, --poll-seconds {self.poll_seconds:g})"
                )
                return
            self.sleep(self.poll_interval)
            slept += self.poll_interval


def _has_control_characters(value: Any) -> bool:
    """True if any string inside has an ASCII control character (tab, newline, NUL, DEL...).

    Such values are valid for the contracts' plain ``type: string`` parameters, but in a URL
    they reach the proxy or CDN in front of a live provider, which answers with its own 400
    page (that says nothing about the provider's API), and ``urllib.parse`` (hence
    openapi-core) silently drops tab and newline from URLs. Generated cases holding them are
    not sent.
    """
    if isinstance(value, str):
        return bool(_ASCII_CONTROL.search(value))
    if isinstance(value, Mapping):
        return any(_has_control_characters(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_control_characters(v) for v in value)
    return False


def contracts_headers(headers: httpx.Headers) -> Any:
    from werkzeug.datastructures import Headers

    return Headers(list(headers.multi_items()))


def _transient(status: int) -> bool:
    return status == 429 or status >= 500


_HEADER_FIELDS = {"content-type", "authorization", "retry-after", "x-request-id"}


def _where(problem: Any, document: Any) -> str:
    field_name = problem.field
    message = str(problem.message)
    if field_name is None:
        if "status" in message.lower() and "unknown response" in message.lower():
            return "status code"
        if "header" in message.lower():
            return "headers"
        return "body"
    if field_name.lower() in _HEADER_FIELDS:
        return f"header {field_name}"
    return _pointer(field_name.split("."))


def _message(problem: Any, document: Any) -> str:
    message = str(problem.message)
    if len(message) > 240:  # cut the middle: the quoted value, not the verdict at the end
        message = message[:120] + " ... " + message[-100:]
    if problem.field and problem.field.lower() not in _HEADER_FIELDS:
        try:
            value = _pointer_get(document, _pointer(problem.field.split(".")))
        except KeyError:
            return message
        shown = json.dumps(value, ensure_ascii=False)
        if shown not in message and repr(value) not in message:
            message += f" (value: {shown if len(shown) <= 80 else shown[:80] + '...'})"
    return message


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _summary(body: Any) -> str:
    if isinstance(body, Mapping):
        return "{" + ", ".join(f"{k}={_short(v, 60)}" for k, v in body.items()) + "}"
    return _short(body)


# ============================================================================ reports

_XML_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _md_cell(text: str) -> str:
    return _printable(text).replace("|", "\\|").replace("\n", " ")


def _verdict(result: RunResult, markdown: bool = False) -> str:
    bold = "**" if markdown else ""
    if result.ok:
        return f"{bold}no drift{bold}"
    parts = []
    if result.drift_count:
        drifted = [op for op, r in result.operations.items() if r.drift]
        parts.append(
            f"{bold}DRIFT: {result.drift_count} problem(s) in {len(drifted)} operation(s)"
            f"{bold} ({', '.join(drifted)})"
        )
    if result.error_count:
        failed = [op for op, r in result.operations.items() if r.errors]
        parts.append(
            f"{bold}NOT VERIFIED: {result.error_count} request(s) without an answer{bold} "
            f"({', '.join(failed)})"
        )
    return "; ".join(parts)


def markdown_report(result: RunResult, redactor: Redactor) -> str:
    contract = result.contract
    lines = [
        f"# Contract verification: {result.provider}",
        "",
        f"- Contract: `contracts/{contract.name}.yaml` "
        f"(version {contract.spec['info'].get('version')})",
        f"- Base URL: {result.base_url}",
        f"- Started: {result.started}, took {result.seconds:.1f} s",
    ]
    if result.skipped:
        lines += [f"- Result: **skipped**: {result.skipped}", ""]
        return redactor.final_pass("\n".join(lines) + "\n")
    verdict = _verdict(result, markdown=True)
    lines += [
        f"- Requests sent: {result.requests} (paid creates: {result.creates_sent} of at most "
        f"{result.max_creates})",
        f"- Result: {verdict}",
    ]
    lines += [f"- Note: {n}" for n in result.notes]
    lines += [
        "",
        "| operation | request | sent | statuses seen | problems |",
        "|---|---|---|---|---|",
    ]
    for op_id, op_result in result.operations.items():
        op = op_result.operation
        statuses = ", ".join(f"{s} ×{n}" for s, n in sorted(op_result.statuses.items())) or "-"
        problems = (
            str(len(op_result.drift) + len(op_result.errors))
            if op_result.exchanges
            else (op_result.not_sent or "not sent")
        )
        lines.append(
            f"| `{op_id}` | {op.method.upper()} `{op.path}` | {len(op_result.exchanges)} | "
            f"{statuses} | {_md_cell(problems)} |"
        )
    for op_id, op_result in result.operations.items():
        op = op_result.operation
        lines += ["", f"## `{op_id}`: {op.method.upper()} `{op.path}`", ""]
        if not op_result.exchanges:
            lines.append(f"Not probed: {op_result.not_sent or 'nothing to send'}.")
            continue
        kinds = Counter(x.kind for x in op_result.exchanges)
        lines.append(
            f"Requests sent: {len(op_result.exchanges)} ("
            + ", ".join(f"{k} ×{n}" for k, n in kinds.items())
            + "). Statuses seen: "
            + ", ".join(f"{s} ×{n}" for s, n in sorted(op_result.statuses.items()))
            + "."
        )
        notes = sorted({n for x in op_result.exchanges for n in x.notes})
        for note in notes:
            lines.append(f"- note: {_printable(note)}")
        if not op_result.drift and not op_result.errors:
            lines += ["", "No drift."]
            continue
        lines += ["", "### Problems", ""]
        number = 0
        for exchange in op_result.exchanges:
            request = f"`{exchange.method} {_printable(exchange.url)}` ({exchange.kind})"
            if exchange.error:
                number += 1
                lines.append(f"{number}. {request}: no answer: {_printable(exchange.error)}")
            if not exchange.problems:
                continue
            number += 1
            lines.append(f"{number}. {request} -> {exchange.status}")
            for problem in exchange.problems:
                lines.append(
                    f"   - at `{_printable(problem.where)}`: {_printable(problem.message)}"
                )
            if exchange.excerpt:
                excerpt = _printable(exchange.excerpt).replace("```", "'''")
                lines += ["", "   ```", f"   {excerpt}", "   ```", ""]
    return redactor.final_pass("\n".join(lines) + "\n")


def junit_report(result: RunResult, redactor: Redactor) -> str:
    def clean(text: str) -> str:
        return _xml_text(redactor(text))

    suite = ET.Element(
        "testsuite",
        name=clean(f"sora-mock verify {result.provider} ({result.contract.name})"),
        timestamp=result.started,
        time=f"{result.seconds:.3f}",
    )
    tests = failures = errors = skipped = 0
    for op_id, op_result in result.operations.items():
        op = op_result.operation
        case = ET.SubElement(
            suite,
            "testcase",
            classname=clean(f"verify.{result.provider}"),
            name=clean(f"{op_id} ({op.method.upper()} {op.path})"),
            time=f"{sum(x.seconds for x in op_result.exchanges):.3f}",
        )
        tests += 1
        if result.skipped or not op_result.exchanges:
            skipped += 1
            ET.SubElement(
                case, "skipped", message=clean(result.skipped or op_result.not_sent or "")
            )
            continue
        for exchange in op_result.exchanges:
            request = f"{exchange.method} {exchange.url}"
            if exchange.error:
                errors += 1
                element = ET.SubElement(
                    case, "error", message=clean(f"{request}: {exchange.error}"), type="no-answer"
                )
                element.text = clean(exchange.error)
            for problem in exchange.problems:
                failures += 1
                element = ET.SubElement(
                    case,
                    "failure",
                    message=clean(f"{problem.where}: {problem.message}"),
                    type="drift",
                )
                element.text = clean(
                    f"{request} ({exchange.kind}) -> {exchange.status}\n"
                    f"at {problem.where}: {problem.message}\n{exchange.excerpt}"
                )
        out = ET.SubElement(case, "system-out")
        out.text = clean(
            "\n".join(
                f"{x.method} {x.url} -> {x.status if x.status is not None else 'no answer'}"
                for x in op_result.exchanges
            )
        )
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    return redactor.final_pass(text)


def write_reports(result: RunResult, directory: Path, redactor: Redactor) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    markdown = directory / f"verify-{result.provider}.md"
    xml = directory / f"verify-{result.provider}.xml"
    markdown.write_text(markdown_report(result, redactor), encoding="utf-8")
    xml.write_text(junit_report(result, redactor), encoding="utf-8")
    return markdown, xml


# ============================================================================ command line


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``verify`` on the ``sora-mock`` sub-command parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="check a live provider (or the mock) against its contract and report drift",
        description="Send free probes, at most --max-creates paid creates (following the "
        "contract's links) and generated read cases to a provider, validate every answer "
        "against the contract, and write verify-<provider>.md and .xml.",
    )
    p.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    p.add_argument(
        "--base-url",
        default=None,
        help="default: the contract's x-provider-base-url; the mock: http://127.0.0.1:8000/gptge",
    )
    p.add_argument(
        "--max-creates",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="hard cap on paid create requests (default 1; 0: only free requests)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan; send nothing")
    p.add_argument(
        "--image",
        default=None,
        metavar="URL",
        help="reference image URL for a paid create of a JSON API (gptproto-v3 `images`, vtrix "
        "`input_reference`) instead of the contract example's; its size must match the "
        "example's (720x1280 portrait)",
    )
    p.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR")
    p.add_argument("--timeout", type=_positive_float, default=60.0, metavar="S", help="per request")
    p.add_argument(
        "--poll-seconds",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="wall-time budget for polling one job (and for reading one stream)",
    )
    p.add_argument("--poll-interval", type=_positive_float, default=10.0, metavar="S")
    p.add_argument("--max-polls", type=_non_negative_int, default=60, metavar="N")
    p.add_argument(
        "--generated",
        type=_non_negative_int,
        default=10,
        metavar="N",
        help="generated read (GET) cases per operation (default 10; 0: none)",
    )
    return p


def run_args(
    args: argparse.Namespace,
    *,
    sleep: Sleep = time.sleep,
    stream_pause: float = 0.0,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    contract_name, env_var = PROVIDERS[args.provider]
    contract = contracts.load(contract_name)
    api_key = os.environ.get(env_var, "").strip()
    redactor = Redactor([api_key])
    base_url = args.base_url or contract.spec["info"].get("x-provider-base-url", "")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        print(
            redactor(f"sora-mock verify: --base-url must be an http(s) URL, got {base_url!r}"),
            file=err,
        )
        return 2
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    verifier = Verifier(
        args.provider,
        base_url,
        api_key,
        max_creates=args.max_creates,
        timeout=args.timeout,
        poll_seconds=args.poll_seconds,
        poll_interval=args.poll_interval,
        max_polls=args.max_polls,
        generated=args.generated,
        sleep=sleep,
        stream_pause=stream_pause,
        out=out,
        transport=transport,
        image_url=args.image,
    )
    if args.dry_run:
        if not api_key:
            verifier.say(f"({env_var} is not set: a real run would be skipped)")
        verifier.dry_run()
        return 0
    if not api_key:
        message = f"skipped: set {env_var} to verify {args.provider}"
        print(message, file=out)
        verifier.result.skipped = message
        write_reports(verifier.result, args.report_dir, redactor)
        return 0
    try:
        result = verifier.run()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("sora-mock verify: interrupted; no report written", file=err)
        return 1
    markdown, xml = write_reports(result, args.report_dir, redactor)
    if result.ok:
        verifier.say(
            f"no drift: {result.requests} requests, {result.creates_sent} paid create(s). "
            f"Reports: {markdown}, {xml}"
        )
        return 0
    verifier.say(f"{_verdict(result)}. Reports: {markdown}, {xml}")
    return 1


def main(argv: Sequence[str] | None = None, **kwargs: Any) -> int:
    """``sora-mock verify ...`` on its own (``kwargs`` go to :func:`run_args`)."""
    parser = argparse.ArgumentParser(prog="sora-mock")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["verify", *(argv or [])])
    return run_args(args, **kwargs)
