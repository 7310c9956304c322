"""The whole documented surface, pinned: for every operation of every provider contract, every
combination of the documented values (enums, consts, the ends of each min/max) is accepted by
the mock with a 2xx, and every value just outside a documented limit (past a minimum or a
maximum, off an enum, a combination a conditional forbids) is refused with the provider's 4xx
in its own error shape.

The values are read from the contracts, never restated here; what the tests add is their own
knowledge of where each provider takes its image and how many pixels a size means. The mock
runs strict (every response is validated against its contract too).
"""

from __future__ import annotations

import base64
import copy
import functools
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image

import contracts
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

KEY = "sk-test-surface"
HEADERS = {"Authorization": f"Bearer {KEY}"}
#: contract -> the mock's prefix
PREFIX = {
    "gptproto-v3": "gptproto",
    "gptproto-videos": "gptproto",
    "gptproto-chat": "gptproto",
    "gptge-videos": "gptge",
    "vtrix-generation": "vtrix",
}
#: GPTProto v3's size words in pixels (this project's assumption, contracts/README.md)
V3_PIXELS = {
    ("small", "portrait"): (720, 1280),
    ("small", "landscape"): (1280, 720),
    ("large", "portrait"): (1024, 1792),
    ("large", "landscape"): (1792, 1024),
}
ABSENT = object()


@functools.cache
def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 160, 30)).save(buf, "PNG")
    return buf.getvalue()


def data_url(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(png(width, height)).decode()


# ------------------------------------------------------------------ reading the contracts


def _resolve(contract: Any, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = contract.resolve(schema["$ref"])
    return schema


def _request_schema(contract: Any, op: Any) -> tuple[str, dict[str, Any]]:
    (media_type, content), *_ = op.definition["requestBody"]["content"].items()
    return media_type, _resolve(contract, content["schema"])


def documented_values(contract: Any, schema: dict[str, Any]) -> dict[str, list[Any]]:
    """Property -> the values the contract names for it: an enum's values, a const, the two
    ends of an integer range. An optional property may also be left out (ABSENT)."""
    values: dict[str, list[Any]] = {}
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(contract, prop)
        if "enum" in prop:
            found = [v for v in prop["enum"] if v is not None]
        elif "const" in prop:
            found = [prop["const"]]
        elif prop.get("type") == "integer" and "minimum" in prop and "maximum" in prop:
            found = [prop["minimum"], prop["maximum"]]
        else:
            continue
        values[name] = found if name in required else [*found, ABSENT]
    return values


def just_outside(contract: Any, schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(property, value) pairs one step past each documented limit."""
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(contract, prop)
        if "enum" in prop or "const" in prop:
            allowed = prop.get("enum", [prop.get("const")])
            if all(isinstance(v, int) and not isinstance(v, bool) for v in allowed):
                yield name, min(allowed) - 1
                yield name, max(allowed) + 1
            elif all(isinstance(v, str) for v in allowed):
                for v in allowed:
                    if v + "0" not in allowed:
                        yield name, v + "0"  # "4" -> "40", "720x1280" -> "720x12800"
                        break
                yield name, allowed[0].upper() if allowed[0].upper() not in allowed else "?"
        if prop.get("type") == "integer":
            if "minimum" in prop:
                yield name, prop["minimum"] - 1
            if "maximum" in prop:
                yield name, prop["maximum"] + 1
        if prop.get("type") == "string" and "maxLength" in prop and prop["maxLength"] <= 100_000:
            yield name, "x" * (prop["maxLength"] + 1)
        if prop.get("type") == "string" and prop.get("minLength", 0) >= 1:
            yield name, ""


# ------------------------------------------------------------------ one create, per provider


@dataclass(frozen=True)
class Create:
    """A provider's create operation and where its image goes (the tests' knowledge)."""

    contract: str
    operation: str
    #: fill in a valid body's required free-form parts and its image, for these values
    image_field: str
    extra: dict[str, Any] = field(default_factory=dict)

    def pixels(self, body: dict[str, Any]) -> tuple[int, int]:
        size = body.get("size", ABSENT)
        if self.contract == "gptproto-v3":
            word = "small" if size is ABSENT else size
            orientation = body.get("orientation", "portrait")
            key = (word, "portrait" if orientation is ABSENT else orientation)
            return V3_PIXELS.get(key, (720, 1280))  # an undocumented word: any image
        width, _, height = str(size).partition("x")
        if width.isdigit() and height.isdigit() and max(int(width), int(height)) <= 1792:
            return int(width), int(height)
        return 720, 1280  # every contract's default size (and any image for a bad size)

    def send(self, client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
        body = {k: v for k, v in body.items() if v is not ABSENT}
        width, height = self.pixels(body)
        if self.image_field == "file":
            files = {"input_reference": ("ref.png", png(width, height), "image/png")}
            data = {k: str(v) for k, v in body.items()}
            return client.post(path, data=data, files=files, headers=HEADERS)
        if self.image_field == "images":
            body.setdefault("images", [data_url(width, height)])
        elif self.image_field == "input_reference":
            body.setdefault("input_reference", data_url(width, height))
        return client.post(path, json=body, headers=HEADERS)


CREATES = [
    Create("gptproto-v3", "createSora2ImageToVideo", "images"),
    Create("gptproto-videos", "createVideo", "file"),
    Create("gptge-videos", "createVideo", "file"),
    Create("vtrix-generation", "createGeneration", "input_reference"),
]


def _base_body(schema: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        if name == "prompt":
            body[name] = "A fox walks through snow"
    return body


def combinations(create: Create) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(bodies the contract accepts, bodies it refuses) over every documented combination."""
    contract = contracts.load(create.contract)
    op = contract.operation(create.operation)
    _, schema = _request_schema(contract, op)
    values = documented_values(contract, schema)
    names = sorted(values)
    check = _schema_check(contract, schema, create)
    good, bad = [], []
    for combo in itertools.product(*(values[n] for n in names)):
        body = _base_body(schema) | dict(zip(names, combo, strict=True))
        (good if check(body) else bad).append(body)
    return good, bad


def _schema_check(contract: Any, schema: dict[str, Any], create: Create) -> Any:
    import jsonschema

    spec = copy.deepcopy(contract.spec)
    resolver_root = {"components": spec.get("components", {})}
    full = dict(schema) | resolver_root
    validator = jsonschema.Draft202012Validator(full)

    def check(body: dict[str, Any]) -> bool:
        present = {k: v for k, v in body.items() if v is not ABSENT}
        if create.image_field == "file":
            present["input_reference"] = "x"
            present = {k: (str(v) if k != "input_reference" else v) for k, v in present.items()}
        elif create.image_field == "images":
            present["images"] = ["data:"]
        else:
            present["input_reference"] = "data:"
        return bool(validator.is_valid(present))

    return check


# ------------------------------------------------------------------ the mock


@pytest.fixture(scope="module")
def surface_mock() -> SoraMock:
    return SoraMock(create_app(test_config(fps=1)))


@pytest.fixture(name="mock")
def mock_fixture(surface_mock: SoraMock) -> Iterator[SoraMock]:
    surface_mock.reset()
    yield surface_mock
    surface_mock.check()  # strict: no response broke its contract, no server error


def assert_refused(response: httpx.Response, contract: str, what: Any) -> None:
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])
    assert response.status_code != 404, (what, response.text[:200])
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    if contract == "vtrix-generation":
        assert error["code"] and error["error_message"], error
    else:
        assert error["message"] and error["type"], error


def _path(create: Create, mock: SoraMock) -> str:
    op = contracts.load(create.contract).operation(create.operation)
    return f"{mock.base_url(PREFIX[create.contract])}{op.path}"


@pytest.mark.parametrize("create", CREATES, ids=lambda c: f"{c.contract}-{c.operation}")
def test_every_documented_combination_is_accepted(mock: SoraMock, create: Create) -> None:
    good, _ = combinations(create)
    assert good, "the contract documents no combination at all"
    with httpx.Client(transport=mock.transport()) as client:
        for body in good:
            response = create.send(client, _path(create, mock), body)
            assert 200 <= response.status_code < 300, (body, response.text[:300])
    assert len(mock.jobs()) == len(good), "an accepted create made no job"


@pytest.mark.parametrize("create", CREATES, ids=lambda c: f"{c.contract}-{c.operation}")
def test_every_value_just_outside_a_limit_is_refused(mock: SoraMock, create: Create) -> None:
    contract = contracts.load(create.contract)
    op = contract.operation(create.operation)
    _, schema = _request_schema(contract, op)
    good, bad = combinations(create)
    base = next(b for b in good if all(v is not ABSENT for v in b.values()))
    cases = [base | {name: value} for name, value in just_outside(contract, schema)]
    cases += bad  # combinations a conditional of the contract forbids
    assert cases
    with httpx.Client(transport=mock.transport()) as client:
        for body in cases:
            response = create.send(client, _path(create, mock), body)
            assert_refused(response, create.contract, body)
    assert mock.jobs() == [], "a refused create made a job"


def test_the_enumeration_comes_from_the_contracts() -> None:
    good, bad = combinations(CREATES[1])  # gptproto-videos
    sizes_for_sora_2 = {b["size"] for b in good if b["model"] == "sora-2"}
    assert "1792x1024" not in sizes_for_sora_2 and "1280x720" in sizes_for_sora_2
    assert any(b["model"] == "sora-2" and b["size"] == "1792x1024" for b in bad)
    v3_good, v3_bad = combinations(CREATES[0])  # one URL, both models (seed 000's table)
    assert {b["duration"] for b in v3_good if b["model"] == "sora-2-pro"} == {10, 15, 25, ABSENT}
    assert {b["duration"] for b in v3_good if b["model"] == "sora-2"} == {10, 15, ABSENT}
    assert any(b["model"] == "sora-2" and b["size"] == "large" for b in v3_bad)


# ------------------------------------------------------------------ query parameters


def _query_operations() -> list[Any]:
    found = []
    for name in PREFIX:
        contract = contracts.load(name)
        for path, item in contract.spec["paths"].items():
            for method, op in item.items():
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                params = [_resolve(contract, p) for p in op.get("parameters", [])]
                query = {p["name"]: _resolve(contract, p["schema"]) for p in params}
                query = {
                    n: s
                    for n, s in query.items()
                    if any(p["name"] == n and p["in"] == "query" for p in params)
                }
                if query:
                    found.append(
                        pytest.param(
                            name, method.upper(), path, query, id=op["operationId"] + "-" + name
                        )
                    )
    return found


@pytest.mark.parametrize(("name", "method", "path", "query"), _query_operations())
def test_query_parameters_at_and_past_their_limits(
    mock: SoraMock, name: str, method: str, path: str, query: dict[str, Any]
) -> None:
    contract = contracts.load(name)
    as_object = {"type": "object", "properties": query}
    values = documented_values(contract, as_object)
    outside = list(just_outside(contract, as_object))
    assert values and outside
    job_id: str | None = None
    if "{" in path:  # a job's own operation: a finished job of this API
        create = next(c for c in CREATES if c.contract == name)
        with httpx.Client(transport=mock.transport()) as client:
            made = create.send(client, _path(create, mock), {"prompt": "p"})
        job_id = made.json()["id"]
        mock.advance(600)
    url = mock.base_url(PREFIX[name]) + path
    if job_id is not None:
        url = url.replace(path[path.index("{") : path.index("}") + 1], job_id)
    names = sorted(values)
    with httpx.Client(transport=mock.transport()) as client:
        for combo in itertools.product(*(values[n] for n in names)):
            params = {n: v for n, v in zip(names, combo, strict=True) if v is not ABSENT}
            response = client.request(method, url, params=params, headers=HEADERS)
            assert 200 <= response.status_code < 300, (params, response.text[:300])
        for param, value in outside:
            response = client.request(method, url, params={param: value}, headers=HEADERS)
            assert_refused(response, name, {param: value})
