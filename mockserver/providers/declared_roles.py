"""The generic engine's roles beyond create, read, content and models, and its answers' extra
words (``contracts/_declaration_roles.py`` and ``contracts/_declaration_answers.py`` read them):

* ``list``: a page of the key's jobs (the store's cursor: ``after``, ``limit``, ``order``), each
  in the job template, in the role's ``answer`` template (``{jobs}``, ``{first_id}``,
  ``{last_id}``, ``{has_more}``); an expired job is never listed (a read would 404);
* ``delete``: the job forgotten, its ``answer`` template (the job's values and ``{deleted}``);
* ``remix``: a new job from a completed one (its model, size, duration, image, params), with
  the body's ``prompt``: 404 unknown, the role's ``not-completed`` answer when unfinished;
* a create's ``image-file``: the reference image as a file part of a multipart body;
* ``content``'s ``variant`` (the query parameter choosing video, thumbnail or spritesheet) and
  its ``not-ready`` and ``failed`` answers (an error, or ``job``: the job itself);
* the ``answer-headers`` (GPTProto v3's word) on every answer that is one job: a remix's, a
  content's ``job``.

Functions of a :class:`~mockserver.providers.declared.DeclaredDialect` (passed in: this module
does not import it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Response

from contracts import _declaration as decl
from mockserver.http.responses import error_response, json_response
from mockserver.state.lifecycle import Job, JobState, Status
from mockserver.state.service import send_asset

if TYPE_CHECKING:
    from mockserver.providers.base import Context, Dialect


def surface_names(declaration: decl.Declaration) -> frozenset[str]:
    """The names ``surface_values`` gives for ``declaration``."""
    models = {f"{decl.MODEL_VALUE}{name}" for m in declaration.models for name in m.values}
    return frozenset(
        {
            "job.created_at_unix_text",
            "completed_at_unix_text",
            "expires_at_unix_text",
            "poll_after_ms",
            *models,
        }
    )


def surface_values(declaration: decl.Declaration, job: Job, state: JobState) -> dict[str, Any]:
    """The job values these words added: text timestamps, the notes as text, the poll hint,
    the model's own values (``{model.NAME}``, null when the job's model has none)."""
    completed = state.status is Status.COMPLETED
    finished = state.finished_at if completed else None
    expires = job.expires_at if completed else None
    model = declaration.model(job.model)
    own = dict(model.values) if model is not None else {}
    names = {name for m in declaration.models for name in m.values}
    return {
        "job.created_at_unix_text": str(int(job.created_at)),
        "completed_at_unix_text": str(int(finished)) if finished is not None else None,
        "expires_at_unix_text": str(int(expires)) if expires is not None else None,
        # a tenth of the render, between 250 ms and 5 s (in clock time)
        "poll_after_ms": int(min(5000, max(250, job.render_seconds * 100))),
        **{f"{decl.MODEL_VALUE}{name}": own.get(name) for name in names},
    }


def job_response(dialect: Any, ctx: Context, job: Job, status: int = 200) -> Response:
    """One job in the job template, with the declared ``answer-headers``."""
    response: Response = dialect._answer(job, ctx, status)
    return response


def not_found(dialect: Any, job_id: str, param: str | None = None) -> Response:
    """The declared not-found answer for ``job_id``."""
    message = dialect.declaration.not_found.replace("{id}", job_id)
    named = param if param is not None else dialect.declaration.not_found_param
    return error_response(dialect, 404, message, param=named)


def answer(dialect: Dialect, found: decl.Answer, job_id: str, param: str | None = None) -> Response:
    """A declared error answer, ``{id}`` filled with the job's id."""
    message = found.message.replace("{id}", job_id)
    return error_response(dialect, found.status, message, code=found.code, param=param)


def list_jobs(dialect: Any, ctx: Context) -> Response:
    role = dialect.declaration.roles[ctx.operation.operation_id]
    names = role.fields
    query = ctx.query
    service = dialect.service
    service.purge_expired()
    jobs, has_more = service.store.jobs(
        api=dialect.name,
        owner=ctx.owner,
        order=query.get(names.get("order", ""), "desc") or "desc",
        after=query.get(names.get("after", "")),
        limit=query.get(names.get("limit", "")) or 20,
    )
    now = service.now()
    # more jobs may have expired than one purge takes: none is listed (a read would 404)
    jobs = [j for j in jobs if not j.expired(now)]
    data = [dialect.render(j, service.state(j), ctx) for j in jobs]
    values = {
        "jobs": data,
        "first_id": jobs[0].id if jobs else None,
        "last_id": jobs[-1].id if jobs else None,
        "has_more": has_more,
    }
    return json_response(decl.fill(role.answer, values), role.status)


def delete_job(dialect: Any, ctx: Context) -> Response:
    role = dialect.declaration.roles[ctx.operation.operation_id]
    job_id = ctx.path[role.fields["id"]]
    job = dialect.service.find(job_id, dialect.name)
    if job is None:
        return not_found(dialect, job_id)
    values = {**dialect.values(job, dialect.service.state(job), ctx).whole(), "deleted": True}
    dialect.service.delete(job)
    return json_response(decl.fill(role.answer, values), role.status)


def remix_job(dialect: Any, ctx: Context) -> Response:
    role = dialect.declaration.roles[ctx.operation.operation_id]
    param = role.fields["id"]
    source = dialect.service.find(ctx.path[param], dialect.name)
    if source is None:
        return not_found(dialect, ctx.path[param])
    if dialect.service.state(source).status is not Status.COMPLETED:
        words = role.not_completed or decl.Answer(409, "must be the id of a completed video")
        return answer(dialect, words, source.id, param=param)
    refused = dialect.refuse_model(ctx, source.model)
    if refused is not None:
        return refused
    body = ctx.body if ctx.body is not None else {}
    prompt = decl.pick(body, role.fields["prompt"]) if "prompt" in role.fields else None
    job = dialect.new_job(
        ctx,
        model=source.model,
        prompt=str(prompt if prompt is not None else source.prompt),
        width=source.width,
        height=source.height,
        seconds=source.seconds,
        image=dialect.service.image_of(source),
        params=dict(source.params),
        remixed_from=source.id,
    )
    return job_response(dialect, ctx, job, role.status)


def unfinished_content(
    dialect: Any, ctx: Context, role: decl.Role, job: Job, state: JobState
) -> Response | None:
    """What a content operation answers for a job that has not completed: the role's
    ``not-ready`` or ``failed`` (an error, or the job itself); None: the engine's own 404."""
    declared = role.failed or role.not_ready if state.status is Status.FAILED else role.not_ready
    if declared is None:
        return None
    if declared == "job":
        return job_response(dialect, ctx, job)
    assert isinstance(declared, decl.Answer)
    return answer(dialect, declared, job.id)


def content_asset(dialect: Any, ctx: Context, role: decl.Role, job: Job) -> Response:
    """The asset the role's ``variant`` query parameter names (the video when none)."""
    name = role.fields.get("variant")
    variant = (ctx.query.get(name) if name is not None else None) or "video"
    return send_asset(dialect.service, job, str(variant))


def file_image(body: Mapping[str, Any], pointer: str) -> bytes | None:
    """A multipart file part as openapi-core hands it over (latin-1 text) back to bytes."""
    value = decl.pick(body, pointer)
    if value is None:
        return None
    return value.encode("latin-1") if isinstance(value, str) else bytes(value)
