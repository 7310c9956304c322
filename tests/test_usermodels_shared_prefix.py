"""A models file's key is a declared provider's prefix or its client name
(contracts/_usermodels.py): under a prefix two declared contracts share (GPTProto v3 and
GPTProto /v1/videos: ``gptproto``), a model joins both; under a client name
(``gptproto-videos``), that contract alone; a model under both keys of one contract is refused
at its place (contracts/README.md, "Models files")."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from providers import png

import contracts
from contracts import ContractError, _loader, _usermodels
from contracts import _declaration as decl
from contracts._usermodels import ModelsFile, joining
from mockserver.app import create_app
from mockserver.testing import SoraMock, test_config

MAX = {"id": "sora-2-max", "sizes": ["1280x720"], "durations": [12], "image": True}


def _file(**models: Any) -> ModelsFile:
    return ModelsFile(Path("/m.yaml"), "d", {k: tuple(v) for k, v in models.items()})


def _model(model_id: str) -> dict[str, Any]:
    return {**MAX, "id": model_id, "listing": {"id": model_id}}


def test_a_block_takes_its_prefixs_models_then_its_client_names() -> None:
    models = _file(**{"wrap": [_model("a")], "wrap-v2": [_model("b")], "wrap-v1": [_model("c")]})
    block = {"prefix": "wrap", "client": "wrap-v2"}
    assert [(k, i, m["id"]) for k, i, m in joining(models, block)] == [
        ("wrap", 0, "a"),
        ("wrap-v2", 0, "b"),
    ]
    assert [m["id"] for _, _, m in joining(models, {"prefix": "wrap", "client": "wrap-v1"})] == [
        "a",
        "c",
    ]
    # no client name: the prefix is the client name, read once
    assert [m["id"] for _, _, m in joining(models, {"prefix": "wrap"})] == ["a"]
    assert joining(models, {"prefix": "other", "client": "other-v1"}) == []


def test_a_model_under_its_prefix_and_its_client_name_is_refused_at_the_second() -> None:
    models = _file(**{"wrap": [_model("a")], "wrap-v2": [_model("b"), _model("a")]})
    with pytest.raises(ContractError) as caught:
        joining(models, {"prefix": "wrap", "client": "wrap-v2"})
    assert (caught.value.path, caught.value.where, caught.value.message) == (
        Path("/m.yaml"),
        "/wrap-v2/1/id",
        "'a' is listed under `wrap` too, which names the same provider: keep one",
    )
    # another contract of the prefix, named by its own client name, may list it again
    assert len(joining(models, {"prefix": "wrap", "client": "wrap-v1"})) == 1


def test_a_client_name_is_a_key_and_the_refusal_names_both_kinds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared = (
        SimpleNamespace(prefix="wrap", answers=SimpleNamespace(client="wrap-v2")),
        SimpleNamespace(prefix="zeta", answers=SimpleNamespace(client=None)),
    )
    monkeypatch.setattr(decl, "declarations", lambda: declared)
    monkeypatch.setattr(_loader, "PROVIDER_CONTRACTS", {})
    _usermodels._check_prefixes(_file(**{"wrap-v2": [_model("x")], "zeta": [_model("y")]}))
    with pytest.raises(ContractError) as caught:
        _usermodels._check_prefixes(_file(**{"wrap-v1": [_model("x")]}))
    assert (caught.value.where, caught.value.message) == (
        "/wrap-v1",
        "no declared provider has the prefix or client name `wrap-v1`; "
        "declared: wrap, wrap-v2, zeta",
    )


def _models(name: str) -> list[str]:
    return [m["id"] for m in contracts.load(name).spec["x-sora-mock"]["models"]]


def _use(tmp_path: Path, text: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    contracts.use_models(path)


def test_under_the_shared_prefix_a_model_joins_both_gptproto_apis(tmp_path: Path) -> None:
    try:
        _use(tmp_path, "gptproto:\n  - {id: sora-2-max, sizes: [1280x720], durations: [12]}\n")
        assert _models("gptproto-v3")[-1] == _models("gptproto-videos")[-1] == "sora-2-max"
        assert "sora-2-max" not in str(contracts.load("gptproto-chat").spec)  # Python: none
    finally:
        contracts.use_models(None)


def test_under_a_client_name_a_model_joins_that_api_alone(tmp_path: Path) -> None:
    try:
        _use(
            tmp_path,
            "gptproto-videos:\n  - {id: sora-2-max, sizes: [1280x720], durations: [12]}\n",
        )
        assert _models("gptproto-videos")[-1] == "sora-2-max"
        assert "sora-2-max" not in _models("gptproto-v3")
        schema = contracts.load("gptproto-v3").resolve("#/components/schemas/CreateRequest")
        assert "sora-2-max" not in str(schema), "v3's create is not widened"
        mock = SoraMock(create_app(test_config()))
        data = {"prompt": "a kite", "model": "sora-2-max", "seconds": "12", "size": "1280x720"}
        files = {"input_reference": ("k.png", png(1280, 720), "image/png")}
        with mock.client("gptproto") as client:
            made = client.post(
                "/v1/videos", data=data, files=files, headers={"Authorization": "sk-test"}
            )
        assert made.status_code == 200, made.text
        assert (made.json()["model"], made.json()["seconds"]) == ("sora-2-max", "12")
        mock.check()
    finally:
        contracts.use_models(None)


def test_a_model_under_gptproto_and_gptproto_v3_is_refused_naming_the_place(
    tmp_path: Path,
) -> None:
    text = (
        "gptproto:\n  - {id: sora-2-max, sizes: [1280x720], durations: [12]}\n"
        "gptproto-v3:\n  - {id: sora-2-max, sizes: [1280x720], durations: [12]}\n"
    )
    with pytest.raises(ContractError) as caught:
        _use(tmp_path, text)
    assert caught.value.where == "/gptproto-v3/0/id"
    assert _usermodels.active() is None
    assert "sora-2-max" not in _models("gptproto-v3")


def test_a_python_apis_name_is_refused_as_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """`gptproto-chat:` names the API still served by Python: said so, not "unknown"."""
    declared = (SimpleNamespace(prefix="wrap", answers=SimpleNamespace(client="wrap-v2")),)
    monkeypatch.setattr(decl, "declarations", lambda: declared)
    monkeypatch.setattr(_loader, "PROVIDER_CONTRACTS", {"wrap-chat": "wrap", "py-a": "py"})
    with pytest.raises(ContractError) as caught:
        _usermodels._check_prefixes(_file(**{"wrap-chat": [_model("x")]}))
    assert (caught.value.where, caught.value.message) == (
        "/wrap-chat",
        "`wrap-chat` is served by Python dialects (wrap-chat), which read no models file: "
        "a models file adds models to declared providers; declared: wrap, wrap-v2",
    )
