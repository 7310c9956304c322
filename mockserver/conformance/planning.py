"""What ``sora-mock verify`` sends, planned from the contract alone (sent by ``verifier``).

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
   turned into a request with ``case.as_transport_kwargs()`` and sent through the verifier's
   own httpx client, so the hard cap, the timeout and the redaction apply to it like to any
   other request. Operations other than ``GET`` are never generated: that would cost money.
   Cases holding an ASCII control character are dropped (see ``_has_control_characters``).

Every response is validated (``validation.response_drift``) with the contract's own
``Contract.validate_response``, not with schemathesis' ``case.validate_response()``. That is
the validator the mock's strict mode and the test-suite use, so "the mock is clean" and "the
provider is clean" mean the same thing; it returns one ``Problem`` per field with its path,
which becomes the report's JSON pointer; and it judges only what the contract says.
schemathesis' checks raise one aggregated exception of prose, and some of them are wrong for
this job: a read of a generated (random) id is *expected* to answer 404, which
``positive_data_acceptance`` reports as a failure. For generated cases the validation request
carries the operation's path template filled with a plain placeholder, so an id that decodes to
something odd (``a/b``) cannot make the provider's answer look like a route problem. A stream's
body is not handed to ``validate_response`` as a whole (its schema is one event): only its
status and headers are, as ``tests/test_strategies.py`` does.

Secrets: one :class:`Redactor` (``redact()``) is applied by every writer (console, Markdown,
JUnit XML, exception messages), masking the key, ``Authorization``-like headers, JSON fields
named like key/token/secret/authorization, secret query parameters and URL user-info, and
token-looking strings; the report files get a final pass replacing the literal key too.

What could not be verified is not drift: a provider that rejects the credentials (401/403 to
every request sent with them; the run then stops after the free probes), that cannot be
reached, that leaves requests unanswered, a key that is not set, or ``--generated N`` without
schemathesis (checked before anything is sent) each become a
:class:`~mockserver.conformance.results.Blocker`, an ``<error>`` in the JUnit report and exit
code 4. Exit codes: ``verify_command.EXIT_CODES``.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

from contracts import Contract, Operation
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.pointers import fill_path
from mockserver.conformance.results import RunResult

#: an id no provider can have issued
UNKNOWN_ID = "sora-mock-verify-no-such-id-0000000000"
#: schemathesis schemas by contract name (see Planner.generated_specs)
_ST_SCHEMAS: dict[str, Any] = {}
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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


def reference_png(width: int, height: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (width // 4, height // 3, 3 * width // 4, height // 3 + width // 2), fill=(230, 180, 60)
    )
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


class Planner:
    """The requests of one run (a base of :class:`~mockserver.conformance.verifier.Verifier`)."""

    contract: Contract
    map: ContractMap
    base_url: str
    image_url: str | None
    generated: int
    max_creates: int
    result: RunResult

    def create_operations(self) -> list[Operation]:
        """POST operations without a path parameter: each creates a (paid) job."""
        return self.map.create_operations()

    # ------------------------------------------------------------------ the plan

    def probe_specs(self) -> list[RequestSpec]:
        specs: list[RequestSpec] = []
        gets = self.map.ops("get")
        with_id = [op for op in gets if self.map.params(op)]
        linked = {
            t.operation_id for c in self.create_operations() for _, t, _ in self.map.link_targets(c)
        }
        first_read = next((op for op in with_id if op.operation_id in linked), None) or next(
            iter(with_id or gets), None
        )
        if first_read is not None:
            path = fill_path(
                first_read.path, dict.fromkeys(self.map.params(first_read), UNKNOWN_ID)
            )
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
            path = fill_path(op.path, dict.fromkeys(self.map.params(op), UNKNOWN_ID))
            specs.append(RequestSpec("probe: unknown id", op, "GET", path, expect_error=True))
        for op in gets:
            if not self.map.params(op):
                specs.append(RequestSpec("probe: list", op, "GET", op.path))
        for spec in specs:
            if spec.expect_status is not None and str(spec.expect_status) not in (
                spec.operation.definition.get("responses") or {}
            ):
                spec.expect_status, spec.expect_error = None, True
        return specs

    def create_spec(self, op: Operation, kind: str = "paid create") -> RequestSpec:
        """The create request built from the contract's own documented example."""
        media_type, body = self.map.example_body(op)
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
            schema = self.map.body_schema(op, media_type)
            parts: dict[str, tuple[str | None, Any, str | None]] = {
                k: (None, str(v), None) for k, v in body.items()
            }
            properties = schema.get("properties") or {}
            for name in schema.get("required") or []:
                prop = self.map.resolve(properties.get(name) or {})
                if name not in parts and prop.get("format") == "binary":
                    size = str(
                        body.get("size")
                        or self.map.resolve(properties.get("size") or {}).get("default")
                    )
                    match = re.fullmatch(r"(\d+)x(\d+)", size)
                    width, height = (int(match[1]), int(match[2])) if match else (720, 1280)
                    parts[name] = (
                        f"reference-{width}x{height}.png",
                        reference_png(width, height),
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
        missing = self.generation_missing()
        if missing is not None:
            raise RuntimeError(missing)
        import schemathesis
        from schemathesis.config import SchemathesisConfig

        schema = _ST_SCHEMAS.get(self.contract.name)
        if schema is None:  # loading costs ~0.5 s: once per contract and process
            schema = schemathesis.openapi.from_dict(
                copy.deepcopy(self.contract.spec), config=SchemathesisConfig()
            )
            _ST_SCHEMAS[self.contract.name] = schema
        schema.config.update(base_url=self.base_url)
        specs: list[RequestSpec] = []
        for op in self.map.ops("get"):
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
                        template_path=self.map.template_path(op),
                    )
                )
        return specs

    def generation_missing(self) -> str | None:
        """Why the generated read cases asked for (``--generated N``) cannot run, or None."""
        if self.generated <= 0:
            return None
        try:
            import hypothesis  # noqa: F401
            import schemathesis  # noqa: F401
            from schemathesis.config import SchemathesisConfig  # noqa: F401
        except ImportError as exc:
            return (
                f"--generated {self.generated} needs schemathesis, which cannot be imported "
                f"({exc}): pip install 'sora-mock[verify]' (or --generated 0 to skip the "
                "generated read cases)"
            )
        return None

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
