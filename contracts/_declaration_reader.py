"""Reading and checking a contract's ``x-sora-mock`` block (no Flask, no mock): a mistake is
a :class:`~contracts.ContractError` naming the file, the JSON pointer of the mistake and the
fix. The words it checks against are in ``contracts/_declaration_types.py``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts import _decl_answers as answers_words
from contracts._declaration_answers import answer_words, job_names
from contracts._declaration_roles import ID_ROLES, role_words
from contracts._declaration_types import (
    _REF,
    ERROR_VALUES,
    JOB_VALUES,
    KEY,
    MODELS_VALUES,
    ROLES,
    SIGNATURE_ALGORITHMS,
    SIGNATURE_VALUES,
    STATUSES,
    TERMINAL,
    WEBHOOK_VALUES,
    Declaration,
    Model,
    Role,
    Signature,
    Webhooks,
)
from contracts._loader import Contract, ContractError
from contracts._named_sizes import _SIZE


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
        models = tuple(
            self._model(m, f"/models/{i}") for i, m in enumerate(self.need(raw, "models", list, ""))
        )
        if not models:
            raise self.fail("/models", "declare at least one model")
        job = self.need(raw, "job", Mapping, "")
        names = job_names(models)
        self._check_template(job, names, "/job")
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
            **self._more(raw, statuses),
            answers=answers_words.read(self, raw, JOB_VALUES),
            **answer_words(self, errors),
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
                if "x-else" in template:  # the value in the other statuses
                    self._check_template(template["x-else"], names, f"{where}/x-else")
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
            if not isinstance(size, str) or not _SIZE.fullmatch(size):
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
            values=dict(self.need(raw, "values", Mapping, where) if "values" in raw else {}),
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
            if role in ID_ROLES and not isinstance(fields.get("id"), str):
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
                op_id,
                role,
                int(block.get("status", 200)),
                dict(fields),
                image_mismatch=mismatch,
                **role_words(self, op_id, role, block),
            )
        for op_id in self.contract.operations:
            if op_id not in roles:
                raise self.fail(
                    "/operations", f"`{op_id}` has no role: give it one of {', '.join(ROLES)}"
                )
        if sum(r.role == "create" for r in roles.values()) != 1:
            raise self.fail("/operations", "exactly one operation must have the role `create`")
        return roles
