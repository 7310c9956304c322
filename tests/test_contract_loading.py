"""Loading a contract file (contracts._loader): where a contract that passed its check is
remembered and when it is checked again, how `$ref` pointers are followed, how an operation's
path template matches a request path, and how every unreadable or broken file is reported
(its name, the place in it, what is wrong)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import contracts
from contracts import _loader
from contracts._loader import ContractError, Operation, cache_dir, load_path, resolve_pointer

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1", "x-provider": "acme"},
    "paths": {
        "/v1/things/{thing_id}": {
            "parameters": [
                {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "getThing",
                "tags": ["documented"],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Thing"},
                                # data, not references: never followed (nor a link)
                                "example": {"link": {"$ref": "#/nowhere"}},
                                "examples": {
                                    "whole": {"value": {"$ref": "#/nowhere"}},
                                    "inner": {"value": {"a": {"$ref": "#/nowhere"}}},
                                    "named": {"value": {"operationId": "noSuchOperation"}},
                                },
                            }
                        },
                    }
                },
            },
            "delete": {"operationId": "deleteThing", "responses": {"204": {"description": "x"}}},
        }
    },
    "components": {
        "schemas": {"Thing": {"type": "object"}},
        "securitySchemes": {"Key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
    },
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SORA_MOCK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "contracts"


def _write(tmp_path: Path, spec: Any = SPEC, name: str = "things.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _no_check(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the full check fail loudly; the list says each time it was asked for."""
    asked: list[str] = []

    def refuse(spec: Any, path: Path | str) -> Any:
        asked.append(str(path))
        raise ContractError(path, "", "checked again")

    monkeypatch.setattr(_loader, "check_contract", refuse)
    return asked


# ----------------------------------------------------------------------- the check's cache


def test_the_cache_lives_where_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_MOCK_CACHE_DIR", "/somewhere")
    assert cache_dir() == Path("/somewhere/contracts")
    monkeypatch.setenv("SORA_MOCK_CACHE_DIR", "")
    assert cache_dir() is None, "an empty value turns the cache off"
    monkeypatch.delenv("SORA_MOCK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache_dir() == Path("/xdg/sora-mock/contracts")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", "/home/someone")
    assert cache_dir() == Path("/home/someone/.cache/sora-mock/contracts")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path("/home/someone/.cache/sora-mock/contracts")


def test_a_contract_that_passed_is_not_checked_again_until_its_bytes_change(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path)
    first = load_path(path)
    remembered = list(cache.glob("*.json"))
    assert len(remembered) == 1
    assert json.loads(remembered[0].read_text()) == SPEC
    assert not list(cache.glob("*.tmp")), "written under a temporary name, then renamed"

    asked = _no_check(monkeypatch)
    again = load_path(path)
    assert asked == []
    assert again.spec == first.spec == SPEC
    assert again.operations == first.operations
    assert again.name == "things"

    path.write_bytes(path.read_bytes() + b"\n# changed\n")
    with pytest.raises(ContractError, match="checked again"):
        load_path(path)
    assert asked == [str(path)]


def test_without_the_cache_every_load_checks(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path)
    load_path(path, cache=False)
    assert not cache.exists(), "cache=False writes nothing either"
    load_path(path)
    asked = _no_check(monkeypatch)
    with pytest.raises(ContractError, match="checked again"):
        load_path(path, cache=False)
    assert asked == [str(path)]
    monkeypatch.setenv("SORA_MOCK_CACHE_DIR", "")
    with pytest.raises(ContractError, match="checked again"):
        load_path(path)


def test_a_spec_json_cannot_hold_exactly_is_checked_every_time(tmp_path: Path, cache: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["info"]["x-released"] = "2026-12-07"
    path = tmp_path / "dated.yaml"
    # an unquoted date: YAML reads a date object, JSON would give a string back
    path.write_text(yaml.safe_dump(spec, sort_keys=False).replace("'2026-12-07'", "2026-12-07"))
    assert load_path(path).spec["info"]["x-released"].year == 2026
    assert not list(cache.glob("*.json"))


def test_an_unreadable_cache_entry_or_directory_only_costs_a_check(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path)
    load_path(path)
    (entry,) = cache.glob("*.json")
    entry.write_text("{not json")
    assert load_path(path).spec == SPEC
    assert json.loads(entry.read_text()) == SPEC, "the broken entry is written anew"
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory would go")
    monkeypatch.setenv("SORA_MOCK_CACHE_DIR", str(blocked))
    assert load_path(path).spec == SPEC


# --------------------------------------------------------------------- broken contract files


def test_a_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as refused:
        load_path(tmp_path / "gone.yaml")
    assert str(refused.value) == "gone.yaml: at /: cannot read: No such file or directory"
    assert refused.value.path == tmp_path / "gone.yaml"
    assert refused.value.where == ""


def test_a_file_that_is_not_utf8_is_reported_with_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"openapi: 3.1.0\ninfo: caf\xe9\n")
    with pytest.raises(ContractError) as refused:
        load_path(path)
    assert str(refused.value) == "latin.yaml: at byte 24: not UTF-8 text"


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(ContractError) as refused:
        load_path(_write(tmp_path, ["a", "list"]))
    assert str(refused.value) == "things.yaml: at /: not a YAML mapping"
    assert refused.value.where == ""


def test_a_control_character_is_invalid_yaml_without_a_place(tmp_path: Path) -> None:
    path = tmp_path / "bell.yaml"
    path.write_bytes(b"openapi: 3.1.0\x07\n")
    with pytest.raises(ContractError) as refused:
        load_path(path)
    assert refused.value.where == ""
    assert refused.value.message.startswith("not valid YAML: unacceptable character #x0007")


def test_invalid_yaml_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("openapi: 3.1.0\ninfo:\n  title: [x\n")
    with pytest.raises(ContractError) as refused:
        load_path(path)
    assert refused.value.where.startswith("line 4, column 1")
    assert "not valid YAML" in refused.value.message


def test_an_operation_without_an_id_is_named_by_its_path_and_method(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    del spec["paths"]["/v1/things/{thing_id}"]["delete"]["operationId"]
    with pytest.raises(ContractError) as refused:
        load_path(_write(tmp_path, spec), cache=False)
    assert refused.value.where == "/paths/~1v1~1things~1{thing_id}/delete"
    assert refused.value.message == "operation has no operationId"


def test_a_duplicate_operation_id_is_named_at_its_second_use() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/things/{thing_id}"]["delete"]["operationId"] = "getThing"
    with pytest.raises(ContractError) as refused:
        _loader.index_operations(spec, "x.yaml")
    assert refused.value.where == "/paths/~1v1~1things~1{thing_id}/delete"
    assert refused.value.message == "duplicate operationId 'getThing'"


def test_a_dangling_reference_in_a_list_is_found_too(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Thing"]["allOf"] = [{"type": "object"}, {"$ref": "#/x"}]
    with pytest.raises(ContractError) as refused:
        load_path(_write(tmp_path, spec), cache=False)
    assert refused.value.where == "/components/schemas/Thing/allOf/1/$ref"


def test_a_path_with_a_tilde_is_escaped_in_the_place_named(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/a~b"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    with pytest.raises(ContractError) as refused:
        _loader.index_operations(spec, "x.yaml")
    assert refused.value.where == "/paths/~1v1~1a~0b/get"


def test_a_dangling_reference_is_named_with_the_part_not_found(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Thing"]["properties"] = {"a~b": {"$ref": "#/x/y"}}
    with pytest.raises(ContractError) as refused:
        load_path(_write(tmp_path, spec), cache=False)
    assert refused.value.where == "/components/schemas/Thing/properties/a~0b/$ref"
    assert refused.value.message == "#/x/y: $ref target does not exist (no 'x')"


def test_a_link_to_an_unknown_operation_is_refused(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    response = spec["paths"]["/v1/things/{thing_id}"]["get"]["responses"]["200"]
    response["links"] = {"Gone": {"operationId": "deleteThing"}}
    load_path(_write(tmp_path, spec), cache=False)
    response["links"] = {"Gone": {"operationId": "deleteThng"}}
    with pytest.raises(ContractError) as refused:
        load_path(_write(tmp_path, spec), cache=False)
    where = "/paths/~1v1~1things~1{thing_id}/get/responses/200/links/Gone"
    assert refused.value.where == where
    assert refused.value.message == "link names unknown operationId 'deleteThng'"


def test_a_document_breaking_openapi_is_refused_at_its_place(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/things/{thing_id}"]["get"]["responses"]["200"]["content"] = "nope"
    with pytest.raises(ContractError) as refused:
        load_path(_write(tmp_path, spec), cache=False)
    assert refused.value.where.startswith("/paths//v1/things/{thing_id}/get/responses/200")
    assert refused.value.message.startswith("not a valid OpenAPI 3.1 document: ")
    with pytest.raises(ContractError) as refused:
        load_path(_write(tmp_path, {"openapi": "3.1.0"}), cache=False)
    assert refused.value.where == "/"
    assert refused.value.message.startswith("not a valid OpenAPI 3.1 document: ")


def test_a_document_the_validator_cannot_read_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, {"openapi": 3.1})
    with pytest.raises(ContractError) as refused:
        load_path(path, cache=False)
    assert refused.value.path == path
    assert refused.value.where == ""
    assert refused.value.message == (
        "not a valid OpenAPI document: expected string or bytes-like object, got 'float'"
    )


# ------------------------------------------------------------------------- references


def test_a_pointer_follows_mappings_lists_and_escapes() -> None:
    doc = {"a": {"b/c": [{"d~e": 1}, {"f": 2}]}}
    assert resolve_pointer(doc, "#/a/b~1c/0/d~0e") == 1
    assert resolve_pointer(doc, "#/a/b~1c/1/f") == 2
    assert resolve_pointer(doc, "#") is doc
    assert resolve_pointer(doc, "#/") is doc
    with pytest.raises(ContractError) as refused:
        resolve_pointer(doc, "#/nope")
    assert str(refused.value) == "<contract>: at #/nope: $ref target does not exist (no 'nope')"


@pytest.mark.parametrize(
    ("pointer", "message"),
    [
        ("#/a/x", "$ref target does not exist (no 'x')"),
        ("#/a/b~1c/2", "$ref target does not exist (no '2')"),
        ("#/a/b~1c/-1", "$ref target does not exist (no '-1')"),
        ("#/a/b~1c/first", "$ref target does not exist (no 'first')"),
        ("#/a/b~1c/0/d~0e/deeper", "$ref target does not exist (no 'deeper')"),
        ("other.yaml#/a", "only local references (#/...) are supported"),
    ],
)
def test_a_pointer_to_nothing_says_which_part_is_missing(pointer: str, message: str) -> None:
    doc = {"a": {"b/c": [{"d~e": 1}, {"f": 2}]}}
    with pytest.raises(ContractError) as refused:
        resolve_pointer(doc, pointer, "c.yaml")
    assert refused.value.message == message
    assert refused.value.where == pointer
    assert str(refused.value) == f"c.yaml: at {pointer}: {message}"


# --------------------------------------------------------------------------- operations


def test_an_operation_template_matches_one_segment_per_parameter() -> None:
    op = Operation("getThing", "get", "/v1/things/{thing_id}", {}, ("documented",))
    assert op.matches("/v1/things/abc")
    assert op.matches("/v1/things/a.b-c")
    assert not op.matches("/v1/things/a/b")
    assert not op.matches("/v1/things/")
    assert not op.matches("/v1/things/abc/")
    assert not op.matches("/v2/things/abc")
    assert op.flask_rule == "/v1/things/<thing_id>"
    assert op.documented
    assert not Operation("x", "get", "/x", {}, ("openai",)).documented


def test_a_template_matches_its_literal_characters_only() -> None:
    op = Operation("x", "get", "/v1/a.b/{id}:cancel", {}, ())
    assert op.matches("/v1/a.b/7:cancel")
    assert not op.matches("/v1/axb/7:cancel")
    assert op.flask_rule == "/v1/a.b/<id>:cancel"


def test_a_loaded_contract_finds_its_operations(tmp_path: Path, cache: Path) -> None:
    contract = load_path(_write(tmp_path), name="acme-things")
    assert contract.name == "acme-things"
    assert contract.provider == "acme"
    assert list(contract.security_schemes) == ["Key"]
    assert contract.operation("getThing").method == "get"
    assert contract.operation("getThing").tags == ("documented",)
    assert contract.operation("deleteThing").tags == ()
    with pytest.raises(KeyError, match="things.yaml has no operation 'nope'"):
        contract.operation("nope")
    found = contract.find_operation("DELETE", "/v1/things/7")
    assert found is not None and found.operation_id == "deleteThing"
    assert contract.find_operation("POST", "/v1/things/7") is None
    assert contract.find_operation("GET", "/v1/other/7") is None
    assert contract.resolve("#/components/schemas/Thing") == {"type": "object"}
    with pytest.raises(ContractError, match="^things.yaml: at #/components/nope: "):
        contract.resolve("#/components/nope")
    assert contract.operation("getThing").definition["operationId"] == "getThing"
    assert contract.path == tmp_path / "things.yaml"
    cached = load_path(tmp_path / "things.yaml")  # from the cache this time
    assert cached.path == tmp_path / "things.yaml"
    assert cached.operation("deleteThing").definition["operationId"] == "deleteThing"


def test_a_schema_validator_is_built_once_per_pointer(tmp_path: Path, cache: Path) -> None:
    contract = load_path(_write(tmp_path))
    validator = contract.schema_validator("#/components/schemas/Thing")
    assert contract.schema_validator("#/components/schemas/Thing") is validator
    assert validator.is_valid({})
    assert not validator.is_valid([])


def test_a_contract_names_an_operations_query_parameters() -> None:
    gptge = contracts.load("gptge-videos")
    assert gptge.query_parameters("listVideos") == frozenset({"after", "limit", "order"})
    assert gptge.query_parameters("getVideo") == frozenset()


def test_the_bundled_contracts_load_by_name() -> None:
    every = contracts.load_all()
    assert set(every) == {p.stem for p in contracts.CONTRACTS_DIR.glob("*.yaml")}
    assert all(c.name == name for name, c in every.items())
    assert every["gptge-videos"] is contracts.load("gptge-videos")
    with pytest.raises(ContractError) as refused:
        contracts.load("nope")
    assert refused.value.message.startswith("no such contract; known: ")
    assert "gptge-videos, gptproto-chat" in refused.value.message


def test_a_contract_with_non_ascii_text_is_cached_under_an_ascii_locale(tmp_path: Path) -> None:
    # the cache is written as UTF-8 whatever the locale says (C locale, not coerced)
    spec = copy.deepcopy(SPEC)
    spec["info"]["description"] = "café, 東京"
    path = _write(tmp_path, spec)
    code = (
        "import sys, contracts; "
        "c = contracts.load_path(sys.argv[1]); "
        "print(c.spec['info']['description'] == 'caf\\u00e9, \\u6771\\u4eac')"
    )
    env = {
        **os.environ,
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONUTF8": "0",
        "SORA_MOCK_CACHE_DIR": str(tmp_path / "cache"),
    }
    run = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == "True"
    (entry,) = (tmp_path / "cache" / "contracts").glob("*.json")
    assert json.loads(entry.read_text(encoding="utf-8"))["info"]["description"] == "café, 東京"


# ----------------------------------------------------------------------- load by name, forget


@pytest.fixture
def named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Write ``SPEC`` (titled ``title``) as the added contract ``acme-x`` (``EXTRA_PATHS``),
    and forget it afterwards."""
    path = tmp_path / "somewhere-else.yaml"

    def write(title: str) -> Path:
        spec = copy.deepcopy(SPEC)
        spec["info"]["title"] = title
        path.write_text(yaml.safe_dump(spec))
        return path

    monkeypatch.setitem(_loader.EXTRA_PATHS, "acme-x", path)
    yield write
    _loader.forget("acme-x")


def test_a_contract_is_loaded_once_by_name_from_its_added_path(named: Any) -> None:
    path = named("first")
    seen: list[Any] = []
    _loader.AFTER_LOAD.append(seen.append)
    try:
        loaded = contracts.load("acme-x")
        assert (loaded.name, loaded.path, loaded.spec["info"]["title"]) == ("acme-x", path, "first")
        assert seen == [loaded], "each hook is given the contract before it is kept"
        named("second")
        assert contracts.load("acme-x") is loaded, "once per process, until forgotten"
        assert seen == [loaded]
    finally:
        _loader.AFTER_LOAD.remove(seen.append)


def test_a_forgotten_name_is_read_from_its_file_again_and_only_that_name(named: Any) -> None:
    named("first")
    first, bundled = contracts.load("acme-x"), contracts.load("gptge-videos")
    named("second")
    _loader.forget("acme-x")
    again = contracts.load("acme-x")
    assert again is not first and again.spec["info"]["title"] == "second"
    assert contracts.load("gptge-videos") is bundled, "another name is kept"
    _loader.forget("never-loaded")  # nothing to forget is nothing
    _loader.forget()
    assert contracts.load("gptge-videos") is not bundled, "forget() drops every contract"
    assert contracts.load("acme-x") is not again


def test_an_unknown_name_is_refused_at_no_place() -> None:
    with pytest.raises(ContractError) as refused:
        contracts.load("nope")
    assert refused.value.where == ""
    assert refused.value.path == contracts.CONTRACTS_DIR / "nope.yaml"
