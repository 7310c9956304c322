"""A provider as data: the ``x-sora-mock`` block of its contract.

Everything that makes one async-job video API differ from another, and that JSON Schema does
not already say, is declared next to the schemas it points into (ARCHITECTURE.md, "Providers
as data"): the mock prefix and the real host, which operation creates, reads or downloads a
job, where a create's fields are (JSON pointers into the body, with a ``[key=value]`` step to
pick a list entry), the status words, the job's and the errors' bodies (templates), the
models with their sizes and durations, the failure and model-not-found answers.

This module reads and checks a declaration (no Flask, no mock): a mistake is a
:class:`~contracts.ContractError` naming the file, the JSON pointer of the mistake and the fix.
The mock's generic engine (``mockserver/dialects/declared.py``) serves it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts import _decl_answers as answers_words
from contracts._loader import Contract, ContractError

KEY = "x-sora-mock"
ROLES = ("create", "read", "content", "models")
#: the lifecycle's statuses, each of which the declaration words in the provider's terms
STATUSES = ("queued", "in_progress", "completed", "failed")
#: the names a template may use, and what they hold
JOB_VALUES = {
    "job.id": "the job's id",
    "job.model": "the model asked for",
    "job.prompt": "the prompt",
    "job.seconds": "the duration in seconds (integer)",
    "job.size": "WIDTHxHEIGHT",
    "job.width": "width in pixels (integer)",
    "job.height": "height in pixels (integer)",
    "job.created_at": "creation time, unix seconds (integer)",
    "status": "the provider's word for the job's status",
    "progress": "progress from 0 to 1 (number)",
    "progress_percent": "progress from 0 to 100 (integer; 100 only when completed)",
    "completed_at": "completion time, unix seconds (integer), or null",
    "expires_at": "when the job is purged, unix seconds (integer), or null",
    "base_url": "the provider's base URL on the mock (http://host/prefix)",
    "video_url": "the video's own URL on the mock",
    "cost": "the mock's price of the job in USD (number)",
    "error.code": "the failure's code",
    "error.message": "the failure's message",
    "job.seconds_text": 'the duration in seconds, as text ("4")',
    "cost_text": 'the mock\'s price of the job in USD, as text with four decimals ("1.2000")',
    "job.notes": "what the mock did in place of the real thing (a list of strings, maybe empty)",
    "job.remixed_from": "the id of the job this one remixes, or null",
    **answers_words.JOB_VALUES,
}
ERROR_VALUES = {
    "status": "the HTTP status (integer)",
    "message": "the error's text",
    "code": "the provider's code, or null",
    "param": "the field at fault, or null",
    "code_or_status": "the provider's code, else the HTTP status as text",
    "param_message": "the error's text, after `param: ` when a field is at fault and the text "
    "does not already start with its name",
    **answers_words.ERROR_VALUES,
}
MODELS_VALUES = {"models": "every model's `listing` object, in declared order"}
#: the names a webhook's body and headers may use: a job's, and its event's
WEBHOOK_VALUES = {
    **JOB_VALUES,
    "event": "the event's name (the `events` entry of the job's terminal status)",
    "event.created_at": "when the job ended, ISO 8601 UTC on the mock's clock (text)",
    "event.created_at_unix": "when the job ended, unix seconds (integer)",
}
#: the names a webhook signature's templates may use
SIGNATURE_VALUES = {
    "timestamp": "the attempt's unix seconds (integer)",
    "body": "the raw body sent (text)",
    "signature": "the hex digest of `signed` under the signing secret",
}
#: the lifecycle's statuses a job ends in: each may have an event
TERMINAL = ("completed", "failed")
SIGNATURE_ALGORITHMS = ("hmac-sha256",)
_REF = re.compile(r"\{([a-z_.]+)\}")
_SIZE = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*$")


@dataclass(frozen=True)
class Model:
    id: str
    sizes: tuple[str, ...]
    durations: tuple[int, ...]
    #: what the models operation lists for it (any JSON the contract allows)
    listing: Mapping[str, Any]
    #: False: the model takes no reference image (a create with one is a 400)
    image: bool = True


@dataclass(frozen=True)
class Role:
    operation_id: str
    role: str
    #: the HTTP status of a success
    status: int = 200
    #: create: field name -> pointer into the body; read/content: "id" (and "index") -> the
    #: path (query) parameter's name
    fields: Mapping[str, str] = field(default_factory=dict)
    #: create: the reference image must be the video's size; the words of the 400 when not
    image_mismatch: str | None = None


@dataclass(frozen=True)
class Signature:
    """How a webhook is signed: ``value`` (in header ``header``) holds the hex HMAC of the text
    ``signed`` under the signing secret (``serve --webhook-secret``)."""

    header: str
    value: str
    signed: str
    algorithm: str = "hmac-sha256"


@dataclass(frozen=True)
class Webhooks:
    """A provider's webhooks: the create body's pointer to the callback URL, the event name
    per terminal status, the body and headers POSTed (templates), and the signature."""

    url: str
    events: Mapping[str, str]
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    signature: Signature | None = None


@dataclass(frozen=True, eq=False)  # one object per file read: compared (and hashed) by identity
class Declaration:
    contract: str
    prefix: str
    name: str
    hosts: tuple[str, ...]
    key_env: str
    id_prefix: str
    statuses: Mapping[str, str]
    failure: tuple[str, str]
    job: Any
    error: Any
    not_found: str
    model_not_found: tuple[int, str, str]
    scenario_codes: Mapping[str, str]
    models: tuple[Model, ...]
    roles: Mapping[str, Role]
    models_answer: Any = None
    #: seconds from completion to the job's purge; None: ``--retention``
    expiry_seconds: int | None = None
    price_per_second: float = 0.0
    #: where a create names its callback URL and what is POSTed there (None: no webhooks)
    webhooks: Webhooks | None = None
    #: status word -> lifecycle status: words the client also reads (the mock never sends them)
    statuses_accepted: Mapping[str, str] = field(default_factory=dict)
    #: failure code -> its message: a scenario may pick only these, a failed job says its own
    failure_codes: Mapping[str, str] = field(default_factory=dict)
    #: value name -> the pointers where the client looks for it in a job, in order
    job_places: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: where the provider comes when providers are listed (lower first); None: after those
    list_order: int | None = None
    #: the words GPTProto v3's move added (client id, envelope, named sizes; _decl_answers)
    answers: answers_words.Answers = field(default_factory=answers_words.Answers)

    def model(self, model_id: str) -> Model | None:
        return next((m for m in self.models if m.id == model_id), None)

    def role(self, role: str) -> Role | None:
        return next((r for r in self.roles.values() if r.role == role), None)


def read(contract: Contract) -> Declaration | None:
    """The contract's declaration, checked; None when it has none (a Python dialect's)."""
    raw = contract.spec.get(KEY)
    if raw is None:
        return None
    return _Reader(contract).declaration(raw)


class _Reader:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def fail(self, where: str, message: str) -> ContractError:
        return ContractError(self.contract.path, f"/{KEY}{where}", message)

    def need(
        self, block: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str
    ) -> Any:
        if key not in block:
            return self._missing(where, key)
        value = block[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(f"{where}/{key}", f"must be a {names}, not {type(value).__name__}")
        return value

    def _missing(self, where: str, key: str) -> Any:
        raise self.fail(
            where, f"`{key}` is missing: add it (see ARCHITECTURE.md, 'Add a provider in one file')"
        )

    def declaration(self, raw: Any) -> Declaration:
        if not isinstance(raw, Mapping):
            raise self.fail("", "must be a mapping")
        known = {
            "prefix",
            "name",
            "hosts",
            "key-env",
            "id-prefix",
            "statuses",
            "failure",
            "job",
            "errors",
            "models",
            "operations",
            "expiry-seconds",
            "price-per-second",
            "models-answer",
            "webhooks",
            "statuses-accepted",
            "failure-codes",
            "job-places",
            "list-order",
            *answers_words.KEYS,
        }
        for key in raw:
            if key not in known:
                raise self.fail(
                    f"/{key}", f"unknown key `{key}`: use one of {', '.join(sorted(known))}"
                )
        prefix = self.need(raw, "prefix", str, "")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", prefix):
            raise self.fail(
                "/prefix", f"{prefix!r} is not a URL prefix: lower-case letters, digits, '-'"
            )
        statuses = self.need(raw, "statuses", Mapping, "")
        for status in STATUSES:
            if not isinstance(statuses.get(status), str):
                raise self.fail("/statuses", f"`{status}` needs the provider's word (a string)")
        for extra in set(statuses) - set(STATUSES):
            raise self.fail(
                f"/statuses/{extra}", f"unknown status: the lifecycle has {', '.join(STATUSES)}"
            )
        failure = self.need(raw, "failure", Mapping, "")
        errors = self.need(raw, "errors", Mapping, "")
        self.need(errors, "body", Mapping, "/errors")
        self._check_template(errors["body"], ERROR_VALUES, "/errors/body")
        not_found = self.need(errors, "not-found", str, "/errors")
        mnf = self.need(errors, "model-not-found", Mapping, "/errors")
        job = self.need(raw, "job", Mapping, "")
        self._check_template(job, JOB_VALUES, "/job")
        models = tuple(
            self._model(m, f"/models/{i}") for i, m in enumerate(self.need(raw, "models", list, ""))
        )
        if not models:
            raise self.fail("/models", "declare at least one model")
        roles = self._roles(self.need(raw, "operations", Mapping, ""))
        answer = raw.get("models-answer")
        if answer is not None:
            self._check_template(answer, MODELS_VALUES, "/models-answer")
        return Declaration(
            contract=self.contract.name,
            prefix=prefix,
            name=self.need(raw, "name", str, ""),
            hosts=tuple(self.need(raw, "hosts", list, "")),
            key_env=self.need(raw, "key-env", str, ""),
            id_prefix=raw.get("id-prefix", "video_"),
            statuses=dict(statuses),
            failure=(
                str(self.need(failure, "code", (str, int), "/failure")),
                self.need(failure, "message", str, "/failure"),
            ),
            job=job,
            error=errors["body"],
            not_found=not_found,
            model_not_found=(
                self.need(mnf, "status", int, "/errors/model-not-found"),
                str(self.need(mnf, "code", (str, int), "/errors/model-not-found")),
                self.need(mnf, "message", str, "/errors/model-not-found"),
            ),
            scenario_codes={k: str(v) for k, v in dict(errors.get("scenario-codes", {})).items()},
            models=models,
            roles=roles,
            models_answer=answer,
            expiry_seconds=raw.get("expiry-seconds"),
            price_per_second=float(raw.get("price-per-second", 0.0)),
            webhooks=self._webhooks(raw.get("webhooks"), roles),
            answers=answers_words.read(self, raw, JOB_VALUES),
            **self._more(raw, statuses),
        )

    def _webhooks(self, raw: Any, roles: Mapping[str, Role]) -> Webhooks | None:
        """The optional ``webhooks`` block: ``url`` (a pointer into the create's body),
        ``events`` (a terminal status -> the event's name), ``body`` and ``headers``
        (templates of WEBHOOK_VALUES), ``signature`` (``header``, ``value``, ``signed``)."""
        if raw is None:
            return None
        where = "/webhooks"
        if not isinstance(raw, Mapping):
            raise self.fail(where, "must be a mapping with `url`, `events`, `body`")
        known = {"url", "events", "body", "headers", "signature"}
        for key in raw:
            if key not in known:
                raise self.fail(
                    f"{where}/{key}", f"unknown key `{key}`: use one of {', '.join(sorted(known))}"
                )
        url = self.need(raw, "url", str, where)
        if not url.startswith("/"):
            raise self.fail(
                f"{where}/url", "a JSON pointer into the create's body (e.g. /callback_url)"
            )
        create = next(r.operation_id for r in roles.values() if r.role == "create")
        fields = self._body_fields(create)
        first = url.strip("/").split("/", 1)[0]
        if fields is not None and first not in fields:
            raise self.fail(
                f"{where}/url",
                f"the body of `{create}` has no `{first}`: use one of {', '.join(sorted(fields))}",
            )
        events = self.need(raw, "events", Mapping, where)
        if not events:
            raise self.fail(f"{where}/events", f"name the event of {' or '.join(TERMINAL)}")
        for status, name in events.items():
            if status not in TERMINAL:
                raise self.fail(
                    f"{where}/events/{status}",
                    f"`{status}` is no status a job ends in: use {' or '.join(TERMINAL)}",
                )
            if not isinstance(name, str) or not name:
                raise self.fail(f"{where}/events/{status}", "the event's name (a string)")
        body = self.need(raw, "body", (Mapping, list), where)
        self._check_template(body, WEBHOOK_VALUES, f"{where}/body")
        headers = raw.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(v, str) for v in headers.values()
        ):
            raise self.fail(f"{where}/headers", "a mapping of header names to text templates")
        self._check_template(dict(headers), WEBHOOK_VALUES, f"{where}/headers")
        return Webhooks(
            url=url,
            events=dict(events),
            body=body,
            headers=dict(headers),
            signature=self._signature(raw.get("signature"), f"{where}/signature"),
        )

    def _body_fields(self, op_id: str) -> set[str] | None:
        """The top-level properties of an operation's JSON body (None: not known)."""
        node: Any = self.contract.operations[op_id].definition.get("requestBody", {})
        for step in ("content", "application/json", "schema"):
            node = node.get(step) if isinstance(node, Mapping) else None
        for _ in range(10):  # follow local references
            ref = node.get("$ref") if isinstance(node, Mapping) else None
            if not isinstance(ref, str) or not ref.startswith("#/"):
                break
            node = self.contract.spec
            for step in ref[2:].split("/"):
                node = node.get(step) if isinstance(node, Mapping) else None
        properties = node.get("properties") if isinstance(node, Mapping) else None
        return set(properties) if isinstance(properties, Mapping) else None

    def _signature(self, raw: Any, where: str) -> Signature | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise self.fail(where, "must be a mapping with `header`, `value`, `signed`")
        for key in raw:
            if key not in ("header", "value", "signed", "algorithm"):
                raise self.fail(
                    f"{where}/{key}", f"unknown key `{key}`: use algorithm, header, signed, value"
                )
        algorithm = raw.get("algorithm", "hmac-sha256")
        if algorithm not in SIGNATURE_ALGORITHMS:
            raise self.fail(
                f"{where}/algorithm", f"{algorithm!r}: use one of {', '.join(SIGNATURE_ALGORITHMS)}"
            )
        value = self.need(raw, "value", str, where)
        signed = self.need(raw, "signed", str, where)
        self._check_template(value, SIGNATURE_VALUES, f"{where}/value")
        self._check_template(signed, SIGNATURE_VALUES, f"{where}/signed")
        if "{signature}" not in value:
            raise self.fail(f"{where}/value", "must hold `{signature}`")
        if "{body}" not in signed:
            raise self.fail(f"{where}/signed", "must hold `{body}`: the signature covers the body")
        return Signature(
            header=self.need(raw, "header", str, where),
            value=value,
            signed=signed,
            algorithm=algorithm,
        )

    def _more(self, raw: Mapping[str, Any], statuses: Mapping[str, str]) -> dict[str, Any]:
        """The optional keys a seed API needed (Vtrix): words the client also accepts, the
        failure codes, where the client looks for a value in a job."""
        accepted = raw.get("statuses-accepted", {})
        if not isinstance(accepted, Mapping):
            raise self.fail("/statuses-accepted", "must be a mapping of words to statuses")
        for word, status in accepted.items():
            if status not in STATUSES or word in statuses.values():
                raise self.fail(
                    f"/statuses-accepted/{word}",
                    f"a word the mock does not send, mapped to one of {', '.join(STATUSES)}",
                )
        codes = raw.get("failure-codes", {})
        if not isinstance(codes, Mapping) or not all(isinstance(m, str) for m in codes.values()):
            raise self.fail("/failure-codes", "must be a mapping of codes to messages")
        places: dict[str, tuple[str, ...]] = {}
        given = raw.get("job-places", {})
        if not isinstance(given, Mapping):
            raise self.fail("/job-places", "must be a mapping of value names to pointers")
        for name, pointers in given.items():
            where = f"/job-places/{name}"
            if name not in JOB_VALUES:
                raise self.fail(
                    where, f"unknown value `{name}`: use one of {', '.join(JOB_VALUES)}"
                )
            pointers = [pointers] if isinstance(pointers, str) else pointers
            if not isinstance(pointers, list) or not all(
                isinstance(p, str) and p.startswith("/") for p in pointers
            ):
                raise self.fail(where, "a JSON pointer (/a/b) or a list of them, tried in order")
            places[name] = tuple(pointers)
        order = raw.get("list-order")
        if order is not None and (not isinstance(order, int) or isinstance(order, bool)):
            raise self.fail("/list-order", "must be a whole number (lower comes first in lists)")
        return {
            "list_order": order,
            "statuses_accepted": dict(accepted),
            "failure_codes": {str(k): v for k, v in codes.items()},
            "job_places": places,
        }

    def _check_template(self, template: Any, names: Mapping[str, str], where: str) -> None:
        if isinstance(template, Mapping):
            if "x-when" in template:
                when = template["x-when"]
                if (
                    not isinstance(when, list)
                    or not set(when) <= set(STATUSES)
                    or "x-value" not in template
                ):
                    raise self.fail(
                        where, f"`x-when` takes a list of {', '.join(STATUSES)} and needs `x-value`"
                    )
                self._check_template(template["x-value"], names, f"{where}/x-value")
                self._check_template(template.get("x-else"), names, f"{where}/x-else")
                return
            if "x-if" in template:
                if template["x-if"] not in names or "x-value" not in template:
                    raise self.fail(
                        where,
                        "`x-if` takes the name of a value (e.g. job.notes) and needs `x-value`",
                    )
                self._check_template(template["x-value"], names, f"{where}/x-value")
                return
            for key, value in template.items():
                self._check_template(value, names, f"{where}/{key}")
        elif isinstance(template, list):
            for i, value in enumerate(template):
                self._check_template(value, names, f"{where}/{i}")
        elif isinstance(template, str):
            for ref in _REF.findall(template):
                if ref not in names:
                    raise self.fail(
                        where,
                        f"`{{{ref}}}` is not a value a template can use: use one of "
                        + ", ".join(f"{{{n}}}" for n in names),
                    )

    def _model(self, raw: Any, where: str) -> Model:
        if not isinstance(raw, Mapping):
            raise self.fail(where, "a model is a mapping with `id`, `sizes`, `durations`")
        sizes = tuple(self.need(raw, "sizes", list, where))
        for i, size in enumerate(sizes):
            if not isinstance(size, str) or not _SIZE.match(size):
                raise self.fail(f"{where}/sizes/{i}", f"{size!r} is not WIDTHxHEIGHT")
        durations = tuple(self.need(raw, "durations", list, where))
        for i, seconds in enumerate(durations):
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
                raise self.fail(
                    f"{where}/durations/{i}", f"{seconds!r} is not a whole number of seconds"
                )
        if not sizes or not durations:
            raise self.fail(where, "a model needs at least one size and one duration")
        return Model(
            id=self.need(raw, "id", str, where),
            sizes=sizes,
            durations=durations,
            listing=dict(raw.get("listing", {"id": raw["id"]})),
            image=bool(raw.get("image", True)),
        )

    def _roles(self, raw: Mapping[str, Any]) -> dict[str, Role]:
        roles: dict[str, Role] = {}
        for op_id, block in raw.items():
            where = f"/operations/{op_id}"
            if op_id not in self.contract.operations:
                known = ", ".join(self.contract.operations)
                raise self.fail(
                    where, f"the contract has no operation `{op_id}`: use one of {known}"
                )
            if not isinstance(block, Mapping):
                raise self.fail(where, "must be a mapping with `role`")
            role = self.need(block, "role", str, where)
            if role not in ROLES:
                raise self.fail(
                    f"{where}/role", f"unknown role `{role}`: use one of {', '.join(ROLES)}"
                )
            fields = block.get("fields", {})
            if not isinstance(fields, Mapping):
                raise self.fail(f"{where}/fields", "must be a mapping of names to pointers")
            if role == "create":
                for name in ("model", "seconds", "size"):
                    if not isinstance(fields.get(name), str):
                        raise self.fail(
                            f"{where}/fields",
                            f"a create needs `{name}`: a JSON pointer into the body (e.g. /{name})",
                        )
            if role in ("read", "content") and not isinstance(fields.get("id"), str):
                raise self.fail(
                    f"{where}/fields",
                    "needs `id`: the name of the path parameter holding the job's id",
                )
            mismatch = block.get("image-matches-size")
            if mismatch is not None and (role != "create" or not isinstance(mismatch, str)):
                raise self.fail(
                    f"{where}/image-matches-size",
                    "a create's words for an image whose size is not the video's (a string)",
                )
            roles[op_id] = Role(
                op_id, role, int(block.get("status", 200)), dict(fields), image_mismatch=mismatch
            )
        for op_id in self.contract.operations:
            if op_id not in roles:
                raise self.fail(
                    "/operations", f"`{op_id}` has no role: give it one of {', '.join(ROLES)}"
                )
        if sum(r.role == "create" for r in roles.values()) != 1:
            raise self.fail("/operations", "exactly one operation must have the role `create`")
        return roles


def fill(template: Any, values: Mapping[str, Any], status: str | None = None) -> Any:
    """A template filled in: ``"{name}"`` alone is the value itself (typed), ``"a {name} b"``
    is text; ``{"x-when": [statuses], "x-value": ...}`` is left out unless ``status`` (the
    lifecycle's) is listed."""
    if isinstance(template, Mapping):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if isinstance(value, Mapping) and "x-when" in value:
                if status not in value["x-when"] and "x-else" not in value:
                    continue
                value = value["x-value" if status in value["x-when"] else "x-else"]
            elif isinstance(value, Mapping) and "x-if" in value:
                if values[value["x-if"]] in (None, "", [], {}):
                    continue
                value = value["x-value"]
            out[key] = fill(value, values, status)
        return out
    if isinstance(template, list):
        return [fill(item, values, status) for item in template]
    if isinstance(template, str):
        whole = _REF.fullmatch(template)
        if whole:
            return values[whole.group(1)]
        return _REF.sub(lambda m: str(values[m.group(1)]), template)
    return template


def error_values(status: int, message: str, code: str | None, param: str | None) -> dict[str, Any]:
    """The values an error template may use (``ERROR_VALUES``)."""
    prefixed = param and not message.startswith(param)
    return {
        "status": status,
        "message": message,
        "code": code,
        "param": param,
        "code_or_status": code or str(status),
        "param_message": f"{param}: {message}" if prefixed else message,
    }


_MISSING = object()


def pick(body: Any, pointer: str) -> Any:
    """The value at ``pointer`` (``/a/b``; a step ``[key=value]`` takes the first list entry
    whose ``key`` is ``value``), or None when any step is absent."""
    node = body
    for step in pointer.strip("/").split("/") if pointer.strip("/") else []:
        match = re.fullmatch(r"\[([^=\]]+)=([^\]]*)\]", step)
        if match:
            if not isinstance(node, list):
                return None
            node = next(
                (x for x in node if isinstance(x, Mapping) and str(x.get(match[1])) == match[2]),
                None,
            )
        elif isinstance(node, Mapping):
            node = node.get(step, _MISSING)
            if node is _MISSING:
                return None
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
        if node is None:
            return None
    return node


#: called after the set of declared providers changes (each keeps its own view up to date)
_LISTENERS: list[Callable[[], None]] = []


@functools.cache
def declarations() -> tuple[Declaration, ...]:
    """Every declared provider: the bundled contracts' (a file without the block is skipped
    unread: its bytes are searched first), then those added with :func:`add_provider`."""
    from contracts._loader import CONTRACTS_DIR, EXTRA_PATHS, load

    found = []
    paths = sorted(CONTRACTS_DIR.glob("*.yaml")) + list(EXTRA_PATHS.values())
    for path in paths:
        if f"\n{KEY}:".encode() not in path.read_bytes():
            continue
        declaration = read(load(path.stem))
        if declaration is not None:
            found.append(declaration)
    return tuple(sorted(found, key=_listed))


def _listed(declaration: Declaration) -> tuple[bool, int]:
    """Providers with a ``list-order`` first, lowest first; the others keep the file order."""
    order = declaration.list_order
    return (order is None, order or 0)


def add_provider(path: str | Path) -> Declaration:
    """Serve (and drive) one more provider: a contract file with its declaration, anywhere
    (``sora-mock serve --provider FILE``). Checked now: a mistake is a ContractError naming
    the file, the place and the fix; a name or prefix already taken is refused."""
    from contracts._loader import CONTRACTS_DIR, EXTRA_PATHS, PROVIDER_CONTRACTS, load_path

    path = Path(path).resolve()
    contract = load_path(path)
    declaration = read(contract)
    if declaration is None:
        raise ContractError(path, f"/{KEY}", f"no `{KEY}` block: a provider file declares one")
    name = contract.name
    if (CONTRACTS_DIR / f"{name}.yaml").is_file() or EXTRA_PATHS.get(name, path) != path:
        raise ContractError(path, "", f"a contract named {name!r} exists already: rename the file")
    taken = {d.prefix for d in declarations() if d.contract != name}
    if declaration.prefix in taken or declaration.prefix in PROVIDER_CONTRACTS.values():
        raise ContractError(
            path, f"/{KEY}/prefix", f"{declaration.prefix!r} is taken: choose another prefix"
        )
    EXTRA_PATHS[name] = path
    _changed()
    return declaration


def forget_provider(name: str) -> None:
    """Stop serving an added provider (tests: a throwaway provider leaves nothing behind)."""
    from contracts._loader import EXTRA_PATHS

    if EXTRA_PATHS.pop(name, None) is not None:
        _changed()


def _changed() -> None:
    declarations.cache_clear()
    for listener in _LISTENERS:
        listener()


class Mirrored(dict[Any, Any]):
    """A dict of fixed entries plus every declared provider's (``entries(declaration)``),
    filled in when first read (declarations are read from the contracts: importing a module
    that holds one must not read them) and again after a provider is added or forgotten."""

    def __init__(
        self, fixed: Mapping[Any, Any], entries: Callable[[Declaration], Iterable[tuple[Any, Any]]]
    ) -> None:
        super().__init__(fixed)
        self._fixed = dict(fixed)
        self._entries = entries
        self._fresh = False
        _LISTENERS.append(self._stale)

    def _stale(self) -> None:
        self._fresh = False

    def _fill(self) -> None:
        if self._fresh:
            return
        self._fresh = True
        dict.clear(self)
        dict.update(self, self._fixed)
        for declaration in declarations():  # at its `list-order` (a place in the list), else last
            for key, value in self._entries(declaration):
                items, at = list(dict.items(self)), declaration.list_order
                if key not in dict.keys(self):
                    items.insert(len(items) if at is None else at, (key, value))
                    dict.clear(self)
                    dict.update(self, items)

    def __getitem__(self, key: Any) -> Any:
        self._fill()
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        self._fill()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[Any]:
        self._fill()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._fill()
        return dict.__len__(self)

    def __repr__(self) -> str:
        self._fill()
        return dict.__repr__(self)

    def get(self, key: Any, default: Any = None) -> Any:
        self._fill()
        return dict.get(self, key, default)

    def keys(self) -> Any:
        self._fill()
        return dict.keys(self)

    def values(self) -> Any:
        self._fill()
        return dict.values(self)

    def items(self) -> Any:
        self._fill()
        return dict.items(self)


# ------------------------------------------------------------------ a create's body, built


def create_body(
    contract: Contract, declaration: Declaration, values: Mapping[str, Any]
) -> dict[str, Any]:
    """A create's JSON body: each of ``values`` (``model``, ``prompt``, ``seconds``, ``size``,
    ``image``) put where the declaration's ``fields`` point, the objects and list entries on the
    way built, and every required property the schema fixes with a ``const`` filled in
    (``type: image_url``): what a client sends (the dashboard's form and snippets use it)."""
    role = declaration.role("create")
    assert role is not None  # a declaration has exactly one create (checked at load)
    fields = role.fields
    definition = contract.operation(role.operation_id).definition
    content = definition.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    body: dict[str, Any] = {}
    for name, value in values.items():
        if name in fields:
            _put(contract, body, schema, fields[name], value)
    return body


def _resolved(contract: Contract, schema: Any) -> Any:
    while isinstance(schema, Mapping) and "$ref" in schema:
        schema = contract.resolve(schema["$ref"])
    return schema if isinstance(schema, Mapping) else {}


def _put(contract: Contract, body: dict[str, Any], schema: Any, pointer: str, value: Any) -> None:
    steps = [s for s in pointer.strip("/").split("/") if s]
    node: Any = body
    schema = _resolved(contract, schema)
    for i, step in enumerate(steps):
        select = re.fullmatch(r"\[([^=\]]+)=([^\]]*)\]", step)
        if select:
            key, wanted = select.groups()
            schema = _resolved(contract, schema.get("items", {}))
            entry = next((x for x in node if x.get(key) == wanted), None)
            if entry is None:
                entry = {key: wanted}
                _fill_consts(contract, entry, schema)
                node.append(entry)
            node = entry
            continue
        if step.isdigit() and isinstance(node, list):  # a list entry by its index: /images/0
            node[int(step) : int(step) + 1] = [value]
            return
        child = _resolved(contract, schema.get("properties", {}).get(step, {}))
        if i == len(steps) - 1:
            node[step] = value
            return
        is_list = steps[i + 1].isdigit() or re.fullmatch(r"\[[^=\]]+=[^\]]*\]", steps[i + 1])
        if step not in node:
            node[step] = [] if is_list else {}
            if not is_list:
                _fill_consts(contract, node[step], child)
        node, schema = node[step], child


def _fill_consts(contract: Contract, entry: dict[str, Any], schema: Mapping[str, Any]) -> None:
    for name in schema.get("required", []):
        prop = _resolved(contract, schema.get("properties", {}).get(name, {}))
        if name not in entry and "const" in prop:
            entry[name] = prop["const"]


def places(template: Any, at: str = "") -> dict[str, str]:
    """Where a job template puts each whole reference: ``{"job.id": "/id", ...}`` (a value of
    an ``x-when`` entry included; the first place of a reference wins)."""
    found: dict[str, str] = {}
    if isinstance(template, Mapping):
        for key, value in template.items():
            if isinstance(value, Mapping) and "x-when" in value:
                value = value["x-value"]
            for name, pointer in places(value, f"{at}/{key}").items():
                found.setdefault(name, pointer)
    elif isinstance(template, list):
        for i, value in enumerate(template):
            for name, pointer in places(value, f"{at}/{i}").items():
                found.setdefault(name, pointer)
    elif isinstance(template, str):
        whole = _REF.fullmatch(template)
        if whole:
            found[whole.group(1)] = at
    return found
