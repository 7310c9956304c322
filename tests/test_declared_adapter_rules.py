"""The client's generic adapter (``sora_client._providers.declared``), rule by rule, in
process: a throwaway provider (``reel``) written here, whose create body holds a list entry
picked by a key, required ``const``s, ``$ref`` chains and a remix field, is added with
``contracts.add_provider`` and its adapter built from its declaration; each test builds
requests or reads answers with it and pins one rule exactly (no server, no network)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import contracts
from contracts import _declaration as decl
from sora_client._exceptions import (
    BadRequestError,
    ModelUnavailableError,
    NotFoundError,
    UnsupportedOperation,
)
from sora_client._images import Image
from sora_client._providers import CreateSpec, adapter_class
from sora_client._providers.declared import (
    DeclaredAdapter,
    _places,
    _typed,
    _whole,
    declared_adapter,
)

REEL = """\
openapi: 3.1.0
info: {title: Reel, version: "1", x-provider: reel, x-provider-base-url: https://api.reel.test/base}
servers: [{url: /}]
security: [{Key: []}]
paths:
  /v1/reels:
    post:
      operationId: makeReel
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Create"}
      responses:
        "202":
          description: started
          content: {application/json: {schema: {$ref: "#/components/schemas/Job"}}}
        "400": {$ref: "#/components/responses/Err"}
  /v1/reels/{reel_id}:
    get:
      operationId: readReel
      parameters: [{name: reel_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the job
          content: {application/json: {schema: {$ref: "#/components/schemas/Job"}}}
        "404": {$ref: "#/components/responses/Err"}
  /v1/reels/{reel_id}/file:
    get:
      operationId: reelFile
      parameters:
        - {name: reel_id, in: path, required: true, schema: {type: string}}
        - {name: index, in: query, required: false, schema: {type: integer}}
      responses:
        "200":
          description: the video
          content: {video/mp4: {schema: {type: string, format: binary}}}
        "404": {$ref: "#/components/responses/Err"}
components:
  securitySchemes: {Key: {type: http, scheme: bearer}}
  schemas:
    Create: {$ref: "#/components/schemas/CreateBody"}
    CreateBody:
      type: object
      required: [engine]
      properties:
        extra_first: {type: string}
        engine: {$ref: "#/components/schemas/Engine"}
        text: {type: string}
        length: {type: string}
        dims: {type: string, default: 640x360}
        remix_of: {type: string}
        inputs: {type: array, items: {$ref: "#/components/schemas/Input"}}
        picture: {$ref: "#/components/schemas/Picture"}
    Engine: {type: string, default: reel-2}
    Input:
      type: object
      required: [kind, type, image, note]
      properties:
        kind: {type: string}
        type: {$ref: "#/components/schemas/ImageUrl"}
        note: {type: string}
        weight: {const: 1}
        image:
          type: object
          required: [format]
          properties: {format: {const: uri}, url: {type: string}}
    ImageUrl: {const: image_url}
    Picture:
      type: object
      required: [mode, url]
      properties: {mode: {const: link}, url: {type: string}, count: {type: integer}}
    Job: {type: object}
  responses:
    Err:
      description: an error
      content: {application/json: {schema: {type: object}}}
x-sora-mock:
  prefix: reel
  name: Reel
  hosts: [api.reel.test]
  key-env: REEL_KEY
  statuses: {queued: waiting, in_progress: busy, completed: ready, failed: broken}
  statuses-accepted: {rendering: in_progress}
  failure: {code: stalled, message: It stalled}
  operations:
    makeReel:
      role: create
      status: 202
      fields:
        model: /engine
        prompt: /text
        seconds: /length
        size: /dims
        image: /inputs/[kind=first]/image/url
        remix: /remix_of
    readReel: {role: read, fields: {id: reel_id}}
    reelFile: {role: content, fields: {id: reel_id, index: index}}
  job:
    id: "{job.id}"
    state: "{status}"
    progress: "{progress}"
    model: "{job.model}"
    created: "{job.created_at}"
    note: "made {job.id}"
    result: {x-when: [completed], x-value: {urls: ["{video_url}"]}}
    error: {x-when: [failed], x-value: {code: "{error.code}", message: "{error.message}"}}
    notes: {x-if: job.notes, x-value: "{job.notes}"}
  job-places:
    video_url: [/result/urls/0, /result/fallback]
  errors:
    body: {message: "{message}", status: "{status}"}
    not-found: no such reel
    model-not-found: {status: 404, code: no_engine, message: "engine {model} is gone"}
  models:
    - {id: reel-1, sizes: [1280x720, 720x1280], durations: [4, 8]}
    - {id: reel-2, sizes: [640x360], durations: [5]}
"""

PNG = Image(b"\x89PNG...", None, "image/png", 1280, 720, "cat.png")
ODD = Image(b"\x89PNG...", None, "image/png", 333, 444, "odd.png")
LINKED = Image(None, "https://example.com/cat.png", None, None, None, "cat.png")


_NAMES = itertools.count()


def _add(tmp: Path, text: str, name: str = "reel-clips") -> decl.Declaration:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return contracts.add_provider(path)


@pytest.fixture(scope="module")
def reel_decl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[decl.Declaration]:
    yield _add(tmp_path_factory.mktemp("reel"), REEL)
    contracts.forget_provider("reel-clips")


@pytest.fixture
def reel(reel_decl: decl.Declaration) -> DeclaredAdapter:
    adapter: Any = declared_adapter(reel_decl)("sk-reel-key-0123456789", None)
    return adapter  # type: ignore[no-any-return]


@pytest.fixture
def variant(tmp_path: Path) -> Iterator[Any]:
    """A variant of the reel contract (text replaced), added under another name."""
    added: list[str] = []

    def make(*changes: tuple[str, str]) -> DeclaredAdapter:
        text = REEL.replace("prefix: reel", "prefix: reelx")
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        # a new name each time: `contracts.load` keeps a name's contract for the process
        name = f"reel-variant-{next(_NAMES)}"
        added.append(name)
        adapter: Any = declared_adapter(_add(tmp_path, text, name))("sk-x", None)
        return adapter  # type: ignore[no-any-return]

    yield make
    for name in added:
        contracts.forget_provider(name)


def _body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def _create(adapter: DeclaredAdapter, **spec: Any) -> Any:
    return _body(adapter.build_create(CreateSpec(**{"prompt": "a cat", **spec})))


# ---------------------------------------------------------------- the adapter class


def test_the_class_is_named_for_the_prefix_and_carries_the_declaration(
    reel_decl: decl.Declaration,
) -> None:
    cls: Any = declared_adapter(reel_decl)
    assert cls.__name__ == "Declared_reel"
    assert issubclass(cls, DeclaredAdapter)
    assert cls.name == "reel"
    assert cls.contract_name == "reel-clips"
    assert cls.env_var == "REEL_KEY"
    assert cls.image_field == "inputs"
    assert cls.declaration is reel_decl
    assert cls.status_words == {
        "waiting": "queued",
        "busy": "in_progress",
        "ready": "completed",
        "broken": "failed",
        "rendering": "in_progress",
    }
    assert cls.places == {
        "job.id": "/id",
        "status": "/state",
        "progress": "/progress",
        "job.model": "/model",
        "job.created_at": "/created",
        "video_url": ("/result/urls/0", "/result/fallback"),
        "error.code": "/error/code",
        "error.message": "/error/message",
        "job.notes": "/notes",
    }
    assert adapter_class("reel") is not None


def test_a_create_without_an_image_field_names_the_image_field_image(variant: Any) -> None:
    adapter = variant(("        image: /inputs/[kind=first]/image/url\n", ""))
    assert type(adapter).image_field == "image"


def test_a_declaration_without_a_create_names_the_image_field_image(
    reel_decl: decl.Declaration,
) -> None:
    roles = {k: v for k, v in reel_decl.roles.items() if v.role != "create"}
    bare = decl.Declaration(**{**reel_decl.__dict__, "roles": roles})
    assert declared_adapter(bare).image_field == "image"  # type: ignore[attr-defined]


def test_the_image_field_is_the_image_pointers_first_step_as_written(variant: Any) -> None:
    adapter = variant(("image: /inputs/[kind=first]/image/url", "image: /Xpic/X"))
    assert type(adapter).image_field == "Xpic"


def test_the_default_base_url_is_the_contracts(reel: DeclaredAdapter) -> None:
    assert str(reel.base_url) == "https://api.reel.test/base"


# ---------------------------------------------------------------- places, whole, typed


def test_places_are_where_each_whole_reference_goes_first_place_winning() -> None:
    template = {
        "a": "{job.id}",
        "b": "text {job.model}",
        "c": {"x-when": ["completed"], "x-value": {"d": ["{video_url}", "{job.id}"]}},
        "e": {"x-if": "job.notes", "x-value": "{job.notes}"},
        "f": [{"g": "{progress}"}, "{status}"],
        "h": 3,
        "i": "{Upper}",
        "j": "{status}",
    }
    assert _places(template) == {
        "job.id": "/a",
        "video_url": "/c/d/0",
        "job.notes": "/e",
        "progress": "/f/0/g",
        "status": "/f/1",
    }
    assert _places("{job.id}", "/x") == {"job.id": "/x"}
    assert _places("{job.id} ") == {}
    assert _places(["{a}", "{a}"]) == {"a": "/0"}


def test_places_of_an_x_when_mapping_without_a_value_in_place_keep_the_mapping() -> None:
    assert _places({"a": {"x-value": "{job.id}", "other": "{status}"}}) == {
        "job.id": "/a/x-value",
        "status": "/a/other",
    }


def test_whole_makes_a_duration_a_whole_number_else_keeps_it() -> None:
    assert _whole(8.0) == 8 and isinstance(_whole(8.0), int)
    assert _whole("8") == 8
    assert _whole("eight") == "eight"
    assert _whole(None) is None
    assert _whole([1]) == [1]


def test_typed_sends_a_whole_number_as_text_only_where_the_schema_wants_a_string() -> None:
    assert _typed({"type": "string"}, 8) == "8"
    assert _typed({"type": "integer"}, 8) == 8
    assert _typed({}, 8) == 8
    assert _typed({"type": "string"}, True) is True
    assert _typed({"type": "string"}, 8.5) == 8.5
    assert _typed({"type": "string"}, "8") == "8"


# ---------------------------------------------------------------- the create


def test_a_create_puts_each_field_at_its_pointer_in_the_schemas_order(
    reel: DeclaredAdapter,
) -> None:
    request = reel.build_create(
        CreateSpec(prompt="a cat", image=LINKED, model="reel-1", seconds=8, size="720x1280")
    )
    assert request.method == "POST"
    assert str(request.url) == "https://api.reel.test/base/v1/reels"
    assert request.headers["Content-Type"] == "application/json"
    body = _body(request)
    assert body == {
        "engine": "reel-1",
        "text": "a cat",
        "length": "8",
        "dims": "720x1280",
        "inputs": [
            {
                "kind": "first",
                "type": "image_url",
                "image": {"format": "uri", "url": "https://example.com/cat.png"},
            }
        ],
    }
    assert list(body) == ["engine", "text", "length", "dims", "inputs"]


def test_a_create_with_no_model_takes_the_schemas_default(reel: DeclaredAdapter) -> None:
    assert _create(reel) == {"engine": "reel-2", "text": "a cat"}


def test_an_empty_prompt_is_left_out(reel: DeclaredAdapter) -> None:
    assert _create(reel, prompt="") == {"engine": "reel-2"}


def test_a_create_without_a_prompt_field_sends_none(variant: Any) -> None:
    adapter = variant(("        prompt: /text\n", ""))
    assert _create(adapter) == {"engine": "reel-2"}


def test_zero_seconds_are_sent_as_given(reel: DeclaredAdapter) -> None:
    assert _create(reel, seconds=0)["length"] == "0"
    assert _create(reel, seconds=4.0)["length"] == "4"


def test_a_size_is_sent_as_given(reel: DeclaredAdapter) -> None:
    assert _create(reel, size="1x1")["dims"] == "1x1"


def test_an_images_own_size_is_sent_when_the_model_has_it(reel: DeclaredAdapter) -> None:
    assert _create(reel, model="reel-1", image=PNG)["dims"] == "1280x720"


def test_an_images_own_size_is_not_sent_when_the_model_lacks_it(reel: DeclaredAdapter) -> None:
    assert "dims" not in _create(reel, model="reel-2", image=PNG)
    assert "dims" not in _create(reel, model="reel-1", image=ODD)


def test_an_images_own_size_is_sent_for_a_model_not_declared(reel: DeclaredAdapter) -> None:
    assert _create(reel, model="other", image=ODD)["dims"] == "333x444"


def test_an_image_of_unknown_size_sends_no_size(reel: DeclaredAdapter) -> None:
    assert "dims" not in _create(reel, model="other", image=LINKED)


def test_an_image_of_any_size_is_sent_when_it_must_match(variant: Any) -> None:
    adapter = variant(("      status: 202\n", "      status: 202\n      image-matches-size: x\n"))
    assert _create(adapter, model="reel-2", image=ODD)["dims"] == "333x444"


def test_an_image_is_sent_as_a_data_url_entry_built_with_its_consts(
    reel: DeclaredAdapter,
) -> None:
    inputs = _create(reel, image=PNG)["inputs"]
    assert inputs == [
        {"kind": "first", "type": "image_url", "image": {"format": "uri", "url": PNG.data_url()}}
    ]


def test_an_image_without_an_image_field_is_unsupported(variant: Any) -> None:
    adapter = variant(("        image: /inputs/[kind=first]/image/url\n", ""))
    with pytest.raises(UnsupportedOperation) as caught:
        adapter.build_create(CreateSpec(prompt="p", image=PNG))
    assert str(caught.value) == (
        "reelx has no reference image: create(image=...) is not part of its API "
        f"(contracts/{adapter.contract_name}.yaml)"
    )


def test_extras_come_last_in_their_order_and_override_nothing_taken(
    reel: DeclaredAdapter,
) -> None:
    body = _create(reel, extra={"zeta": 1, "engine": "mine", "alpha": 2})
    assert list(body) == ["engine", "text", "zeta", "alpha"]
    assert body["engine"] == "mine"


NESTED = (
    (
        "        model: /engine\n        prompt: /text\n        seconds: /length\n"
        "        size: /dims\n",
        "        model: /picture/url\n        prompt: /inputs/[kind=first]/note\n"
        "        seconds: /length\n        size: /inputs/[kind=size]/note\n",
    ),
    ("        remix: /remix_of\n", "        remix: /inputs/[kind=last]/note\n"),
)


def test_every_field_is_put_with_the_schema_on_its_way(variant: Any) -> None:
    adapter = variant(*NESTED)
    assert _create(adapter, model="reel-1", size="1280x720") == {
        "picture": {"mode": "link", "url": "reel-1"},
        "inputs": [
            {"kind": "first", "type": "image_url", "note": "a cat"},
            {"kind": "size", "type": "image_url", "note": "1280x720"},
        ],
    }


def test_a_remix_puts_every_field_with_the_schema_on_its_way(variant: Any) -> None:
    adapter = variant(*NESTED)
    assert _body(adapter.build_remix("r1", "a dog", {})) == {
        "picture": {"mode": "link", "url": "reel-1"},  # (no schema default there)
        "inputs": [
            {"kind": "first", "type": "image_url", "note": "a dog"},
            {"kind": "last", "type": "image_url", "note": "r1"},
        ],
    }


def test_an_extra_size_is_sent_over_a_size_tables_field() -> None:
    v3: Any = adapter_class("gptproto-v3")("sk-test", "http://127.0.0.1:9/v3")
    spec = CreateSpec(prompt="p", model="sora-2", size="720x1280", extra={"size": "big"})
    assert _body(v3.build_create(spec))["size"] == "big"


def test_extras_may_not_name_a_field_a_size_table_took() -> None:
    v3: Any = adapter_class("gptproto-v3")("sk-test", "http://127.0.0.1:9/v3")
    tall = CreateSpec(prompt="p", model="sora-2", image=ODD, extra={"orientation": "square"})
    body = _body(v3.build_create(tall))
    assert body["orientation"] == "portrait"  # no entry says square: the image's own
    body = _body(v3.build_create(CreateSpec(prompt="p", model="sora-2", extra={"x": 1})))
    assert body["x"] == 1
    assert "orientation" not in body and "size" in body  # the size field's default alone


def test_a_size_table_names_an_asked_size_in_words() -> None:
    v3: Any = adapter_class("gptproto-v3")("sk-test", "http://127.0.0.1:9/v3")
    small = _body(v3.build_create(CreateSpec(prompt="p", model="sora-2", size="720x1280")))
    large = _body(v3.build_create(CreateSpec(prompt="p", model="sora-2", size="1280x720")))
    assert (small["size"], small["orientation"]) != (large["size"], large["orientation"])


# ---------------------------------------------------------------- _put and _fill_consts


def _put(reel: DeclaredAdapter, pointer: str, value: Any, body: Any = None) -> Any:
    body = {} if body is None else body
    op = reel._operation("create")
    assert op is not None
    reel._put(body, reel._request_schema(op), pointer, value)
    return body


def test_put_builds_a_nested_object_with_its_required_consts(reel: DeclaredAdapter) -> None:
    assert _put(reel, "/picture/url", "u") == {"picture": {"mode": "link", "url": "u"}}
    assert _put(reel, "picture/count", 8) == {"picture": {"mode": "link", "count": 8}}


def test_put_finds_an_entry_already_there_by_its_key(reel: DeclaredAdapter) -> None:
    body = {"inputs": [{"kind": "last"}, {"kind": "first", "image": {}}]}
    _put(reel, "/inputs/[kind=first]/image/url", "u", body)
    assert body == {"inputs": [{"kind": "last"}, {"kind": "first", "image": {"url": "u"}}]}


def test_put_adds_an_entry_after_those_already_there(reel: DeclaredAdapter) -> None:
    body = {"inputs": [{"kind": "last"}]}
    _put(reel, "/inputs/[kind=first]/note", "n", body)
    assert body == {
        "inputs": [{"kind": "last"}, {"kind": "first", "type": "image_url", "note": "n"}]
    }


def test_put_at_an_index_replaces_or_appends(reel: DeclaredAdapter) -> None:
    assert _put(reel, "/inputs/0", "a") == {"inputs": ["a"]}
    assert _put(reel, "/inputs/0", "b", {"inputs": ["a", "c"]}) == {"inputs": ["b", "c"]}
    assert _put(reel, "/inputs/1", "b", {"inputs": ["a", "c"]}) == {"inputs": ["a", "b"]}


def test_put_of_a_last_digit_key_in_an_object_is_a_key(reel: DeclaredAdapter) -> None:
    assert _put(reel, "/7", 8) == {"7": 8}
    assert _put(reel, "/picture/7", "x", {"picture": {}}) == {"picture": {"7": "x"}}
    assert _put(reel, "/picture/7", "x") == {"picture": ["x"]}  # a list made for an index


def test_put_strips_only_slashes_from_a_pointer(reel: DeclaredAdapter) -> None:
    assert _put(reel, "/Xa/", 1) == {"Xa": 1}
    assert _put(reel, "/ a ", 1) == {" a ": 1}


def test_put_makes_a_list_only_for_a_step_before_an_index(reel: DeclaredAdapter) -> None:
    assert _put(reel, "/picture/shots/0", "x") == {"picture": {"mode": "link", "shots": ["x"]}}


def test_put_types_the_last_value_by_its_schema(reel: DeclaredAdapter) -> None:
    assert _put(reel, "/length", 4) == {"length": "4"}
    assert _put(reel, "/picture/count", 4) == {"picture": {"mode": "link", "count": 4}}
    assert _put(reel, "/inputs/[kind=first]/note", 4)["inputs"][0]["note"] == "4"


def test_put_into_a_schema_free_body(reel: DeclaredAdapter) -> None:
    body: dict[str, Any] = {}
    reel._put(body, {}, "/a/[k=v]/b", 1)
    reel._put(body, None, "/c", 2)
    assert body == {"a": [{"k": "v", "b": 1}], "c": 2}


def test_fill_consts_fills_only_required_consts_not_already_set(reel: DeclaredAdapter) -> None:
    schema = {
        "required": ["a", "b", "c", "d"],
        "properties": {
            "a": {"const": 1},
            "b": {"const": 2},
            "c": {"type": "string"},
            "d": {"$ref": "#/components/schemas/ImageUrl"},
            "e": {"const": 5},
        },
    }
    entry: dict[str, Any] = {"b": 9}
    reel._fill_consts(entry, schema)
    assert entry == {"b": 9, "a": 1, "d": "image_url"}
    empty: dict[str, Any] = {}
    reel._fill_consts(empty, {})
    reel._fill_consts(empty, {"required": ["a"]})
    assert empty == {}


def test_resolve_follows_a_chain_of_refs_and_makes_a_non_object_empty(
    reel: DeclaredAdapter,
) -> None:
    assert reel._resolve({"$ref": "#/components/schemas/Create"})["required"] == ["engine"]
    assert reel._resolve({"$ref": "#/components/schemas/ImageUrl"}) == {"const": "image_url"}
    assert reel._resolve(True) == {}
    assert reel._resolve(None) == {}
    assert reel._resolve({"type": "x"}) == {"type": "x"}


def test_schema_at_walks_properties_and_list_items(reel: DeclaredAdapter) -> None:
    op = reel._operation("create")
    assert op is not None
    schema = reel._request_schema(op)
    assert reel._schema_at(schema, "/engine") == {"type": "string", "default": "reel-2"}
    assert reel._schema_at(schema, "/inputs/[kind=first]/type") == {"const": "image_url"}
    assert reel._schema_at(schema, "inputs/[kind=first]/image/format/") == {"const": "uri"}
    assert reel._schema_at(schema, "/nothing/here") == {}
    assert reel._schema_at(schema, "") is schema


def test_schema_at_strips_only_slashes(reel: DeclaredAdapter) -> None:
    schema = {"properties": {"Xs": {"type": "integer"}, " s ": {"type": "number"}}}
    assert reel._schema_at(schema, "/Xs") == {"type": "integer"}
    assert reel._schema_at(schema, "/ s ") == {"type": "number"}


def test_the_request_schema_of_an_operation_without_a_json_body_is_empty(
    reel: DeclaredAdapter,
) -> None:
    read = reel._operation("read")
    assert read is not None
    assert reel._request_schema(read) == {}
    op: Any = type("Op", (), {"definition": {"requestBody": {"content": {"text/plain": {}}}}})
    assert reel._request_schema(op) == {}


# ---------------------------------------------------------------- the default model


def test_the_default_model_is_the_schemas_const_first(
    variant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = variant(("Engine: {type: string, default: reel-2}", "Engine: {const: reel-1}"))
    assert adapter.default_model() == "reel-1"
    # (a contract whose default contradicts its const is refused at load: a schema here)
    schema = {"properties": {"engine": {"const": "reel-1", "default": "reel-2"}}}
    monkeypatch.setattr(adapter, "_request_schema", lambda op: schema)
    assert adapter.default_model() == "reel-1"


def test_the_default_model_without_const_or_default_is_the_first_declared(variant: Any) -> None:
    adapter = variant(("Engine: {type: string, default: reel-2}", "Engine: {type: string}"))
    assert adapter.default_model() == "reel-1"


# ---------------------------------------------------------------- pixel_target


def test_no_pixel_target_when_any_image_will_do(reel: DeclaredAdapter) -> None:
    assert reel._matched() is False
    assert reel.pixel_target(CreateSpec(prompt="p", size="1280x720")) is None


@pytest.fixture
def matched(variant: Any) -> DeclaredAdapter:
    adapter: DeclaredAdapter = variant(
        ("      status: 202\n", "      status: 202\n      image-matches-size: x\n")
    )
    return adapter


def test_a_pixel_target_is_the_size_asked_for(matched: DeclaredAdapter) -> None:
    assert matched._matched() is True
    assert matched.pixel_target(CreateSpec(prompt="p", size="720x1280", image=ODD)) == (720, 1280)


def test_a_pixel_target_is_else_the_images_own(matched: DeclaredAdapter) -> None:
    assert matched.pixel_target(CreateSpec(prompt="p", image=ODD)) == (333, 444)


def test_a_pixel_target_is_else_the_schemas_default(matched: DeclaredAdapter) -> None:
    assert matched.pixel_target(CreateSpec(prompt="p", image=LINKED)) == (640, 360)
    assert matched.pixel_target(CreateSpec(prompt="p")) == (640, 360)


def test_no_pixel_target_without_a_default_size(variant: Any) -> None:
    adapter = variant(
        ("      status: 202\n", "      status: 202\n      image-matches-size: x\n"),
        ("dims: {type: string, default: 640x360}", "dims: {type: string}"),
    )
    assert adapter.pixel_target(CreateSpec(prompt="p")) is None


def test_a_pixel_target_from_a_size_table() -> None:
    v3: Any = adapter_class("gptproto-v3")("sk-test", "http://127.0.0.1:9/v3")
    assert v3.pixel_target(CreateSpec(prompt="p", model="sora-2", size="1280x720")) == (1280, 720)
    assert v3.pixel_target(CreateSpec(prompt="p", model="sora-2", size="720x1280")) == (720, 1280)
    assert v3.pixel_target(CreateSpec(prompt="p", model="sora-2", image=ODD)) == (720, 1280)
    assert v3.pixel_target(CreateSpec(prompt="p", model="sora-2", size="9x9")) is None


# ---------------------------------------------------------------- remix, read, content


def test_a_remix_is_a_create_naming_its_source(reel: DeclaredAdapter) -> None:
    request = reel.build_remix("reel_1", "a dog", {"length": "4", "text": "over"})
    assert request.method == "POST"
    assert str(request.url) == "https://api.reel.test/base/v1/reels"
    body = _body(request)
    assert body == {"engine": "reel-2", "text": "over", "remix_of": "reel_1", "length": "4"}
    assert list(body) == ["engine", "text", "remix_of", "length"]


def test_a_remix_without_a_prompt_field_sends_none(variant: Any) -> None:
    adapter = variant(("        prompt: /text\n", ""))
    assert _body(adapter.build_remix("r", "a dog", {})) == {"engine": "reel-2", "remix_of": "r"}


def test_a_remix_without_a_remix_field_is_unsupported(variant: Any) -> None:
    adapter = variant(("        remix: /remix_of\n", ""))
    with pytest.raises(UnsupportedOperation, match=r"^reelx has no remix operation: remix\(\) "):
        adapter.build_remix("r", "a dog", {})


def test_a_read_gets_the_job_at_its_quoted_id(reel: DeclaredAdapter) -> None:
    request = reel.build_get("a/b c")
    assert request.method == "GET"
    assert str(request.url) == "https://api.reel.test/base/v1/reels/a%2Fb%20c"
    assert reel._path("read") == "/v1/reels/{reel_id}"


def test_a_download_gets_the_content_operation(reel: DeclaredAdapter) -> None:
    request = reel.build_content("r1")
    assert request is not None
    assert request.method == "GET"
    assert str(request.url) == "https://api.reel.test/base/v1/reels/r1/file"
    assert request.headers["Accept"] == "video/mp4, application/octet-stream;q=0.9, */*;q=0.1"


def test_a_download_of_another_variant_is_unsupported(reel: DeclaredAdapter) -> None:
    with pytest.raises(UnsupportedOperation) as caught:
        reel.build_content("r1", "thumbnail")
    assert "download(variant='thumbnail')" in str(caught.value)
    assert "has no content variants" in str(caught.value)


def _without_operation(name: str, op_id: str) -> tuple[tuple[str, str], ...]:
    """Text changes dropping one operation (its path) and its role."""
    start = REEL.index(f"  {name}:\n")
    end = REEL.index("components:")
    return (
        (REEL[start:end], ""),
        (next(line for line in REEL.splitlines(keepends=True) if f"    {op_id}:" in line), ""),
    )


def test_without_a_content_operation_a_download_goes_by_url(variant: Any) -> None:
    adapter = variant(*_without_operation("/v1/reels/{reel_id}/file", "reelFile"))
    assert adapter.build_content("r1") is None
    assert adapter._operation("content") is None


def test_without_a_read_operation_a_read_is_unsupported(variant: Any) -> None:
    start = REEL.index("  /v1/reels/{reel_id}:\n")
    end = REEL.index("  /v1/reels/{reel_id}/file:")
    adapter = variant(
        (REEL[start:end], ""), ("    readReel: {role: read, fields: {id: reel_id}}\n", "")
    )
    with pytest.raises(UnsupportedOperation) as caught:
        adapter.build_get("r1")
    assert str(caught.value).startswith("reelx has no read operation: read() is not part")


def test_the_models_are_the_declared_ones_in_order(reel: DeclaredAdapter) -> None:
    assert reel.models() == ["reel-1", "reel-2"]


# ---------------------------------------------------------------- errors


def _error(adapter: DeclaredAdapter, status: int, body: Any) -> Any:
    content = json.dumps(body).encode()
    response = httpx.Response(status, content=content, headers={"x-request-id": "req-1"})
    return adapter.error(response, content)


def test_the_declared_model_not_found_is_a_model_unavailable_error(reel: DeclaredAdapter) -> None:
    found = _error(reel, 404, {"error": {"message": "engine reel-9 is gone", "code": "no_engine"}})
    assert type(found) is ModelUnavailableError
    assert found.message == "engine reel-9 is gone"
    assert found.provider == "reel"
    assert found.status_code == 404
    assert found.provider_code == "no_engine"
    assert found.request_id == "req-1"
    assert found.body == {"error": {"message": "engine reel-9 is gone", "code": "no_engine"}}


def test_other_words_or_status_keep_their_own_error(reel: DeclaredAdapter) -> None:
    assert type(_error(reel, 404, {"message": "engine  is gone"})) is NotFoundError
    assert type(_error(reel, 404, {"message": "the engine x is gone"})) is NotFoundError
    assert type(_error(reel, 404, {"message": "engine x is gone now"})) is NotFoundError
    assert type(_error(reel, 400, {"message": "engine x is gone"})) is BadRequestError


def test_model_not_found_words_without_the_model_match_whole(variant: Any) -> None:
    adapter = variant(('message: "engine {model} is gone"', "message: no (such) engine"))
    assert type(_error(adapter, 404, {"message": "no (such) engine"})) is ModelUnavailableError
    assert type(_error(adapter, 404, {"message": "no (such) engine!"})) is NotFoundError
    assert type(_error(adapter, 404, {"message": "no such engine"})) is NotFoundError


def test_model_not_found_words_naming_the_model_twice(variant: Any) -> None:
    adapter = variant(('message: "engine {model} is gone"', 'message: "{model}: no {model}"'))
    assert type(_error(adapter, 404, {"message": "x-1: no x-1"})) is ModelUnavailableError
    assert type(_error(adapter, 404, {"message": "x-1: no {model}"})) is ModelUnavailableError
    assert type(_error(adapter, 404, {"message": "x-1: none"})) is NotFoundError
    assert type(_error(adapter, 404, {"message": "x-1 no x-1"})) is NotFoundError


# ---------------------------------------------------------------- reading a job


def _job(adapter: DeclaredAdapter, body: Any, **headers: str) -> Any:
    return adapter.parse_job(body, httpx.Response(200, json=body, headers=headers))


def test_a_job_is_read_where_the_template_puts_each_value(reel: DeclaredAdapter) -> None:
    body = {
        "id": "reel_1",
        "state": "ready",
        "progress": 0.5,
        "model": "reel-1",
        "created": 1_700_000_000,
        "result": {"urls": ["https://v/1.mp4"]},
        "error": {"code": "x", "message": "y"},
    }
    job = _job(reel, body, **{"x-request-id": "req-9"})
    assert job.id == "reel_1"
    assert job.provider == "reel"
    assert job.status == "completed"
    assert job.progress == 1.0
    assert job.video_url == "https://v/1.mp4"
    # a flat job says its error whatever its status (the gpt.ge move: as the base adapter)
    assert job.error_code == "x" and job.error_message == "y"
    assert job.raw is body
    assert job.model == "reel-1"
    assert job.created_at is not None and job.created_at.timestamp() == 1_700_000_000
    assert job.request_id == "req-9"


def test_a_running_jobs_progress_is_read_and_clamped(reel: DeclaredAdapter) -> None:
    assert _job(reel, {"id": "r", "state": "busy", "progress": 0.25}).progress == 0.25
    assert _job(reel, {"id": "r", "state": "rendering", "progress": 7}).progress == 1.0
    assert _job(reel, {"id": "r", "state": "waiting"}).progress == 0.0
    running = _job(reel, {"id": "r", "state": "busy"})
    assert running.status == "in_progress"
    assert running.video_url is None and running.model is None and running.created_at is None
    assert running.request_id is None


def test_a_failed_job_carries_its_error_as_text(reel: DeclaredAdapter) -> None:
    job = _job(reel, {"id": "r", "state": "broken", "error": {"code": 7, "message": "bad"}})
    assert job.status == "failed"
    assert (job.error_code, job.error_message) == ("7", "bad")
    bare = _job(reel, {"id": "r", "state": "broken"})
    assert (bare.error_code, bare.error_message) == (None, None)


def test_progress_in_percent_is_scaled(variant: Any) -> None:
    adapter = variant(('progress: "{progress}"', 'progress: "{progress_percent}"'))
    assert _job(adapter, {"id": "r", "state": "busy", "progress": 40}).progress == 0.4
    assert _job(adapter, {"id": "r", "state": "ready", "progress": 40}).progress == 1.0


def test_without_a_progress_place_progress_is_done_or_not(variant: Any) -> None:
    adapter = variant(('    progress: "{progress}"\n', ""))
    assert _job(adapter, {"id": "r", "state": "busy", "progress": 0.5}).progress == 0.0
    assert _job(adapter, {"id": "r", "state": "ready", "progress": 0.5}).progress == 1.0


def test_a_job_that_is_not_an_object_or_has_no_id_is_refused(reel: DeclaredAdapter) -> None:
    with pytest.raises(ValueError, match=r"^the job is not a JSON object$"):
        _job(reel, [])
    with pytest.raises(KeyError, match=r"^'id'$"):  # a flat job without the key: the base's
        _job(reel, {"state": "ready"})
    with pytest.raises(ValueError, match=r"^the job has no id$"):
        _job(reel, {"id": "", "state": "ready"})
    with pytest.raises(ValueError, match=r"^the job has no id$"):
        _job(reel, {"id": 7, "state": "ready"})
    with pytest.raises(ValueError, match=r"^unknown status 'done'$"):
        _job(reel, {"id": "r", "state": "done"})


def test_an_envelope_is_checked_and_named_the_answer() -> None:
    v3: Any = adapter_class("gptproto-v3")("sk-test", "http://127.0.0.1:9/v3")
    with pytest.raises(ValueError, match=r"^the answer is not a JSON object$"):
        _job(v3, "x")
    with pytest.raises(ValueError, match=r"^the prediction has no id$"):
        _job(v3, {"code": 200, "data": {}})


def test_the_video_url_is_the_first_non_empty_text_of_its_places(reel: DeclaredAdapter) -> None:
    def url(result: Any) -> Any:
        return reel._url_at({"result": result})

    assert url({"urls": ["a"], "fallback": "b"}) == "a"
    assert url({"urls": [""], "fallback": "b"}) == "b"
    assert url({"urls": [7], "fallback": "b"}) == "b"
    assert url({"urls": [None]}) is None
    assert url({"urls": ["", "c"]}) is None


def test_the_video_url_of_one_place_or_none(reel: DeclaredAdapter) -> None:
    adapter: Any = reel
    adapter.places = {"video_url": "/u"}
    assert adapter._url_at({"u": "x"}) == "x"
    assert adapter._url_at({"u": ""}) is None
    adapter.places = {}
    assert adapter._url_at({"u": "x"}) is None


def test_a_value_is_read_at_one_place_the_first_of_several_or_not_at_all(
    reel: DeclaredAdapter,
) -> None:
    adapter: Any = reel
    adapter.places = {"a": "/x/y", "b": ("/p", "/q"), "c": "/[k=v]/w"}
    assert adapter._at({"x": {"y": 3}}, "a") == 3
    assert adapter._at({"q": 4}, "b") == 4
    assert adapter._at({"p": 5, "q": 4}, "b") == 5
    assert adapter._at([{"k": "v", "w": 6}], "c") == 6
    assert adapter._at({"x": {"y": 3}}, "d") is None
