"""What ``sora-mock verify`` plans to send (mockserver/conformance/planning.py), request by
request: the free probes (a read without credentials expecting the contract's 401, a read of
an id that cannot exist for each read with a path parameter, each list), the create built from
the contract's own example (an ``--image`` URL in place of the example's, a PNG of the
example's size for a multipart create that needs one), what is never sent and why, and the
generated read cases (GET only, no credentials of their own, no control characters).

Real contracts where they show the behaviour; a small contract of the test's own for the
branches no shipped contract reaches."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from contracts import Operation
from mockserver.conformance import planning
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.planning import UNKNOWN_ID, Planner, RequestSpec
from mockserver.conformance.verifier import Verifier


def planner(provider: str, **kwargs: Any) -> Verifier:
    kwargs.setdefault("generated", 0)
    return Verifier(provider, "https://provider.example/api", "sk-test", **kwargs)


def plan(specs: list[RequestSpec]) -> list[tuple[Any, ...]]:
    return [
        (s.kind, s.operation.operation_id, s.method, s.path)
        + (s.auth, s.expect_status, s.expect_error)
        for s in specs
    ]


# --------------------------------------------------------------------------- a contract of our own


@dataclass
class SmallContract:
    """Just what the planner reads of a contract: operations, links, examples."""

    operations: dict[str, Operation]
    spec: dict[str, Any] = field(default_factory=lambda: {"info": {}})
    name: str = "small"

    def operation(self, op_id: str) -> Operation:
        return self.operations[op_id]

    def resolve(self, ref: str) -> Any:
        raise AssertionError(f"no $ref in this contract: {ref}")


def op(op_id: str, method: str, path: str, **definition: Any) -> Operation:
    definition.setdefault("responses", {"200": {}, "401": {}})
    return Operation(op_id, method, path, definition, ())


def small(*operations: Operation, generated: int = 0, max_creates: int = 1) -> Planner:
    contract = SmallContract({o.operation_id: o for o in operations})
    found = Planner()
    found.contract = contract  # type: ignore[assignment]
    found.map = ContractMap(contract)  # type: ignore[arg-type]
    found.base_url = "https://provider.example"
    found.image_url = None
    found.generated = generated
    found.max_creates = max_creates
    return found


def linked(target: str) -> dict[str, Any]:
    return {
        "200": {"links": {"Read": {"operationId": target, "parameters": {"id": "$b"}}}},
        "401": {},
    }


# --------------------------------------------------------------------------- free probes


def test_the_free_probes_of_the_videos_api() -> None:
    unknown = f"/v1/videos/{UNKNOWN_ID}"
    assert plan(planner("gptge").probe_specs()) == [
        ("probe: no credentials", "getVideo", "GET", unknown, False, 401, False),
        ("probe: unknown id", "getVideo", "GET", unknown, True, None, True),
        ("probe: unknown id", "getVideoContent", "GET", f"{unknown}/content", True, None, True),
        ("probe: list", "listVideos", "GET", "/v1/videos", True, None, False),
    ]


def test_without_a_read_the_probe_without_credentials_is_the_create_itself() -> None:
    chat = planner("gptproto-chat")
    (probe,) = chat.probe_specs()
    assert plan([probe]) == [
        ("probe: no credentials", "createChatCompletion", "POST", "/v1/chat/completions")
        + (False, 401, False)
    ]
    assert probe.json_body == chat.create_spec(chat.create_operations()[0]).json_body
    assert probe.json_body["model"] == "sora-2"


def test_the_probe_without_credentials_reads_what_a_create_links_to() -> None:
    first = small(
        op("other", "get", "/other/{x}"),
        op("read", "get", "/jobs/{id}"),
        op("create", "post", "/jobs", responses=linked("read")),
    )
    assert plan(first.probe_specs())[0] == (
        "probe: no credentials",
        "read",
        "GET",
        f"/jobs/{UNKNOWN_ID}",
        False,
        401,
        False,
    )


def test_without_a_read_by_id_the_probe_without_credentials_is_a_list() -> None:
    lists = small(op("list", "get", "/jobs"), op("more", "get", "/more"))
    assert plan(lists.probe_specs()) == [
        ("probe: no credentials", "list", "GET", "/jobs", False, 401, False),
        ("probe: list", "list", "GET", "/jobs", True, None, False),
        ("probe: list", "more", "GET", "/more", True, None, False),
    ]


def test_a_contract_with_neither_read_nor_create_has_no_probe() -> None:
    assert small(op("gone", "delete", "/jobs/{id}")).probe_specs() == []


def test_a_401_the_contract_does_not_document_is_not_expected_but_a_2xx_is_drift() -> None:
    quiet = small(op("read", "get", "/jobs/{id}", responses={"200": {}, "404": {}}))
    assert plan(quiet.probe_specs())[0] == (
        "probe: no credentials",
        "read",
        "GET",
        f"/jobs/{UNKNOWN_ID}",
        False,
        None,
        True,
    )


def test_an_operation_without_responses_expects_only_an_error() -> None:
    bare = small(op("read", "get", "/jobs/{id}", responses=None))
    assert plan(bare.probe_specs())[0][5:] == (None, True)


# --------------------------------------------------------------------------- the create


def test_a_json_create_is_the_contracts_example() -> None:
    vtrix = planner("vtrix")
    spec = vtrix.create_spec(vtrix.create_operations()[0])
    assert (spec.kind, spec.method, spec.path, spec.auth, spec.multipart) == (
        "paid create",
        "POST",
        "/model/v1/generation",
        True,
        None,
    )
    assert spec.json_body == {
        "model": "sora_2_pro_i2v",
        "prompt": "Medium shot, a lighthouse keeper climbs the spiral stairs at dusk, warm lamp "
        "light, slow upward tilt.",
        "size": "720x1280",
        "seconds": "4",
        "input_reference": "https://example.com/keeper-720x1280.png",
    }


def test_an_image_url_replaces_the_examples_in_either_field() -> None:
    image = "https://images.example/mine.png"
    vtrix = planner("vtrix", image_url=image)
    assert vtrix.create_spec(vtrix.create_operations()[0]).json_body["input_reference"] == image
    v3 = planner("gptproto-v3", image_url=image)
    body = v3.create_spec(v3.create_operations()[0]).json_body
    assert body["images"] == [image]
    assert "input_reference" not in body
    chat = planner("gptproto-chat", image_url=image)
    body = chat.create_spec(chat.create_operations()[0]).json_body
    assert "images" not in body and "input_reference" not in body


def test_an_example_that_is_not_an_object_is_sent_as_it_is() -> None:
    example = {"content": {"application/json": {"example": ["a", "b"]}}}
    listed = small(op("create", "post", "/jobs", requestBody=example))
    listed.image_url = "https://images.example/mine.png"
    assert listed.create_spec(listed.create_operations()[0]).json_body == ["a", "b"]


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_a_multipart_create_gets_a_png_of_the_examples_size() -> None:
    gptge = planner("gptge")
    spec = gptge.create_spec(gptge.create_operations()[0])
    assert spec.json_body is None
    assert spec.multipart is not None
    filename, data, ctype = spec.multipart["input_reference"]
    assert (filename, ctype) == ("reference-720x1280.png", "image/png")
    assert png_size(data) == (720, 1280)
    assert spec.multipart["seconds"] == (None, "4", None)
    assert spec.multipart["size"] == (None, "720x1280", None)


def multipart(example: dict[str, Any], properties: dict[str, Any], required: list[str]) -> Any:
    body = {
        "content": {
            "multipart/form-data": {
                "example": example,
                "schema": {"type": "object", "properties": properties, "required": required},
            }
        }
    }
    form = small(op("create", "post", "/jobs", requestBody=body))
    spec = form.create_spec(form.create_operations()[0])
    return spec.multipart


def test_the_png_takes_the_schemas_default_size_when_the_example_has_none() -> None:
    parts = multipart(
        {"n": 2},
        {"image": {"format": "binary"}, "size": {"type": "string", "default": "64x48"}},
        ["image"],
    )
    assert parts["n"] == (None, "2", None)
    assert parts["image"][0] == "reference-64x48.png"
    assert png_size(parts["image"][1]) == (64, 48)


def test_without_a_size_the_png_is_portrait_720x1280() -> None:
    parts = multipart({"size": "large"}, {"image": {"format": "binary"}}, ["image"])
    assert parts["image"][0] == "reference-720x1280.png"


def test_the_examples_size_wins_over_the_schemas_default() -> None:
    parts = multipart(
        {"size": "64x48"},
        {"image": {"format": "binary"}, "size": {"type": "string", "default": "720x1280"}},
        ["image"],
    )
    assert parts["image"][0] == "reference-64x48.png"


def test_only_a_required_binary_part_missing_from_the_example_is_drawn() -> None:
    parts = multipart(
        {"image": "given", "size": "32x32"},
        {
            "image": {"format": "binary"},
            "mask": {"format": "binary"},
            "note": {"type": "string"},
        },
        ["image", "note", "other"],
    )
    assert parts == {"image": (None, "given", None), "size": (None, "32x32", None)}


def test_a_create_of_another_media_type_cannot_be_sent() -> None:
    body = {"content": {"application/xml": {"example": "<job/>"}}}
    xml = small(op("create", "post", "/jobs", requestBody=body))
    with pytest.raises(LookupError) as raised:
        xml.create_spec(xml.create_operations()[0])
    assert str(raised.value) == "create: cannot send a application/xml example"


def test_the_reference_png_is_a_figure_on_a_background() -> None:
    with Image.open(io.BytesIO(planning.reference_png(80, 120))) as image:
        assert image.size == (80, 120)
        rgb = image.convert("RGB")
        assert rgb.getpixel((0, 0)) == (40, 90, 160)
        assert rgb.getpixel((79, 119)) == (40, 90, 160)
        # the ellipse: from a quarter to three quarters across, a third down, half the width tall
        assert rgb.getpixel((40, 60)) == (230, 180, 60)
        assert rgb.getpixel((21, 60)) == (230, 180, 60)
        assert rgb.getpixel((58, 60)) == (230, 180, 60)
        assert rgb.getpixel((40, 41)) == (230, 180, 60)
        assert rgb.getpixel((40, 79)) == (230, 180, 60)
        assert rgb.getpixel((40, 37)) == (40, 90, 160)
        assert rgb.getpixel((40, 83)) == (40, 90, 160)
        assert rgb.getpixel((17, 60)) == (40, 90, 160)
        assert rgb.getpixel((63, 60)) == (40, 90, 160)


# --------------------------------------------------------------------------- never sent


def test_what_is_never_sent_and_why() -> None:
    assert planner("gptge").not_sent_reasons() == {
        "deleteVideo": "not sent: it deletes data (verify only reads and creates)",
        "remixVideo": "not sent: POST on an existing job would cost money or change it",
    }
    assert planner("vtrix").not_sent_reasons() == {}


def test_creates_past_the_cap_are_not_sent() -> None:
    assert planner("vtrix", max_creates=0).not_sent_reasons() == {
        "createGeneration": "not sent: --max-creates 0 (a create costs money)"
    }
    two = small(
        op("a", "post", "/a"),
        op("b", "post", "/b"),
        op("c", "post", "/c"),
        op("put", "put", "/a/{id}"),
        op("read", "get", "/a/{id}"),
        max_creates=2,
    )
    assert two.not_sent_reasons() == {
        "c": "not sent: --max-creates 2 (a create costs money)",
        "put": "not sent: PUT on an existing job would cost money or change it",
    }


# --------------------------------------------------------------------------- generated cases


def test_no_generated_case_is_asked_for_with_zero() -> None:
    zero = planner("vtrix")
    assert zero.generation_missing() is None
    assert zero.generated_specs() == []


def test_generated_cases_without_schemathesis_say_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "schemathesis", None)
    three = planner("vtrix", generated=3)
    missing = three.generation_missing()
    assert missing is not None
    assert missing.startswith("--generated 3 needs schemathesis, which cannot be imported (")
    assert missing.endswith(
        "): pip install 'sora-mock[verify]' (or --generated 0 to skip the generated read cases)"
    )
    with pytest.raises(RuntimeError) as raised:
        three.generated_specs()
    assert str(raised.value) == missing
    assert planner("vtrix").generation_missing() is None
    assert planner("vtrix", generated=1).generation_missing() is not None


@pytest.fixture
def fresh_schemas(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """No schemathesis schema loaded yet in this process (as in a new ``verify`` run)."""
    cache: dict[str, Any] = {}
    monkeypatch.setattr(planning, "_ST_SCHEMAS", cache)
    return cache


def test_generated_cases_are_distinct_reads_without_credentials(
    fresh_schemas: dict[str, Any],
) -> None:
    two = planner("gptge", generated=2)
    assert two.generation_missing() is None
    specs = two.generated_specs()
    by_op: dict[str, list[RequestSpec]] = {}
    for spec in specs:
        by_op.setdefault(spec.operation.operation_id, []).append(spec)
    assert set(by_op) == {"listVideos", "getVideo", "getVideoContent"}
    for op_id, found in by_op.items():
        assert 1 <= len(found) <= 2, op_id
        urls = [(s.path, tuple(s.query)) for s in found]
        assert len(set(urls)) == len(urls)
    for spec in specs:
        assert (spec.kind, spec.method, spec.auth) == ("generated", "GET", True)
        assert spec.template_path == two.map.template_path(spec.operation)
        assert spec.operation.matches(spec.path), spec.path
        assert not {"authorization", "user-agent", "connection", "accept-encoding"} & {
            k.lower() for k in spec.headers
        }
        assert not spec.path.startswith("https://")
    assert {s.template_path for s in specs} == {
        "/v1/videos",
        "/v1/videos/placeholder",
        "/v1/videos/placeholder/content",
    }


def test_generated_cases_use_the_base_url_of_each_run(fresh_schemas: dict[str, Any]) -> None:
    first = planner("vtrix", generated=1).generated_specs()
    assert len(first) == 1
    assert first[0].path.startswith("/model/v1/generation/task/")
    other = Verifier("vtrix", "https://elsewhere.example/v", "k", generated=1)
    assert [s.path for s in other.generated_specs()] == [s.path for s in first]


def test_a_contracts_schema_is_loaded_once_per_process(fresh_schemas: dict[str, Any]) -> None:
    planner("vtrix", generated=1).generated_specs()
    loaded = fresh_schemas["vtrix-generation"]
    assert loaded is not None
    planner("vtrix", generated=1).generated_specs()
    assert fresh_schemas == {"vtrix-generation": loaded}


def test_a_schemathesis_toml_where_verify_runs_changes_nothing_it_sends(
    fresh_schemas: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "schemathesis.toml").write_text('headers = { X-Toml = "yes" }\n')
    monkeypatch.chdir(tmp_path)
    specs = planner("vtrix", generated=2).generated_specs()
    assert specs
    assert all("X-Toml" not in s.headers for s in specs)


@dataclass
class Case:
    """What the planner reads of a schemathesis case."""

    url: str
    path_parameters: dict[str, str] | None = None
    query: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None
    params: dict[str, Any] | None = None

    def as_transport_kwargs(self, base_url: str) -> dict[str, Any]:
        found: dict[str, Any] = {"method": "GET", "url": base_url + self.url}
        if self.params is not None:
            found["params"] = self.params
        if self.headers is not None:
            found["headers"] = self.headers
        return found


def drawn(monkeypatch: pytest.MonkeyPatch, cases: list[Case], generated: int = 5) -> Any:
    vtrix = planner("vtrix", generated=generated)
    monkeypatch.setattr(vtrix, "_draw", lambda strategy: list(cases))
    return vtrix.generated_specs()


def test_a_case_with_a_control_character_anywhere_is_dropped_and_the_next_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    specs = drawn(
        monkeypatch,
        [
            Case("/model/v1/generation/task/a%09b", path_parameters={"task_id": "a%09b"}),
            Case("/model/v1/generation/task/q", query={"q": "x\ny"}),
            Case("/model/v1/generation/task/h", headers={"X-A": "\x7f"}),
            Case("/model/v1/generation/task/ok", path_parameters={"task_id": "ok"}),
        ],
    )
    assert [s.path for s in specs] == ["/model/v1/generation/task/ok"]


def test_a_case_is_sent_with_its_query_and_own_headers_as_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (spec,) = drawn(
        monkeypatch,
        [
            Case(
                "/model/v1/generation/task/t1",
                params={"limit": 2, "q": "a?b"},
                headers={
                    "X-Case": 5,
                    "User-Agent": "schemathesis",
                    "Accept-Encoding": "gzip",
                    "connection": "close",
                    "AUTHORIZATION": "Bearer generated",
                },
            )
        ],
    )
    assert spec.path == "/model/v1/generation/task/t1"
    assert spec.query == [("limit", "2"), ("q", "a?b")]
    assert spec.headers == {"X-Case": "5"}


def test_a_case_without_headers_or_path_parameters_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (spec,) = drawn(monkeypatch, [Case("/model/v1/generation/task/t2")])
    assert (spec.path, spec.query, spec.headers) == ("/model/v1/generation/task/t2", [], {})


def test_the_same_request_drawn_twice_is_sent_once_and_later_ones_still_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    same = Case("/model/v1/generation/task/a")
    specs = drawn(
        monkeypatch,
        [same, same, Case("/model/v1/generation/task/b"), Case("/model/v1/generation/task/c")],
        generated=2,
    )
    assert [s.path for s in specs] == ["/model/v1/generation/task/a", "/model/v1/generation/task/b"]


@pytest.mark.parametrize(
    "value",
    ["a\tb", "\x00", "line\n", "\x7f", {"k": "a\x1fb"}, ["ok", ("x", "\r")], {"n": [1, "\x1b"]}],
)
def test_a_value_holding_an_ascii_control_character_is_not_sent(value: Any) -> None:
    assert planning._has_control_characters(value)


@pytest.mark.parametrize("value", ["plain é ü", "\x80\u200b", {"k": ["v", 1, None]}, (), 5, None])
def test_a_value_without_control_characters_is_sent(value: Any) -> None:
    assert not planning._has_control_characters(value)
