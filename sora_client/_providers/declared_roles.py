"""The client's side of the declaration words an OpenAI ``/v1/videos`` surface added
(``contracts/_declaration_roles.py``): a create whose image is a file part (``image-file``:
a multipart body, fields as text, a remote URL refused before sending), the ``list``,
``delete`` and ``remix`` roles, content ``variant``s, and the content URL as a completed job's
video URL (``video-url``). Functions of a
:class:`~sora_client._providers.declared.DeclaredAdapter` (passed in: this module does not
import it)."""

from __future__ import annotations

from typing import Any

import httpx

from contracts import _declaration as decl
from sora_client._exceptions import InvalidRequestError
from sora_client._models import Job
from sora_client._providers.base import CreateSpec, text_or_none


def _name(pointer: str) -> str:
    return pointer.strip("/").split("/", 1)[0]


def file_create(adapter: Any, spec: CreateSpec, path: str, fields: dict[str, str]) -> httpx.Request:
    """A multipart create: what was given as text fields (the model only when named, the size
    asked or else the image's own), ``extra`` as text, the image as the ``image-file`` part."""
    image = spec.image
    part = _name(fields["image-file"])
    if image is not None and image.data is None:
        raise InvalidRequestError(
            adapter.name,
            part,
            f"{adapter.name} uploads the image as a file: pass a path or bytes, not a URL "
            f"({(image.url or '')[:60]!r})",
        )
    sent: dict[str, str] = {}
    if "prompt" in fields:
        sent[_name(fields["prompt"])] = spec.prompt
    if spec.model is not None:
        sent[_name(fields["model"])] = spec.model
    if spec.seconds is not None:
        sent[_name(fields["seconds"])] = str(spec.seconds)
    size = spec.size
    if size is None and image is not None and image.size is not None:
        size = "{}x{}".format(*image.size)
    if size is not None:
        sent[_name(fields["size"])] = size
    for key, value in spec.extra.items():
        sent[key] = value if isinstance(value, str) else str(value)
    files = []
    if image is not None and image.data is not None:
        files.append((part, image.filename, image.data, image.media_type or ""))
    request: httpx.Request = adapter.multipart_request(path, sent, files)
    return request


def build_list(
    adapter: Any,
    role: decl.Role,
    path: str,
    limit: int | None,
    order: str | None,
    after: str | None,
) -> httpx.Request:
    request: httpx.Request = adapter.get_request(path)
    given = {"limit": limit, "order": order, "after": after}
    params = {
        role.fields[name]: str(value)
        for name, value in given.items()
        if value is not None and name in role.fields
    }
    request.url = request.url.copy_merge_params(params)
    return request


def parse_list(
    adapter: Any, role: decl.Role, body: Any, response: httpx.Response
) -> tuple[list[Job], bool, str | None]:
    """A page read where the list's ``answer`` template puts ``{jobs}``, ``{has_more}`` and
    ``{last_id}`` (the last job's id when the page names none)."""
    at = decl.places(role.answer)
    items = decl.pick(body, at.get("jobs", "/data"))
    if not isinstance(body, dict) or not isinstance(items, list):
        raise ValueError(f"the list has no {_name(at.get('jobs', '/data'))} array")
    jobs = [adapter.parse_job(item, response) for item in items]
    last = decl.pick(body, at["last_id"]) if "last_id" in at else None
    more = decl.pick(body, at["has_more"]) if "has_more" in at else None
    return jobs, bool(more), text_or_none(last or (jobs[-1].id if jobs else None))


def parse_deleted(role: decl.Role, body: Any) -> bool:
    """Whether the delete's answer says the job went (where its template puts ``{deleted}``)."""
    pointer = decl.places(role.answer).get("deleted")
    said = decl.pick(body, pointer) if pointer is not None and isinstance(body, dict) else None
    if not isinstance(said, bool):
        raise ValueError("the answer does not say whether the video was deleted")
    return said


def content_accept(role: decl.Role, variant: str) -> str:
    """What a download accepts: the video (or an image, for another variant), and JSON last
    when the content operation declares what an unfinished job gets (an error or the job)."""
    first = "video/mp4" if variant == "video" else "image/*"
    last = "application/json" if role.not_ready is not None or role.failed is not None else "*/*"
    return f"{first}, application/octet-stream;q=0.9, {last};q=0.1"


def require(body: Any, pointer: str) -> None:
    """A KeyError naming the first key on ``pointer``'s way that an object of ``body`` lacks
    (a job without its id or status: the base adapter's ``job_fields`` raises the same)."""
    node = body
    for step in [s for s in pointer.strip("/").split("/") if s]:
        if not isinstance(node, dict):
            return
        if step not in node:
            raise KeyError(step)
        node = node[step]
