"""Running a verification: send what :class:`Planner` planned, validate every answer.

The hard cap on paid creates is enforced where requests leave (:meth:`Verifier.send`); the
contract's links are followed from each create (the status read polled until the job ends,
then the other reads once); a stream is read event by event. Every answer is judged by
:mod:`mockserver.conformance.validation`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

import contracts
from contracts import Operation
from mockserver.conformance.contract_map import TERMINAL_WORDS, ContractMap
from mockserver.conformance.planning import Planner, RequestSpec
from mockserver.conformance.pointers import fill_path, pointer_get
from mockserver.conformance.providers import PROVIDERS
from mockserver.conformance.redaction import REDACTED, Redactor, is_secret_name
from mockserver.conformance.reports import safe_excerpt, short, summary
from mockserver.conformance.results import (
    CreateCapReached,
    Drift,
    Exchange,
    OperationResult,
    RunResult,
)
from mockserver.conformance.validation import (
    StreamCheck,
    contracts_headers,
    file_drift,
    json_document,
    response_drift,
    transient,
)

USER_AGENT = "sora-mock-verify/0.1 (+contract verification)"

Sleep = Callable[[float], None]


class Verifier(Planner):
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
        self.map = ContractMap(self.contract)
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

    # ------------------------------------------------------------------ dry run

    def describe(self, spec: RequestSpec) -> str:
        url = self.base_url + spec.path
        if spec.query:
            url = str(httpx.URL(url, params=spec.query))
        auth = (
            "; ".join(f"{k}: {REDACTED}" for k in self.map.security_header(self.api_key))
            if spec.auth
            else "no Authorization"
        )
        body = ""
        if spec.json_body is not None:
            body = " json " + summary(self.redact(spec.json_body))
        elif spec.multipart is not None:
            parts = []
            for name, (filename, value, ctype) in spec.multipart.items():
                if filename is not None:
                    parts.append(f"{name}=<{ctype} file {filename}, {len(value)} bytes>")
                else:
                    parts.append(f"{name}={short(self.redact({name: value})[name])}")
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
            if "text/event-stream" in (self.map.response_def(op, 200).get("content") or {}):
                self.say(
                    f"       a streamed answer is read event by event, at most "
                    f"{self.poll_seconds:g} s, each event checked against the contract"
                )
            links = self.map.link_targets(op)
            status = self.map.status_link(links)
            for name, target, params in links:
                where = ", ".join(f"{k}={v}" for k, v in params.items())
                if target.method != "get":  # said, not numbered: it is not sent
                    self.say(
                        f"     [link {name}] not followed: {target.method.upper()} {target.path}"
                    )
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
        missing = self.generation_missing()
        if missing is not None:
            self.result.block("missing-dependency", missing)
            self.say(f"     generated read cases: cannot run: {missing}")
        else:
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
            headers |= self.map.security_header(self.api_key)
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
        exchange = Exchange(
            spec.kind, spec.method, self.redact(str(request.url)), authenticated=authenticated
        )
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
        document = json_document(data, exchange.content_type)
        exchange.excerpt = self._excerpt(data, exchange.content_type, document)
        self._validate(spec, request, response, data, exchange, document)
        self._echo(exchange)
        return exchange, document

    def _media(self, op: Operation, response: httpx.Response) -> Mapping[str, Any]:
        return self.map.media(op, response.status_code, response.headers.get("Content-Type", ""))

    def _read_stream(
        self, response: httpx.Response, media: Mapping[str, Any], exchange: Exchange
    ) -> bytes:
        """Read a ``text/event-stream`` to its end (within ``--poll-seconds``), checking every
        event as it comes, and return the raw text (for the status and header checks)."""
        check = StreamCheck(self.contract, media)
        raw: list[bytes] = []
        cut = False
        started = time.monotonic()
        slept = 0.0
        for chunk in response.iter_bytes():
            for block, event, problems in check.feed(chunk):
                raw.append(block)
                if event is None:  # comments only (keep-alive)
                    continue
                exchange.problems += problems
                if check.finished:
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
            if check.finished or cut:
                break
        exchange.notes.append(f"{check.events} events")
        if not cut:
            exchange.problems += check.finish()
        return b"".join(raw) + check.rest()

    def _excerpt(self, data: bytes, content_type: str, document: Any) -> str:
        if document is not None:
            text = json.dumps(self.redact(document), ensure_ascii=False)
        elif content_type.startswith(("text/", "application/json")) or not data:
            text = self.redact(data.decode("utf-8", "replace"))
        else:
            return f"<{len(data)} bytes of {content_type or 'unknown type'}>"
        return safe_excerpt(self.redact(text))

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
        status = response.status_code
        # the media schema of a stream describes one event: each was checked as it came
        drift = response_drift(
            self.contract,
            oa_request,
            status,
            contracts_headers(response.headers),
            data,
            document,
        )
        if transient(status) and (spec.expect_status or spec.expect_error):
            # a probe answered 429/503 says nothing about the API, an undeclared status
            # included: inconclusive (noted below), not drift
            drift = [p for p in drift if p.where != "status code"]
        exchange.problems += drift
        if (
            spec.expect_status is not None
            and status != spec.expect_status
            and not transient(status)
        ):
            exchange.problems.append(
                Drift("status code", f"expected {spec.expect_status} (contract), got {status}")
            )
        if spec.expect_error and 200 <= status < 300:
            exchange.problems.append(
                Drift("status code", f"answered {status} for an id that cannot exist")
            )
        if transient(status) and (spec.expect_status or spec.expect_error):
            exchange.notes.append(f"{status} is transient: the probe is inconclusive")
        exchange.problems += file_drift(exchange.content_type, status, data[:16])

    def _echo(self, exchange: Exchange) -> None:
        if exchange.error:
            verdict = f"ERROR {exchange.error}"
        elif exchange.problems:
            verdict = f"DRIFT ({len(exchange.problems)})"
        elif exchange.authenticated and exchange.status in REJECTED:
            verdict = "refused the credentials"
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
        missing = self.generation_missing()
        if missing is not None:
            # a part asked for cannot run: say so before anything is sent (or paid for)
            self.result.block("missing-dependency", missing)
            self._not_sent("not sent: the run stopped before sending anything (--generated)")
            return self._finish(started)
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            self._client = client
            try:
                probes = [self.send(spec)[0] for spec in self.probe_specs()]
                if probes and all(x.error for x in probes):
                    # not one free request got an answer: spend nothing, send nothing more
                    self.result.notes.append(
                        "no free probe got an answer: no create and no generated case was sent"
                    )
                    self._not_sent("not sent: the provider did not answer the free probes")
                    return self._finish(started)
                if _rejected(probes):
                    # every probe with the credentials was refused them: nothing more can pass
                    self.result.notes.append(
                        "the free probes' credentials were rejected: no create and no "
                        "generated case was sent"
                    )
                    self._not_sent("not sent: the provider rejected the credentials")
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

    def _not_sent(self, reason: str) -> None:
        for op_result in self.result.operations.values():
            if not op_result.exchanges and op_result.not_sent is None:
                op_result.not_sent = reason

    def _finish(self, started: float) -> RunResult:
        self.result.seconds = time.monotonic() - started
        self._assess()
        return self.result

    def _assess(self) -> None:
        """Say what kept this run from verifying the provider: no answer at all, rejected
        credentials, requests without an answer, or nothing sent."""
        result = self.result
        exchanges = [x for o in result.operations.values() for x in o.exchanges]
        failed = [x for x in exchanges if x.error]
        if exchanges and len(failed) == len(exchanges):
            result.block(
                "unreachable",
                f"cannot reach {self.redact(self.base_url)}: no answer to any of "
                f"{len(exchanges)} request(s) ({failed[0].error})",
            )
        elif failed:
            ops = sorted(
                {op for op, o in result.operations.items() if any(x.error for x in o.exchanges)}
            )
            result.block(
                "no-answer",
                f"{len(failed)} of {len(exchanges)} request(s) got no answer "
                f"({', '.join(ops)}; first: {failed[0].error})",
            )
        if _rejected(exchanges):
            authenticated = [x for x in exchanges if x.authenticated and x.status is not None]
            statuses = "/".join(sorted({str(x.status) for x in authenticated}))
            for exchange in authenticated:
                exchange.unverified = f"{exchange.status}: the credentials were rejected"
            said = next((_message(x.excerpt) for x in authenticated if x.excerpt), "")
            env_var = PROVIDERS[self.provider][1]
            result.block(
                "credentials",
                f"the provider rejected the credentials: it answered {statuses} to every "
                f"request sent with them ({len(authenticated)} sent; check {env_var})"
                + (f"; it said: {said}" if said else ""),
            )
        if not result.blockers and not any(x.verified for x in exchanges):
            result.block("nothing-checked", "no check ran: nothing was sent")

    def _create_and_follow(self, op: Operation) -> None:
        try:
            spec = self.create_spec(op)
        except LookupError as exc:
            self.result.operations[op.operation_id].not_sent = f"not sent: {exc}"
            return
        exchange, document = self.send(spec)
        model = retired_model(spec, exchange, document)
        if model is not None:
            # the provider no longer serves the model: news about the provider, not drift
            exchange.problems.clear()
            exchange.notes.append(f"the provider answers 'model not found' for {model}")
            self.result.retired_models.append(model)
            return
        if exchange.status is None or not 200 <= exchange.status < 300:
            if self.map.link_targets(op):
                exchange.notes.append("links not followed: the create did not succeed")
            return
        links = self.map.link_targets(op)
        status_link = self.map.status_link(links)
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
            return pointer_get(document, pointer), pointer
        raise NotImplementedError(expr)

    def _link_spec(self, target: Operation, values: Mapping[str, Any], kind: str) -> RequestSpec:
        path_names = set(self.map.params(target))
        path = fill_path(target.path, {k: v for k, v in values.items() if k in path_names})
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
                word = pointer_get(document, status_pointer)
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


#: the statuses with which a provider refuses credentials
REJECTED = frozenset({401, 403})


def _rejected(exchanges: list[Exchange]) -> bool:
    """True if requests went out with the credentials and every one answered was refused."""
    answered = [x for x in exchanges if x.authenticated and x.status is not None]
    return bool(answered) and all(x.status in REJECTED for x in answered)


def _message(excerpt: str) -> str:
    """The error message of an (already redacted) answer, else the start of its excerpt."""
    try:
        document = json.loads(excerpt)
    except ValueError:
        return safe_excerpt(excerpt, 160)
    error = document.get("error", document) if isinstance(document, dict) else None
    if isinstance(error, dict):
        for name in ("message", "error_message", "msg", "detail"):
            if isinstance(error.get(name), str) and error[name].strip():
                return safe_excerpt(repr(error[name]), 160)
    return safe_excerpt(excerpt, 160)


def retired_model(spec: RequestSpec, exchange: Exchange, document: Any) -> str | None:
    """The model a create asked for, when the provider answered that it does not serve it
    (OpenAI-style relays: ``code: model_not_found``, 404 or 503; others say so in words)."""
    if exchange.status is None or exchange.status < 400 or not isinstance(document, dict):
        return None
    error = document.get("error", document)
    if not isinstance(error, dict):
        return None
    code = str(error.get("code") or "").lower()
    # Vtrix words its errors in `error_message`
    message = str(error.get("message") or error.get("error_message") or "").lower()
    if code != "model_not_found" and "model not found" not in message:
        return None
    body = spec.json_body if isinstance(spec.json_body, dict) else {}
    form = spec.multipart or {}
    asked = body.get("model") or (form.get("model") or (None, None, None))[1]
    return str(asked) if asked else "the requested model"
