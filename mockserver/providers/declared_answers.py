"""What the generic engine (``mockserver/providers/declared.py``) does with the words GPTProto
v3's move added (``contracts/_decl_answers.py``, ``contracts/_named_sizes.py``): the job
values they name, the headers on a job's answers, a size named in words, the parameters a
job keeps."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from contracts import _declaration as decl
from contracts import _named_sizes
from mockserver.state.lifecycle import Job, JobState

#: the names ``values`` gives
VALUE_NAMES = frozenset({"job.created_at_text", "job.notes_text", "elapsed_ms"})


def values(now: float, job: Job, state: JobState) -> dict[str, Any]:
    """The job values of ``contracts._decl_answers.JOB_VALUES`` (``now``: the mock's clock)."""
    started = state.started_at
    end = state.finished_at or (now if started else None)
    return {
        "job.created_at_text": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(job.created_at)),
        "job.notes_text": " | ".join(job.notes),
        "elapsed_ms": round((end - started) * 1000) if end and started else 0,
    }


def headers(
    declaration: decl.Declaration,
    filled: Mapping[str, Any],
    status: str | None = None,
    compiled: decl.Compiled | None = None,
) -> dict[str, str] | None:
    """The declared ``answer-headers``, filled with a job's values (None: none to send); an
    ``x-when`` header is sent in the lifecycle ``status``es it names. ``compiled``: the
    template compiled once (``decl.compile_template``), as the engine keeps it."""
    template = declaration.answers.headers
    if not template:
        return None
    found = (compiled or decl.compile_template(template)).fill(filled, status)
    return {name: str(value) for name, value in found.items()} or None


def named_size(
    contract: Any, declaration: decl.Declaration, role: decl.Role, body: Any
) -> str | None:
    """The pixel size a create's body names in words (``size-fields``), or None."""
    table = declaration.answers.size_fields
    definition = contract.operation(role.operation_id).definition
    content = definition.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return _named_sizes.size_of(table, body, _named_sizes.defaults(contract, schema, table))


def params(
    declaration: decl.Declaration, fields: Mapping[str, str], body: Any, size: str, seconds: Any
) -> dict[str, Any]:
    """What a job keeps of its create: the body but its image and prompt (``params: body``),
    else its size and duration."""
    if declaration.answers.params_from_body and isinstance(body, Mapping):
        left_out = {fields[n].strip("/").split("/")[0] for n in ("image", "prompt") if n in fields}
        return {k: v for k, v in body.items() if k not in left_out}
    return {"size": size, "seconds": seconds}


def named_pixels(body: Any) -> tuple[int, int] | None:
    """The pixels a create's body names in words, in the first declared ``size-fields`` that
    names them (a recorded create, whose contract the caller does not hold); None if none."""
    import contracts

    for declaration in decl.declarations():
        role = declaration.role("create")
        if not declaration.answers.size_fields or role is None:
            continue
        found = named_size(contracts.load(declaration.contract), declaration, role, body)
        if found is not None:
            return _named_sizes.pixels(found)
    return None
