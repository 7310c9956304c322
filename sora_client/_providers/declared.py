"""The client's generic adapter: a provider driven by its contract's declaration, with no
Python of its own (``contracts/_declaration.py``; the mock serves the same declaration).

Everything is read from the declaration and the contract:

* create: the operation with the role ``create`` (its method and path); the neutral fields go
  where the declaration's ``fields`` point (``/frame_images/[frame_type=first_frame]/...``
  builds the list entry), and every required property the schema fixes with a ``const`` on
  the way is filled in (``type: image_url``); the image is sent as its URL, or a ``data:`` URL;
* status: the ``read`` operation; a job body is read where the ``job`` template puts each
  value (a template value that is one reference, ``"{job.id}"``, names its place); the
  provider's status words map back to the lifecycle's;
* download: the ``content`` operation.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import httpx

import contracts
from contracts import _declaration as decl
from contracts import _named_sizes
from contracts._decl_answers import client_name
from contracts._pointers import first, pick_all
from sora_client._exceptions import APIError, ModelUnavailableError
from sora_client._images import parse_size
from sora_client._models import Job, parse_timestamp
from sora_client._providers import declared_envelope, declared_roles, declared_sizes
from sora_client._providers.base import Adapter, CreateSpec, clamp01, request_id, text_or_none
from sora_client._retry import poll_after

_STEP = re.compile(r"\[([^=\]]+)=([^\]]*)\]")


class DeclaredAdapter(Adapter):
    declaration: ClassVar[decl.Declaration]
    #: template reference -> JSON pointer of the job body where the template puts it (or the
    #: declaration's ``job-places``: pointers tried in order)
    places: ClassVar[dict[str, str | tuple[str, ...]]]

    def _operation(self, role: str) -> contracts.Operation | None:
        found = self.declaration.role(role)
        return self.contract.operation(found.operation_id) if found else None

    def _path(self, role: str, job_id: str | None = None, **query: Any) -> str:
        op = self._operation(role)
        if op is None:
            raise self.unsupported(f"{role}()", f"{role} operation")
        fields = self.declaration.roles[op.operation_id].fields
        path = op.path
        if job_id is not None:
            path = path.replace("{" + fields["id"] + "}", self.quote_id(job_id))
        return path

    # ------------------------------------------------------------------ requests

    def build_create(self, spec: CreateSpec) -> httpx.Request:
        op = self._operation("create")
        assert op is not None  # a declaration has exactly one create (checked at load)
        fields = self.declaration.roles[op.operation_id].fields
        if "image-file" in fields:
            return declared_roles.file_create(self, spec, op.path, dict(fields))
        schema = self._request_schema(op)
        body: dict[str, Any] = {}
        model = spec.model or self.default_model()
        self._put(body, schema, fields["model"], model)
        if "prompt" in fields and spec.prompt:
            self._put(body, schema, fields["prompt"], spec.prompt)
        if spec.seconds is not None:
            self._put(body, schema, fields["seconds"], _whole(spec.seconds))
        size = spec.size
        if size is None and spec.image is not None and spec.image.size is not None:
            width, height = spec.image.size
            declared = self.declaration.model(model)
            if declared is None or f"{width}x{height}" in declared.sizes or self._matched():
                size = f"{width}x{height}"
        table = self.declaration.answers.size_fields
        named = self._named_size(spec) if table else {} if size is None else {fields["size"]: size}
        for pointer, value in named.items():  # a size, or the fields naming it (size-fields)
            self._put(body, schema, pointer, value)
        if spec.image is not None:
            if "image" not in fields:
                raise self.unsupported("create(image=...)", "reference image")
            self._put(body, schema, fields["image"], spec.image.url_or_data_url())
        body = declared_sizes.in_schema_order(body, schema)  # then extras, in their order
        taken = declared_sizes.left_out(table, fields["size"])
        body.update({k: v for k, v in spec.extra.items() if k not in taken})
        return self.json_request(op.method.upper(), op.path, body)

    def _named_size(self, spec: CreateSpec) -> dict[str, Any]:
        """The fields naming the create's size in words (``size-fields``)."""
        op = self._operation("create")
        assert op is not None  # a declaration has exactly one create (checked at load)
        pointer = self.declaration.roles[op.operation_id].fields["size"]
        default = self._schema_at(self._request_schema(op), pointer).get("default")
        table = self.declaration.answers.size_fields
        return declared_sizes.named_fields(self, table, pointer, spec, default)

    def _request_schema(self, op: contracts.Operation) -> Any:
        return self._resolve(self._body_schema(op))

    def _body_schema(self, op: contracts.Operation) -> Any:
        """The create body's schema: the JSON one, else the multipart form's."""
        content = op.definition.get("requestBody", {}).get("content", {})
        media = content.get("application/json") or content.get("multipart/form-data") or {}
        return media.get("schema", {})

    @property
    def create_schema(self) -> str | None:
        """The ``$ref`` of the create body's schema, when it names one (``schema(...)``)."""
        op = self._operation("create")
        ref = self._body_schema(op).get("$ref") if op is not None else None
        return ref if isinstance(ref, str) else None

    def _resolve(self, schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.contract.resolve(schema["$ref"])
        return schema if isinstance(schema, dict) else {}

    def _put(self, body: dict[str, Any], schema: Any, pointer: str, value: Any) -> None:
        """Set ``value`` at ``pointer``, building the objects and list entries on the way."""
        steps = [s for s in pointer.strip("/").split("/") if s]
        node: Any = body
        schema = self._resolve(schema)
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            select = _STEP.fullmatch(step)
            if select:
                key, wanted = select.groups()
                entry = next((x for x in node if x.get(key) == wanted), None)
                schema = self._resolve(schema.get("items", {}))
                if entry is None:
                    entry = {key: wanted}
                    self._fill_consts(entry, schema)
                    node.append(entry)
                node = entry
                continue
            if last and step.isdigit() and isinstance(node, list):  # an entry by index: /images/0
                node[int(step) : int(step) + 1] = [value]
                return
            child_schema = self._resolve(schema.get("properties", {}).get(step, {}))
            if last:
                node[step] = _typed(child_schema, value)
                return
            is_list = _STEP.fullmatch(steps[i + 1]) is not None or steps[i + 1].isdigit()
            if step not in node:
                node[step] = [] if is_list else {}
                if not is_list:
                    self._fill_consts(node[step], child_schema)
            node, schema = node[step], child_schema

    def _fill_consts(self, entry: dict[str, Any], schema: Any) -> None:
        for name in schema.get("required", []):
            prop = self._resolve(schema.get("properties", {}).get(name, {}))
            if name not in entry and "const" in prop:
                entry[name] = prop["const"]

    # ------------------------------------------------------------------ what a seed API needed

    def default_model(self) -> str:
        """The model the create's schema fixes (``const``) or defaults to, else the first
        declared one."""
        op = self._operation("create")
        assert op is not None  # a declaration has exactly one create (checked at load)
        fields = self.declaration.roles[op.operation_id].fields
        model = self._schema_at(self._request_schema(op), fields["model"])
        return str(model.get("const") or model.get("default") or self.declaration.models[0].id)

    def _schema_at(self, schema: Any, pointer: str) -> Any:
        for step in [s for s in pointer.strip("/").split("/") if s]:
            if _STEP.fullmatch(step):
                schema = self._resolve(schema.get("items", {}))
            else:
                schema = self._resolve(schema.get("properties", {}).get(step, {}))
        return schema

    def _matched(self) -> bool:
        """The create declares ``image-matches-size``: the image must be the video's size."""
        create = self.declaration.role("create")
        return create is not None and create.image_mismatch is not None

    def pixel_target(self, spec: CreateSpec) -> tuple[int, int] | None:
        """With ``image-matches-size``: the size asked for, else the image's own, else the
        schema's default; None otherwise (any image will do)."""
        op = self._operation("create")
        if op is None or not self._matched():
            return None
        table = self.declaration.answers.size_fields
        if table:
            body: dict[str, Any] = {}
            for pointer, value in self._named_size(spec).items():
                self._put(body, {}, pointer, value)
            defaults = _named_sizes.defaults(self.contract, self._request_schema(op), table)
            found = _named_sizes.size_of(table, body, defaults)
            return _named_sizes.pixels(found) if found else None
        size: Any = spec.size
        if size is None and spec.image is not None and spec.image.size is not None:
            size = "{}x{}".format(*spec.image.size)
        if size is None:
            pointer = self.declaration.roles[op.operation_id].fields["size"]
            size = self._schema_at(self._request_schema(op), pointer).get("default")
        return parse_size(size) if isinstance(size, str) else None

    def build_remix(self, job_id: str, prompt: str, extra: dict[str, Any]) -> httpx.Request:
        """A remix: the ``remix`` operation, or through the create when it declares a ``remix``
        field (the source's id)."""
        remix = self._operation("remix")
        if remix is not None:
            fields = self.declaration.roles[remix.operation_id].fields
            named = {fields["prompt"].strip("/"): prompt} if "prompt" in fields else {}
            return self.json_request(
                remix.method.upper(), self._path("remix", job_id), {**named, **extra}
            )
        op = self._operation("create")
        assert op is not None  # a declaration has exactly one create (checked at load)
        fields = self.declaration.roles[op.operation_id].fields
        if "remix" not in fields:
            raise self.unsupported("remix()", "remix operation")
        schema = self._request_schema(op)
        body: dict[str, Any] = {}
        self._put(body, schema, fields["model"], self.default_model())
        if "prompt" in fields:
            self._put(body, schema, fields["prompt"], prompt)
        self._put(body, schema, fields["remix"], job_id)
        return self.json_request(op.method.upper(), op.path, {**body, **extra})

    def build_get(self, job_id: str) -> httpx.Request:
        return self.get_request(self._path("read", job_id))

    def build_content(self, job_id: str, variant: str = "video") -> httpx.Request | None:
        role = self.declaration.role("content")
        if variant != "video" and (role is None or "variant" not in role.fields):
            raise self.unsupported(f"download(variant={variant!r})", "content variants")
        if role is None:
            return None
        request = self.get_request(
            self._path("content", job_id), Accept=declared_roles.content_accept(role, variant)
        )
        if variant != "video":
            # the contract's enum decides which variants exist (validated before sending)
            request.url = request.url.copy_merge_params({role.fields["variant"]: variant})
        return request

    def build_list(self, limit: int | None, order: str | None, after: str | None) -> httpx.Request:
        role = self.declaration.role("list")
        if role is None:
            return super().build_list(limit, order, after)
        return declared_roles.build_list(self, role, self._path("list"), limit, order, after)

    def parse_list(self, body: Any, response: httpx.Response) -> tuple[list[Job], bool, str | None]:
        role = self.declaration.role("list")
        if role is None:
            return super().parse_list(body, response)
        return declared_roles.parse_list(self, role, body, response)

    def build_delete(self, job_id: str) -> httpx.Request:
        op = self._operation("delete")
        if op is None:
            return super().build_delete(job_id)
        path = self._path("delete", job_id)
        return httpx.Request(op.method.upper(), self.url(path), headers=self.headers())

    def parse_deleted(self, body: Any) -> bool:
        role = self.declaration.role("delete")
        if role is None:
            return super().parse_deleted(body)
        return declared_roles.parse_deleted(role, body)

    # ------------------------------------------------------------------ answers

    def error(self, response: httpx.Response, content: bytes) -> APIError:
        """The typed error; the declared "model not found" (its status and its message, the
        model's name anywhere in it) is a ModelUnavailableError whatever its words."""
        found = super().error(response, content)
        status, _, template = self.declaration.model_not_found
        # each `{model}` is the model's name (the mock fills every one: str.format)
        words = re.compile(".+".join(re.escape(part) for part in template.split("{model}")))
        if response.status_code == status and words.fullmatch(str(found.message)):
            return ModelUnavailableError(
                str(found.message),
                provider=self.name,
                status_code=status,
                provider_code=found.provider_code,
                request_id=found.request_id,
                body=found.body,
            )
        return found

    def parse_job(self, body: Any, response: httpx.Response) -> Job:
        envelope = self.declaration.answers.envelope
        if not isinstance(body, dict):
            raise ValueError(f"the {'answer' if envelope else 'job'} is not a JSON object")
        if envelope is not None:
            declared_envelope.check(self, envelope, body, response)
        else:  # a flat job: a missing id or status is a KeyError, as the base adapter's
            for name in ("job.id", "status"):
                pointer = self.places.get(name)
                if isinstance(pointer, str):
                    declared_roles.require(body, pointer)
        job_id = self._at(body, "job.id")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError(f"the {self.declaration.answers.job_noun} has no id")
        status = self.neutral_status(self._at(body, "status"))
        progress = 1.0 if status == "completed" else 0.0
        if "progress" in self.places:
            progress = progress or clamp01(self._at(body, "progress"))
        elif "progress_percent" in self.places:
            progress = progress or clamp01(self._at(body, "progress_percent"), 100)
        video_url = self._url_at(body)
        said = status == "failed" or envelope is None
        content = self.declaration.role("content")
        if (
            content is not None
            and content.video_url
            and not (isinstance(video_url, str) and video_url)
        ):
            # `video-url`: a completed job is whole at its content URL (it needs the key)
            completed = status == "completed"
            video_url = str(self.url(self._path("content", job_id))) if completed else None
        return Job(
            id=job_id,
            provider=self.name,
            status=status,
            progress=progress,
            video_url=video_url,
            # a flat job says its error whatever its status, as the base adapter's job_fields
            error_code=text_or_none(self._at(body, "error.code")) if said else None,
            error_message=text_or_none(self._at(body, "error.message")) if said else None,
            raw=body,
            model=text_or_none(self._at(body, "job.model")),
            created_at=parse_timestamp(self._at(body, "job.created_at")),
            request_id=request_id(response),
            _poll_after=poll_after(response),
        )

    def _url_at(self, body: Any) -> str | None:
        """The video's URL: the first non-empty text where it is declared (a URL is text)."""
        pointer = self.places.get("video_url")
        pointers = pointer if isinstance(pointer, tuple) else (pointer,) if pointer else ()
        texts = (v for p in pointers for v in pick_all(body, p) if isinstance(v, str) and v)
        return next(texts, None)

    def models(self) -> list[str]:
        """The declared models' ids, in declared order."""
        return [model.id for model in self.declaration.models]

    def _at(self, body: Any, name: str) -> Any:
        pointer = self.places.get(name)
        if isinstance(pointer, tuple):
            return first(body, pointer)
        return decl.pick(body, pointer) if pointer is not None else None


def _places(template: Any, at: str = "") -> dict[str, str]:
    """Where the job template puts each whole reference: ``{"job.id": "/id", ...}``."""
    found: dict[str, str] = {}
    if isinstance(template, dict):
        for key, value in template.items():
            if isinstance(value, dict) and ("x-when" in value or "x-if" in value):
                value = value["x-value"]
            for name, pointer in _places(value, f"{at}/{key}").items():
                found.setdefault(name, pointer)
    elif isinstance(template, list):
        for i, value in enumerate(template):
            for name, pointer in _places(value, f"{at}/{i}").items():
                found.setdefault(name, pointer)
    elif isinstance(template, str):
        whole = re.fullmatch(r"\{([a-z_.]+)\}", template)
        if whole:
            found[whole.group(1)] = at
    return found


def _whole(value: Any) -> Any:
    """A duration as a whole number; a value that is not one is sent as given, for the
    contract to refuse (an InvalidRequestError naming the field, never a ValueError)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _typed(schema: Any, value: Any) -> Any:
    """A whole number goes as text where the schema wants a string (Vtrix's ``seconds``)."""
    number = isinstance(value, int) and not isinstance(value, bool)
    return str(value) if number and schema.get("type") == "string" else value


def declared_adapter(declaration: decl.Declaration) -> type[Adapter]:
    """The adapter class of one declared provider, named by its prefix
    (``SoraClient("openrouter")``)."""
    create = declaration.role("create")
    fields = create.fields if create else {}
    image = fields.get("image") or fields.get("image-file") or "/image"
    return type(
        f"Declared_{declaration.prefix}",
        (DeclaredAdapter,),
        {
            "name": client_name(declaration),
            "contract_name": declaration.contract,
            "env_var": declaration.key_env,
            "image_field": image.strip("/").split("/")[0],
            "status_words": {word: status for status, word in declaration.statuses.items()}
            | dict(declaration.statuses_accepted),
            "declaration": declaration,
            "places": {**_places(declaration.job), **declaration.job_places},
        },
    )
