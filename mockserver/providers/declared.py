"""The generic engine: a provider served from its contract's declaration, with no Python of
its own (``contracts/_declaration.py`` reads and checks the ``x-sora-mock`` block).

Each declared contract becomes a :class:`DeclaredDialect` subclass at start-up, registered
beside the Python dialects: the same pipeline (auth, scenarios, rate limit, validation) runs
around its handlers, and its handlers are the four roles a declaration gives operations:

* ``create``: the model, duration, size and reference image are read at the declared
  pointers; the model must be declared, the duration and size among its own (a 400 in the
  provider's error shape naming the field and the allowed values); the image is a URL
  (``data:``, the mock's own, or remote when allowed), as for every JSON API here;
* ``read``: the job in the declared ``job`` template;
* ``content``: the video (only index 0: one video per job), once the job completed;
* ``models``: the declared models' listings in the ``models-answer`` template.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from flask import Response

import contracts
from contracts import _decl_answers as answers_words
from contracts import _declaration as decl
from contracts._declaration_answers import more_error_values
from mockserver.http import requests_log, webhooks
from mockserver.http.responses import error_response, json_response
from mockserver.providers import declared_answers as answers
from mockserver.providers import declared_roles as roles
from mockserver.providers.base import Context, Dialect
from mockserver.state.lifecycle import Job, JobState, Status
from mockserver.state.template_values import JobValues, job_values


class DeclaredDialect(Dialect):
    """A provider API served from its declaration (one subclass per declared contract)."""

    declaration: ClassVar[decl.Declaration]

    def __init__(self, service: Any) -> None:  # noqa: D107 - handlers come from the roles
        self.service = service
        self.contract = contracts.load(self.contract_name)
        self.handlers = {
            op_id: _HANDLERS[role.role]  # type: ignore[misc]  # a DeclaredDialect's own methods
            for op_id, role in self.declaration.roles.items()
        }
        # the job template and answer-headers read once, and the names each later group of
        # values gives (``values``): a poll works out only the groups its templates name
        self.job_template = decl.compile_template(self.declaration.job)
        headers = self.declaration.answers.headers
        self.headers_template = decl.compile_template(headers) if headers else None
        self._groups = (
            frozenset({"base_url"}),
            frozenset({"video_url"}),
            roles.surface_names(self.declaration),
            answers.VALUE_NAMES,
        )

    # ---------------------------------------------------------------- the provider's words

    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        values = {
            **decl.error_values(status, message, code, param),
            **more_error_values(self.declaration.error_types, status, code),
            **answers_words.error_values(status),
        }
        body: dict[str, Any] = decl.fill(self.declaration.error, values)
        return body

    def scenario_code(self, scenario: str) -> str | None:
        return self.declaration.scenario_codes.get(scenario)

    def render(self, job: Job, state: JobState, ctx: Context) -> dict[str, Any]:
        body: dict[str, Any] = self.job_template.fill(
            self.values(job, state, ctx), state.status.value
        )
        return body

    def _answer(self, job: Job, ctx: Context, status: int) -> Response:
        """A job's answer: its body, and the declared ``answer-headers``, from one set of
        values (the job's state read once)."""
        state = self.service.state(job)
        values = None
        if type(self).render is DeclaredDialect.render:
            values = self.values(job, state, ctx)
            body = self.job_template.fill(values, state.status.value)
        else:  # the dialect's hook replaced (a test wraps it): its body is the answer's
            body = self.render(job, state, ctx)
        headers = None
        if self.headers_template is not None:
            values = values if values is not None else self.values(job, state, ctx)
            headers = answers.headers(
                self.declaration, values, state.status.value, self.headers_template
            )
        return json_response(body, status, headers)

    def values(self, job: Job, state: JobState, ctx: Context) -> JobValues:
        """The values a job template may use (``contracts._declaration.JOB_VALUES``): the
        job's own at once, the rest (the URLs, which parse the request's host; the words
        other moves added) when a template first names one of them."""
        known = job_values(self.declaration, job, state)
        base, video, surface, words = self._groups
        return JobValues(
            known,
            (
                (base, lambda: {"base_url": ctx.base_url}),
                (video, lambda: {"video_url": ctx.host_url + self.service.media_path(job.id)}),
                (surface, lambda: roles.surface_values(self.declaration, job, state)),
                (words, lambda: answers.values(self.service.now(), job, state)),
            ),
        )

    def _remix_source(self, ctx: Context, fields: Mapping[str, str]) -> Job | Response | None:
        """The completed job a create's ``remix`` field names (404 unknown, 409 unfinished)."""
        if "remix" not in fields:
            return None
        source_id = decl.pick(ctx.body if ctx.body is not None else {}, fields["remix"])
        if source_id is None:
            return None
        param = _name(fields["remix"])
        source: Job | None = self.service.find(str(source_id), self.name)
        if source is None:
            return error_response(self, 404, "no video with this id", param=param)
        if self.service.state(source).status is not Status.COMPLETED:
            return error_response(self, 409, "must be the id of a completed video", param=param)
        return source

    def _not_found(self, job_id: str) -> str:
        """The declared not-found words, ``{id}`` filled with the id asked for."""
        return self.declaration.not_found.replace("{id}", job_id)

    def _unknown_failure_code(self, ctx: Context) -> Response | None:
        """The 400 for a scenario argument that is none of the declared failure codes."""
        codes = self.declaration.failure_codes
        argument = ctx.scenario.argument if ctx.scenario is not None else None
        if not codes or not argument or argument in codes:
            return None
        return error_response(
            self,
            400,
            f"unknown {self.declaration.name} failure code {argument!r}; known: "
            + ", ".join(codes),
            param="X-Mock-Scenario",
        )

    def refuse_model(self, ctx: Context, model: str) -> Response | None:
        scenario = ctx.scenario
        chosen = scenario is not None and scenario.scenario == "model_unavailable"
        if not chosen and model not in self.service.config.retired_models:
            return None
        return self.model_not_found(model)

    def model_not_found(self, model: str) -> Response:
        status, code, message = self.declaration.model_not_found
        return error_response(self, status, message.format(model=model), code=code, param="model")

    def _bad(self, field: str, message: str) -> Response:
        return error_response(self, 400, f"{field}: {message}", param=field)

    def _job(self, ctx: Context, role: decl.Role) -> Job | Response:
        job_id = ctx.path[role.fields["id"]]
        job = self.service.find(job_id, self.name)
        if job is None:
            return roles.not_found(self, job_id)
        return job

    # ---------------------------------------------------------------- the four roles

    def create(self, ctx: Context) -> Response:
        role = self.declaration.roles[ctx.operation.operation_id]
        fields = role.fields
        body = ctx.body if ctx.body is not None else {}
        model_id = decl.pick(body, fields["model"])
        model = self.declaration.model(str(model_id))
        if model is None:
            return self.model_not_found(str(model_id))
        refused = self.refuse_model(ctx, model.id)
        if refused is not None:
            return refused
        seconds = decl.pick(body, fields["seconds"])
        if seconds is None:
            seconds = model.durations[0]
        elif int(seconds) not in model.durations:
            allowed = ", ".join(map(str, model.durations))
            return self._bad(
                _name(fields["seconds"]),
                f"{seconds} is not one of {model.id}'s durations ({allowed})",
            )
        size = decl.pick(body, fields["size"])
        if self.declaration.answers.size_fields:  # a size named in words (small, portrait)
            size = answers.named_size(self.contract, self.declaration, role, body)
        if size is None:
            size = model.sizes[0]
        elif str(size) not in model.sizes:
            return self._bad(
                _name(fields["size"]),
                f"{size} is not one of {model.id}'s sizes ({', '.join(model.sizes)})",
            )
        width, _, height = str(size).partition("x")
        source = self._remix_source(ctx, fields)
        if isinstance(source, Response):
            return source
        image: bytes | None = self.service.image_of(source) if source else None
        notes: list[str] = []
        hashed: tuple[bytes, bytes] | None = None  # (an image, its SHA-256): hashed once
        if "image-file" in fields:
            image = roles.file_image(body, fields["image-file"])
            match = (int(width), int(height)) if role.image_mismatch else None
            if image is not None:
                if not model.image:
                    return self._bad(_name(fields["image-file"]), f"{model.id} takes no image")
                mismatch = role.image_mismatch or ""
                hashed = (image, hashlib.sha256(image).digest())
                # the journal's capture of this file part uses the same digest
                ctx.request.environ[requests_log.HASHED] = hashed
                refused = self.check_image(
                    image, _name(fields["image-file"]), match, mismatch, hashed[1]
                )
                if refused is not None:
                    return refused
        url = decl.pick(body, fields["image"]) if "image" in fields else None
        if url is not None:
            if not model.image:
                return self._bad(_name(fields["image"]), f"{model.id} takes no reference image")
            match = (int(width), int(height)) if role.image_mismatch else None
            found = self.reference_image(
                ctx, str(url), _name(fields["image"]), match, role.image_mismatch or ""
            )
            if isinstance(found, Response):
                return found
            image, notes = found
        callback = self.callback_url(body)
        if isinstance(callback, Response):
            return callback
        refused = self._unknown_failure_code(ctx)
        if refused is not None:
            return refused
        prompt = decl.pick(body, fields["prompt"]) if "prompt" in fields else None
        job = self.new_job(
            ctx,
            id_prefix=answers_words.id_prefix(self.declaration, model.id),
            model=model.id,
            prompt=str(prompt or ""),
            width=int(width),
            height=int(height),
            seconds=int(seconds),
            image=image,
            # the duration as the body sent it ("8"), as the Python dialects kept it
            params=answers.params(
                self.declaration,
                fields,
                body,
                str(size),
                decl.pick(body, fields["seconds"]) or seconds,
            ),
            notes=notes,
            remixed_from=source.id if source else None,
            image_sha256=hashed[1] if hashed is not None and hashed[0] is image else None,
        )
        if callback is not None:  # the job's terminal event is owed (mockserver.http.webhooks)
            self.service.webhooks.owe(job, callback, ctx.base_url, ctx.host_url)
        return self._answer(job, ctx, role.status)

    def read(self, ctx: Context) -> Response:
        role = self.declaration.roles[ctx.operation.operation_id]
        job = self._job(ctx, role)
        if isinstance(job, Response):
            return job
        return self._answer(job, ctx, role.status)

    def content(self, ctx: Context) -> Response:
        role = self.declaration.roles[ctx.operation.operation_id]
        job = self._job(ctx, role)
        if isinstance(job, Response):
            return job
        index_name = role.fields.get("index")
        if index_name is not None and (ctx.query.get(index_name) or 0) != 0:
            return error_response(self, 404, self._not_found(job.id), param=index_name)
        state = self.service.state(job)
        if state.status is not Status.COMPLETED:
            declared = roles.unfinished_content(self, ctx, role, job, state)
            if declared is not None:
                return declared
            word = self.declaration.statuses[state.status.value]
            return error_response(self, 404, f"{self._not_found(job.id)}: the job is {word}")
        return roles.content_asset(self, ctx, role, job)

    def models(self, ctx: Context) -> Response:
        role = self.declaration.roles[ctx.operation.operation_id]
        listings = [dict(m.listing) for m in self.declaration.models]
        answer = self.declaration.models_answer or {"data": "{models}"}
        return json_response(decl.fill(answer, {"models": listings}), role.status)

    def callback_url(self, body: Any) -> str | Response | None:
        """The create's callback URL when the provider declares webhooks (None: none given),
        or the provider's 400 when the mock will not deliver there (mockserver.http.webhooks)."""
        hooks = self.declaration.webhooks
        url = decl.pick(body, hooks.url) if hooks is not None else None
        if hooks is None or url is None:
            return None
        refused = webhooks.refusal(str(url), self.service.config.webhook_allow_hosts)
        return self._bad(_name(hooks.url), refused) if refused else str(url)


_HANDLERS = {
    "create": DeclaredDialect.create,
    "read": DeclaredDialect.read,
    "content": DeclaredDialect.content,
    "models": DeclaredDialect.models,
    "list": roles.list_jobs,
    "delete": roles.delete_job,
    "remix": roles.remix_job,
}


def _name(pointer: str) -> str:
    """The field a pointer names, for messages: ``/frame_images/[...]/image_url/url`` ->
    ``frame_images``."""
    return pointer.strip("/").split("/", 1)[0]


def declared() -> dict[str, type[DeclaredDialect]]:
    """A dialect class for every declared provider (made once per declaration)."""
    return {d.contract: _dialect_class(d) for d in decl.declarations()}


@functools.cache
def _dialect_class(declaration: decl.Declaration) -> type[DeclaredDialect]:
    return type(
        f"Declared_{declaration.prefix}",
        (DeclaredDialect,),
        {
            "contract_name": declaration.contract,
            "prefix": declaration.prefix,
            "family": declaration.prefix,
            "id_prefix": declaration.id_prefix,
            "failure": declaration.failure,
            "create_operations": frozenset(
                op for op, r in declaration.roles.items() if r.role in ("create", "remix")
            ),
            "expiry_seconds": declaration.expiry_seconds,
            "declaration": declaration,
        },
    )
