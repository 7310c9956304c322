"""The contracts are valid, self-consistent, and agree with the provider documents."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import seeds
import yaml
from schemathesis.core.errors import format_transition
from schemathesis.generation.stateful.state_machine import normalize_name

import contracts
from contracts import ContractError, ContractViolation

NAMES = sorted(p.stem for p in contracts.CONTRACTS_DIR.glob("*.yaml"))
SEEDS = sorted(seeds.SEED_CONTRACT)


def test_every_provider_contract_is_bundled() -> None:
    assert set(contracts.PROVIDER_CONTRACTS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_contract_loads_and_passes_spec_validation(name: str) -> None:
    contract = contracts.load(name)
    assert contract.spec["openapi"].startswith("3.1")
    assert contract.operations


@pytest.mark.parametrize("name", NAMES)
def test_contract_servers_are_relative(name: str) -> None:
    for server in contracts.load(name).spec["servers"]:
        assert server["url"].startswith("/"), server


def test_load_is_cached() -> None:
    assert contracts.load("gptge-videos") is contracts.load("gptge-videos")


def _media_examples(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(where, schema pointer, example value) for every media-type example of a contract."""
    found: list[tuple[str, str, Any]] = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "schema" in node and ("examples" in node or "example" in node):
                pointer = f"#{where}/schema"
                for key, ex in (node.get("examples") or {}).items():
                    found.append((f"{where}/examples/{key}", pointer, ex["value"]))
                if "example" in node:
                    found.append((f"{where}/example", pointer, node["example"]))
            for key, value in node.items():
                visit(value, f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(value, f"{where}/{i}")

    visit(spec, "")
    return found


def _schema_examples(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    schemas = spec.get("components", {}).get("schemas", {})
    return [
        (f"/components/schemas/{name}/examples/{i}", f"#/components/schemas/{name}", value)
        for name, schema in schemas.items()
        for i, value in enumerate(schema.get("examples", []))
    ]


def _fill_binary_parts(contract: contracts.Contract, pointer: str, value: Any) -> Any:
    """A multipart example cannot hold a file's bytes; supply required binary parts."""
    if "multipart~1form-data" not in pointer or not isinstance(value, dict):
        return value
    schema = contract.resolve(pointer)
    if "$ref" in schema:
        schema = contract.resolve(schema["$ref"])
    filled = dict(value)
    for name in schema.get("required", []):
        if schema["properties"][name].get("format") == "binary":
            filled.setdefault(name, "<file bytes>")
    return filled


EXAMPLES = [
    pytest.param(name, where, pointer, value, id=f"{name}:{where}")
    for name in NAMES
    for where, pointer, value in _media_examples(contracts.load(name).spec)
    + _schema_examples(contracts.load(name).spec)
]


@pytest.mark.parametrize(("name", "where", "pointer", "value"), EXAMPLES)
def test_every_example_validates_against_its_own_schema(
    name: str, where: str, pointer: str, value: Any
) -> None:
    contract = contracts.load(name)
    validator = contract.schema_validator(pointer)
    errors = [
        e.message for e in validator.iter_errors(_fill_binary_parts(contract, pointer, value))
    ]
    assert not errors, f"{name} {where}: {errors}"


def test_examples_were_found() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("name", NAMES)
def test_links_build_a_state_machine(name: str) -> None:
    contract = contracts.load(name)
    schema = schemathesis.openapi.from_dict(copy.deepcopy(contract.spec))
    machine = schema.as_state_machine()
    # every declared link is a transition of the machine from the same response to the same
    # target, so stateful tests really follow it (schemathesis names a rule after
    # `<source> -> [<status>] <link> -> <target>`, adding `_2`... when two normalize alike)
    by_id = {
        op.operation_id: f"{op.method.upper()} {op.path}" for op in contract.operations.values()
    }
    declared = set()
    for path, item in contract.spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for status, response in op["responses"].items():
                while "$ref" in response:
                    response = contract.resolve(response["$ref"])
                for link, target in (response.get("links") or {}).items():
                    source = f"{method.upper()} {path}"
                    transition = format_transition(
                        source, status, link, by_id[target["operationId"]]
                    )
                    declared.add(normalize_name(transition))
    rules = {name for name in dir(machine) if "__" in name and not name.startswith("_")}
    missing = {
        link
        for link in declared
        if link not in rules and not any(re.fullmatch(re.escape(link) + r"_\d+", r) for r in rules)
    }
    assert not missing, f"{name}: links with no transition: {sorted(missing)}"
    if name != "gptproto-chat":  # chat mode has no job to link to
        assert declared, f"{name} declares no links"


def _link_targets(spec: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def visit(node: Any, under_links: bool) -> None:
        if isinstance(node, dict):
            if under_links and isinstance(node.get("operationId"), str):
                found.add(node["operationId"])
            for key, value in node.items():
                visit(value, key == "links" or (under_links and isinstance(value, dict)))
        elif isinstance(node, list):
            for value in node:
                visit(value, under_links)

    visit(spec, False)
    return found


@pytest.mark.parametrize("name", [n for n in contracts.PROVIDER_CONTRACTS if n != "gptproto-chat"])
def test_every_operation_on_a_job_is_reached_by_a_link(name: str) -> None:
    """Stateful tests follow links: every operation taking a job id must be a link target."""
    contract = contracts.load(name)
    targets = _link_targets(contract.spec)
    on_a_job = {op.operation_id for op in contract.operations.values() if "{" in op.path}
    assert on_a_job, name
    assert on_a_job <= targets, on_a_job - targets


# ---------------------------------------------------------------- the provider documents


def test_bundled_sources_match_shared_seeds() -> None:
    if not seeds.SHARED_SEEDS.is_dir():
        pytest.skip("no ../shared/seeds beside this clone")
    for shared in seeds.SHARED_SEEDS.glob("*.txt"):
        bundled = seeds.SOURCES / shared.name
        assert bundled.read_bytes() == shared.read_bytes(), f"{shared.name} drifted"


@pytest.mark.parametrize("prefix", SEEDS)
def test_every_documented_path_is_in_its_contract(prefix: str) -> None:
    name, _ = seeds.SEED_CONTRACT[prefix]
    contract = contracts.load(name)
    for url in seeds.documented_urls(prefix):
        assert any(op.matches(url) for op in contract.operations.values()), url


def _request(example: seeds.CurlExample, host: str) -> httpx.Request:
    headers = {k: v for k, v in example.headers.items() if k.lower() != "content-type"}
    path = example.path.replace("{{id}}", "video_1").replace("{id}", "abc")
    url = host + path
    if example.json_body is not None:
        return httpx.Request(example.method, url, headers=headers, json=example.json_body)
    if example.form or example.files:
        files = {
            name: (Path(p).name, b"\x89PNG placeholder", "image/png")
            for name, p in example.files.items()
        }
        return httpx.Request(example.method, url, headers=headers, data=example.form, files=files)
    return httpx.Request(example.method, url, headers=headers)


REQUEST_EXAMPLES = [
    pytest.param(prefix, i, ex, id=f"{prefix}-{i}-{ex.method}-{ex.path}")
    for prefix in SEEDS
    for i, ex in enumerate(seeds.curl_examples(prefix))
    # The generic template at the top of a page (no body, or `<string>` placeholders) is not
    # an example request; the worked examples are.
    if ex.method == "GET" or (ex.json_body or ex.form) and "<string>" not in str(ex.json_body)
]


@pytest.mark.parametrize(("prefix", "index", "example"), REQUEST_EXAMPLES)
def test_each_seed_request_example_validates_against_its_contract(
    prefix: str, index: int, example: seeds.CurlExample
) -> None:
    name, host = seeds.SEED_CONTRACT[prefix]
    request = _request(example, host)
    try:
        contracts.load(name).validate_request(contracts.request_from_httpx(request))
    except ContractViolation as exc:
        pytest.fail(f"{prefix} example {index} ({example.method} {example.path}): {exc}")


def test_seed_request_examples_were_found() -> None:
    per_seed = {p: sum(1 for r in REQUEST_EXAMPLES if r.values[0] == p) for p in SEEDS}
    assert per_seed == {"000": 2, "001": 3, "002": 1, "003": 1, "004": 0}


def _matching_schema(contract: contracts.Contract, body: Any) -> list[str]:
    """Pointers of the contract's response schemas that accept ``body``."""
    pointers = [f"#/components/schemas/{n}" for n in contract.spec["components"]["schemas"]]
    return [p for p in pointers if not list(contract.schema_validator(p).iter_errors(body))]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("000", ["PredictionEnvelope"]),
        ("001", ["Video", "Video"]),
        ("002", ["Error", "ChatCompletionChunk", "Error"]),
        ("003", ["Video"]),
    ],
)
def test_each_seed_response_example_validates_against_its_contract(
    prefix: str, expected: list[str]
) -> None:
    contract = contracts.load(seeds.SEED_CONTRACT[prefix][0])
    blocks = seeds.json_blocks(prefix)
    assert len(blocks) == len(expected)
    for block, schema in zip(blocks, expected, strict=True):
        assert f"#/components/schemas/{schema}" in _matching_schema(contract, block), block


# ---------------------------------------------------------------- broken contracts fail loudly


def _write(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _spec(name: str = "gptge-videos") -> dict[str, Any]:
    return copy.deepcopy(contracts.load(name).spec)


def test_dangling_ref_names_file_and_place(tmp_path: Path) -> None:
    spec = _spec()
    spec["components"]["schemas"]["Video"]["properties"]["status"] = {
        "$ref": "#/components/schemas/NoSuchThing"
    }
    with pytest.raises(ContractError) as err:
        contracts.load_path(_write(tmp_path, spec))
    message = str(err.value)
    assert "broken.yaml" in message
    assert "/components/schemas/Video/properties/status/$ref" in message
    assert "NoSuchThing" in message


def test_broken_link_names_file_and_place(tmp_path: Path) -> None:
    spec = _spec()
    links = spec["components"]["responses"]["VideoCreated"]["links"]
    links["GetVideo"]["operationId"] = "getVidoe"
    with pytest.raises(ContractError) as err:
        contracts.load_path(_write(tmp_path, spec))
    assert "broken.yaml" in str(err.value)
    assert "/components/responses/VideoCreated/links/GetVideo" in str(err.value)
    assert "getVidoe" in str(err.value)


def test_invalid_openapi_names_file_and_place(tmp_path: Path) -> None:
    spec = _spec()
    spec["paths"]["/v1/videos"]["post"]["responses"]["200"] = {"content": "nope"}
    with pytest.raises(ContractError) as err:
        contracts.load_path(_write(tmp_path, spec))
    assert "broken.yaml" in str(err.value)
    assert "not a valid OpenAPI" in str(err.value)


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("openapi: 3.1.0\ninfo: {title: x\n")
    with pytest.raises(ContractError, match=r"broken.yaml: at line \d+"):
        contracts.load_path(path)


def test_duplicate_operation_id_is_refused(tmp_path: Path) -> None:
    spec = _spec()
    spec["paths"]["/v1/videos"]["get"]["operationId"] = "createVideo"
    with pytest.raises(ContractError, match="createVideo.*not unique"):
        contracts.load_path(_write(tmp_path, spec))


def test_unknown_contract_name_lists_the_known_ones() -> None:
    with pytest.raises(ContractError, match="gptge-videos"):
        contracts.load("nope")


# ---------------------------------------------------------------- model-dependent rules


@pytest.mark.parametrize(
    ("name", "path", "body", "ok"),
    [
        ("gptproto-v3", "/api/v3/openai/reverse/sora-2/image-to-video", {"size": "large"}, False),
        ("gptproto-v3", "/api/v3/openai/reverse/sora-2/image-to-video", {"duration": 25}, False),
        (
            "gptproto-v3",
            "/api/v3/openai/reverse/sora-2/image-to-video",
            {"model": "sora-2-pro", "size": "large", "duration": 25},
            True,
        ),
        (
            "gptproto-v3",
            "/api/v3/openai/reverse/sora-2/image-to-video",
            {"model": "sora-2", "size": "large"},
            False,
        ),
        ("vtrix-generation", "/model/v1/generation", {"size": "1792x1024"}, False),
        ("vtrix-generation", "/model/v1/generation", {"seconds": "12"}, True),
    ],
)
def test_model_dependent_rules_are_in_the_json_contracts(
    name: str, path: str, body: dict[str, Any], ok: bool
) -> None:
    base = (
        {"prompt": "p", "images": ["data:image/png;base64,AA=="], "size": "small"}
        if name == "gptproto-v3"
        else {"model": "sora_2_pro_i2v", "prompt": "p"}
    )
    request = httpx.Request(
        "POST", "http://h" + path, headers={"Authorization": "Bearer k"}, json={**base, **body}
    )
    contract = contracts.load(name)
    if ok:
        contract.validate_request(contracts.request_from_httpx(request))
    else:
        with pytest.raises(ContractViolation):
            contract.validate_request(contracts.request_from_httpx(request))


@pytest.mark.parametrize("name", ["gptproto-videos", "gptge-videos"])
@pytest.mark.parametrize(
    ("model", "size", "ok"),
    [
        (None, "1792x1024", False),
        ("sora-2", "1024x1792", False),
        ("sora-2", "1280x720", True),
        ("sora-2-pro", "1792x1024", True),
    ],
)
def test_1792_sizes_only_for_sora_2_pro(name: str, model: str | None, size: str, ok: bool) -> None:
    data = {"prompt": "p", "size": size} | ({"model": model} if model else {})
    request = httpx.Request(
        "POST",
        "http://h/v1/videos",
        headers={"Authorization": "Bearer k"},
        data=data,
        files={"input_reference": ("a.png", b"\x89PNG", "image/png")},
    )
    contract = contracts.load(name)
    if ok:
        contract.validate_request(contracts.request_from_httpx(request))
    else:
        with pytest.raises(ContractViolation, match="size"):
            contract.validate_request(contracts.request_from_httpx(request))
